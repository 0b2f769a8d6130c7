import Foundation
import NIOCore
import GymCore
import GymRender

/// A reset or a step.
enum Transition: Sendable { case reset, step }

/// The calls of the API on an instance. A reset or step is a pipeline of named stages:
///
/// 1. **check, step, frame, record** — under the instance's lock (a state change and nothing
///    else): the monitor's checks (`RecordingStage.check`), the transition itself, the frame when
///    the client asked for one or the monitor films this episode (drawn from the state just
///    reached), and the monitor's record of it (handed to the recorder without waiting).
/// 2. **write** — no lock, on `BlockingWork`'s threads: the frame the client asked for encoded
///    as PNG and written under `rendered/`.
/// 3. **publish** — the live view's copy of that frame, to the `FrameHub`.
/// 4. **settle** — no lock, suspending without blocking a thread: the monitor's backpressure
///    and durability (`RecordingStage.settle`).
extension EnvironmentInstance {
    /// `reset`: `{observation, info}`, plus `render` naming the frame written when asked. A
    /// vector takes a seed per sub-environment and `options.reset_mask`.
    public func perform(_ call: ResetCall) async throws -> Answer {
        let seeds = try call.seed.seeds(numEnvs: numEnvs)
        return try await advance(.reset, render: call.render, resetBody(seeds, call.options))
    }

    /// `step`: `{observation, reward, done, info, terminated, truncated}`, plus `render`. For a
    /// vector, `action` holds an action per sub-environment and every field is batched.
    public func perform(_ call: StepCall) async throws(GymError) -> Answer {
        try await advance(.step, render: call.render, stepBody(call.action))
    }

    /// `reset` with a seed or none (a shorthand of `perform` for callers in Swift).
    public func reset(seed: UInt64? = nil, options: [String: JSON]? = nil, render: Bool = false) async throws(GymError) -> Answer {
        try await advance(.reset, render: render, resetBody(seed.map(VectorSeeds.base) ?? .none, options))
    }

    /// `step` (a shorthand of `perform` for callers in Swift).
    public func step(action: JSON, render: Bool = false) async throws(GymError) -> Answer {
        try await perform(StepCall(instanceID: id, action: action, render: render))
    }

    /// A step for the fast paths (`StepFastPath`, `GymieFastPath`, on an event loop): a native,
    /// plain instance without a monitor is stepped at once, under its lock, with nothing to wait
    /// for (no frame to write, no statistics to flush, no worker to ask); a small vector too. nil when the call
    /// needs the full path (a frame, a vector wider than `fastPathWidth`, a bridged environment, a
    /// monitor, closed); throws
    /// what `perform` would, having changed nothing.
    package func performWithoutWaiting(_ call: StepCall) throws(GymError) -> Answer? {
        guard !call.render else { return nil }
        return try advanceWithoutWaiting(.step, stepBody(call.action))
    }

    /// A reset (a seed or none, no options, no frame) for the fast paths, as above.
    package func performWithoutWaiting(_ call: ResetCall) throws(GymError) -> Answer? {
        guard !call.render, call.options == nil else { return nil }
        let seeds: VectorSeeds
        switch call.seed {
        case .none: seeds = .none
        case .base(let seed): seeds = .base(seed)
        case .list: return nil
        }
        return try advanceWithoutWaiting(.reset, resetBody(seeds, nil))
    }

    /// A step or reset for the fast paths of an instance whose calls block (a bridged one): run on
    /// the instance's worker queue as `perform` runs it, without the framework; `completion` gets
    /// the answer or the error, on that queue. It gets nil, with nothing changed, when the call
    /// needs the full path after all (a monitor, a closed instance): the caller hands the
    /// request to the route. False (and no completion) when the instance's calls do not block,
    /// or the call asks for a frame.
    ///
    /// Given the event loop it is called on, the step is made from there when it can be
    /// (`EventLoopStep.swift`: a plain instance's, a vector's of one round of calls): the
    /// requests written and the answers read by the loop, no thread woken in between;
    /// `completion` is then called on that loop.
    package func performLater(
        _ call: StepCall, on eventLoop: (any EventLoop)? = nil, completion: @escaping @Sendable (Result<Answer, GymError>?) -> Void
    ) -> Bool {
        guard !call.render, workerQueue != nil else { return false }
        if let eventLoop, stepOnEventLoop(call.action, eventLoop, completion) { return true }
        advanceLater(.step, stepBody(call.action), completion)
        return true
    }

