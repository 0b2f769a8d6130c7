import Foundation
import Synchronization

/// Settings of a monitor that clients do not choose.
public struct RecordingOptions: Sendable {
    public var encoding: VideoEncodingSettings
    /// Frames that may wait for the encoder before `recordStep`/`recordReset` wait for it
    /// (each holds one RGB frame: 720 kB at 600x400).
    public var frameQueueCapacity: Int
    /// `env_info.gym_version` in the manifest: the gym release whose file format is followed.
    public var gymVersion: String
    /// Clock of `initial_reset_timestamp` and `timestamps` (0.21: `time.perf_counter()`).
    public var clock: @Sendable () -> Double
    /// Told about every problem met while recording (broken videos, files that cannot be
    /// written), in order, on a serial queue of the monitor's own (log them).
    public var onProblem: (@Sendable (MonitorError) -> Void)?
    /// Whether `recordStep`/`recordReset` block their caller while the frame queue is full. A
    /// caller that must not block (a server's request handler holding a lock) sets it to false and
    /// awaits `waitForFrameRoom()` after releasing its locks: the queue then holds at most
    /// `frameQueueCapacity` plus one frame per caller in flight.
    public var blocksWhenFull: Bool
    /// Whether the stats file and manifest are rewritten at the end of every episode, without the
    /// batching that spares a busy recording thread: with it, `statisticsWritten(through:)` returns
    /// as soon as the episode is on disk, so that a process killed after answering a step that
    /// ended an episode has that episode in its stats file.
    public var writesEveryEpisode: Bool
    /// Told what becomes of the filmed frames (a server's metrics); nil: nobody.
    public var frames: (any VideoFrameObserver)?
    /// Who records, as the directory's lock file says it to a monitor refused the directory
    /// meanwhile ("instance 01ab23cd, replica 1").
    public var holder: String = "process \(getpid())"

    public init(
        encoding: VideoEncodingSettings = VideoEncodingSettings(),
        frameQueueCapacity: Int = 16,
        gymVersion: String = "0.21.0",
        clock: @escaping @Sendable () -> Double = MonitorClock.perfCounter,
        onProblem: (@Sendable (MonitorError) -> Void)? = nil,
        blocksWhenFull: Bool = true,
        writesEveryEpisode: Bool = false,
        frames: (any VideoFrameObserver)? = nil
    ) {
        self.encoding = encoding
        self.frameQueueCapacity = frameQueueCapacity
        self.gymVersion = gymVersion
        self.clock = clock
        self.onProblem = onProblem
        self.blocksWhenFull = blocksWhenFull
        self.writesEveryEpisode = writesEveryEpisode
        self.frames = frames
    }
}

/// Told what becomes of a monitor's filmed frames, from the step path and the recording thread:
/// each call must be cheap and must not block (an atomic counter).
public protocol VideoFrameObserver: Sendable {
    /// A frame went into a video.
    func videoFrameEncoded()
    /// A frame of a filmed episode did not: its video was broken (a frame of the wrong size, an
    /// encoder failure), so this frame and the episode's later ones are left out.
    func videoFrameDropped()
}

/// Old gym's episode type: "t" for training (the default), "e" for evaluation.
public enum EpisodeMode: String, Sendable {
    case training = "t"
    case evaluation = "e"
}

/// One monitor on one environment instance: old gym 0.21's `Monitor` without the environment.
///
/// It counts steps and rewards between resets, films the episodes its `VideoSchedule` picks,
/// and keeps a directory's `openaigym.*` files up to date. The caller steps the environment and
/// tells the recorder, holding the instance's lock:
///
/// ```swift
/// try recorder.checkReset()                      // before env.reset: may refuse (old gym did)
/// let observation = env.reset(seed: seed)
/// if recorder.needsResetFrame { render into canvas; recorder.recordReset(frame: ..., width:, height:) }
/// else { recorder.recordReset() }
///
/// try recorder.checkStep()                       // before env.step
/// let result = env.step(action)
/// if recorder.needsStepFrame { render; recorder.recordStep(reward:, done:, frame:, width:, height:) }
/// else { recorder.recordStep(reward: result.reward, done: result.done) }
/// ```
///
/// Nothing slow runs on the caller's thread: frames are copied into a bounded queue and encoded
/// on the monitor's own thread, which also writes the files (the stats file and the manifest at
/// each episode end and at close; each video when its episode ends). The caller waits only when
/// the queue is full of frames. After `close` every call is ignored.
public final class EpisodeRecorder: Sendable {
    /// The canonical directory the files are written to.
    public let directory: URL
    public let envID: String
    public let monitorID: Int
    public let fileNames: MonitorFileNames
    public let videoSchedule: VideoSchedule
    /// Frame rate of the videos (the environment's `render_fps`).
    public let framesPerSecond: Double

