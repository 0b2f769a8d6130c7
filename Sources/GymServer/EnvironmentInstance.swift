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
    /// The key that made the instance (nil with API keys off).
    public let owner: Owner?
    /// The folder of this instance under its owner's part of the monitor root.
    public let directory: URL
    let state: Mutex<State>
    /// The action space's own generator, seeded from OS entropy as Gymnasium seeds an unseeded
    /// space; kept apart from the environment's so that sampling never changes an episode.
    private let actionSampler = Mutex(RandomGenerator.fromEntropy())
    public let actionSpace: Space
    public let observationSpace: Space
    /// The environment's `render_fps`.
    public let renderFPS: Int
    /// Where frames go for the live view.
    let hub: FrameHub?
    /// The frames written for `render: true`.
    let rendered: RenderedFrames
    /// When a client last used the instance (`InstanceClock` nanoseconds), for idle expiry.
    private let lastUsed: Atomic<UInt64>

    struct State: Sendable {
        var environment: WrappedEnvironment
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
        /// Closed: every call after this is refused.
        var closed = false
    }

    init(id: String, environment: WrappedEnvironment, directory: URL, owner: Owner? = nil, hub: FrameHub? = nil, now: UInt64 = 0) {
        self.id = id
        self.owner = owner
        self.hub = hub
        self.envID = environment.id
        self.directory = directory
        self.actionSpace = environment.actionSpace
        self.observationSpace = environment.observationSpace
        self.renderFPS = environment.env.renderFPS
        self.rendered = RenderedFrames(directory: directory.appendingPathComponent("rendered", isDirectory: true))
        self.lastUsed = Atomic(now)
        self.state = Mutex(State(environment: environment))
    }

    // MARK: idle time

    /// A client used the instance at `now`.
    func touch(_ now: UInt64) {
        lastUsed.store(now, ordering: .relaxed)
    }

    /// When a client last used the instance.
    var lastUsedTime: UInt64 { lastUsed.load(ordering: .relaxed) }

    // MARK: the calls of the API

    /// `reset`: `{observation, info}`, plus `render` naming the frame written when asked.
    public func reset(seed: UInt64?, options: [String: JSON]?, render: Bool) async throws(GymError) -> JSON {
        try await advance(.reset, render: render) { (env) throws(GymError) in
            let (observation, info) = try env.reset(seed: seed, options: options)
            return (["observation": observationSpace.json(observation), "info": .object(info)], nil)
        }
    }

    /// `step`: `{observation, reward, done, info, terminated, truncated}`, plus `render`.
    public func step(action: JSON, render: Bool) async throws(GymError) -> JSON {
        try await advance(.step, render: render) { (env) throws(GymError) in
            let result = try env.step(json: action)
            let answer: [String: JSON] = [
                "observation": observationSpace.json(result.observation),
                "reward": .double(result.reward),
                "done": .bool(result.done),
                "terminated": .bool(result.terminated),
                "truncated": .bool(result.truncated),
                "info": .object(result.info),
            ]
            return (answer, (result.reward, result.done))
        }
    }

    private enum Transition { case reset, step }

    /// What stage 1 leaves for the stages after it.
    private struct Advanced {
        var answer: [String: JSON]
        /// The frame the client asked for, its number and the instance's status with it.
        var requestedFrame: (canvas: Canvas, number: Int, status: LiveFrame)?
        var recorder: EpisodeRecorder?
        /// Episodes the stats file must hold before the answer goes out (the step ended one).
        var episodesToWrite: Int?
    }

    private func advance(
        _ transition: Transition, render: Bool,
        _ body: (inout WrappedEnvironment) throws(GymError) -> ([String: JSON], (reward: Double, done: Bool)?)
    ) async throws(GymError) -> JSON {
        // 1. check, step, frame, record: under the lock.
        let advanced = try state.withLock { (state) throws(GymError) -> Advanced in
            guard !state.closed else { throw GymError("Instance_id \(id) unknown") }
            let recorder = state.recorder
            if let recorder {
                try Self.monitorCheck { () throws(MonitorError) in
                    transition == .reset ? try recorder.checkReset() : try recorder.checkStep()
                }
            }
            let (answer, outcome) = try body(&state.environment)
            state.stepCounter += 1
            let filming = recorder.map { transition == .reset ? $0.needsResetFrame : $0.needsStepFrame } ?? false
            let frame = render || filming ? try state.environment.renderFrame() : nil
            var advanced = Advanced(answer: answer, recorder: recorder)
            if let recorder {
                Self.record(outcome, frame: filming ? frame : nil, to: recorder)
                if outcome?.done == true { advanced.episodesToWrite = recorder.episodeCount }
            }
            if render, let frame {
                let env = state.environment
                let status = LiveFrame(
                    png: [], envID: envID, episode: env.resets - 1, step: env.elapsedSteps,
                    episodeReward: env.episodeReward, frameNumber: state.renderedCount, stateCount: state.stepCounter)
                advanced.requestedFrame = (frame, state.renderedCount, status)
                state.renderedCount += 1
                state.clientFrameState = state.stepCounter
            }
            return advanced
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
            answer["render"] = .string("successfully rendered: \(number).png")
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
        return .object(answer)
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
    static func recordingOptions(onProblem: (@Sendable (MonitorError) -> Void)?) -> RecordingOptions {
        RecordingOptions(onProblem: onProblem, blocksWhenFull: false, writesEveryEpisode: true)
    }

    /// Whether a monitor records this instance now.
    var hasMonitor: Bool { state.withLock { $0.recorder != nil } }

    /// Starts recording episodes into `directory` (already confined to the monitor root). The
    /// directory is prepared (created, cleared with `force`, checked for old files) on
    /// `BlockingWork`'s threads; the lock is taken only to install the recorder.
    func startMonitor(
        directory: URL, displayDirectory: String, force: Bool, resume: Bool, videoSchedule: VideoSchedule,
        registry: MonitorRegistry, onProblem: (@Sendable (MonitorError) -> Void)? = nil
    ) async throws(GymError) {
        try checkNoMonitor()
        let envID = self.envID
        let fps = Double(renderFPS)
        let recorder: EpisodeRecorder
        do {
            recorder = try await BlockingWork.run { () throws -> EpisodeRecorder in
                try EpisodeRecorder.start(
                    directory: directory, force: force, resume: resume, videoSchedule: videoSchedule, envID: envID,
                    renderFPS: fps, registry: registry, displayDirectory: displayDirectory,
                    options: Self.recordingOptions(onProblem: onProblem))
            }
        } catch let error as MonitorError {
            throw GymError(error.message)
        } catch {
            throw GymError("Could not start the monitor: \(error)")
        }
        let installed = state.withLock { state -> Bool in
            guard state.recorder == nil, !state.closed else { return false }
            state.recorder = recorder
            state.monitorDirectory = directory
            return true
        }
        if !installed {
            // Another monitor/start won the race (or the instance closed meanwhile).
            try? await recorder.close()
            try checkNoMonitor()
            throw GymError("Instance_id \(id) unknown")
        }
    }

    private func checkNoMonitor() throws(GymError) {
        try state.withLock { (state) throws(GymError) in
            if let recorder = state.recorder {
                throw GymError("Instance_id \(id) already has a monitor recording into \(recorder.directory.lastPathComponent): close it first (monitor/close/)")
            }
        }
    }

    /// Stops recording: finishes the open video and writes the statistics and manifest. Closing
    /// an instance without a monitor does nothing.
    func closeMonitor() async throws(GymError) {
        let recorder = state.withLock { state -> EpisodeRecorder? in
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
        state.withLock { $0.closed = true }
        try await closeMonitor()
    }

    /// The directory the latest monitor recorded into (open or closed).
    public var monitorDirectory: URL? { state.withLock { $0.monitorDirectory } }

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
    public func renderPNG() throws(GymError) -> [UInt8] {
        let env = state.withLock { $0.environment }
        return try Self.encode(try env.renderFrame())
    }

    /// Gymnasium's `ansi` render of the current state.
    public func renderANSI() throws(GymError) -> String {
        try state.withLock { (state) throws(GymError) -> String in
            guard let text = state.environment.renderANSI() else {
                throw GymError("\(envID) has no ansi render; ask for mode=rgb_array (the default)")
            }
            guard state.environment.hasReset else {
                throw GymError("Cannot render \(envID) before calling env.reset(): reset the environment first")
            }
            return text
        }
    }

    /// A random action in its JSON form (`action_space.sample()`).
    public func sampleAction() -> JSON {
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
    var stateWithoutFrame: Int? {
        state.withLock { $0.clientFrameState == $0.stepCounter ? nil : $0.stepCounter }
    }

    /// The current state as a PNG frame with the instance's status; throws before the first
    /// reset. The environment is copied under the lock and drawn and encoded outside it, so steps
    /// never wait on the live view.
    public func renderLiveFrame() throws(GymError) -> LiveFrame {
        let (env, count) = state.withLock { ($0.environment, $0.stepCounter) }
        let canvas = try env.renderFrame()
        return LiveFrame(
            png: try Self.encode(canvas), envID: env.id, episode: env.resets - 1, step: env.elapsedSteps,
            episodeReward: env.episodeReward, stateCount: count)
    }

    static func encode(_ canvas: Canvas) throws(GymError) -> [UInt8] {
        do {
            return try canvas.pngData()
        } catch {
            throw GymError("Could not encode the frame as PNG: \(error)")
        }
    }
}
