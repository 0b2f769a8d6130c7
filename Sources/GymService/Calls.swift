import GymCore
import GymMonitor

// The operations of the API as values: every transport reads its bytes into one of these with
// `CallDecoder`, hands it to the service, and writes what comes back. The REST routes, the batch
// routes, the REST fast path, Gymie's session and Gymie's fast path all decode through here.

/// `step`: an action (a list of one per sub-environment for a vector), and whether to write a frame.
public struct StepCall: Sendable, Equatable {
    public var instanceID: String
    public var action: JSON
    public var render: Bool

    public init(instanceID: String, action: JSON, render: Bool = false) {
        self.instanceID = instanceID
        self.action = action
        self.render = render
    }
}

/// `reset`: a seed (or a vector's seeds), Gymnasium's `options`, and whether to write a frame.
public struct ResetCall: Sendable, Equatable {
    public var instanceID: String
    public var seed: SeedRequest
    public var options: [String: JSON]?
    public var render: Bool

    public init(instanceID: String, seed: SeedRequest = .none, options: [String: JSON]? = nil, render: Bool = false) {
        self.instanceID = instanceID
        self.seed = seed
        self.options = options
        self.render = render
    }
}

/// The seed of a reset as the client gave it: none, an integer, or a list (for a vector: one per
/// sub-environment, integers or null). A list is checked against the instance it resets.
public enum SeedRequest: Sendable, Equatable {
    case none
    case base(UInt64)
    case list([JSON])

    /// The seeds for an instance of `numEnvs` sub-environments (nil: a plain one).
    public func seeds(numEnvs: Int?) throws(CallError) -> VectorSeeds {
        switch self {
        case .none: return .none
        case .base(let seed): return .base(seed)
        case .list(let list):
            guard let numEnvs else {
                throw CallError("Parameter 'seed' must be a non-negative integer (a list of seeds is for vector instances), got \(JSONWriter.shortString(.array(list)))")
            }
            guard list.count == numEnvs else {
                throw CallError("If seeds are passed as a list the length must match num_envs=\(numEnvs) but got length=\(list.count).")
            }
            var seeds: [UInt64?] = []
            for element in list {
                if element.isNull {
                    seeds.append(nil)
                    continue
                }
                guard let seed = element.intValue, seed >= 0, element.boolValue == nil else {
                    throw CallError("Every seed of the list must be a non-negative integer below 2^63 or null, got \(JSONWriter.shortString(element))")
                }
                seeds.append(UInt64(seed))
            }
            return .each(seeds)
        }
    }
}

/// `create` (`POST /v1/envs/`, Gymie's `make`).
public struct CreateCall: Sendable, Equatable {
    public var envID: String
    public var seed: UInt64?
    public var kwargs: [String: JSON] = [:]
    public var numEnvs: Int?
    public var autoresetMode: AutoresetMode = .nextStep
    public var backend: EnvironmentManager.Backend?

    public init(envID: String, seed: UInt64? = nil, kwargs: [String: JSON] = [:]) {
        self.envID = envID
        self.seed = seed
        self.kwargs = kwargs
    }
}

/// `monitor/start`.
public struct MonitorStartCall: Sendable, Equatable {
    /// Relative to the monitor root (nil: `<instance_id>/simulation`).
    public var directory: String?
    public var force = false
    public var resume = false
    public var videoSchedule = VideoSchedule.cappedCubic
}

/// A request's body as read: nothing, a JSON object, other JSON, or not JSON at all.
public enum CallBody: Sendable {
    /// No body, only white space, or `null`.
    case empty
    case object([String: JSON])
    /// JSON that is not an object (`""`, `[]`, `7`): what a call that needs fields refuses and
    /// one that needs none ignores, as openai's server ignored reset's body.
    case otherValue(JSON)
    /// Not JSON: the error to answer if the call reads the body.
    case invalid(CallError)

