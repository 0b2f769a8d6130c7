import Dispatch
import Foundation

/// When a vector's sub-environments start their next episode (Gymnasium's `AutoresetMode`).
public enum AutoresetMode: String, Sendable, CaseIterable {
    /// The step after an episode ended resets that sub-environment (its action is ignored).
    case nextStep = "next_step"
    /// The step that ends an episode resets the sub-environment at once: it answers the first
    /// observation of the next episode, with `final_obs`/`final_info` in the info.
    case sameStep = "same_step"
    /// Nothing resets by itself: reset the ended sub-environments with `options.reset_mask`.
    case disabled
}

/// A sub-episode that ended on a step, as `RecordEpisodeStatistics` counts it for vectors.
public struct FinishedSubEpisode: Sendable, Equatable {
    public let index: Int
    public let length: Int
    public let reward: Double
}

/// What one step of a vector produced.
public struct VectorStepResult: Sendable {
    public var observations: [SpaceValue]
    public var rewards: [Double]
    public var terminated: [Bool]
    public var truncated: [Bool]
    public var info: VectorInfo
    /// The sub-episodes that ended on this step, in index order.
    public var finished: [FinishedSubEpisode]
}

/// What happened to one sub-environment, as it happened (before a SAME_STEP autoreset replaces
/// the state reached): for whoever films it.
public enum SubEnvironmentEvent: Sendable {
    case reset(WrappedEnvironment)
    case stepped(WrappedEnvironment, StepResult)
}

/// How the seeds of a vector reset are given.
public enum VectorSeeds: Sendable, Equatable {
    /// No seed: every sub-environment continues its stream.
    case none
    /// Sub-environment i gets `seed + i`.
    case base(UInt64)
    /// One seed (or none) per sub-environment.
    case each([UInt64?])
}

/// N copies of an environment stepped as one, exactly as Gymnasium's `SyncVectorEnv`
/// (`gymnasium.make_vec(id, num_envs=N, vectorization_mode="sync")`) steps them: the batched
/// spaces of `batch_space`, the three autoreset modes, `reset_mask`, and the info of every
/// sub-environment batched with its masks (docs/vector-semantics.md). It also counts each
/// sub-episode's length and return as `RecordEpisodeStatistics` does, for the monitor.
public struct VectorEnvironment: Sendable {
    public let id: String
    public private(set) var envs: [WrappedEnvironment]
    public let mode: AutoresetMode
    public let singleObservationSpace: Space
    public let singleActionSpace: Space
    public let observationSpace: Space
    public let actionSpace: Space
    /// A seed given when the instance was created, applied (as `seed + i`) at the first reset.
    public var pendingSeed: UInt64?
    /// The latest observation of each sub-environment (nil before its first reset).
    private var observations: [SpaceValue?]
    /// The sub-environments whose episode ended on the last step.
    private var ended: [Bool]
    /// RecordEpisodeStatistics' counters.
    private var returns: [Double]
    private var lengths: [Int]
    private var previouslyDone: [Bool]
    /// Whether a wide vector steps its sub-environments on all cores (see `Parallelism`).
    public var parallelism = Parallelism.automatic
    /// Resets of the whole vector (episodes of sub-environment 0 for the live view come from its own counter).
    public private(set) var resets = 0

    public var count: Int { envs.count }
    public var hasReset: Bool { resets > 0 }

    /// `envs` are N freshly made copies of one environment (`Registry.make`).
    public init(envs: [WrappedEnvironment], mode: AutoresetMode) {
        precondition(!envs.isEmpty, "a vector needs at least one sub-environment")
        var envs = envs
        for i in envs.indices { envs[i].reportsOldGymTimeLimit = false }
        self.envs = envs
        self.id = envs[0].id
        self.mode = mode
        singleObservationSpace = envs[0].observationSpace
        singleActionSpace = envs[0].actionSpace
        observationSpace = singleObservationSpace.batched(envs.count)
        actionSpace = singleActionSpace.batched(envs.count)
        observations = Array(repeating: nil, count: envs.count)
        ended = Array(repeating: false, count: envs.count)
        returns = Array(repeating: 0, count: envs.count)
        lengths = Array(repeating: 0, count: envs.count)
        previouslyDone = Array(repeating: false, count: envs.count)
    }

    // MARK: reset

