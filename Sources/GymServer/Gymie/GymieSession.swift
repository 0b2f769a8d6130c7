import Dispatch
import GymCore
import HummingbirdWebSocket
import NIOWebSocket
import GymService

/// Gymie's WebSocket protocol (jscriptcoder/Gymie-Server) on `/gym`, on the very instances of the
/// REST API: each text message is `{"method": ..., "params": {...}}` and gets one text message
/// back, or closes the socket with Gymie's code and reason.
///
/// | method | params | answer |
/// | --- | --- | --- |
/// | `make` | `env_id`, `seed?`, `kwargs?` | the instance id, bare text (32 hex digits) |
/// | `reset` | `instance_id`, `seed?`, `options?`, `full?` | the observation (with `full`: `{observation, info}`) |
/// | `step` | `instance_id`, `action`, `render?`, `full?` | `[observation, reward, done, info]` (with `full`: REST's object) |
/// | `close` | `instance_id` | `true` |
/// | `observation_space`, `action_space` | `instance_id` | the space's description |
/// | `action_sample` | `instance_id` | a random action |
///
/// Close codes and reasons, as Gymie's: 1003 "Message `<text>` is invalid", 1003 "Message keys
/// [...] are missing or invalid", 1007 "Method `<m>` not found", 1007 "Parameters `<params>` are
/// wrong", 1007 "Instance `<id>` not found", 1007 "Environment `<id>` is malformed", 1007
/// "Environment `<id>` not found", 1007 "Action `<a>` is wrong" (values as Python's `str`); and
/// gym-server's own: 1003 for binary messages, 1007 with its message for what Gymie had no reason
/// for (a reset in the middle of a monitored episode, a step before a reset), 1008 for a limit.
struct GymieSession: Sendable {
    let manager: EnvironmentManager
    /// The key the socket was opened with (nil with API keys off).
    let owner: Owner?
    let maxMessageSize: Int
    /// Where each message is logged (`--access-log`), if anywhere.
    var accessLog: AccessLog? = nil
    var metrics: ServerMetrics? = nil

    /// What a message gets: an answer, or the socket closed.
    enum Reply: Equatable {
        case text(String)
        case close(WebSocketErrorCode, String)
    }

    /// Reads messages until the client leaves or a message closes the socket. The instances made
    /// over the socket stay alive when it goes: they end by `close`, the REST API or idle expiry.
    func run(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter) async throws {
        for try await message in inbound.messages(maxSize: maxMessageSize) {
            let start = accessLog == nil ? 0 : DispatchTime.now().uptimeNanoseconds
            let reply: Reply
            var method = "binary"
            switch message {
            case .text(let text):
                reply = await handle(text)
                if accessLog != nil { method = Self.methodName(text) }
            case .binary:
                reply = .close(.unacceptableData, "Binary messages are not supported: send {\"method\": ..., \"params\": {...}} as text")
            }
            if let accessLog {
                let (status, bytes): (Int, Int) = {
                    switch reply {
                    case .text(let answer): return (200, answer.utf8.count)
                    case .close(let code, _): return (Int(UInt16(webSocketErrorCode: code)), 0)
                    }
                }()
                accessLog.record(
                    method: method, path: GymieRoutes.path, status: status, bytes: bytes, startedAt: start, key: owner?.name,
                    transport: .ws)
            }
            switch reply {
            case .text(let answer):
                try await outbound.write(.text(answer))
            case .close(let code, let reason):
                try await outbound.close(code, reason: Self.closeReason(reason))
                return
            }
        }
    }

    /// The method a message names, for the access log: Gymie's name, or `-`.
    static func methodName(_ text: String) -> String {
        guard let parsed = try? JSONParser.parse(text), let name = parsed.objectValue?["method"]?.stringValue,
            let method = Method(rawValue: name)
        else { return "-" }
        return method.rawValue
    }

    /// A step's answer as Gymie gives it, `[observation, reward, done, info]`; with `full`,
    /// REST's object. The session and the fast path both write a step's answer with this.
    static func stepBytes(_ answer: Answer, full: Bool = false) -> [UInt8] {
        if full { return JSONWriter.encode(answer) }
        var writer = JSONWriter(reservingCapacity: 256)
        writer.writeList(answer, Self.stepFields)
        return writer.bytes
    }

