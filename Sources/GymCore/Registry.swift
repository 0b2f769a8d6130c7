/// A registered environment id, as `gymnasium.register` describes it.
public struct EnvSpec: Sendable {
    public let id: String
    public let maxEpisodeSteps: Int?
    public let rewardThreshold: Double?
    /// Builds the bare environment from the client's keyword arguments (without
    /// `max_episode_steps`, which the registry handles for every id).
    public let make: @Sendable (inout Kwargs) throws(GymError) -> any Environment

    public init(
        id: String, maxEpisodeSteps: Int?, rewardThreshold: Double? = nil,
        make: @escaping @Sendable (inout Kwargs) throws(GymError) -> any Environment
    ) {
        self.id = id
        self.maxEpisodeSteps = maxEpisodeSteps
        self.rewardThreshold = rewardThreshold
        self.make = make
    }
}

/// The ids the server can make, with aliases for older versions (`FrozenLake-v0`).
public struct Registry: Sendable {
    private var specs: [String: EnvSpec] = [:]
    private var aliases: [String: String] = [:]

    public init() {}

    public mutating func register(_ spec: EnvSpec, aliases: [String] = []) {
        specs[spec.id] = spec
        for alias in aliases { self.aliases[alias] = spec.id }
    }

    /// Every id a client may ask for, aliases included, sorted.
    public var ids: [String] { (Array(specs.keys) + Array(aliases.keys)).sorted() }

    /// Whether an id has Gymnasium's `[namespace/]Name-vN` form.
    public static func isWellFormed(_ id: String) -> Bool {
        var name = Substring(id)
        if let slash = id.firstIndex(of: "/") {
            let namespace = id[..<slash]
            guard !namespace.isEmpty, namespace.allSatisfy({ $0.isWordCharacter || $0 == ":" || $0 == "-" }) else { return false }
            name = id[id.index(after: slash)...]
        }
        guard let v = name.lastIndex(of: "v"), v > name.startIndex, name[name.index(before: v)] == "-" else { return false }
        let base = name[..<name.index(before: v)]
        let version = name[name.index(after: v)...]
        return !base.isEmpty && !version.isEmpty
            && version.allSatisfy { $0.isASCII && $0.isNumber }
            && base.allSatisfy { $0.isWordCharacter || $0 == ":" || $0 == "." || $0 == "-" }
    }

    /// The spec for an id or alias, or the error the client should see.
    public func spec(for id: String) throws(GymError) -> EnvSpec {
        guard Self.isWellFormed(id) else {
            throw GymError("Attempted to look up malformed environment ID '\(id)'")
        }
        guard let spec = specs[aliases[id] ?? id] else {
            throw GymError("Environment '\(id)' is not registered. Registered environments: \(ids.joined(separator: ", "))")
        }
        return spec
    }

    /// `gymnasium.make(id, **kwargs)`: the environment with its time limit and order enforcing.
    public func make(_ id: String, kwargs: [String: JSON] = [:]) throws(GymError) -> WrappedEnvironment {
        let spec = try spec(for: id)
        var arguments = Kwargs(kwargs, envID: id)
        var maxSteps = spec.maxEpisodeSteps
        if let limit = arguments.raw("max_episode_steps") {
            guard let steps = limit.intValue, steps > 0 else {
                throw GymError("Argument 'max_episode_steps' of \(id) must be a positive integer, got \(JSONWriter.string(limit))")
            }
            maxSteps = steps
        }
        let env = try spec.make(&arguments)
        try arguments.finish()
        return WrappedEnvironment(id: id, env: env, maxEpisodeSteps: maxSteps)
    }
}

extension Character {
    fileprivate var isWordCharacter: Bool { isLetter || isNumber || self == "_" }
}
