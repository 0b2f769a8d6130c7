import Foundation
import GymCore
import GymEnvs
import GymMonitor
import GymRender
import Synchronization

/// One live environment: the made environment and what is recorded of it, behind a lock that
/// serialises calls on it. Different instances step in parallel.
///
/// The instance is split by job, a file each:
///
/// - here, identity and lifecycle: the id, the owner, the spaces, the lock and the state it
///   guards, the worker queue of an environment whose calls block, idle time, closing;
/// - `StepPipeline.swift`: the calls of the API (`perform` a `ResetCall` or `StepCall`) as a
///   pipeline of stages;
/// - `RecordingStage.swift`: the monitor, a stage object the pipeline calls when one records
///   (as Gymnasium's RecordEpisodeStatistics and RecordVideo wrap an env);
/// - `InstanceFrames.swift`: frames drawn without stepping (render, the live view).
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
    /// Keeps the worker queue's calls and a step made from an event loop apart
    /// (`EventLoopStep.swift`).
    let gate = WorkerQueueGate()
    /// The watchers of the workers' answers on the event loop that steps the instance, if one does.
    let answerWatchers = Mutex<[AnswerWatcher]>([])
    /// Steps made from an event loop so far (tests read it).
    package let stepsOnEventLoop = Atomic<Int>(0)

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
        var recording: RecordingStage?
        /// The latest monitor, open or closed: where it recorded (for upload and `monitorStatus`).
        var latestRecording: RecordingStage?
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
    func exclusive<T: Sendable>(_ body: @escaping @Sendable (inout State) throws(GymError) -> T) async throws(GymError) -> T {
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

    /// Whether the instance's calls block (a bridged one's worker processes): they run on its
    /// worker queue.
    package var callsBlockingWork: Bool { workerQueue != nil }

    /// Runs `work` where this instance's blocking calls run: its worker queue (bridged), or right
    /// here (native: nothing blocks).
    func onWorkerQueue<T: Sendable>(_ work: @escaping @Sendable () throws(GymError) -> T) async throws(GymError) -> T {
        guard workerQueue != nil else { return try work() }
        let result: Result<T, GymError> = await withCheckedContinuation { continuation in
            onWorkerQueue({ Result { () throws(GymError) -> T in try work() } }, then: { continuation.resume(returning: $0) })
        }
        return try result.get()
    }

    /// Runs `work` on the worker queue (which a bridged instance has), after any step made from
    /// an event loop meanwhile, and then `completion` with its result, once the queue no longer
    /// counts it: a request answered by `completion` may be followed at once by a step from an
    /// event loop.
    func onWorkerQueue<T>(_ work: @escaping @Sendable () -> T, then completion: @escaping @Sendable (T) -> Void) {
        guard let workerQueue else { return completion(work()) }
        gate.enqueued()
        workerQueue.async { [gate] in
            gate.enter()
            let result = work()
            gate.left()
            completion(result)
        }
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

    // MARK: closing

    /// Closes the instance for good: every later call is refused, and the monitor finishes.
    func shutDown() async throws(GymError) {
        try await exclusive { $0.closed = true }
        stopWatchingAnswers()
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

    /// A random action in its JSON form (`action_space.sample()`).
    public func sampleAction() -> JSON {
        // For a vector: a sample of the batched space (one action per sub-environment).
        let value = actionSampler.withLock { actionSpace.sample(using: &$0) }
        return actionSpace.json(value)
    }
}