    /// The body's bytes, read.
    public static func read(_ bytes: some Collection<UInt8>) -> CallBody {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return .empty }
        let json: JSON
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            return .invalid(CallError("Request is not a valid json: \(error)"))
        }
        switch json {
        case .object(let members): return .object(members)
        case .null: return .empty
        default: return .otherValue(json)
        }
    }

    /// The body as an object for a call: an absent body is nil when `optional`; JSON that is not
    /// an object counts as no body with `ignoringOtherValues` (reset: openai's server never read
    /// its body, and the Ruby binding sends `""`), and is an error otherwise.
    public func object(optional: Bool = false, ignoringOtherValues: Bool = false) throws(CallError) -> [String: JSON]? {
        switch self {
        case .object(let members): return members
        case .empty:
            if optional { return nil }
            throw CallError("Request is not a valid json")
        case .otherValue(let json):
            if optional && ignoringOtherValues { return nil }
            throw CallError("Request is not a valid json object: expected {...}, got \(json.typeName)")
        case .invalid(let error): throw error
        }
    }
}

/// Reads calls. The strict mode (`step`, `reset`, `create`, ...) reads any body and throws the
/// error each transport renders; the fast mode (`fastStep`, `fastReset`) reads only the bodies
/// the fast paths answer, and declines (nil) everything else, never disagreeing with strict: what
/// it accepts, strict decodes to the same call (`CallDecoderTests` checks it over generated bodies).
public enum CallDecoder {
    // MARK: strict

    public static func step(_ body: CallBody, instanceID: String) throws(CallError) -> StepCall {
        try step(body.object(), instanceID: instanceID)
    }

    public static func step(_ members: [String: JSON]?, instanceID: String) throws(CallError) -> StepCall {
        let action = try required(members, "action")
        let render = try bool(members, "render", default: false)
        return StepCall(instanceID: instanceID, action: action, render: render)
    }

    public static func reset(_ body: CallBody, instanceID: String) throws(CallError) -> ResetCall {
        try reset(body.object(optional: true, ignoringOtherValues: true), instanceID: instanceID)
    }

    public static func reset(_ members: [String: JSON]?, instanceID: String) throws(CallError) -> ResetCall {
        let seed = try seedRequest(members)
        let options = try object(members, "options")
        let render = try bool(members, "render", default: false)
        return ResetCall(instanceID: instanceID, seed: seed, options: options, render: render)
    }

    /// A batch item: `{instance_id, ...}` and the call's own fields.
    public static func batchItem<Call>(
        _ item: JSON, _ decode: ([String: JSON], String) throws(CallError) -> Call
    ) throws(CallError) -> Call {
        guard case .object(let members) = item else {
            throw CallError("Each item must be an object such as {\"instance_id\": \"3c657dbc\", \"action\": 0}, got \(JSONWriter.shortString(item))")
        }
        let id = try required(members, "instance_id")
        guard let instanceID = id.stringValue else {
            throw CallError("Parameter 'instance_id' must be a string, got \(JSONWriter.shortString(id))")
        }
        return try decode(members, instanceID)
    }

    /// What create takes besides its id's name.
    public static let createParameters: Set<String> = ["seed", "kwargs", "num_envs", "autoreset_mode", "backend", "api_key", "token"]

    /// `create`, the id under `idKey` (`env_id`, or `environment` on `/v1/envs/create/`).
    public static func create(_ members: [String: JSON]?, idKey: String) throws(CallError) -> CreateCall {
        let envID = try required(members, idKey)
        guard let id = envID.stringValue else {
            throw CallError("Attempted to look up malformed environment ID '\(JSONWriter.shortString(envID))'")
        }
        if let unknown = members?.keys.sorted().first(where: { !createParameters.contains($0) && $0 != "env_id" && $0 != "environment" }) {
            throw CallError("Unknown parameter '\(unknown.prefix(80))': create takes env_id (or environment), seed, kwargs, num_envs, autoreset_mode and backend")
        }
        var call = CreateCall(envID: id, seed: try seed(members), kwargs: try object(members, "kwargs") ?? [:])
        if let value = optional(members, "num_envs") {
            guard let n = value.intValue, n >= 1 else {
                throw CallError("Parameter 'num_envs' must be a positive integer, got \(JSONWriter.shortString(value))")
            }
            call.numEnvs = n
        }
        if let value = optional(members, "autoreset_mode") {
            guard let name = value.stringValue, let parsed = autoresetMode(name) else {
                throw CallError("Parameter 'autoreset_mode' must be next_step, same_step or disabled, got \(JSONWriter.shortString(value))")
            }
            guard call.numEnvs != nil else {
                throw CallError("Parameter 'autoreset_mode' is for vector instances: give num_envs too")
            }
            call.autoresetMode = parsed
        }
        if let value = optional(members, "backend") {
            guard let name = value.stringValue, let parsed = EnvironmentManager.Backend(rawValue: name) else {
                throw CallError("Parameter 'backend' must be native or gymnasium, got \(JSONWriter.shortString(value))")
            }
            call.backend = parsed
        }
        return call
    }