    private struct Filming {
        let episodeID: Int
        var broken = false
        var width = 0
        var height = 0
    }

    private struct State {
        var stats: StatsRecorder
        /// Id of the next episode to start (old gym's `episode_id`).
        var episodeID = 0
        /// The episode being filmed, if any.
        var filming: Filming?
        var closed = false
    }

    private let state: Mutex<State>
    private let queue: RecordingQueue
    private let completion: CompletionSignal
    private let problemLog: ProblemLog
    private let frameObserver: (any VideoFrameObserver)?
    private let statisticsMirror = StatisticsMirror()
    private let written = WrittenEpisodes()
    private let clock: @Sendable () -> Double
    private let registry: MonitorRegistry

    // MARK: starting

    /// Starts monitoring into `directory` (create it with `MonitorRoot.resolve`), as old gym's
    /// `Monitor._start`:
    ///
    /// - `force`: deletes the directory's `openaigym.*` files first.
    /// - `resume`: keeps them and adds this monitor's files next to them.
    /// - neither, and the directory holds `openaigym.manifest.*` files: throws
    ///   `MonitorError.existingMonitorFiles` with old gym's advice.
    ///
    /// The monitor id is drawn from `registry` only once these checks pass. `uid` defaults to
    /// the process id, as in old gym; `displayDirectory` (the client's relative path) is used in
    /// messages instead of the server's path. Throws `videoEncoderUnavailable` when videos are
    /// scheduled but this libavcodec has no H.264 encoder.
    public static func start(
        directory: URL,
        force: Bool = false,
        resume: Bool = false,
        videoSchedule: VideoSchedule = .cappedCubic,
        envID: String,
        renderFPS: Double,
        registry: MonitorRegistry,
        uid: String? = nil,
        displayDirectory: String? = nil,
        options: RecordingOptions = RecordingOptions()
    ) throws(MonitorError) -> EpisodeRecorder {
        let shownDirectory = displayDirectory ?? directory.path
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw .directoryUnusable(directory: shownDirectory, reason: error.localizedDescription)
        }
        if videoSchedule != .never, let reason = H264VideoWriter.unavailabilityReason(for: options.encoding) {
            throw .videoEncoderUnavailable(reason)
        }
        // Before anything is read or cleared, whichever process (or replica on a shared root)
        // records there: a fresh start needs the directory to itself, a resume shares it.
        let lock = try DirectoryLock.acquire(in: directory, exclusive: force || !resume, holder: options.holder, shownAs: shownDirectory)
        if force {
            try MonitorDirectory.clearMonitorFiles(in: directory, shownAs: shownDirectory)
        } else if !resume {
            let manifests = try MonitorDirectory.trainingManifests(in: directory, shownAs: shownDirectory)
            if !manifests.isEmpty {
                var base = shownDirectory
                while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
                throw .existingMonitorFiles(
                    directory: shownDirectory, files: manifests.prefix(5).map { base + "/" + $0 })
            }
        }
        lock.share()
        let monitorID = registry.nextID()
        // `uid if uid else os.getpid()`
        let names = MonitorFileNames(
            monitorID: monitorID, uid: uid.flatMap { $0.isEmpty ? nil : $0 } ?? registry.defaultUID)
        let recorder = EpisodeRecorder(
            directory: directory, envID: envID, names: names, videoSchedule: videoSchedule,
            framesPerSecond: renderFPS.isFinite && renderFPS > 0 ? renderFPS : 30,
            registry: registry, options: options, lock: lock)
        registry.register(recorder)
        return recorder
    }

    private init(
        directory: URL, envID: String, names: MonitorFileNames, videoSchedule: VideoSchedule,
        framesPerSecond: Double, registry: MonitorRegistry, options: RecordingOptions, lock: DirectoryLock
    ) {
        self.directory = directory
        self.envID = envID
        self.monitorID = names.monitorID
        self.fileNames = names
        self.videoSchedule = videoSchedule
        self.framesPerSecond = framesPerSecond
        self.registry = registry
        self.clock = options.clock
        self.state = Mutex(State(stats: StatsRecorder(envID: envID)))
        self.queue = RecordingQueue(frameCapacity: options.frameQueueCapacity, waitsForRoom: options.blocksWhenFull)
        self.frameObserver = options.frames
        self.completion = CompletionSignal()
        let problemLog = ProblemLog(forward: options.onProblem)
        self.problemLog = problemLog
        let context = RecordingContext(
            directory: directory, names: names,
            envInfo: .object([("gym_version", .string(options.gymVersion)), ("env_id", .string(envID))]),
            framesPerSecond: framesPerSecond, encoding: options.encoding,
            report: { problemLog.add($0) }, statistics: statisticsMirror, written: written,
            writesEveryEpisode: options.writesEveryEpisode, frames: options.frames, lock: lock)
        RecordingLoop.startThread(context: context, queue: queue, completion: completion)
    }

    deinit {
        beginClose()
    }

    // MARK: the step path

    /// Old gym's `before_reset` check: throws `resetBeforeDone` in the middle of an episode
    /// (steps taken, not done). Call it before resetting the environment; changes nothing.
    public func checkReset() throws(MonitorError) {
        try state.withLock { state throws(MonitorError) in
            guard !state.closed else { return }
            try state.stats.checkReset()
        }
    }

    /// Old gym's `before_step` check: throws `stepBeforeReset` or `stepAfterDone`. Call it
    /// before stepping the environment; changes nothing.
    public func checkStep() throws(MonitorError) {
        try state.withLock { state throws(MonitorError) in
            guard !state.closed else { return }
            try state.stats.checkStep()
        }
    }

    /// Whether the episode the next reset starts is filmed: render a frame for `recordReset`.
    public var needsResetFrame: Bool {
        state.withLock { !$0.closed && videoSchedule.shouldRecord(episode: $0.episodeID) }
    }

    /// Whether the current episode is filmed: render a frame for `recordStep`.
    public var needsStepFrame: Bool {
        state.withLock { state in
            guard !state.closed, let filming = state.filming else { return false }
            return !filming.broken
        }
    }

    /// The environment was reset and no frame is needed (`needsResetFrame` was false).
    public func recordReset() {
        recordReset(frame: nil, width: 0, height: 0)
    }

    /// The environment was reset; `frame` is its first picture (`height` rows of `width` RGB24
    /// pixels), used only when `needsResetFrame`. The array is queued as it is, without a copy
    /// (e.g. a freshly rendered `Canvas`'s `pixels`): the cheapest way to hand a frame over.
    public func recordReset(frame: [UInt8], width: Int, height: Int) {
        recordReset(source: .array(frame), width: width, height: height)
    }

    /// The environment was reset; `frame` (nil if none was rendered) is copied if it is needed.
    /// Call `checkReset` first: without it, a reset in the middle of an episode silently drops
    /// that episode (old gym refused such a reset).
    public func recordReset(frame: UnsafeRawBufferPointer?, width: Int, height: Int) {
        recordReset(source: frame.map(FrameSource.bytes), width: width, height: height)
    }

    private func recordReset(source frame: FrameSource?, width: Int, height: Int) {
        state.withLock { state in
            guard !state.closed else { return }
            // before_reset (its check is `checkReset`) and after_reset.
            state.stats.beforeReset(now: clock)
            state.stats.afterReset()
            // reset_video_recorder: close the previous recorder, open the next one.
            let episodeID = state.episodeID
            if state.filming != nil {
                queue.push(.endVideo(keepEncoder: videoSchedule.shouldRecord(episode: episodeID)))
                state.filming = nil
            }
            if videoSchedule.shouldRecord(episode: episodeID) {
                queue.push(.beginVideo(episodeID: episodeID))
                state.filming = Filming(episodeID: episodeID)
                capture(frame, width: width, height: height, into: &state)
            }
            // Bump *after* all reset activity has finished (old gym's comment).
            state.episodeID += 1
        }
    }

    /// The environment stepped and no frame is needed (`needsStepFrame` was false).
    public func recordStep(reward: Double, done: Bool) {
        recordStep(reward: reward, done: done, frame: nil, width: 0, height: 0)
    }

    /// The environment stepped; `frame` is the picture after the step, used if `needsStepFrame`.
    /// The array is queued as it is, without a copy (e.g. a freshly rendered `Canvas`'s
    /// `pixels`): the cheapest way to hand a frame over. Writing to the array afterwards is
    /// fine (it is a value) but copies it while the recorder still holds it.
    public func recordStep(reward: Double, done: Bool, frame: [UInt8], width: Int, height: Int) {
        recordStep(reward: reward, done: done, source: .array(frame), width: width, height: height)
    }

    /// The environment stepped (`done` is `terminated || truncated`). When `done`, the episode
    /// is saved, and its video (if filmed) is finished and the stats file and manifest are
    /// rewritten on the recording thread. A step before any reset is ignored (`checkStep`
    /// refuses it). `frame` (nil if none was rendered) is copied if it is needed.
    public func recordStep(reward: Double, done: Bool, frame: UnsafeRawBufferPointer?, width: Int, height: Int) {
        recordStep(reward: reward, done: done, source: frame.map(FrameSource.bytes), width: width, height: height)
    }

    private func recordStep(reward: Double, done: Bool, source frame: FrameSource?, width: Int, height: Int) {
        state.withLock { state in
            guard !state.closed, state.stats.steps != nil else { return }
            let saved = state.stats.recordStep(reward: reward, done: done, now: clock)
            if state.filming != nil {
                capture(frame, width: width, height: height, into: &state)
            }
            if saved {
                // The episode goes into the stats file before its video is finished (renamed to
                // its name), as old gym flushed the stats at the episode's end and closed the
                // video at the next reset: a process killed in between leaves no finished video
                // of an episode the stats file lacks. (The manifest lists the video from the next
                // write on, as old gym's did.)
                queue.pushStatistics(state.stats.takeUpdate(), final: false)
                // No frame can follow `done` (checkStep refuses the step), so the video is
                // complete now; old gym closed it at the next reset, with the same content.
                if state.filming != nil {
                    // `episodeID` is the next episode's: if it is filmed too, its video goes on
                    // with this one's encoder.
                    queue.push(.endVideo(keepEncoder: videoSchedule.shouldRecord(episode: state.episodeID)))
                    state.filming = nil
                }
            }
        }
    }

    /// An episode of another sub-environment of a vector ended (the recorder films and counts
    /// sub-environment 0 through `recordReset`/`recordStep`): it goes into the stats file as
    /// Gymnasium's `RecordEpisodeStatistics` counts it, in the order episodes end.
    public func recordEpisode(length: Int, reward: Double) {
        state.withLock { state in
            guard !state.closed else { return }
            state.stats.recordEpisode(length: length, reward: reward, now: clock)
            queue.pushStatistics(state.stats.takeUpdate(), final: false)
        }
    }

    /// Adds a frame to the filmed episode's video, or marks the video broken (old gym: a
    /// render that returned None, or a frame of another shape).
    private func capture(_ frame: FrameSource?, width: Int, height: Int, into state: inout State) {
        guard var filming = state.filming, !filming.broken else { return }
        defer { state.filming = filming }
        var problem: String?
        if let frame {
            let side = 1...H264VideoWriter.maximumSide
            if !side.contains(width) || !side.contains(height) || frame.count != width * height * 3 {
                problem = "the frame (\(frame.count) bytes) is not \(width)x\(height) RGB24"
            } else if filming.width != 0 && (filming.width != width || filming.height != height) {
                problem =
                    "Your frame has shape (\(height), \(width), 3), but the VideoRecorder is configured "
                    + "for shape (\(filming.height), \(filming.width), 3)."
            }
        } else {
            problem = "no frame was rendered for a filmed episode"
        }
        if let problem {
            filming.broken = true
            queue.push(.breakVideo(reason: problem))
            if frame != nil { frameObserver?.videoFrameDropped() }
            return
        }
        guard let frame else { return }
        filming.width = width
        filming.height = height
        let queued: Bool
        switch frame {
        case .bytes(let bytes):
            queued = queue.pushFrame(copying: bytes, width: width, height: height, episodeID: filming.episodeID)
        case .array(let pixels):
            queued = queue.pushFrame(keeping: pixels, width: width, height: height, episodeID: filming.episodeID)
        }
        if !queued {
            filming.broken = true
            frameObserver?.videoFrameDropped()
        }
    }

    /// A frame as the caller gave it: memory of its own (copied if needed) or an array (kept).
    private enum FrameSource {
        case bytes(UnsafeRawBufferPointer)
        case array([UInt8])

        var count: Int {
            switch self {
            case .bytes(let bytes): bytes.count
            case .array(let pixels): pixels.count
            }
        }
    }

    /// Sets the type written for episodes started from the next reset on (old gym's
    /// `set_monitor_mode`).
    public func setMode(_ mode: EpisodeMode) {
        state.withLock { $0.stats.episodeType = mode.rawValue }
    }

    // MARK: waiting without blocking

    /// Returns once the frame queue is back within its capacity (at once when it is), without
    /// blocking a thread. With `blocksWhenFull` off, call it after each filmed step, holding no
    /// lock: a client that films faster than the encoder keeps up is slowed down here.
    public func waitForFrameRoom() async {
        await queue.waitForRoom()
    }

    /// Whether frames wait beyond the queue's capacity (`waitForFrameRoom` would suspend).
    public var framesOverCapacity: Bool { queue.isOverCapacity }

    /// Frames waiting for this monitor's encoder.
    public var queuedFrames: Int { queue.framesWaiting }

    /// Returns once the stats file on disk holds at least `episodes` episodes, or writing failed,
    /// or the monitor closed. Without blocking a thread.
    public func statisticsWritten(through episodes: Int) async {
        await written.wait(until: episodes)
    }

    // MARK: what has been recorded

    /// The statistics as the recording thread holds them (what the stats file holds or is about
    /// to hold). The thread takes in each episode as it ends, or, when episodes end faster than
    /// files are written, at each write (every 50 ms or more): this may lag the step path by that
    /// much. After `close`, it holds everything.
    public var statistics: EpisodeStatistics {
        statisticsMirror.snapshot()
    }

    /// Episodes saved so far (exact, from the step path).
    public var episodeCount: Int {
        state.withLock { $0.stats.episodeCount }
    }

    public var totalSteps: Int {
        state.withLock { $0.stats.totalSteps }
    }

    /// The id the next episode will have (the number of resets so far).
    public var nextEpisodeID: Int {
        state.withLock { $0.episodeID }
    }

    public var isClosed: Bool {
        state.withLock { $0.closed }
    }

    /// Problems met so far on the recording thread (the most recent ones).
    public var problems: [MonitorError] {
        problemLog.entries
    }

    // MARK: closing

    /// Starts closing without waiting; true if this call did it.
    @discardableResult
    func beginClose() -> Bool {
        let initiated = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.closed = true
            if state.filming != nil {
                queue.push(.endVideo(keepEncoder: false))
                state.filming = nil
            }
            queue.pushStatistics(state.stats.takeUpdate(), final: true)
            queue.push(.stop)
            return true
        }
        if initiated { registry.unregister(monitorID) }
        return initiated
    }

    /// Old gym's `Monitor.close`: finishes the open video (keeping the frames recorded so far),
    /// writes the stats file and the manifest, and stops the recording thread, waiting for all
    /// of it. Safe to call more than once (later calls wait for the same end). Throws if the
    /// final stats file or manifest could not be written.
    public func close() async throws(MonitorError) {
        beginClose()
        if let error = await completion.wait() { throw error }
    }

    /// `close` for a caller that cannot await; blocks the calling thread.
    public func closeAndWait() throws(MonitorError) {
        beginClose()
        if let error = completion.waitBlocking() { throw error }
    }
}

