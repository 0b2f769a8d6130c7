import Foundation
import GymCore
import NIOCore
import Testing

@testable import GymServer
@testable import GymService

/// Properties of the one decoder every transport reads through (`CallDecoder`), over generated
/// bodies and messages, valid and broken: the fast mode never disagrees with the strict one, and
/// an error says the same thing on every transport.
@Suite("One decoder: fast mode agrees with strict, errors read the same everywhere")
struct CallDecoderTests {
    /// numpy's PCG64, seeded: the same cases at every run.
    typealias Generator = PCG64

    /// Values a client might put anywhere: right ones, wrong ones, the old bindings' strings.
    static let values: [String] = [
        "0", "1", "-1", "2.5", "1e300", "-0.0", "9223372036854775807", "9223372036854775808", "true", "false", "null",
        "\"\"", "\"0\"", "\"true\"", "\"FALSE\"", "\"x\"", "[]", "[0, 1]", "[null, 3]", "[1.5]", "{}", "{\"low\": -0.1}",
        "{\"reset_mask\": [true]}", "[[0.5]]", "\"\\u00e9\"",
    ]

    static let stepKeys = ["action", "render", "note", "api_key", "seed"]
    static let resetKeys = ["seed", "options", "render", "token", "action", "note"]

    /// A JSON object of some of `keys` (the call's own often, the last three seldom), each with a
    /// value from the pool, in any order and layout.
    static func object(_ keys: [String], _ generator: inout Generator) -> String {
        var members: [String] = []
        for (index, key) in keys.enumerated() where index < keys.count - 3 ? generator.below(3) > 0 : generator.below(8) == 0 {
            let space = generator.below(2) == 0 ? " " : ""
            members.append("\"\(key)\":\(space)\(generator.pick(values))")
        }
        members.shuffle(using: &generator)
        return "{" + members.joined(separator: generator.below(2) == 0 ? ", " : ",") + "}"
    }

    /// A body: mostly objects, then broken ones (cut short, a byte changed) and other JSON.
    static func body(_ keys: [String], _ generator: inout Generator) -> [UInt8] {
        var bytes = Array(object(keys, &generator).utf8)
        switch generator.below(10) {
        case 0: bytes = Array(bytes.prefix(generator.below(bytes.count + 1)))
        case 1: bytes[generator.below(bytes.count)] = generator.pick(Array("{}[],:\"x0 \u{7f}".utf8))
        case 2: bytes = Array(generator.pick(["", " ", "null", "7", "[]", "\"\"", "true", "{\"action\": }", "\n\t"]).utf8)
        default: break
        }
        return bytes
    }