    /// A reset (a seed or none, no options) for the fast paths, as above.
    package func performLater(_ call: ResetCall, completion: @escaping @Sendable (Result<Answer, GymError>?) -> Void) -> Bool {
        guard !call.render, call.options == nil, workerQueue != nil else { return false }
        let seeds: VectorSeeds
        switch call.seed {
        case .none: seeds = .none
        case .base(let seed): seeds = .base(seed)
        case .list: return false
        }
        advanceLater(.reset, resetBody(seeds, nil), completion)
        return true
    }

    private func advanceLater(
        _ transition: Transition, _ body: @escaping StageBody, _ completion: @escaping @Sendable (Result<Answer, GymError>?) -> Void
    ) {
        onWorkerQueue({ [self] () -> Result<Answer, GymError>? in
            guard state.withLock({ !$0.closed && $0.recording == nil }) else { return nil }
            return Result { () throws(GymError) -> Answer in try stageOneOnCopy(transition, render: false, body).answer }
        }, then: completion)
    }

    /// Stage 1 on the worker queue of an instance whose calls block: on a copy of the state taken
    /// and put back under the lock, so that the lock is never held while a worker answers (the
    /// queue keeps every other change out meanwhile).
    private func stageOneOnCopy(_ transition: Transition, render: Bool, _ body: StageBody) throws(GymError) -> Advanced {
        var local = state.withLock { $0 }
        defer { putBack(local) }
        return try stageOne(transition, render: render, body, &local)
    }

    /// A copy of the state changed by a call on it (`stageOneOnCopy`), put back.
    func putBack(_ local: State) {
        state.withLock { state in
            state.core = local.core
            state.stepCounter = local.stepCounter
            state.renderedCount = local.renderedCount
            state.clientFrameState = local.clientFrameState
        }
    }

    /// A step's first half, made on a copy of the state (`EventLoopStep.swift`): a plain
    /// environment's (`WrappedEnvironment.startStep(json:)`) or a vector's.
    enum StartedHalf: @unchecked Sendable {
        // @unchecked: used by one thread at a time, as the state copy is.
        case single
        case vector(VectorEnvironment.StartedStep)
    }

    /// The second half of a step whose first half was made on the copy `local`: stage 1 with the
    /// step finished, as `stepBody` makes it; the copy put back. Blocks if the answers are not
    /// there yet.
    func finishStepOnCopy(_ local: inout State, _ half: StartedHalf) -> Result<Answer, GymError> {
        defer { putBack(local) }
        let body: StageBody = { [self] (core, recording) throws(GymError) in
            switch (try core.takeOut(id), half) {
            case (.single(var env), .single):
                defer { core = .single(env) }
                return Self.stepped(try env.finishStep(), observationSpace)
            case (.vector(var vector), .vector(let started)):
                defer { core = .vector(vector) }
                return vectorStepped(try vector.finishStep(started, observe: recording?.vectorObserver(counting: metrics)), recording)
            default: preconditionFailure("a step finished on the core it started on")
            }
        }
        return Result { () throws(GymError) -> Answer in try stageOne(.step, render: false, body, &local).answer }
    }

    /// A client's batched action, one per sub-environment, as `stepBody` reads it.
    func unbatchedActions(_ action: JSON, count: Int) throws(GymError) -> [SpaceValue] {
        do {
            return try singleActionSpace.unbatched(action, count: count)
        } catch {
            throw GymError("Action \(JSONWriter.string(action).prefix(200)) is not in the action space \(actionSpace.description.prefix(200)): \(error)")
        }
    }

    /// A vector's step as `stepBody` answers it (the episodes of sub-environments other than 0
    /// added to the monitor's record).
    private func vectorStepped(_ result: VectorStepResult, _ recording: RecordingStage?) -> (Answer, StepOutcome?, Int) {
        // Sub-environment 0's episodes went through the observer; the others' are added.
        recording?.recordEpisodes(result.finished)
        let answer = Answer.step(
            observation: .batch(singleObservationSpace, result.observations), reward: .doubles(result.rewards),
            done: .bools(zip(result.terminated, result.truncated).map { $0 || $1 }),
            terminated: .bools(result.terminated), truncated: .bools(result.truncated), info: .json(.object(result.info.json)))
        return (answer, nil, result.finished.count)
    }

