/// An environment as `gymnasium.make` returns it: the time limit of its spec (truncation at
/// `max_episode_steps`), order enforcing (no step before the first reset), and old gym's
/// `done` and `info["TimeLimit.truncated"]` on every step.
public struct WrappedEnvironment: Sendable {
    public let id: String
    public private(set) var env: any Environment
    public let maxEpisodeSteps: Int?
    /// Steps taken in the current episode.
    public private(set) var elapsedSteps = 0
    /// Episodes started by a reset.
    public private(set) var resets = 0
    /// Reward accumulated in the current episode.
    public private(set) var episodeReward = 0.0
    /// A seed given when the instance was created, applied at the next reset without a seed.
    public var pendingSeed: UInt64?
    /// Whether a step that reaches the time limit sets old gym's `info["TimeLimit.truncated"]`
    /// (Gymnasium's own wrappers do not: the sub-environments of a vector leave it out).
    public var reportsOldGymTimeLimit = true

    public init(id: String, env: any Environment, maxEpisodeSteps: Int?) {
        self.id = id
        self.env = env
        self.maxEpisodeSteps = maxEpisodeSteps
    }

    public var actionSpace: Space { env.actionSpace }
    public var observationSpace: Space { env.observationSpace }
    public var hasReset: Bool { resets > 0 }

    public mutating func reset(seed: UInt64? = nil, options: [String: JSON]? = nil) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        let effectiveSeed = seed ?? pendingSeed
        let result = try env.reset(seed: effectiveSeed, options: options)
        pendingSeed = nil
        elapsedSteps = 0
        episodeReward = 0
        resets += 1
        return result
    }

    /// Steps with an action already read into the action space's form.
    public mutating func step(_ action: SpaceValue) throws(GymError) -> StepResult {
        guard hasReset else {
            throw GymError("Cannot call env.step() before calling env.reset(): reset the environment first")
        }
        guard env.actionSpace.accepts(action) else {
            throw GymError(Self.refusal(action, of: env.actionSpace))
        }
        var result = try env.step(action)
        elapsedSteps += 1
        episodeReward += result.reward
        if let maxEpisodeSteps, elapsedSteps >= maxEpisodeSteps {
            result.truncated = true
            // Old gym's TimeLimit: the key is present when the limit is reached.
            if reportsOldGymTimeLimit { result.info["TimeLimit.truncated"] = .bool(!result.terminated) }
        } else if result.truncated, env.appliesTimeLimit, reportsOldGymTimeLimit {
            // The environment's own TimeLimit cut the episode (a bridged one's worker applies it).
            result.info["TimeLimit.truncated"] = .bool(!result.terminated)
        }
        return result
    }

    /// Steps with an action as the client sent it.
    public mutating func step(json action: JSON) throws(GymError) -> StepResult {
        guard hasReset else {
            throw GymError("Cannot call env.step() before calling env.reset(): reset the environment first")
        }
        let value: SpaceValue
        do {
            value = try env.actionSpace.value(from: action)
        } catch {
            throw GymError("Action \(JSONWriter.string(action)) is not in the action space \(env.actionSpace): \(error.message)")
        }
        return try step(value)
    }

    /// Why `space` does not accept `action` (see `Space.accepts`), naming the sub-environment of
    /// a vector when there is one.
    public static func refusal(_ action: SpaceValue, of space: Space, subEnvironment: Int? = nil) -> String {
        let of = subEnvironment.map { " of sub-environment \($0)" } ?? ""
        var message = "Action \(JSONWriter.string(space.json(action)))\(of) is not in the action space \(space)"
        if case .box(let box) = space, box.dtype.isFloatingPoint {
            message += ": a Box action must be finite numbers (out-of-bounds ones are clipped by the environment)"
        }
        return message
    }

    public func renderANSI() -> String? { env.renderANSI() }

    /// Releases what the environment holds outside this process.
    public func close() { env.close() }
}