    /// `next_step`, `same_step`, `disabled`, or Gymnasium's enum values `NextStep`, `SameStep`, `Disabled`.
    public static func autoresetMode(_ name: String) -> AutoresetMode? {
        if let mode = AutoresetMode(rawValue: name) { return mode }
        switch name {
        case "NextStep": return .nextStep
        case "SameStep": return .sameStep
        case "Disabled": return .disabled
        default: return nil
        }
    }

    /// `monitor/start`: `directory` absent means flaviotruzzi's default (nil), unless `force` asks
    /// to delete files, which needs the directory named (openai's server always needed it); a
    /// `null` or empty directory is openai's missing parameter.
    public static func monitorStart(_ members: [String: JSON]?) throws(CallError) -> MonitorStartCall {
        var call = MonitorStartCall()
        call.force = try bool(members, "force", default: false)
        call.resume = try bool(members, "resume", default: false)
        if let value = members?["directory"] {
            guard !value.isEmptyParameter else {
                throw CallError("A required request parameter 'directory' was not provided")
            }
            guard let directory = value.stringValue else {
                throw CallError("Parameter 'directory' must be a string, got \(JSONWriter.shortString(value))")
            }
            call.directory = directory
        } else if call.force {
            throw CallError("A required request parameter 'directory' was not provided: force deletes the monitor files of a directory, so name it (without force, the default is <instance_id>/simulation)")
        }
        call.videoSchedule = try videoSchedule(members?["video_callable"])
        return call
    }

    /// old gym's `video_callable`: absent, null or true -> the capped cubic schedule; false -> no
    /// video (`"true"`/`"false"` as strings too); a positive integer N -> every N-th episode.
    static func videoSchedule(_ json: JSON?) throws(CallError) -> VideoSchedule {
        guard let json, !json.isNull else { return .cappedCubic }
        if let flag = json.flagValue { return flag ? .cappedCubic : .never }
        guard let n = json.intValue, n > 0 else {
            throw CallError("Parameter 'video_callable' must be true, false or a positive integer N (every N-th episode), got \(JSONWriter.shortString(json))")
        }
        return .every(n)
    }

    // MARK: fast

    /// A step body the fast paths take: a JSON object of `action` and `render` only (a key in the
    /// body is the route's to check), decoded as `step` decodes it; nil for anything else.
    public static func fastStep(_ bytes: some Collection<UInt8>, instanceID: String) -> StepCall? {
        guard case .object(let members) = CallBody.read(bytes), members.keys.allSatisfy({ $0 == "action" || $0 == "render" }) else {
            return nil
        }
        return try? step(members, instanceID: instanceID)
    }

    /// A reset body the fast paths take: none, or a JSON object of `seed`, `options` and
    /// `render` only, decoded as `reset` decodes it; nil for anything else.
    public static func fastReset(_ bytes: some Collection<UInt8>, instanceID: String) -> ResetCall? {
        let members: [String: JSON]?
        switch CallBody.read(bytes) {
        case .empty: members = nil
        case .object(let object): members = object
        case .otherValue, .invalid: return nil
        }
        guard members?.keys.allSatisfy({ $0 == "seed" || $0 == "options" || $0 == "render" }) ?? true else { return nil }
        return try? reset(members, instanceID: instanceID)
    }

    // MARK: Gymie's messages

    /// Gymie's `step` params (`instance_id` and `action`; `render` and `full` true, false or
    /// null): the call, and `full`. Any other value is a `.request` error (Gymie's "Parameters
    /// `...` are wrong").
    public static func gymieStep(_ params: [String: JSON], instanceID: String) throws(CallError) -> (StepCall, full: Bool) {
        guard let action = params["action"] else { throw wrongGymieParameter("action") }
        return (StepCall(instanceID: instanceID, action: action, render: try gymieFlag(params, "render")), try gymieFlag(params, "full"))
    }

    /// Gymie's `reset` params (`instance_id`; `seed` a non-negative integer or null, `options`
    /// an object or null, `full`).
    public static func gymieReset(_ params: [String: JSON], instanceID: String) throws(CallError) -> (ResetCall, full: Bool) {
        let seed = try gymieSeed(params["seed"])
        var options: [String: JSON]?
        if let value = params["options"], !value.isNull {
            guard let members = value.objectValue else { throw wrongGymieParameter("options") }
            options = members
        }
        return (ResetCall(instanceID: instanceID, seed: seed.map(SeedRequest.base) ?? .none, options: options), try gymieFlag(params, "full"))
    }

