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
        let result = try env.reset(seed: seed ?? pendingSeed, options: options)
        startedEpisode()
        return result
    }

    /// Steps with an action already read into the action space's form.
    public mutating func step(_ action: SpaceValue) throws(GymError) -> StepResult {
        try checkStep(action)
        return completed(try env.step(action))
    }

    /// What every step is checked for before the environment sees it.
    private func checkStep(_ action: SpaceValue) throws(GymError) {
        guard hasReset else {
            throw GymError("Cannot call env.step() before calling env.reset(): reset the environment first")
        }
        guard env.actionSpace.accepts(action) else {
            throw GymError(Self.refusal(action, of: env.actionSpace))
        }
    }

    /// The counts of a new episode.
    private mutating func startedEpisode() {
        pendingSeed = nil
        elapsedSteps = 0
        episodeReward = 0
        resets += 1
    }

    /// The environment's step with the time limit and old gym's key applied.
    private mutating func completed(_ step: StepResult) -> StepResult {
        var result = step
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

    // MARK: split calls

    /// Whether the environment's calls can be made in two halves (`SplitCallEnvironment`).
    public var splitsCalls: Bool { env is any SplitCallEnvironment }

    /// The environment as a `SplitCallEnvironment`, changed by `body` and put back.
    private mutating func split<T>(_ body: (inout any SplitCallEnvironment) throws(GymError) -> T) throws(GymError) -> T {
        guard var split = env as? any SplitCallEnvironment else {
            throw GymError("\(id) cannot make its calls in two halves")
        }
        defer { env = split }
        return try body(&split)
    }

    /// `reset`'s first half: sent, not yet answered.
    public mutating func startReset(seed: UInt64? = nil, options: [String: JSON]? = nil) throws(GymError) {
        let effectiveSeed = seed ?? pendingSeed
        try split { (env) throws(GymError) in try env.startReset(seed: effectiveSeed, options: options) }
    }

    /// `reset`'s second half.
    public mutating func finishReset() throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        let result = try split { (env) throws(GymError) in try env.finishReset() }
        startedEpisode()
        return result
    }

    /// `step`'s first half: checked and sent, not yet answered.
    public mutating func startStep(_ action: SpaceValue) throws(GymError) {
        try checkStep(action)
        try split { (env) throws(GymError) in try env.startStep(action) }
    }

    /// Sends the calls started and held back (`SplitCallEnvironment.sendStarted`).
    public mutating func sendStarted() {
        guard var split = env as? any SplitCallEnvironment else { return }
        split.sendStarted()
        env = split
    }

    /// Where the answers of its split calls arrive (`SplitCallEnvironment.answerWatch`).
    public var answerWatch: (any AnswerWatch)? { (env as? any SplitCallEnvironment)?.answerWatch }

    /// `step`'s second half.
    public mutating func finishStep() throws(GymError) -> StepResult {
        completed(try split { (env) throws(GymError) in try env.finishStep() })
    }

    /// Steps with an action as the client sent it.
    public mutating func step(json action: JSON) throws(GymError) -> StepResult {
        try step(try clientAction(action))
    }

    /// `step(json:)`'s first half (`finishStep` is the second).
    public mutating func startStep(json action: JSON) throws(GymError) {
        try startStep(try clientAction(action))
    }

    /// An action as the client sent it, read in the action space, once the environment was reset.
    private func clientAction(_ action: JSON) throws(GymError) -> SpaceValue {
        guard hasReset else {
            throw GymError("Cannot call env.step() before calling env.reset(): reset the environment first")
        }
        let value: SpaceValue
        do {
            value = try env.actionSpace.value(from: action)
        } catch {
            throw GymError("Action \(JSONWriter.string(action)) is not in the action space \(env.actionSpace): \(error.message)")
        }
        return value
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