/// Problems reported by a recording thread: kept (the last few) and forwarded to `onProblem`
/// on a queue of their own, so that a handler calling back into the recorder cannot deadlock
/// with a step path that waits for the recording thread.
final class ProblemLog: Sendable {
    private static let kept = 32
    private let stored = Mutex<[MonitorError]>([])
    private let forward: (@Sendable (MonitorError) -> Void)?
    private let delivery = DispatchQueue(label: "gym-monitor.problems")

    init(forward: (@Sendable (MonitorError) -> Void)?) {
        self.forward = forward
    }

    func add(_ problem: MonitorError) {
        stored.withLock { entries in
            if entries.count == Self.kept { entries.removeFirst() }
            entries.append(problem)
        }
        if let forward {
            delivery.async { forward(problem) }
        }
    }

    var entries: [MonitorError] { stored.withLock { $0 } }
}

/// How many episodes the stats file on disk holds, for callers that wait until theirs is there.
final class WrittenEpisodes: Sendable {
    private struct State {
        var count = 0
        /// Episodes whose write was tried and failed: nobody waits for those (no write of them
        /// is coming until another episode ends).
        var failedThrough = 0
        var finished = false
        var waiters: [(episodes: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    /// The stats file now holds `count` episodes.
    func markWritten(_ count: Int) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count = max(state.count, count)
            let ready = state.waiters.filter { $0.episodes <= state.count }.map(\.continuation)
            state.waiters.removeAll { $0.episodes <= state.count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// The monitor stopped: whoever waits now, or later, is told to go on.
    func releaseWaiters(finished: Bool) {
        let all = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.finished = state.finished || finished
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for continuation in all { continuation.resume() }
    }

    /// A write of `count` episodes failed: whoever waits now is told to go on, and so is
    /// whoever comes to wait for those episodes after the failure (a step that ended an episode
    /// may reach its wait after the recording thread has already tried and failed: it would
    /// otherwise wait for a write that only the next episode's end brings).
    func writeFailed(through count: Int) {
        let all = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.failedThrough = max(state.failedThrough, count)
            defer { state.waiters = [] }
            return state.waiters.map(\.continuation)
        }
        for continuation in all { continuation.resume() }
    }

    func wait(until episodes: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.finished || state.count >= episodes || state.failedThrough >= episodes { return true }
                state.waiters.append((episodes, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
