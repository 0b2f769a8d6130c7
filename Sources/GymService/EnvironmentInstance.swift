import Foundation
import GymCore
import GymEnvs
import GymMonitor
import GymRender
import Synchronization

/// One live environment: the made environment and what is recorded of it, behind a lock that
/// serialises calls on it. Different instances step in parallel.
///
/// A reset or step is a pipeline of named stages:
///
/// 1. **check, step, frame, record** — under the instance's lock (a state change and nothing
///    else): old gym's monitor checks, the transition itself, the frame when the client asked
///    for one or the monitor films this episode (drawn from the state just reached), and the
///    monitor's record of it (handed to the recorder without waiting).
/// 2. **write** — no lock, on `BlockingWork`'s threads: the frame the client asked for encoded
///    as PNG and written under `rendered/`.
/// 3. **publish** — the live view's copy of that frame, to the `FrameHub`.
/// 4. **backpressure, durability** — no lock, suspending without blocking a thread: wait while
///    the monitor's encoder is behind, and, when the step ended an episode, until the stats file
///    on disk holds it.
public final class EnvironmentInstance: Sendable {
    public let id: String
    public let envID: String
    /// The number of sub-environments of a vector instance (nil: a plain instance).
    public let numEnvs: Int?
    /// The key that made the instance (nil with API keys off).
    public let owner: Owner?
    /// The folder of this instance under its owner's part of the monitor root.
    public let directory: URL
    let state: Mutex<State>
    /// The action space's own generator, seeded from OS entropy as Gymnasium seeds an unseeded
    /// space; kept apart from the environment's so that sampling never changes an episode.
    private let actionSampler = Mutex(RandomGenerator.fromEntropy())
    /// The spaces of the instance: for a vector, the batched spaces (`batch_space`).
    public let actionSpace: Space
    public let observationSpace: Space
    /// The spaces of one sub-environment (the same as above for a plain instance).
    public let singleActionSpace: Space
    public let singleObservationSpace: Space
    /// The environment's `render_fps`.
    public let renderFPS: Int
    /// Where frames go for the live view.
    let hub: FrameHub?
    /// The frames written for `render: true`.
    let rendered: RenderedFrames
    /// When a client last used the instance (`InstanceClock` nanoseconds), for idle expiry.
    private let lastUsed: Atomic<UInt64>
    /// The counters of its env id (nil: metrics off).
    let metrics: EnvironmentMetrics?
    /// A bridged instance's own serial queue: every call that talks to its worker processes
    /// (reset, step, frames, close) runs there, one after the other, never on Swift's cooperative
    /// pool; requests waiting for it are suspended, not blocking a thread. Nil for native ones.
    let workerQueue: DispatchQueue?

    /// A plain environment, or N of them stepped as one.
    enum Core: Sendable {
        case single(WrappedEnvironment)
        case vector(VectorEnvironment)
        /// Held while the environment is taken out to be changed, so that the one taken out is
        /// the only reference to its storage and changes in place (no copy of a vector's
        /// sub-environments, nor of an environment's box, at every step).
        case taken

        /// The core, `.taken` left in its place; the caller puts it back when done.
        mutating func takeOut(_ id: String) throws(GymError) -> Core {
            let current = self
            self = .taken
            if case .taken = current { throw GymError("Instance_id \(id) is busy") }
            return current
        }
    }

    struct State: Sendable {
        var core: Core
        /// Frames numbered for `render: true` so far (the next one's number).
        var renderedCount = 0
        /// Resets plus steps so far: changes whenever the state may have.
        var stepCounter = 0
        /// The state (a `stepCounter`) whose frame a client asked for with `render: true`: it is
        /// being encoded and will be published, so the live renderer must not draw it too.
        var clientFrameState: Int?
        /// The monitor recording this instance's episodes, between monitor/start and close.
        var recorder: EpisodeRecorder?
        /// Where the latest monitor recorded (kept after it closes, for upload).
        var monitorDirectory: URL?
        /// That directory as the files port shows it to the owner, and the latest monitor (open
        /// or closed), for `monitorStatus`.
        var monitorShownDirectory: String?
        var latestRecorder: EpisodeRecorder?
        /// Closed: every call after this is refused.
        var closed = false
    }