    /// A reset's answer: the observation; with `full`, `{info, observation}`. The session and
    /// the fast path both write it with this.
    static func resetBytes(_ answer: Answer, full: Bool) -> [UInt8] {
        if full { return JSONWriter.encode(answer) }
        var writer = JSONWriter(reservingCapacity: 128)
        writer.write(answer.observation ?? .json(.null))
        return writer.bytes
    }

    private static let stepFields = ["observation", "reward", "done", "info"]

    /// A close reason fits in a close frame's 123 bytes: longer ones are cut at a character
    /// boundary.
    static func closeReason(_ reason: String) -> String {
        guard reason.utf8.count > 123 else { return reason }
        var cut = ""
        var bytes = 0
        for character in reason {
            let size = character.utf8.count
            if bytes + size > 123 { break }
            cut.append(character)
            bytes += size
        }
        return cut
    }

    // MARK: one message

    func handle(_ text: String) async -> Reply {
        guard let parsed = try? JSONParser.parse(text), case .object(let data) = parsed else {
            return .close(.unacceptableData, "Message `\(text)` is invalid")
        }
        guard let methodJSON = data["method"], let paramsJSON = data["params"] else {
            let keys = PythonLiteral.parse(text).map(PythonLiteral.keyList) ?? "[]"
            return .close(.unacceptableData, "Message keys \(keys) are missing or invalid")
        }
        let ordered = PythonLiteral.parse(text)
        let paramsText = Self.parametersText(ordered, paramsJSON)
        let wrongParameters = Reply.close(.dataInconsistentWithMessage, "Parameters `\(paramsText)` are wrong")
        guard let methodName = methodJSON.stringValue, let method = Method(rawValue: methodName) else {
            // Python: `public[method]` raises KeyError for an unknown name, TypeError for an
            // unhashable one (a list or a dict).
            if case .array = methodJSON { return wrongParameters }
            if case .object = methodJSON { return wrongParameters }
            let shown = ordered.flatMap { value -> String? in
                if case .object(let members) = value, let m = members.first(where: { $0.0 == "method" })?.1 { return PythonLiteral.str(m) }
                return nil
            } ?? JSONWriter.string(methodJSON)
            return .close(.dataInconsistentWithMessage, "Method `\(shown)` not found")
        }
        guard case .object(let params) = paramsJSON else { return wrongParameters }
        guard Set(params.keys).isSubset(of: method.parameters), method.required.isSubset(of: Set(params.keys)) else {
            return wrongParameters
        }
        do {
            return try await call(method, params, wrongParameters: wrongParameters, ordered: ordered)
        } catch {
            // The service's one error type, closed with Gymie's code and reason.
            let (code, reason) = CallError(error).gymieClose(parameters: paramsText)
            return .close(WebSocketErrorCode(codeNumber: Int(code)), reason)
        }
    }

    /// A message's `params` as Gymie's reasons show them (Python's `str`, in the client's order).
    static func parametersText(_ ordered: PythonLiteral.Value?, _ params: JSON) -> String {
        if case .object(let members)? = ordered, let original = members.first(where: { $0.0 == "params" })?.1 {
            return PythonLiteral.str(original)
        }
        return JSONWriter.string(params)
    }

    /// How the session closes the socket for an error of a call (`run` writes it): Gymie's code
    /// and reason, the reason cut to fit a close frame.
    static func close(for error: any Error, message text: String) -> (code: UInt16, reason: String) {
        let ordered = PythonLiteral.parse(text)
        let params = (try? JSONParser.parse(text))?["params"] ?? .null
        let (code, reason) = CallError(error).gymieClose(parameters: parametersText(ordered, params))
        return (code, closeReason(reason))
    }

    enum Method: String {
        case make, reset, step, close
        case observationSpace = "observation_space"
        case actionSpace = "action_space"
        case actionSample = "action_sample"