    /// `reset(seed=, options=)`. `options["reset_mask"]` (N booleans, at least one true) resets
    /// only those sub-environments, with the other options; the rest keep their state. `observe`
    /// is told when sub-environment 0 is reset.
    public mutating func reset(
        seeds: VectorSeeds, options: [String: JSON]?, observe: ((SubEnvironmentEvent) -> Void)? = nil
    ) throws(GymError) -> (observations: [SpaceValue], info: VectorInfo) {
        let n = count
        var perEnv: [UInt64?]
        switch seeds {
        case .none:
            perEnv = pendingSeed.map { base in (0..<n).map { base &+ UInt64($0) } } ?? Array(repeating: nil, count: n)
        case .base(let seed):
            perEnv = (0..<n).map { seed &+ UInt64($0) }
        case .each(let list):
            guard list.count == n else {
                throw GymError("If seeds are passed as a list the length must match num_envs=\(n) but got length=\(list.count).")
            }
            perEnv = list
        }
        var rest = options
        var mask = Array(repeating: true, count: n)
        if let given = options?["reset_mask"] {
            mask = try Self.resetMask(given, count: n)
            rest?["reset_mask"] = nil
            guard hasReset else {
                throw GymError("Reset the whole vector once before resetting some sub-environments with reset_mask")
            }
        }
        // Options are checked by the sub-environments; check them all on a copy first, so that a
        // bad option leaves every sub-environment as it was.
        var trial = self
        var info = VectorInfo(count: n)
        let resets = try trial.resetEach(mask, seeds: perEnv, options: rest)
        for i in 0..<n where mask[i] {
            let (observation, subInfo) = resets[i]!
            trial.observations[i] = observation
            trial.ended[i] = false
            info.add(subInfo, at: i)
        }
        trial.pendingSeed = nil
        trial.resets += 1
        if options?["reset_mask"] == nil {
            // RecordEpisodeStatistics: a reset without a mask starts every count again.
            for i in 0..<n {
                trial.returns[i] = 0
                trial.lengths[i] = 0
                trial.previouslyDone[i] = false
            }
        } else {
            for i in 0..<n where mask[i] {
                trial.returns[i] = 0
                trial.lengths[i] = 0
                trial.previouslyDone[i] = false
            }
        }
        self = trial
        if let observe, mask[0] { observe(.reset(envs[0])) }
        return (observations.map { $0! }, info)
    }