    init(
        id: String, core: Core, directory: URL, owner: Owner? = nil, hub: FrameHub? = nil, now: UInt64 = 0,
        metrics: EnvironmentMetrics? = nil
    ) {
        self.id = id
        self.metrics = metrics
        self.owner = owner
        self.hub = hub
        self.directory = directory
        switch core {
        case .single(let environment):
            envID = environment.id
            numEnvs = nil
            actionSpace = environment.actionSpace
            observationSpace = environment.observationSpace
            singleActionSpace = actionSpace
            singleObservationSpace = observationSpace
            renderFPS = environment.env.renderFPS
        case .vector(let vector):
            envID = vector.id
            numEnvs = vector.count
            actionSpace = vector.actionSpace
            observationSpace = vector.observationSpace
            singleActionSpace = vector.singleActionSpace
            singleObservationSpace = vector.singleObservationSpace
            renderFPS = vector.envs[0].env.renderFPS
        case .taken:
            preconditionFailure("an instance is made from an environment")
        }
        self.workerQueue = Self.callsBlock(core) ? DispatchQueue(label: "gym-server.worker.\(id)") : nil
        self.rendered = RenderedFrames(directory: directory.appendingPathComponent("rendered", isDirectory: true))
        self.lastUsed = Atomic(now)
        self.state = Mutex(State(core: core))
    }

    /// Changes the state under the lock, after any call in flight on a bridged instance's worker
    /// queue (whose calls work on a copy of the state: see `advance`).
    private func exclusive<T: Sendable>(_ body: @escaping @Sendable (inout State) throws(GymError) -> T) async throws(GymError) -> T {
        try await onWorkerQueue { [self] () throws(GymError) -> T in try state.withLock { (state) throws(GymError) -> T in try body(&state) } }
    }

    /// Whether a core's environments may block the thread that calls them (a bridged one's
    /// worker process): the instance then runs them on its own queue. Nothing above
    /// `Environment` asks which kind it holds.
    static func callsBlock(_ core: Core) -> Bool {
        switch core {
        case .single(let env): return env.env.callsBlock
        case .vector(let vector): return vector.envs.first?.env.callsBlock ?? false
        case .taken: return false
        }
    }

    /// Runs `work` where this instance's blocking calls run: its worker queue (bridged), or right
    /// here (native: nothing blocks).
    func onWorkerQueue<T: Sendable>(_ work: @escaping @Sendable () throws(GymError) -> T) async throws(GymError) -> T {
        guard let workerQueue else { return try work() }
        let result: Result<T, GymError> = await withCheckedContinuation { continuation in
            workerQueue.async {
                continuation.resume(returning: Result { () throws(GymError) -> T in try work() })
            }
        }
        return try result.get()
    }

    /// The autoreset mode of a vector instance.
    public var autoresetMode: AutoresetMode? {
        state.withLock { state in
            if case .vector(let vector) = state.core { return vector.mode }
            return nil
        }
    }

    // MARK: idle time

    /// A client used the instance at `now`.
    func touch(_ now: UInt64) {
        lastUsed.store(now, ordering: .relaxed)
    }

    /// When a client last used the instance.
    var lastUsedTime: UInt64 { lastUsed.load(ordering: .relaxed) }

    // MARK: the calls of the API

    /// `reset`: `{observation, info}`, plus `render` naming the frame written when asked. A
    /// vector takes `seeds` (`seed` is then `VectorSeeds.base`) and `options.reset_mask`.
    public func reset(seed: UInt64?, options: [String: JSON]?, render: Bool) async throws(GymError) -> Answer {
        try await reset(seeds: seed.map(VectorSeeds.base) ?? .none, options: options, render: render)
    }

