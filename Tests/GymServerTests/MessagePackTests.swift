import Foundation
import GymCore
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A MessagePack reader written from the specification (https://github.com/msgpack/msgpack/blob/master/spec.md),
/// independent of the server's writer. A packed array (`{"data", "dtype", "shape"}`) is read back
/// into the nested lists the JSON answer has, its elements as their dtype holds them.
struct MessagePackReader {
    enum Failure: Error, CustomStringConvertible {
        case truncated(Int), unknown(UInt8, Int), badArray(String), trailing(Int)
        var description: String {
            switch self {
            case .truncated(let at): "truncated at byte \(at)"
            case .unknown(let byte, let at): "unknown type byte 0x\(String(byte, radix: 16)) at \(at)"
            case .badArray(let why): "bad packed array: \(why)"
            case .trailing(let count): "\(count) bytes after the value"
            }
        }
    }

    enum Value: Equatable {
        case null, bool(Bool), int(Int), double(Double), string(String), binary([UInt8])
        case array([Value]), map([(String, Value)])

        static func == (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.null, .null): true
            case (.bool(let x), .bool(let y)): x == y
            case (.int(let x), .int(let y)): x == y
            case (.double(let x), .double(let y)): x == y
            case (.string(let x), .string(let y)): x == y
            case (.binary(let x), .binary(let y)): x == y
            case (.array(let x), .array(let y)): x == y
            case (.map(let x), .map(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            default: false
            }
        }
    }

    let bytes: [UInt8]
    var at = 0

    static func read(_ bytes: [UInt8]) throws -> Value {
        var reader = MessagePackReader(bytes: bytes)
        let value = try reader.value()
        guard reader.at == bytes.count else { throw Failure.trailing(bytes.count - reader.at) }
        return value
    }

    private mutating func take(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0, at + count <= bytes.count else { throw Failure.truncated(at) }
        defer { at += count }
        return bytes[at..<(at + count)]
    }

    private mutating func bigEndian(_ count: Int) throws -> UInt64 {
        try take(count).reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func value() throws -> Value {
        let start = at
        let byte = try take(1).first!
        switch byte {
        case 0x00...0x7F: return .int(Int(byte))
        case 0xE0...0xFF: return .int(Int(Int8(bitPattern: byte)))
        case 0x80...0x8F: return try map(Int(byte & 0x0F))
        case 0x90...0x9F: return try array(Int(byte & 0x0F))
        case 0xA0...0xBF: return try string(Int(byte & 0x1F))
        case 0xC0: return .null
        case 0xC2: return .bool(false)
        case 0xC3: return .bool(true)
        case 0xC4, 0xC5, 0xC6: return .binary(Array(try take(Int(try bigEndian(1 << Int(byte - 0xC4))))))
        case 0xCA: return .double(Double(Float(bitPattern: UInt32(try bigEndian(4)))))
        case 0xCB: return .double(Double(bitPattern: try bigEndian(8)))
        case 0xCC, 0xCD, 0xCE, 0xCF: return .int(Int(try bigEndian(1 << Int(byte - 0xCC))))
        case 0xD0: return .int(Int(Int8(truncatingIfNeeded: try bigEndian(1))))
        case 0xD1: return .int(Int(Int16(truncatingIfNeeded: try bigEndian(2))))
        case 0xD2: return .int(Int(Int32(truncatingIfNeeded: try bigEndian(4))))
        case 0xD3: return .int(Int(Int64(bitPattern: try bigEndian(8))))
        case 0xD9, 0xDA, 0xDB: return try string(Int(try bigEndian(1 << Int(byte - 0xD9))))
        case 0xDC, 0xDD: return try array(Int(try bigEndian(2 << Int(byte - 0xDC))))
        case 0xDE, 0xDF: return try map(Int(try bigEndian(2 << Int(byte - 0xDE))))
        default: throw Failure.unknown(byte, start)
        }
    }

    private mutating func string(_ count: Int) throws -> Value {
        .string(String(decoding: try take(count), as: UTF8.self))
    }

    private mutating func array(_ count: Int) throws -> Value {
        var elements: [Value] = []
        for _ in 0..<count { elements.append(try value()) }
        return .array(elements)
    }

    private mutating func map(_ count: Int) throws -> Value {
        var members: [(String, Value)] = []
        for _ in 0..<count {
            guard case .string(let key) = try value() else { throw Failure.badArray("a map key that is not a string") }
            members.append((key, try value()))
        }
        return .map(members)
    }

    /// The value as the JSON answer has it: a packed array as nested lists, every double of a
    /// `<f4` array as the float it is.
    static func json(_ value: Value) throws -> JSON {
        switch value {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .int(let i): return .int(i)
        case .double(let d): return .double(d)
        case .string(let s): return .string(s)
        case .binary: throw Failure.badArray("a binary outside a packed array")
        case .array(let elements): return .array(try elements.map(json))
        case .map(let members):
            let keys = members.map(\.0)
            if keys == ["data", "dtype", "shape"] { return try unpack(members) }
            return .object(Dictionary(uniqueKeysWithValues: try members.map { ($0, try json($1)) }))
        }
    }

    private static func unpack(_ members: [(String, Value)]) throws -> JSON {
        guard case .binary(let data) = members[0].1, case .string(let dtype) = members[1].1,
              case .array(let dimensions) = members[2].1 else { throw Failure.badArray("fields of the wrong types") }
        let shape = try dimensions.map { dimension -> Int in
            guard case .int(let n) = dimension, n >= 0 else { throw Failure.badArray("shape \(dimensions)") }
            return n
        }
        let sizes = ["<f4": 4, "<f8": 8, "<i8": 8, "<i4": 4, "<i2": 2, "|i1": 1, "|u1": 1, "|b1": 1]
        guard let size = sizes[dtype] else { throw Failure.badArray("dtype \(dtype)") }
        let count = shape.reduce(1, *)
        guard data.count == count * size else { throw Failure.badArray("\(data.count) bytes for shape \(shape) of \(dtype)") }
        func element(_ i: Int) -> JSON {
            let raw = data[(i * size)..<((i + 1) * size)].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            switch dtype {
            case "<f4": return .double(Double(Float(bitPattern: UInt32(raw))))
            case "<f8": return .double(Double(bitPattern: raw))
            case "<i8": return .int(Int(Int64(bitPattern: raw)))
            case "<i4": return .int(Int(Int32(truncatingIfNeeded: raw)))
            case "<i2": return .int(Int(Int16(truncatingIfNeeded: raw)))
            case "|i1": return .int(Int(Int8(truncatingIfNeeded: raw)))
            case "|b1": return .bool(raw != 0)
            default: return .int(Int(raw))
            }
        }
        var next = 0
        func nest(_ dims: ArraySlice<Int>) -> JSON {
            guard let first = dims.first else {
                defer { next += 1 }
                return element(next)
            }
            return .array((0..<first).map { _ in nest(dims.dropFirst()) })
        }
        return nest(shape[...])
    }
}

/// JSON answers print float32 values by their shortest repr; the MessagePack answer holds the
/// float32 itself. Equal when every number is equal as a float32 (integers exactly).
func sameAsFloat32(_ a: JSON, _ b: JSON) -> Bool {
    switch (a, b) {
    case (.double(let x), .double(let y)): return Float(x) == Float(y) || (x.isNaN && y.isNaN)
    case (.int(let x), .double(let y)), (.double(let y), .int(let x)): return Double(x) == y
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy(sameAsFloat32)
    case (.object(let x), .object(let y)):
        return x.keys.sorted() == y.keys.sorted() && x.allSatisfy { key, value in sameAsFloat32(value, y[key]!) }
    default: return a == b
    }
}

@Suite("MessagePack answers: Accept: application/msgpack")
struct MessagePackTests {
    static let accept: HTTPFields = [.accept: "application/msgpack"]

    /// Every observation space the environments have: Box float32 (CartPole, Pendulum), Discrete
    /// (FrozenLake), Tuple (Blackjack); plain and vector instances, reset and step.
    @Test("the same answers as JSON, plain and vector, for Box, Discrete and Tuple observations", arguments: [
        ("CartPole-v1", "1"), ("Pendulum-v1", "[0.5]"), ("FrozenLake-v1", "2"), ("Blackjack-v1", "0"),
    ])
    func sameAsJSON(_ envID: String, _ action: String) async throws {
        let harness = APIHarness()
        try await harness.run { api in
            for numEnvs in [nil, 3] {
                var body: [String: JSON] = ["env_id": .string(envID)]
                if let numEnvs { body["num_envs"] = .int(numEnvs) }
                // Two twins: one answers in JSON, the other in MessagePack, on the same seeds and actions.
                let twins = try await [api.post("/v1/envs/", .object(body)), api.post("/v1/envs/", .object(body))]
                    .map { try #require($0.json["instance_id"]?.stringValue) }
                let actionJSON = numEnvs.map { n in "[" + Array(repeating: action, count: n).joined(separator: ", ") + "]" } ?? action
                let calls = [("reset", "{\"seed\": 11}")] + Array(repeating: ("step", "{\"action\": \(actionJSON)}"), count: 30)
                for (call, callBody) in calls {
                    let json = try await api.request(.post, "/v1/envs/\(twins[0])/\(call)/", body: callBody)
                    let packed = try await api.request(.post, "/v1/envs/\(twins[1])/\(call)/", body: callBody, headers: Self.accept)
                    #expect(json.status == .ok && packed.status == .ok, "\(envID) \(call): \(json.json) \(packed.json)")
                    #expect(packed.headers[.contentType] == "application/msgpack")
                    let read = try MessagePackReader.json(try MessagePackReader.read(packed.bytes))
                    #expect(sameAsFloat32(read, json.json), "\(envID) num_envs \(numEnvs ?? 0) \(call): \(read) != \(json.json)")
                }
            }
        }
    }

    @Test("arrays are packed little-endian with numpy's dtype and the batch's shape")
    func packedLayout() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            let id = try #require(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 5]).json["instance_id"]?.stringValue)
            let reset = try await api.request(.post, "/v1/envs/\(id)/reset/", body: "{\"seed\": 3}", headers: Self.accept)
            guard case .map(let fields) = try MessagePackReader.read(reset.bytes),
                  case .map(let observation)? = fields.first(where: { $0.0 == "observation" })?.1 else {
                Issue.record("no observation map in \(reset.bytes.prefix(64))")
                return
            }
            #expect(observation.map(\.0) == ["data", "dtype", "shape"])
            #expect(observation[1].1 == .string("<f4"))
            #expect(observation[2].1 == .array([.int(5), .int(4)]))
            if case .binary(let data) = observation[0].1 { #expect(data.count == 5 * 4 * 4) }
            let step = try await api.request(.post, "/v1/envs/\(id)/step/", body: "{\"action\": [0, 1, 0, 1, 0]}", headers: Self.accept)
            let read = try MessagePackReader.json(try MessagePackReader.read(step.bytes))
            #expect(read["reward"] == [1.0, 1.0, 1.0, 1.0, 1.0])
            #expect(read["terminated"] == [false, false, false, false, false])
        }
    }

    @Test("batches, errors and negotiation: JSON stays the default; q-values rank; errors stay JSON")
    func negotiation() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            let ids = [try await api.create("CartPole-v1"), try await api.create("FrozenLake-v1")]
            for id in ids { _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 0]) }
            let items = "[{\"instance_id\": \"\(ids[0])\", \"action\": 0}, {\"instance_id\": \"\(ids[1])\", \"action\": 9}, {\"instance_id\": \"\(ids[1])\", \"action\": 1}]"
            let batch = try await api.request(.post, "/v1/batch/step/", body: items, headers: Self.accept)
            let read = try MessagePackReader.json(try MessagePackReader.read(batch.bytes))
            let answers = try #require(read.arrayValue)
            #expect(answers.count == 3)
            #expect(answers[0]["observation"]?.arrayValue?.count == 4)
            #expect(answers[1]["status"] == 400 && answers[1]["message"]?.stringValue?.contains("Action 9") == true)
            #expect(answers[2]["observation"]?.intValue != nil, "a Discrete observation stays an integer")
            for accept in ["application/json", "*/*", "application/json, application/msgpack;q=0.5", "text/html"] {
                let answer = try await api.request(.post, "/v1/envs/\(ids[0])/step/", body: "{\"action\": 0}", headers: [.accept: accept])
                #expect(answer.headers[.contentType] == "application/json", "Accept: \(accept)")
            }
            for accept in ["application/x-msgpack", "application/json;q=0.5, application/msgpack"] {
                let answer = try await api.request(.post, "/v1/envs/\(ids[0])/step/", body: "{\"action\": 0}", headers: [.accept: accept])
                #expect(answer.headers[.contentType] == "application/msgpack", "Accept: \(accept)")
            }
            let bad = try await api.request(.post, "/v1/envs/\(ids[0])/step/", body: "{\"action\": 5}", headers: Self.accept)
            #expect(bad.status == .badRequest && bad.headers[.contentType] == "application/json")
            #expect(bad.message?.contains("Action 5") == true)
        }
    }
}