        /// Gymie's parameters, and gym-server's additions (`kwargs`; `seed`, `options`, `full`).
        var parameters: Set<String> {
            switch self {
            case .make: return ["env_id", "seed", "kwargs"]
            case .reset: return ["instance_id", "seed", "options", "full"]
            case .step: return ["instance_id", "action", "render", "full"]
            case .close, .observationSpace, .actionSpace, .actionSample: return ["instance_id"]
            }
        }

        var required: Set<String> {
            switch self {
            case .make: return ["env_id"]
            case .step: return ["instance_id", "action"]
            default: return ["instance_id"]
            }
        }
    }

    private func call(_ method: Method, _ params: [String: JSON], wrongParameters: Reply, ordered: PythonLiteral.Value?) async throws -> Reply {
        if method == .make { return try await make(params, wrongParameters: wrongParameters, ordered: ordered) }
        guard let id = params["instance_id"] else { return wrongParameters }
        guard let instanceID = id.stringValue else {
            return .close(.dataInconsistentWithMessage, "Instance `\(Self.shown(id, "instance_id", ordered))` not found")
        }
        let instance = try manager.instance(instanceID, for: owner)
        switch method {
        case .make:
            return wrongParameters
        case .reset:
            let (call, full) = try CallDecoder.gymieReset(params, instanceID: instanceID)
            metrics?.stepPaths.count(.gymieSession, reset: true)
            let answer = try await instance.perform(call)
            return .text(String(decoding: Self.resetBytes(answer, full: full), as: UTF8.self))
        case .step:
            let (call, full) = try CallDecoder.gymieStep(params, instanceID: instanceID)
            // Gymie: an action the environment cannot take is "wrong", shown as Python's str.
            guard Self.acceptsAction(call.action, instance) else {
                return .close(.dataInconsistentWithMessage, "Action `\(Self.shown(call.action, "action", ordered))` is wrong")
            }
            metrics?.stepPaths.count(.gymieSession, reset: false)
            let answer = try await instance.perform(call)
            return .text(String(decoding: Self.stepBytes(answer, full: full), as: UTF8.self))
        case .close:
            try await manager.close(instanceID, for: owner)
            return .text("true")
        case .observationSpace:
            return .text(JSONWriter.string(instance.observationSpace.info))
        case .actionSpace:
            return .text(JSONWriter.string(instance.actionSpace.info))
        case .actionSample:
            return .text(JSONWriter.string(instance.sampleAction()))
        }
    }

    private func make(_ params: [String: JSON], wrongParameters: Reply, ordered: PythonLiteral.Value?) async throws -> Reply {
        guard let envJSON = params["env_id"] else { return wrongParameters }
        guard let envID = envJSON.stringValue, Registry.isWellFormed(envID) else {
            return .close(.dataInconsistentWithMessage, "Environment `\(Self.shown(envJSON, "env_id", ordered))` is malformed")
        }
        guard (try? manager.registry.spec(for: envID)) != nil || manager.bridge != nil else {
            return .close(.dataInconsistentWithMessage, "Environment `\(envID)` not found")
        }
        let call = try CallDecoder.gymieMake(params, envID: envID)
        let instance: EnvironmentInstance
        do {
            instance = try await manager.perform(call, owner: owner, idStyle: .long)
        } catch let error as GymError where error.status == 400 {
            // Arguments the environment does not take (Gymie: a TypeError of gym.make).
            return wrongParameters
        }
        return .text(instance.id)
    }

    /// A parameter's value as Python's `str` shows it, in the order the client wrote it.
    private static func shown(_ value: JSON, _ name: String, _ ordered: PythonLiteral.Value?) -> String {
        if case .object(let members)? = ordered, case .object(let params)? = members.first(where: { $0.0 == "params" })?.1,
            let original = params.first(where: { $0.0 == name })?.1
        {
            return PythonLiteral.str(original)
        }
        return value.stringValue ?? JSONWriter.string(value)
    }

    /// Whether Gymie would take `action`: a value of the action space that the environment
    /// accepts (a float Box's out-of-bounds numbers too, clipped as Gymnasium clips them).
    static func acceptsAction(_ action: JSON, _ instance: EnvironmentInstance) -> Bool {
        (try? instance.actionSpace.value(from: action)).map(instance.actionSpace.accepts) == true
    }
}