    /// 10,000 bodies of `keys` through both modes: how many each took.
    static func compare<Call: Equatable>(
        _ keys: [String], _ generator: inout Generator, strict: (CallBody, String) throws(CallError) -> Call,
        fast: ([UInt8], String) -> Call?
    ) -> (fast: Int, strict: Int) {
        var counts = (fast: 0, strict: 0)
        for _ in 0..<10_000 {
            let bytes = body(keys, &generator)
            let decoded = try? strict(CallBody.read(bytes), "3c657dbc")
            if decoded != nil { counts.strict += 1 }
            if let call = fast(bytes, "3c657dbc") {
                counts.fast += 1
                #expect(decoded == call, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        return counts
    }

    @Test("whenever the fast mode takes a step or reset body, strict decodes the same call (20,000 bodies)")
    func fastAgreesWithStrict() {
        var generator = Generator(seed: 20)
        let (fastSteps, strictSteps) = Self.compare(Self.stepKeys, &generator, strict: CallDecoder.step, fast: CallDecoder.fastStep)
        let (fastResets, strictResets) = Self.compare(Self.resetKeys, &generator, strict: CallDecoder.reset, fast: CallDecoder.fastReset)
        // The cases reach every outcome: taken fast, left to strict, refused by strict.
        #expect(fastSteps > 500 && strictSteps > fastSteps && strictSteps < 9_000, "\(fastSteps) fast, \(strictSteps) strict")
        #expect(fastResets > 500 && strictResets > fastResets && strictResets < 9_500, "\(fastResets) fast, \(strictResets) strict")
    }

    /// A Gymie message with params from `keys`, written as Python's `json.dumps`, as JavaScript's
    /// `JSON.stringify`, or in another order and layout.
    static func gymieMessage(_ method: String, _ keys: [String], _ generator: inout Generator) -> [UInt8] {
        let id = generator.pick(["\"3c657dbc\"", "\"a_b-C9\"", "7", "\"\\u0033c\"", "\"\""])
        var members = ["\"instance_id\": \(id)"]
        for key in keys where generator.below(3) > 0 { members.append("\"\(key)\": \(generator.pick(values))") }
        switch generator.below(3) {
        case 0: break
        case 1: members = members.map { $0.replacingOccurrences(of: ": ", with: ":") }
        default: members.shuffle(using: &generator)
        }
        let compact = generator.below(2) == 0
        let params = "{" + members.joined(separator: compact ? "," : ", ") + "}"
        let message =
            generator.below(4) == 0
            ? "{\"params\": \(params), \"method\": \"\(method)\"}"
            : compact ? "{\"method\":\"\(method)\",\"params\":\(params)}" : "{\"method\": \"\(method)\", \"params\": \(params)}"
        var bytes = Array(message.utf8)
        if generator.below(8) == 0 { bytes = Array(bytes.prefix(generator.below(bytes.count + 1))) }
        return bytes
    }

    /// What the session decodes from a message (as `GymieSession.handle` reads it), or its error.
    static func sessionDecode(_ bytes: [UInt8]) -> GymieFastPath.GymieCall? {
        guard case .object(let message)? = try? JSONParser.parse(bytes), case .object(let params)? = message["params"],
            let method = message["method"]?.stringValue.flatMap(GymieSession.Method.init(rawValue:)),
            Set(params.keys).isSubset(of: method.parameters), method.required.isSubset(of: Set(params.keys)),
            let id = params["instance_id"]?.stringValue
        else { return nil }
        switch method {
        case .step: return (try? CallDecoder.gymieStep(params, instanceID: id)).map { .step($0.0, full: $0.full) }
        case .reset: return (try? CallDecoder.gymieReset(params, instanceID: id)).map { .reset($0.0, full: $0.full) }
        default: return nil
        }
    }

    @Test("whenever Gymie's fast path reads a message, the session decodes the same call (12,000 messages)")
    func gymieFastAgreesWithSession() {
        var generator = Generator(seed: 12)
        var (plain, parsed, decoded) = (0, 0, 0)
        for n in 0..<12_000 {
            let method = n % 3 == 2 ? "reset" : "step"
            let bytes = Self.gymieMessage(method, method == "step" ? ["action", "render", "full"] : ["seed", "options", "full"], &generator)
            let session = Self.sessionDecode(bytes)
            if session != nil { decoded += 1 }
            let buffer = ByteBuffer(bytes: bytes)
            if let call = GymieFastPath.plainStep(buffer) {
                plain += 1
                #expect(session == .step(call, full: false), "\(String(decoding: bytes, as: UTF8.self))")
            }
            if let call = GymieFastPath.parsed(buffer) {
                parsed += 1
                #expect(session == call, "\(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(plain > 100 && parsed > 500 && decoded >= parsed && decoded < 11_000, "\(plain) plain, \(parsed) parsed, \(decoded) decoded")
    }

    @Test("every error renders one message: the REST body, the batch item, and Gymie's close where Gymie had no words of its own")
    func errorsReadTheSame() throws {
        var generator = Generator(seed: 7)
        var errors: [CallError] = [
            CallError(GymError("Cannot call env.step() before calling env.reset()")),
            CallError(GymError.unavailable("The worker process of Pendulum-v1 died")),
            CallError(InstanceLookupError(instanceID: "3c657dbc", expiredAfterSeconds: nil)),
            CallError(InstanceLookupError(instanceID: "3c657dbc", expiredAfterSeconds: 60)),
            CallError(LimitReached(message: "This server holds at most 3 live instances (--max-instances)")),
            APIError("Shutdown over the API is disabled", status: .forbidden),
            CallError(CancellationError()),
        ]
        for _ in 0..<2_000 {
            let bytes = Self.body(Self.stepKeys, &generator)
            do {
                _ = try CallDecoder.step(CallBody.read(bytes), instanceID: "3c657dbc")
            } catch {
                errors.append(error)
            }
        }
        #expect(errors.count > 200)
        for error in errors {
            #expect(error.body == ["message": .string(error.message), "error": .string(error.message)])
            #expect(error.batchItem.json == ["message": .string(error.message), "error": .string(error.message), "status": .int(error.statusCode)])
            let (code, reason) = error.gymieClose(parameters: "{'instance_id': '3c657dbc'}")
            switch error.kind {
            case .request:
                #expect(code == 1007 && reason == "Parameters `{'instance_id': '3c657dbc'}` are wrong")
            case .unknownInstance(_, nil):
                #expect(code == 1007 && reason == "Instance `3c657dbc` not found")
            case .unknownInstance(_, let seconds?):
                #expect(code == 1007 && reason == "Instance `3c657dbc` expired after \(seconds) s without a request")
            case .limit:
                #expect(code == 1008 && reason == error.message && error.statusCode == 429)
            case .refused, .access, .internal:
                #expect(code == 1007 && reason == error.message)
            }
        }
    }

    @Test("Accept read byte by byte prefers MessagePack exactly when Swift's strings say so (20,000 headers)")
    func acceptNegotiation() {
        var generator = Generator(seed: 21)
        let pieces = [
            "application/msgpack", "APPLICATION/MsgPack", "application/x-msgpack", "application/json", "Application/JSON", "*/*",
            "application/*", "text/html", "msgpack", "q=0.5", "Q=1", "q=0", "q=0.0", "q=abc", "q=1e0", "q=INF", "q=nan", "q=0x1p-1",
            "q= 0.5", "level=1", " ", "\t", ",", ";", "", "application/msgpack;q=0", "application/json;q=0.9",
        ]
        var disagreements: [String] = []
        for _ in 0..<20_000 {
            var header = ""
            for _ in 0..<(1 + generator.below(7)) {
                header += generator.pick(pieces)
                header += generator.pick([",", ", ", ";", "; ", " ", ""])
            }
            var bytes = header
            let fast = bytes.withUTF8 { MessagePackNegotiation.wantedASCII($0) }
            if fast != MessagePackNegotiation.wantedByCharacters(accept: header) { disagreements.append(header) }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(5))")
        // What the clients send, and a header that is not ASCII (read as strings read it).
        #expect(MessagePackNegotiation.wanted(accept: "application/msgpack, application/json;q=0.5"))
        #expect(MessagePackNegotiation.wanted(accept: "application/msgpack"))
        #expect(!MessagePackNegotiation.wanted(accept: "application/json, application/msgpack;q=0.5"))
        #expect(!MessagePackNegotiation.wanted(accept: nil))
        #expect(MessagePackNegotiation.wanted(accept: "application/msgpack; é=1") == MessagePackNegotiation.wantedByCharacters(accept: "application/msgpack; é=1"))
    }

    @Test("one refusal on a live server: the same message from REST, the batch route and Gymie's WebSocket")
    func liveErrorsReadTheSame() async throws {
        let harness = APIHarness()
        try await harness.live { api, port in
            let id = try await api.create("CartPole-v1")
            // A step before any reset: the environment refuses it.
            let rest = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
            let message = try #require(rest.json["message"]?.stringValue)
            #expect(rest.status == .badRequest && message.contains("reset"), "\(rest.json)")
            let batch = try await api.post("/v1/batch/step/", [["instance_id": .string(id), "action": 0]])
            #expect(batch.json.arrayValue?.first?["message"]?.stringValue == message, "\(batch.json)")
            #expect(batch.json.arrayValue?.first?["status"] == 400)
            let socket = try await converse(port: port, [gymie("step", ["instance_id": .string(id), "action": 0])])
            #expect(socket.closeCode == .dataInconsistentWithMessage && socket.closeReason == GymieSession.closeReason(message), "\(socket)")
        }
    }
}

extension PCG64 {
    fileprivate mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    fileprivate mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
}