    /// A plain environment's step as `stepBody` answers it.
    private static func stepped(_ result: StepResult, _ observationSpace: Space) -> (Answer, StepOutcome?, Int) {
        let answer = Answer.step(
            observation: .value(observationSpace, result.observation), reward: .json(.double(result.reward)),
            done: .json(.bool(result.done)), terminated: .json(.bool(result.terminated)),
            truncated: .json(.bool(result.truncated)), info: .json(.object(result.info)))
        return (answer, StepOutcome(reward: result.reward, done: result.done), result.done ? 1 : 0)
    }

    /// Vectors up to this wide step on the fast paths, on an event loop: 64 native environments
    /// take microseconds (a trainer's 4 to 16 CartPoles ~10 µs), and none of them steps on the
    /// other cores (`VectorEnvironment.parallelWidth` is wider).
    static let fastPathWidth = 64

    private func advanceWithoutWaiting(_ transition: Transition, _ body: StageBody) throws(GymError) -> Answer? {
        guard workerQueue == nil, (numEnvs ?? 1) <= Self.fastPathWidth else { return nil }
        let advanced = try state.withLock { (state) throws(GymError) -> Advanced? in
            guard !state.closed, state.recording == nil else { return nil }
            return try stageOne(transition, render: false, body, &state)
        }
        return advanced?.answer
    }

    /// What a transition does to the environments: the answer, a plain step's outcome for the
    /// monitor, and the episodes it ended.
    typealias StageBody = @Sendable (inout Core, RecordingStage?) throws(GymError) -> (Answer, StepOutcome?, Int)

    /// What a reset does to the environments, for `advance`.
    private func resetBody(_ seeds: VectorSeeds, _ options: [String: JSON]?) -> StageBody {
        { [self] (core, recording) throws(GymError) in
            switch try core.takeOut(id) {
            case .taken: preconditionFailure("takeOut never answers .taken")
            case .single(var env):
                defer { core = .single(env) }
                let seed: UInt64?
                switch seeds {
                case .none: seed = nil
                case .base(let s): seed = s
                case .each: throw GymError("A list of seeds is for vector instances (created with num_envs); give one integer")
                }
                let (observation, info) = try env.reset(seed: seed, options: options)
                return (.reset(observation: .value(observationSpace, observation), info: .json(.object(info))), nil, 0)
            case .vector(var vector):
                defer { core = .vector(vector) }
                let (observations, info) = try vector.reset(seeds: seeds, options: options, observe: recording?.vectorObserver(counting: metrics))
                return (.reset(observation: .batch(singleObservationSpace, observations), info: .json(.object(info.json))), nil, 0)
            }
        }
    }

    /// What a step does to the environments, for `advance`.
    private func stepBody(_ action: JSON) -> StageBody {
        { [self] (core, recording) throws(GymError) in
            switch try core.takeOut(id) {
            case .taken: preconditionFailure("takeOut never answers .taken")
            case .single(var env):
                defer { core = .single(env) }
                return Self.stepped(try env.step(json: action), observationSpace)
            case .vector(var vector):
                defer { core = .vector(vector) }
                let actions = try unbatchedActions(action, count: vector.count)
                // Only sub-environment 0 is filmed: the others' events are not even made.
                return vectorStepped(try vector.step(actions, observe: recording?.vectorObserver(counting: metrics)), recording)
            }
        }
    }

    /// What stage 1 leaves for the stages after it.
    private struct Advanced: @unchecked Sendable {
        var answer: Answer
        /// The frame the client asked for, its number and the instance's status with it.
        var requestedFrame: (canvas: Canvas, number: Int, status: LiveFrame)?
        var recording: RecordingStage?
        /// Episodes the stats file must hold before the answer goes out (the step ended one).
        var episodesToWrite: Int?
    }