    public func reset(seeds: VectorSeeds, options: [String: JSON]?, render: Bool) async throws(GymError) -> Answer {
        try await advance(.reset, render: render, resetBody(seeds, options))
    }

    /// What a reset does to the environments, for `advance`.
    private func resetBody(_ seeds: VectorSeeds, _ options: [String: JSON]?) -> StageBody {
        { [self] (core, recorder) throws(GymError) in
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
                return (["observation": .value(observationSpace, observation), "info": .json(.object(info))], nil, 0)
            case .vector(var vector):
                defer { core = .vector(vector) }
                let (observations, info) = try vector.reset(seeds: seeds, options: options, observe: recorder.map { recorder in
                    { event in
                        if case .reset(let sub) = event { Self.recordVectorEvent(event, sub: sub, to: recorder, counting: self.metrics) }
                    }
                })
                return (["observation": .batch(singleObservationSpace, observations), "info": .json(.object(info.json))], nil, 0)
            }
        }
    }

    /// `step`: `{observation, reward, done, info, terminated, truncated}`, plus `render`. For a
    /// vector, `action` holds an action per sub-environment and every field is batched.
    public func step(action: JSON, render: Bool) async throws(GymError) -> Answer {
        try await advance(.step, render: render, stepBody(action))
    }

    /// `step` for the fast paths (`StepFastPath`, `GymieFastPath`, on an event loop): a native,
    /// plain instance without a monitor is stepped at once, under its lock, with nothing to wait
    /// for (no frame to write, no statistics to flush, no worker to ask). nil when the instance
    /// needs the full path (a vector, a bridged environment, a monitor, closed); throws what
    /// `step` would, having changed nothing.
    package func stepWithoutWaiting(action: JSON) throws(GymError) -> Answer? {
        try advanceWithoutWaiting(.step, stepBody(action))
    }

    /// `reset` (a seed or none, no options, no frame) for the fast paths, as `stepWithoutWaiting`.
    package func resetWithoutWaiting(seed: UInt64?) throws(GymError) -> Answer? {
        try advanceWithoutWaiting(.reset, resetBody(seed.map(VectorSeeds.base) ?? .none, nil))
    }

    private func advanceWithoutWaiting(_ transition: Transition, _ body: StageBody) throws(GymError) -> Answer? {
        guard workerQueue == nil, numEnvs == nil else { return nil }
        let advanced = try state.withLock { (state) throws(GymError) -> Advanced? in
            guard !state.closed, state.recorder == nil else { return nil }
            return try stageOne(transition, render: false, body, &state)
        }
        return advanced.map { Answer($0.answer) }
    }

    private typealias StageBody = @Sendable (inout Core, EpisodeRecorder?) throws(GymError) -> ([String: Answer.Value], (reward: Double, done: Bool)?, Int)

    /// What a step does to the environments, for `advance`.
    private func stepBody(_ action: JSON) -> StageBody {
        { [self] (core, recorder) throws(GymError) in
            switch try core.takeOut(id) {
            case .taken: preconditionFailure("takeOut never answers .taken")
            case .single(var env):
                defer { core = .single(env) }
                let result = try env.step(json: action)
                let answer: [String: Answer.Value] = [
                    "observation": .value(observationSpace, result.observation),
                    "reward": .json(.double(result.reward)),
                    "done": .json(.bool(result.done)),
                    "terminated": .json(.bool(result.terminated)),
                    "truncated": .json(.bool(result.truncated)),
                    "info": .json(.object(result.info)),
                ]
                return (answer, (result.reward, result.done), result.done ? 1 : 0)
            case .vector(var vector):
                defer { core = .vector(vector) }
                let actions: [SpaceValue]
                do {
                    actions = try singleActionSpace.unbatched(action, count: vector.count)
                } catch {
                    throw GymError("Action \(JSONWriter.string(action).prefix(200)) is not in the action space \(actionSpace.description.prefix(200)): \(error)")
                }
                // Only sub-environment 0 is filmed: the others' events are not even made.
                let result = try vector.step(actions, observe: recorder.map { recorder in
                    { event in
                        switch event {
                        case .reset(let sub): Self.recordVectorEvent(event, sub: sub, to: recorder, counting: self.metrics)
                        case .stepped(let sub, _): Self.recordVectorEvent(event, sub: sub, to: recorder, counting: self.metrics)
                        }
                    }
                })
                if let recorder {
                    // Sub-environment 0's episodes went through recordStep; the others' are added.
                    for episode in result.finished where episode.index != 0 {
                        recorder.recordEpisode(length: episode.length, reward: episode.reward)
                    }
                }
                let done = zip(result.terminated, result.truncated).map { $0 || $1 }
                let answer: [String: Answer.Value] = [
                    "observation": .batch(singleObservationSpace, result.observations),
                    "reward": .doubles(result.rewards),
                    "terminated": .bools(result.terminated),
                    "truncated": .bools(result.truncated),
                    "done": .bools(done),
                    "info": .json(.object(result.info.json)),
                ]
                return (answer, nil, result.finished.count)
            }
        }
    }

    /// Tells the monitor what sub-environment 0 of a vector did, with its frame when filmed: its
    /// episodes are filmed on old gym's schedule and counted like a plain instance's.
    private static func recordVectorEvent(
        _ event: SubEnvironmentEvent, sub: WrappedEnvironment, to recorder: EpisodeRecorder, counting metrics: EnvironmentMetrics?
    ) {
        switch event {
        case .reset:
            let frame = recorder.needsResetFrame ? try? sub.renderFrame() : nil
            if frame != nil { metrics?.framesRendered.increment() }
            if let frame {
                recorder.recordReset(frame: frame.pixels, width: frame.width, height: frame.height)
            } else {
                recorder.recordReset()
            }
        case .stepped(_, let result):
            let frame = recorder.needsStepFrame ? try? sub.renderFrame() : nil
            if frame != nil { metrics?.framesRendered.increment() }
            if let frame {
                recorder.recordStep(reward: result.reward, done: result.done, frame: frame.pixels, width: frame.width, height: frame.height)
            } else {
                recorder.recordStep(reward: result.reward, done: result.done)
            }
        }
    }

    private enum Transition { case reset, step }

    /// What stage 1 leaves for the stages after it.
    private struct Advanced: @unchecked Sendable {
        var answer: [String: Answer.Value]
        /// The frame the client asked for, its number and the instance's status with it.
        var requestedFrame: (canvas: Canvas, number: Int, status: LiveFrame)?
        var recorder: EpisodeRecorder?
        /// Episodes the stats file must hold before the answer goes out (the step ended one).
        var episodesToWrite: Int?
    }

    /// Stage 1 of `advance`: check, step, frame, record, on the state (under the lock, or a copy).
    private func stageOne(_ transition: Transition, render: Bool, _ body: StageBody, _ state: inout State) throws(GymError) -> Advanced {
        guard !state.closed else { throw GymError("Instance_id \(id) unknown") }
        let recorder = state.recorder
        let isVector = numEnvs != nil
        if let recorder, !isVector {
            // Old gym's monitor rules hold for a plain instance; a vector's episodes end and
            // start by themselves.
            try Self.monitorCheck { () throws(MonitorError) in
                transition == .reset ? try recorder.checkReset() : try recorder.checkStep()
            }
        }
        let episodesBefore = recorder?.episodeCount ?? 0
        let census = metrics.map { _ in Self.census(state.core) }
        let (answer, outcome, ended) = try body(&state.core, isVector ? recorder : nil)
        state.stepCounter += 1
        if let metrics, let census {
            // Atomic counters: no lock of anyone else's is taken here.
            metrics.record(Transitions(
                steps: transition == .step ? (numEnvs ?? 1) - census.autoresetsDue : 0,
                resets: Self.census(state.core).resets - census.resets, episodes: ended))
        }
        var advanced = Advanced(answer: answer, recorder: recorder)
        var frame: Canvas?
        if case .single(let env) = state.core {
            let filming = recorder.map { transition == .reset ? $0.needsResetFrame : $0.needsStepFrame } ?? false
            frame = render || filming ? try env.renderFrame() : nil
            if let recorder { Self.record(outcome, frame: filming ? frame : nil, to: recorder) }
        } else if render, case .vector(let vector) = state.core {
            frame = try vector.renderMosaic()
        }
        if frame != nil { metrics?.framesRendered.increment() }
        if let recorder, ended > 0 || recorder.episodeCount > episodesBefore {
            advanced.episodesToWrite = recorder.episodeCount
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
        // 1. check, step, frame, record: under the lock; for a bridged instance on its worker
        // queue, on a copy of the state taken and put back under the lock, so that the lock is
        // never held while a worker answers (the queue keeps every other change out meanwhile).
        let advanced: Advanced
        if workerQueue == nil {
            advanced = try state.withLock { (state) throws(GymError) -> Advanced in try stageOne(transition, render: render, body, &state) }
        } else {
            advanced = try await onWorkerQueue { [self] () throws(GymError) -> Advanced in
                var local = state.withLock { $0 }
                defer {
                    state.withLock { state in
                        state.core = local.core
                        state.stepCounter = local.stepCounter
                        state.renderedCount = local.renderedCount
                        state.clientFrameState = local.clientFrameState
                    }
                }
                return try stageOne(transition, render: render, body, &local)
            }
        }
        var answer = advanced.answer
        // 2. write and 3. publish: the frame the client asked for, off the lock and the
        // cooperative pool.
        if let (canvas, number, status) = advanced.requestedFrame {
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
            answer["render"] = .json(.string("successfully rendered: \(number).png"))
            if let hub, hub.hasViewers(id) {
                var live = status
                live.png = png
                hub.publish(id, frame: live)
            } else {
                // Nobody watched: the live renderer may draw this state after all, if someone comes.
                state.withLock { if $0.clientFrameState == status.stateCount { $0.clientFrameState = nil } }
            }
        }
        // 4. backpressure and durability, suspending without blocking a thread.
        if let recorder = advanced.recorder {
            if recorder.framesOverCapacity { await recorder.waitForFrameRoom() }
            if let episodes = advanced.episodesToWrite { await recorder.statisticsWritten(through: episodes) }
        }
        return Answer(answer)
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

    /// The live view's status line of an instance: episode, step and reward of the environment,
    /// or of sub-environment 0 of a vector.
    private static func status(of core: Core, envID: String) -> (episode: Int, step: Int, reward: Double) {
        let env: WrappedEnvironment
        switch core {
        case .single(let single): env = single
        case .vector(let vector): env = vector.envs[0]
        case .taken: return (0, 0, 0)
        }
        return (env.resets - 1, env.elapsedSteps, env.episodeReward)
    }

    /// Tells the monitor about a reset (no outcome) or a step, with the frame when it films.
    private static func record(_ outcome: (reward: Double, done: Bool)?, frame: Canvas?, to recorder: EpisodeRecorder) {
        guard let frame else {
            if let outcome { recorder.recordStep(reward: outcome.reward, done: outcome.done) } else { recorder.recordReset() }
            return
        }
        // The canvas's pixel array is handed over, not copied: the recorder keeps it.
        if let outcome {
            recorder.recordStep(reward: outcome.reward, done: outcome.done, frame: frame.pixels, width: frame.width, height: frame.height)
        } else {
            recorder.recordReset(frame: frame.pixels, width: frame.width, height: frame.height)
        }
    }

    // MARK: the monitor

    /// How the server's monitors record: never blocking a request's thread on a full frame queue
    /// (the request waits afterwards, suspended), and the stats file rewritten at every episode
    /// end so that a killed server loses no finished episode.
    static func recordingOptions(onProblem: (@Sendable (MonitorError) -> Void)?, frames: (any VideoFrameObserver)? = nil) -> RecordingOptions {
        RecordingOptions(onProblem: onProblem, blocksWhenFull: false, writesEveryEpisode: true, frames: frames)
    }

    /// Whether a monitor records this instance now.
    var hasMonitor: Bool { state.withLock { $0.recorder != nil } }

    /// Starts recording episodes into `directory` (already confined to the monitor root). The
    /// directory is prepared (created, cleared with `force`, checked for old files) on
    /// `BlockingWork`'s threads; the lock is taken only to install the recorder.
    func startMonitor(
        directory: URL, displayDirectory: String, force: Bool, resume: Bool, videoSchedule: VideoSchedule,
        registry: MonitorRegistry, onProblem: (@Sendable (MonitorError) -> Void)? = nil, frames: (any VideoFrameObserver)? = nil
    ) async throws(GymError) {
        try await checkNoMonitor()
        let envID = self.envID
        let fps = Double(renderFPS)
        let recorder: EpisodeRecorder
        do {
            recorder = try await BlockingWork.run { () throws -> EpisodeRecorder in
                try EpisodeRecorder.start(
                    directory: directory, force: force, resume: resume, videoSchedule: videoSchedule, envID: envID,
                    renderFPS: fps, registry: registry, displayDirectory: displayDirectory,
                    options: Self.recordingOptions(onProblem: onProblem, frames: frames))
            }
        } catch let error as MonitorError {
            throw GymError(error.message)
        } catch {
            throw GymError("Could not start the monitor: \(error)")
        }
        let installed = try await exclusive { state -> Bool in
            guard state.recorder == nil, !state.closed else { return false }
            state.recorder = recorder
            state.monitorDirectory = directory
            state.monitorShownDirectory = displayDirectory
            state.latestRecorder = recorder
            return true
        }
        if !installed {
            // Another monitor/start won the race (or the instance closed meanwhile).
            try? await recorder.close()
            try await checkNoMonitor()
            throw GymError("Instance_id \(id) unknown")
        }
    }

    private func checkNoMonitor() async throws(GymError) {
        let id = self.id
        try await exclusive { (state) throws(GymError) in
            if let recorder = state.recorder {
                throw GymError("Instance_id \(id) already has a monitor recording into \(recorder.directory.lastPathComponent): close it first (monitor/close/)")
            }
        }
    }

    /// Stops recording: finishes the open video and writes the statistics and manifest. Closing
    /// an instance without a monitor does nothing.
    package func closeMonitor() async throws(GymError) {
        let recorder = try await exclusive { state -> EpisodeRecorder? in
            defer { state.recorder = nil }
            return state.recorder
        }
        guard let recorder else { return }
        do {
            try await recorder.close()
        } catch {
            throw GymError(error.message)
        }
    }

    /// Closes the instance for good: every later call is refused, and the monitor finishes.
    func shutDown() async throws(GymError) {
        try await exclusive { $0.closed = true }
        await stopWorkers()
        try await closeMonitor()
    }

    /// Ends a bridged instance's worker processes (and reaps them), on its worker queue after
    /// any call in flight.
    private func stopWorkers() async {
        guard workerQueue != nil else { return }
        try? await onWorkerQueue { () throws(GymError) in
            switch self.state.withLock({ $0.core }) {
            case .single(let env): env.close()
            case .vector(let vector): for env in vector.envs { env.close() }
            case .taken: break
            }
        }
    }

    /// The directory the latest monitor recorded into (open or closed).
    public var monitorDirectory: URL? { state.withLock { $0.monitorDirectory } }

    /// Where the latest monitor records (or recorded), whether it still does, and the episodes
    /// it finished; nil before the first monitor/start.
    public struct MonitorStatus: Sendable, Equatable {
        /// The directory as the files port serves it to the owner (relative, no slash at either end).
        public let directory: String
        public let recording: Bool
        public let episodes: Int
    }

    public var monitorStatus: MonitorStatus? {
        let latest = state.withLock { state -> (String, EpisodeRecorder, Bool)? in
            guard let shown = state.monitorShownDirectory, let recorder = state.latestRecorder else { return nil }
            return (shown, recorder, state.recorder != nil)
        }
        guard let (directory, recorder, recording) = latest else { return nil }
        // Read outside the instance's lock: the recorder has its own.
        return MonitorStatus(directory: directory, recording: recording, episodes: recorder.episodeCount)
    }

    private static func monitorCheck<T>(_ body: () throws(MonitorError) -> T) throws(GymError) -> T {
        do {
            return try body()
        } catch {
            throw GymError(error.message)
        }
    }

    // MARK: rendering without writing

    /// The current frame as PNG, written nowhere. The environment is copied under the lock and
    /// drawn outside it.
    public func renderPNG() async throws(GymError) -> [UInt8] {
        let canvas = try await onWorkerQueue { () throws(GymError) -> Canvas in
            try Self.frame(of: self.state.withLock { $0.core })
        }
        metrics?.framesRendered.increment()
        return try Self.encode(canvas)
    }

    /// The frame of a state: the environment's, or a vector's mosaic.
    private static func frame(of core: Core) throws(GymError) -> Canvas {
        switch core {
        case .single(let env): return try env.renderFrame()
        case .vector(let vector): return try vector.renderMosaic()
        case .taken: throw GymError("The instance is busy")
        }
    }

    /// Gymnasium's `ansi` render of the current state.
    public func renderANSI() async throws(GymError) -> String {
        try await onWorkerQueue { () throws(GymError) -> String in
            let core = self.state.withLock { $0.core }
            let envID = self.envID
            let envs: [WrappedEnvironment]
            switch core {
            case .single(let env): envs = [env]
            case .vector(let vector): envs = vector.envs
            case .taken: throw GymError("The instance is busy")
            }
            var texts: [String] = []
            for env in envs {
                guard let text = env.renderANSI() else {
                    throw GymError("\(envID) has no ansi render; ask for mode=rgb_array (the default)")
                }
                guard env.hasReset else {
                    throw GymError("Cannot render \(envID) before calling env.reset(): reset the environment first")
                }
                texts.append(text)
            }
            // A vector's sub-environments one after the other, as Gymnasium returns them in a tuple.
            return texts.joined(separator: "\n")
        }
    }

    /// A random action in its JSON form (`action_space.sample()`).
    public func sampleAction() -> JSON {
        // For a vector: a sample of the batched space (one action per sub-environment).
        let value = actionSampler.withLock { actionSpace.sample(using: &$0) }
        return actionSpace.json(value)
    }

    // MARK: the live view

    /// Resets plus steps so far: changes whenever the state may have.
    public var stepCounter: Int {
        state.withLock { $0.stepCounter }
    }

    /// The state the live renderer should draw if no newer frame was published: the current one,
    /// unless a client's `render: true` frame of it is on its way (nil then).
    package var stateWithoutFrame: Int? {
        state.withLock { $0.clientFrameState == $0.stepCounter ? nil : $0.stepCounter }
    }

    /// The current state as a PNG frame with the instance's status; throws before the first
    /// reset. The environment is copied under the lock and drawn and encoded outside it, so steps
    /// never wait on the live view.
    public func renderLiveFrame() async throws(GymError) -> LiveFrame {
        let (core, count, canvas) = try await onWorkerQueue { () throws(GymError) -> (Core, Int, Canvas) in
            let (core, count) = self.state.withLock { ($0.core, $0.stepCounter) }
            return (core, count, try Self.frame(of: core))
        }
        metrics?.framesRendered.increment()
        let status = Self.status(of: core, envID: envID)
        return LiveFrame(
            png: try Self.encode(canvas), envID: envID, episode: status.episode, step: status.step,
            episodeReward: status.reward, stateCount: count)
    }

    static func encode(_ canvas: Canvas) throws(GymError) -> [UInt8] {
        do {
            return try canvas.pngData()
        } catch {
            throw GymError("Could not encode the frame as PNG: \(error)")
        }
    }
}