    /// The resets of the sub-environments in `mask`, one after the other; for environments that
    /// split their calls, all started before any is finished (every one started is finished,
    /// whatever fails). Throws the first error.
    private mutating func resetEach(
        _ mask: [Bool], seeds: [UInt64?], options: [String: JSON]?
    ) throws(GymError) -> [(observation: SpaceValue, info: [String: JSON])?] {
        var results = [(observation: SpaceValue, info: [String: JSON])?](repeating: nil, count: count)
        guard envs[0].splitsCalls else {
            for i in 0..<count where mask[i] { results[i] = try envs[i].reset(seed: seeds[i], options: options) }
            return results
        }
        var failure: GymError?
        var started: [Int] = []
        for i in 0..<count where mask[i] && failure == nil {
            do {
                try envs[i].startReset(seed: seeds[i], options: options)
                started.append(i)
            } catch {
                failure = error
            }
        }
        for i in started { envs[i].sendStarted() }
        for i in started {
            do {
                results[i] = try envs[i].finishReset()
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return results
    }

    /// `options["reset_mask"]`: N booleans, at least one true.
    static func resetMask(_ json: JSON, count n: Int) throws(GymError) -> [Bool] {
        guard case .array(let elements) = json else {
            throw GymError("`options['reset_mask']` must be a list of \(n) booleans, got \(JSONWriter.string(json).prefix(80))")
        }
        guard elements.count == n else {
            throw GymError("`options['reset_mask']` must have shape `(\(n),)`, got (\(elements.count),)")
        }
        let mask = elements.compactMap(\.boolValue)
        guard mask.count == n else {
            throw GymError("`options['reset_mask']` must hold booleans (numpy's dtype=np.bool_), got \(JSONWriter.string(json).prefix(80))")
        }
        guard mask.contains(true) else {
            throw GymError("`options['reset_mask']` must contain a boolean array with at least one True value")
        }
        return mask
    }

    // MARK: step

    /// Whether sub-environment i resets rather than steps on the next step (NEXT_STEP mode after
    /// its episode ended): its action is ignored.
    public func resetsOnNextStep(_ i: Int) -> Bool { mode == .nextStep && ended[i] }

    /// Steps every sub-environment with its action. Everything is checked before anything moves:
    /// the vector was reset, each sub-environment that steps has an action in its space, and (in
    /// DISABLED mode) none is stepped after its episode ended. `observe` is told of sub-environment
    /// 0's step and autoreset as they happen (the monitor films it). A wide vector steps the others
    /// on all cores at once when that pays (`parallelism`); the answer is the same.
    public mutating func step(
        _ actions: [SpaceValue], observe: ((SubEnvironmentEvent) -> Void)? = nil
    ) throws(GymError) -> VectorStepResult {
        let resetting = try checkStep(actions)
        // Each sub-environment's outcome is made in place and moved out once: no copies of them.
        let outcomes = UnsafeMutableBufferPointer<SubOutcome>.allocate(capacity: count)
        defer { outcomes.deallocate() }
        if envs[0].splitsCalls {
            outcomes.initialize(repeating: SubOutcome())
            advanceSplit(into: outcomes, actions: actions, resetting: resetting, observe: observe)
        } else {
            advance(into: outcomes, actions: actions, resetting: resetting, observe: observe)
        }
        return try assemble(outcomes)
    }

    /// What `step` checks before anything moves; which sub-environments reset instead of stepping.
    private func checkStep(_ actions: [SpaceValue]) throws(GymError) -> [Bool] {
        let n = count
        guard hasReset else { throw GymError("Cannot call env.step() before calling env.reset(): reset the environment first") }
        guard actions.count == n else {
            throw GymError("Expected \(n) actions, one per sub-environment, got \(actions.count)")
        }
        for i in 0..<n where !resetsOnNextStep(i) {
            if mode == .disabled && ended[i] {
                throw GymError("Sub-environment \(i) ended its episode: reset it with {\"options\": {\"reset_mask\": [...]}} (autoreset_mode disabled)")
            }
            guard singleActionSpace.accepts(actions[i]) else {
                throw GymError(WrappedEnvironment.refusal(actions[i], of: singleActionSpace, subEnvironment: i))
            }
        }
        return (0..<n).map(resetsOnNextStep)
    }

    // MARK: a step in two halves

    /// Whether a step can be made in two halves (`startStep`, then `finishStep`) by a caller
    /// that waits for the sub-environments' answers elsewhere (an event loop watching their
    /// workers, `answerWatches`): environments that split their calls, in an autoreset mode
    /// whose step is one round of calls (SAME_STEP's resets would be a second).
    public var stepsInHalves: Bool { envs[0].splitsCalls && mode != .sameStep }

    /// Where the sub-environments' answers arrive, each watch once (a worker holds several
    /// sub-environments); nil if one cannot be watched.
    public var answerWatches: [any AnswerWatch]? {
        var watches: [any AnswerWatch] = []
        for env in envs {
            guard let watch = env.answerWatch else { return nil }
            if !watches.contains(where: { $0 === watch }) { watches.append(watch) }
        }
        return watches
    }

    /// A step between its halves: the outcomes so far (the calls that could not start), which
    /// sub-environments reset and which calls went out.
    public struct StartedStep: @unchecked Sendable {
        // @unchecked: used by one thread at a time, as the vector is.
        fileprivate var outcomes: [SubOutcome]
        fileprivate let resetting: [Bool]
        fileprivate let started: [Bool]
    }

    /// `step`'s first half (`stepsInHalves`): checked as `step` checks, every sub-environment's
    /// call started and held back, not sent (the caller sends them, `AnswerWatch`, or the
    /// finishes do).
    public mutating func startStep(_ actions: [SpaceValue]) throws(GymError) -> StartedStep {
        let resetting = try checkStep(actions)
        var outcomes = [SubOutcome](repeating: SubOutcome(), count: count)
        let started = outcomes.withUnsafeMutableBufferPointer { buffer in
            startSplitRound(into: buffer, actions: actions, resetting: resetting, send: false)
        }
        return StartedStep(outcomes: outcomes, resetting: resetting, started: started)
    }

    /// `step`'s second half: the calls finished (blocking if their answers are not in) and the
    /// step's answer, as `step` gives it.
    public mutating func finishStep(_ step: StartedStep, observe: ((SubEnvironmentEvent) -> Void)? = nil) throws(GymError) -> VectorStepResult {
        let outcomes = UnsafeMutableBufferPointer<SubOutcome>.allocate(capacity: count)
        defer { outcomes.deallocate() }
        _ = outcomes.initialize(fromContentsOf: step.outcomes)
        finishSplitRounds(into: outcomes, resetting: step.resetting, started: step.started, observe: observe)
        return try assemble(outcomes)
    }

    /// Every sub-environment's part of a step, one after the other, or on all cores for a wide
    /// vector when that pays (`parallelism`): `outcomes` initialised.
    private mutating func advance(
        into outcomes: UnsafeMutableBufferPointer<SubOutcome>, actions: [SpaceValue], resetting: [Bool],
        observe: ((SubEnvironmentEvent) -> Void)?
    ) {
        let n = count
        let mode = self.mode
        (outcomes.baseAddress! + 0).initialize(
            to: Self.advance(&envs[0], action: actions[0], resetting: resetting[0], mode: mode, observe: observe))
        // Sub-environments 1 to `sampled` first, timed: what the others would cost one after the other.
        var first = 1
        var slices = 1
        if n >= Self.parallelWidth && parallelism != .never {
            let sampled = Self.timedSample
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 1...sampled {
                (outcomes.baseAddress! + i).initialize(
                    to: Self.advance(&envs[i], action: actions[i], resetting: resetting[i], mode: mode, observe: nil))
            }
            let elapsed = DispatchTime.now().uptimeNanoseconds &- start
            first = sampled + 1
            if parallelism == .always || UInt64(n - first) &* elapsed / UInt64(sampled) >= Self.parallelWorthNanoseconds {
                slices = min(ProcessInfo.processInfo.activeProcessorCount, n - first)
            }
        }
        let rest = n - first
        let from = first
        envs.withUnsafeMutableBufferPointer { envs in
            // Each slice touches only its own sub-environments and outcomes.
            nonisolated(unsafe) let envs = envs
            nonisolated(unsafe) let outcomes = outcomes
            let size = (rest + slices - 1) / max(slices, 1)
            let work: @Sendable (Int) -> Void = { slice in
                for i in (from + slice * size)..<min(n, from + (slice + 1) * size) {
                    (outcomes.baseAddress! + i).initialize(
                        to: Self.advance(&envs[i], action: actions[i], resetting: resetting[i], mode: mode, observe: nil))
                }
            }
            if slices > 1 {
                DispatchQueue.concurrentPerform(iterations: slices, execute: work)
            } else {
                work(0)
            }
        }
    }

    /// Every sub-environment's part of a step for environments that split their calls
    /// (`SplitCallEnvironment`: their workers are other processes): every step (or NEXT_STEP
    /// autoreset) is started before any is finished, then SAME_STEP's resets of the episodes that
    /// ended likewise: at most two rounds of messages, each in flight in every worker at once.
    /// Every call started is finished, whatever fails.
    private mutating func advanceSplit(
        into outcomes: UnsafeMutableBufferPointer<SubOutcome>, actions: [SpaceValue], resetting: [Bool],
        observe: ((SubEnvironmentEvent) -> Void)?
    ) {
        let started = startSplitRound(into: outcomes, actions: actions, resetting: resetting, send: true)
        finishSplitRounds(into: outcomes, resetting: resetting, started: started, observe: observe)
    }

    /// `advanceSplit`'s first round started (and, with `send`, sent): which calls went out.
    private mutating func startSplitRound(
        into outcomes: UnsafeMutableBufferPointer<SubOutcome>, actions: [SpaceValue], resetting: [Bool], send: Bool
    ) -> [Bool] {
        let n = count
        var started = [Bool](repeating: false, count: n)
        for i in 0..<n {
            do {
                if resetting[i] { try envs[i].startReset() } else { try envs[i].startStep(actions[i]) }
                started[i] = true
            } catch {
                outcomes[i].error = error
            }
        }
        if send {
            for i in 0..<n where started[i] { envs[i].sendStarted() }
        }
        return started
    }

    /// The rest of `advanceSplit`: the first round finished, then SAME_STEP's resets.
    private mutating func finishSplitRounds(
        into outcomes: UnsafeMutableBufferPointer<SubOutcome>, resetting: [Bool], started: [Bool],
        observe: ((SubEnvironmentEvent) -> Void)?
    ) {
        let n = count
        var resets: [Int] = []
        for i in 0..<n where started[i] {
            do {
                if resetting[i] {
                    let (observation, info) = try envs[i].finishReset()
                    if i == 0 { observe?(.reset(envs[0])) }
                    outcomes[i].observation = observation
                    outcomes[i].resetInfo = info
                } else {
                    let step = try envs[i].finishStep()
                    if i == 0 { observe?(.stepped(envs[0], step)) }
                    outcomes[i].step = step
                    outcomes[i].observation = step.observation
                    if mode == .sameStep && step.done { resets.append(i) }
                }
            } catch {
                outcomes[i].error = error
            }
        }
        var resetting: [Int] = []
        for i in resets {
            do {
                try envs[i].startReset()
                resetting.append(i)
            } catch {
                outcomes[i].error = error
            }
        }
        for i in resetting { envs[i].sendStarted() }
        for i in resetting {
            do {
                let (observation, info) = try envs[i].finishReset()
                if i == 0 { observe?(.reset(envs[0])) }
                outcomes[i].observation = observation
                outcomes[i].resetInfo = info
            } catch {
                outcomes[i].error = error
            }
        }
    }

    /// The step's answer from the sub-environments' outcomes (moved out, every one), and the
    /// episode statistics; throws the first sub-environment's error.
    private mutating func assemble(_ outcomes: UnsafeMutableBufferPointer<SubOutcome>) throws(GymError) -> VectorStepResult {
        let n = count
        var result = VectorStepResult(
            observations: [], rewards: Array(repeating: 0, count: n), terminated: Array(repeating: false, count: n),
            truncated: Array(repeating: false, count: n), info: VectorInfo(count: n), finished: [])
        result.observations.reserveCapacity(n)
        var failure: GymError?
        // The infos are batched in index order, as SyncVectorEnv adds them. Every outcome is moved
        // out, even after an error, so that none is leaked.
        for i in 0..<n {
            let outcome = (outcomes.baseAddress! + i).move()
            if failure != nil { continue }
            if let error = outcome.error {
                failure = error
                continue
            }
            if let step = outcome.step {
                result.rewards[i] = step.reward
                result.terminated[i] = step.terminated
                result.truncated[i] = step.truncated
                if let resetInfo = outcome.resetInfo {
                    result.info.add(["final_obs": singleObservationSpace.json(step.observation), "final_info": .object(step.info)], at: i)
                    result.info.add(resetInfo, at: i)
                } else {
                    result.info.add(step.info, at: i)
                }
            } else {
                result.info.add(outcome.resetInfo ?? [:], at: i)
            }
            observations[i] = outcome.observation
            result.observations.append(outcome.observation)
        }
        if let failure { throw failure }
        for i in 0..<n {
            ended[i] = result.terminated[i] || result.truncated[i]
            // RecordEpisodeStatistics: the autoreset step of NEXT_STEP and DISABLED is not counted.
            if mode != .sameStep && previouslyDone[i] {
                returns[i] = 0
                lengths[i] = 0
            } else {
                returns[i] += result.rewards[i]
                lengths[i] += 1
            }
            if ended[i] {
                result.finished.append(FinishedSubEpisode(index: i, length: lengths[i], reward: returns[i]))
                if mode == .sameStep {
                    returns[i] = 0
                    lengths[i] = 0
                }
            }
            previouslyDone[i] = ended[i]
        }
        return result
    }

    /// When a vector's sub-environments step on all cores.
    public enum Parallelism: Sendable {
        /// From `parallelWidth` sub-environments on, when stepping them one after the other
        /// would take `parallelWorthNanoseconds` or more (timed on the first `timedSample` each step):
        /// waking the other cores and the contention of their allocations cost more than 1,000
        /// CartPoles take (measured: 1,000 CartPoles in parallel were 2x slower on two cores).
        case automatic
        /// From `parallelWidth` sub-environments on, whatever they cost (for tests).
        case always
        /// One after the other.
        case never
    }

    /// Below this many sub-environments, a step never runs on more than one core.
    public static let parallelWidth = 128
    /// Sub-environments stepped and timed first, one after the other, to estimate the rest's cost.
    static let timedSample = 16
    /// The sequential cost from which `automatic` parallelism steps on all cores.
    public static let parallelWorthNanoseconds: UInt64 = 1_000_000

    /// What one sub-environment did in a step.
    struct SubOutcome {
        var observation: SpaceValue = .int(0)
        /// The step taken; nil when the sub-environment was reset instead (NEXT_STEP autoreset).
        var step: StepResult?
        /// The info of an autoreset (NEXT_STEP's, or SAME_STEP's after `step` ended the episode).
        var resetInfo: [String: JSON]?
        var error: GymError?
    }

    /// One sub-environment's part of a step: its autoreset, or its step and (SAME_STEP) the reset
    /// that follows an ended episode.
    static func advance(
        _ env: inout WrappedEnvironment, action: SpaceValue, resetting: Bool, mode: AutoresetMode,
        observe: ((SubEnvironmentEvent) -> Void)?
    ) -> SubOutcome {
        var outcome = SubOutcome()
        do {
            if resetting {
                let (observation, info) = try env.reset(seed: nil, options: nil)
                observe?(.reset(env))
                outcome.observation = observation
                outcome.resetInfo = info
                return outcome
            }
            let step = try env.step(action)
            observe?(.stepped(env, step))
            outcome.step = step
            outcome.observation = step.observation
            if mode == .sameStep && step.done {
                let (observation, info) = try env.reset(seed: nil, options: nil)
                observe?(.reset(env))
                outcome.observation = observation
                outcome.resetInfo = info
            }
        } catch {
            outcome.error = error
        }
        return outcome
    }
}