    /// Stage 1 of `advance`: check, step, frame, record, on the state (under the lock, or a copy).
    private func stageOne(_ transition: Transition, render: Bool, _ body: StageBody, _ state: inout State) throws(GymError) -> Advanced {
        guard !state.closed else { throw GymError("Instance_id \(id) unknown") }
        let recording = state.recording
        let isVector = numEnvs != nil
        // Old gym's monitor rules hold for a plain instance; a vector's episodes end and start
        // by themselves.
        if !isVector { try recording?.check(transition) }
        let episodesBefore = recording?.episodeCount ?? 0
        let census = metrics.map { _ in Self.census(state.core) }
        let (answer, outcome, ended) = try body(&state.core, isVector ? recording : nil)
        state.stepCounter += 1
        if let metrics, let census {
            // Atomic counters: no lock of anyone else's is taken here.
            metrics.record(Transitions(
                steps: transition == .step ? (numEnvs ?? 1) - census.autoresetsDue : 0,
                resets: Self.census(state.core).resets - census.resets, episodes: ended))
        }
        var advanced = Advanced(answer: answer, recording: recording)
        var frame: Canvas?
        if case .single(let env) = state.core {
            let filming = recording?.needsFrame(transition) ?? false
            frame = render || filming ? try env.renderFrame() : nil
            recording?.record(outcome, frame: filming ? frame : nil)
        } else if render, case .vector(let vector) = state.core {
            frame = try vector.renderMosaic()
        }
        if frame != nil { metrics?.framesRendered.increment() }
        if let recording, ended > 0 || recording.episodeCount > episodesBefore {
            advanced.episodesToWrite = recording.episodeCount
        }
        if render, let frame {
            let status = Self.status(of: state.core, envID: envID)
            advanced.requestedFrame = (frame, state.renderedCount, LiveFrame(
                png: [], envID: envID, episode: status.episode, step: status.step, episodeReward: status.reward,
                frameNumber: state.renderedCount, stateCount: state.stepCounter))
            state.renderedCount += 1
            state.clientFrameState = state.stepCounter
        }
        return advanced
    }

    private func advance(_ transition: Transition, render: Bool, _ body: @escaping StageBody) async throws(GymError) -> Answer {
        // 1. check, step, frame, record: under the lock; for an instance whose calls block, on
        // its worker queue (`stageOneOnCopy`).
        let advanced: Advanced
        if workerQueue == nil {
            advanced = try state.withLock { (state) throws(GymError) -> Advanced in try stageOne(transition, render: render, body, &state) }
        } else {
            advanced = try await onWorkerQueue { [self] () throws(GymError) -> Advanced in
                try stageOneOnCopy(transition, render: render, body)
            }
        }
        var answer = advanced.answer
        // 2. write and 3. publish: the frame the client asked for, off the lock and the
        // cooperative pool.
        if let (canvas, number, status) = advanced.requestedFrame {
            let png = try await writeRequestedFrame(canvas, number: number)
            answer.render = "successfully rendered: \(number).png"
            if let hub, hub.hasViewers(id) {
                var live = status
                live.png = png
                hub.publish(id, frame: live)
            } else {
                // Nobody watched: the live renderer may draw this state after all, if someone comes.
                state.withLock { if $0.clientFrameState == status.stateCount { $0.clientFrameState = nil } }
            }
        }
        // 4. settle: the monitor's backpressure and durability.
        await advanced.recording?.settle(episodesToWrite: advanced.episodesToWrite)
        return answer
    }

    /// Stage 2: the frame a client asked for, encoded and written under `rendered/` on
    /// `BlockingWork`'s threads.
    private func writeRequestedFrame(_ canvas: Canvas, number: Int) async throws(GymError) -> [UInt8] {
        let files = rendered
        let png: [UInt8]
        do {
            png = try await BlockingWork.run { () throws -> [UInt8] in
                let png = try Self.encode(canvas)
                try files.write(png: png, number: number)
                return png
            }
        } catch let error as GymError {
            throw error
        } catch {
            throw GymError("Could not write the frame: \(error)")
        }
        metrics?.pngBytesWritten.increment(by: png.count)
        return png
    }

    /// Resets of every environment of a core so far, and (a vector's) the sub-environments whose
    /// next step is a NEXT_STEP autoreset: what a reset or step did is the difference.
    private static func census(_ core: Core) -> (resets: Int, autoresetsDue: Int) {
        switch core {
        case .single(let env): return (env.resets, 0)
        case .vector(let vector):
            var resets = 0
            var due = 0
            for index in vector.envs.indices {
                resets += vector.envs[index].resets
                if vector.resetsOnNextStep(index) { due += 1 }
            }
            return (resets, due)
        case .taken: return (0, 0)
        }
    }
}
