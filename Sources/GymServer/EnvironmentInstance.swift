import Foundation
import GymCore
import GymEnvs
import GymMonitor
import GymRender
import Synchronization

/// One live environment: the made environment and what is recorded of it, behind a lock that
/// serialises calls on it. Different instances step in parallel; a call waits on nothing but
/// this lock.
public final class EnvironmentInstance: Sendable {
    public let id: String
    public let envID: String
    /// The folder of this instance under the monitor root (`<root>/<instance_id>`).
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

    struct State: Sendable {
        var environment: WrappedEnvironment
        var rendered: RenderedFrames
        /// Resets plus steps so far: changes whenever the state may have.
        var stepCounter = 0
        /// The monitor recording this instance's episodes, between monitor/start and close.
        var recorder: EpisodeRecorder?
        /// Where the latest monitor recorded (kept after it closes, for upload).
        var monitorDirectory: URL?
    }

    init(id: String, environment: WrappedEnvironment, monitorRoot: URL, hub: FrameHub? = nil) {
        self.id = id
        self.hub = hub
        self.envID = environment.id
        self.directory = monitorRoot.appendingPathComponent(id, isDirectory: true)
        self.actionSpace = environment.actionSpace
        self.observationSpace = environment.observationSpace
        self.renderFPS = environment.env.renderFPS
        self.state = Mutex(State(
            environment: environment,
            rendered: RenderedFrames(directory: directory.appendingPathComponent("rendered", isDirectory: true))))
    }

    // MARK: the calls of the API

    /// `reset`: `{observation, info}`, plus `render` naming the frame written when asked.
    public func reset(seed: UInt64?, options: [String: JSON]?, render: Bool) throws(GymError) -> JSON {
        try advance(.reset, render: render) { (env) throws(GymError) in
            let (observation, info) = try env.reset(seed: seed, options: options)
            return (["observation": observationSpace.json(observation), "info": .object(info)], nil)
        }
    }

    /// `step`: `{observation, reward, done, info, terminated, truncated}`, plus `render`.
    public func step(action: JSON, render: Bool) throws(GymError) -> JSON {
        try advance(.step, render: render) { (env) throws(GymError) in
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

    /// A reset or step under the lock, with what goes with it: old gym's monitor checks before,
    /// then the frame when the client asked for it or the monitor films this episode, the
    /// monitor's record, the file under rendered/ and the live view's copy.
    private func advance(
        _ transition: Transition, render: Bool,
        _ body: (inout WrappedEnvironment) throws(GymError) -> ([String: JSON], (reward: Double, done: Bool)?)
    ) throws(GymError) -> JSON {
        try state.withLock { (state) throws(GymError) -> JSON in
            let recorder = state.recorder
            if let recorder {
                try Self.monitorCheck { () throws(MonitorError) in
                    transition == .reset ? try recorder.checkReset() : try recorder.checkStep()
                }
            }
            var (answer, outcome) = try body(&state.environment)
            state.stepCounter += 1
            let filming = recorder.map { transition == .reset ? $0.needsResetFrame : $0.needsStepFrame } ?? false
            let frame = render || filming ? try state.environment.renderFrame() : nil
            if let recorder { Self.record(outcome, frame: filming ? frame : nil, to: recorder) }
            if render, let frame {
                let written = try write(frame, &state)
                answer["render"] = .string("successfully rendered: " + written.name)
                // Published under the lock, so the live renderer never finds this state without
                // its frame and draws it a second time.
                if let live = written.live { hub?.publish(id, frame: live) }
            }
            return .object(answer)
        }
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

    /// Starts recording episodes into `directory` (already confined to the monitor root).
    func startMonitor(
        directory: URL, displayDirectory: String, force: Bool, resume: Bool, videoSchedule: VideoSchedule,
        registry: MonitorRegistry
    ) throws(GymError) {
        try state.withLock { (state) throws(GymError) in
            guard state.recorder == nil else {
                throw GymError("Instance_id \(id) already has a monitor recording into \(state.recorder!.directory.lastPathComponent): close it first (monitor/close/)")
            }
            state.recorder = try Self.monitorCheck { () throws(MonitorError) -> EpisodeRecorder in
                try EpisodeRecorder.start(
                    directory: directory, force: force, resume: resume, videoSchedule: videoSchedule, envID: envID,
                    renderFPS: Double(renderFPS), registry: registry, displayDirectory: displayDirectory)
            }
            state.monitorDirectory = directory
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

    /// The directory the latest monitor recorded into (open or closed).
    public var monitorDirectory: URL? { state.withLock { $0.monitorDirectory } }

    private static func monitorCheck<T>(_ body: () throws(MonitorError) -> T) throws(GymError) -> T {
        do {
            return try body()
        } catch {
            throw GymError(error.message)
        }
    }

    /// The current frame as PNG, written nowhere.
    public func renderPNG() throws(GymError) -> [UInt8] {
        let canvas = try state.withLock { (state) throws(GymError) -> Canvas in try state.environment.renderFrame() }
        return try Self.encode(canvas)
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

    // MARK: frames

    /// Writes a frame the client asked for under rendered/; returns the file's name and, when
    /// someone watches the live view, the frame for it.
    private func write(_ frame: Canvas, _ state: inout State) throws(GymError) -> (name: String, live: LiveFrame?) {
        let png = try Self.encode(frame)
        let number = state.rendered.count
        let name = try state.rendered.write(png: png)
        guard let hub, hub.hasViewers(id) else { return (name, nil) }
        let env = state.environment
        return (name, LiveFrame(
            png: png, envID: envID, episode: env.resets - 1, step: env.elapsedSteps,
            episodeReward: env.episodeReward, frameNumber: number, stateCount: state.stepCounter))
    }

    // MARK: the live view

    /// Resets plus steps so far: changes whenever the state may have.
    public var stepCounter: Int {
        state.withLock { $0.stepCounter }
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