    /// Gymie's `make` params after `env_id` (`seed`, `kwargs`).
    public static func gymieMake(_ params: [String: JSON], envID: String) throws(CallError) -> CreateCall {
        var kwargs: [String: JSON] = [:]
        if let value = params["kwargs"], !value.isNull {
            guard let members = value.objectValue else { throw wrongGymieParameter("kwargs") }
            kwargs = members
        }
        return CreateCall(envID: envID, seed: try gymieSeed(params["seed"]), kwargs: kwargs)
    }

    private static func gymieSeed(_ json: JSON?) throws(CallError) -> UInt64? {
        guard let json, !json.isNull else { return nil }
        guard let seed = json.intValue, seed >= 0 else { throw wrongGymieParameter("seed") }
        return UInt64(seed)
    }

    private static func gymieFlag(_ params: [String: JSON], _ name: String) throws(CallError) -> Bool {
        guard let value = params[name], !value.isNull else { return false }
        guard let flag = value.flagValue else { throw wrongGymieParameter(name) }
        return flag
    }

    private static func wrongGymieParameter(_ name: String) -> CallError {
        CallError("Parameter '\(name)' is wrong")
    }

    // MARK: fields

    /// A parameter that must be present and not empty (`null`, `""` and `[]` count as absent).
    public static func required(_ body: [String: JSON]?, _ name: String) throws(CallError) -> JSON {
        guard let body else { throw CallError("Request is not a valid json") }
        guard let value = body[name], !value.isEmptyParameter else {
            throw CallError("A required request parameter '\(name)' was not provided")
        }
        return value
    }

    /// An optional parameter; `null`, `""` and `[]` mean "use the default".
    public static func optional(_ body: [String: JSON]?, _ name: String) -> JSON? {
        guard let value = body?[name], !value.isEmptyParameter else { return nil }
        return value
    }

    /// A boolean parameter: `true`/`false`, or the strings `"true"`/`"false"` in any case, as
    /// the old bindings send them (openai's Lua binding); anything else is an error naming it.
    public static func bool(_ body: [String: JSON]?, _ name: String, default value: Bool) throws(CallError) -> Bool {
        guard let json = optional(body, name) else { return value }
        guard let b = json.flagValue else {
            throw CallError("Parameter '\(name)' must be true or false (or the string \"true\" or \"false\"), got \(JSONWriter.shortString(json))")
        }
        return b
    }

    public static func string(_ body: [String: JSON]?, _ name: String) throws(CallError) -> String? {
        guard let json = optional(body, name) else { return nil }
        guard let s = json.stringValue else {
            throw CallError("Parameter '\(name)' must be a string, got \(JSONWriter.shortString(json))")
        }
        return s
    }

    public static func object(_ body: [String: JSON]?, _ name: String) throws(CallError) -> [String: JSON]? {
        guard let value = body?[name], !value.isNull else { return nil }
        guard let members = value.objectValue else {
            throw CallError("Parameter '\(name)' must be a JSON object, got \(JSONWriter.shortString(value))")
        }
        return members
    }

    /// A seed: a non-negative integer that fits numpy's SeedSequence entropy here (< 2^63).
    public static func seed(_ body: [String: JSON]?) throws(CallError) -> UInt64? {
        guard let json = optional(body, "seed") else { return nil }
        guard let seed = json.intValue, seed >= 0 else {
            throw CallError("Parameter 'seed' must be a non-negative integer below 2^63, got \(JSONWriter.shortString(json))")
        }
        return UInt64(seed)
    }

    /// The seed(s) of a reset: an integer, or a list (checked against the instance: `SeedRequest.seeds`).
    static func seedRequest(_ body: [String: JSON]?) throws(CallError) -> SeedRequest {
        guard let value = optional(body, "seed") else { return .none }
        if case .array(let list) = value { return .list(list) }
        return try seed(body).map(SeedRequest.base) ?? .none
    }
}

/// A call on one instance (batch items name theirs).
public protocol InstanceCall {
    var instanceID: String { get }
}

extension StepCall: InstanceCall {}
extension ResetCall: InstanceCall {}
