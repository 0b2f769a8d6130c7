import CGymSystem
import Foundation
import Synchronization

/// What a monitor's recording thread needs to know, fixed at `start`.
struct RecordingContext: Sendable {
    let directory: URL
    let names: MonitorFileNames
    let envInfo: PythonJSON
    let framesPerSecond: Double
    let encoding: VideoEncodingSettings
    let report: @Sendable (MonitorError) -> Void
    /// The statistics' lists, kept up to date by the recording thread.
    let statistics: StatisticsMirror
    /// Told how many episodes each successful write put on disk.
    let written: WrittenEpisodes
    /// Write at every episode end rather than batching writes.
    let writesEveryEpisode: Bool
    /// Told of every frame encoded or dropped.
    let frames: (any VideoFrameObserver)?
    /// The directory's lock, let go once the final files are written.
    let lock: DirectoryLock
}

/// Signals the end of a recording thread to any number of waiters, async or blocking.
final class CompletionSignal: Sendable {
    private struct State {
        var finished = false
        var error: MonitorError?
        var waiters: [@Sendable () -> Void] = []
    }

    private let state = Mutex(State())

    func complete(error: MonitorError?) {
        let waiters = state.withLock { state -> [@Sendable () -> Void] in
            state.finished = true
            state.error = error
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter() }
    }

    /// Runs `waiter` once the thread has finished (at once if it has).
    private func whenFinished(_ waiter: @escaping @Sendable () -> Void) {
        let finished = state.withLock { state -> Bool in
            if !state.finished { state.waiters.append(waiter) }
            return state.finished
        }
        if finished { waiter() }
    }

    private var error: MonitorError? { state.withLock { $0.error } }

    func wait() async -> MonitorError? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            whenFinished { continuation.resume() }
        }
        return error
    }

    func waitBlocking() -> MonitorError? {
        let semaphore = DispatchSemaphore(value: 0)
        whenFinished { semaphore.signal() }
        semaphore.wait()
        return error
    }
}

/// The body of a monitor's recording thread: encodes the filmed episodes' frames, finishes
/// videos (temporary file, then rename), writes their metadata, the stats file and the
/// manifest. It owns all of its state; the step path talks to it only through the queue.
final class RecordingLoop {
    /// A video being encoded, old gym's `VideoRecorder`.
    private struct Video {
        let episodeID: Int
        var writer: H264VideoWriter?
        var broken = false
        var encoderStarted = false
    }

    private let context: RecordingContext
    private let queue: RecordingQueue
    private let completion: CompletionSignal
    /// (video, metadata) basenames of finished videos, for the manifest.
    private var videos: [(String, String)] = []
    private var current: Video?
    /// The encoder of the last video, kept for the next one (`.endVideo(keepEncoder: true)`).
    private var spareEncoder: H264Encoder?
    private var finalError: MonitorError?
    /// The last failure to write the stats file or manifest, reported once until a write works.
    private var lastWriteProblem: MonitorError?
    /// Statistics changed since the files were last written.
    private var unwritten = false
    /// Earliest `MonitorClock.perfCounter()` of the next write at an episode end: at most one write per
    /// `minimumWriteInterval`, and writing may take at most a tenth of the thread's time, so a
    /// run of many short episodes neither wakes this thread at every episode nor spends a core
    /// rewriting a large stats file. An episode's end reaches the files within that interval.
    private var nextWriteTime = 0.0
    static let writeDutyCycle = 0.1
    static let minimumWriteInterval = 0.05

    /// Starts the thread that runs the loop.
    static func startThread(context: RecordingContext, queue: RecordingQueue, completion: CompletionSignal) {
        let name = "gym-monitor-\(context.names.monitorID)"
        let thread = Thread {
            // Named from inside: on Linux a name set before `start` does not reach the system
            // thread (/proc, top, perf), which takes at most 15 characters.
            Thread.current.name = String(name.prefix(15))
            // Encoding yields to request handling: when the cores are busy, a step waits less
            // and a video takes longer (its queue holds the frames meanwhile). x264's own
            // threads, started from here, inherit the priority.
            gym_lower_thread_priority(RecordingLoop.niceness)
            RecordingLoop(context: context, queue: queue, completion: completion).run()
        }
        thread.name = name
        thread.start()
    }

    /// How much lower than request handling the recording threads run (a `nice` increment).
    static let niceness: Int32 = 10

    private init(context: RecordingContext, queue: RecordingQueue, completion: CompletionSignal) {
        self.context = context
        self.queue = queue
        self.completion = completion
    }

    private func run() {
        while true {
            if unwritten && MonitorClock.perfCounter() >= nextWriteTime {
                writeFiles(final: false)  // a deferred write is due
            }
            guard let (job, arrived) = queue.pop(deadline: unwritten ? nextWriteTime : nil) else {
                continue  // the deferred write is due
            }
            switch job {
            case .beginVideo(let episodeID):
                if current != nil { endVideo(keepEncoder: true) }
                current = Video(episodeID: episodeID)
            case .frame(let frame):
                encode(frame)
            case .breakVideo(let reason):
                breakVideo(reason: reason)
            case .endVideo(let keepEncoder):
                endVideo(keepEncoder: keepEncoder)
            case .writeFiles(let final):
                if let arrived { context.statistics.apply(arrived) }
                unwritten = true
                if final || context.writesEveryEpisode || MonitorClock.perfCounter() >= nextWriteTime {
                    writeFiles(final: final)
                }
            case .stop:
                if current != nil { endVideo(keepEncoder: false) }
                spareEncoder = nil
                queue.markStopped()
                context.lock.release()
                context.written.releaseWaiters(finished: true)
                completion.complete(error: finalError)
                return
            }
        }
    }

    // MARK: videos

    private func encode(_ frame: QueuedFrame) {
        var holdsSlot = true
        defer { if holdsSlot { queue.recycle(frame) } }
        guard var video = current, !video.broken else {
            context.frames?.videoFrameDropped()
            return
        }
        do throws(VideoEncodingError) {
            if video.writer == nil {
                video.encoderStarted = true
                current = video
                let path = temporaryVideoPath(video.episodeID)
                let spare = spareEncoder
                spareEncoder = nil
                if let spare, spare.width == frame.width, spare.height == frame.height {
                    video.writer = try H264VideoWriter(path: path, continuing: spare)
                } else {
                    video.writer = try H264VideoWriter(
                        path: path, width: frame.width, height: frame.height,
                        framesPerSecond: context.framesPerSecond, settings: context.encoding)
                }
                current = video
            }
            guard let writer = video.writer else { return }
            guard writer.width == frame.width, writer.height == frame.height else {
                throw .invalidFrame(
                    "Your frame has shape (\(frame.height), \(frame.width), 3), but the VideoRecorder is "
                        + "configured for shape (\(writer.height), \(writer.width), 3).")
            }
            var failure: VideoEncodingError?
            frame.withPixels { pixels in
                do throws(VideoEncodingError) {
                    try writer.stage(rgb: pixels)
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            // The frame is in the encoder's own picture now: its slot is free for the step path.
            holdsSlot = false
            queue.recycle(frame)
            try writer.encodeStaged()
            context.frames?.videoFrameEncoded()
        } catch {
            breakVideo(reason: error.message)
            context.frames?.videoFrameDropped()
        }
    }

    /// The video is dropped: old gym's `broken` recorder (file removed, metadata says so).
    private func breakVideo(reason: String) {
        guard var video = current, !video.broken else { return }
        video.broken = true
        video.writer?.abandon()
        video.writer = nil
        current = video
        queue.markBroken(episodeID: video.episodeID)
        context.report(.videoEncoding(episodeID: video.episodeID, reason: reason))
    }

    /// `VideoRecorder.close` followed by `Monitor._close_video_recorder`. With `keepEncoder`
    /// (the next episode is filmed too), the encoder and the queue's frame buffers are kept for
    /// the next video; otherwise they are freed, so that an idle monitor holds no frame memory.
    private func endVideo(keepEncoder: Bool) {
        guard var video = current else { return }
        current = nil
        defer {
            if !keepEncoder {
                spareEncoder = nil
                queue.releaseSpareBuffers()
            }
        }
        let videoName = context.names.video(episodeID: video.episodeID)
        let metadataName = context.names.videoMetadata(episodeID: video.episodeID)
        var metadata: [(String, PythonJSON)] = [
            ("episode_id", .int(video.episodeID)),
            ("content_type", .string("video/mp4")),
        ]
        if let writer = video.writer, !video.broken {
            do throws(VideoEncodingError) {
                if keepEncoder {
                    spareEncoder = try writer.finishKeepingEncoder()
                } else {
                    try writer.finish()
                }
            } catch {
                video.broken = true
                writer.abandon()
                context.report(.videoEncoding(episodeID: video.episodeID, reason: error.message))
            }
        }
        if video.writer != nil, !video.broken {
            do throws(MonitorError) {
                try MonitorDirectory.rename(
                    temporaryVideoPath(video.episodeID),
                    to: context.directory.appendingPathComponent(videoName).path, name: videoName)
            } catch {
                video.broken = true
                context.report(error)
            }
        }
        if video.encoderStarted {
            metadata.append(("encoder_version", encoderVersion(video.writer)))
        } else {
            metadata.append(("empty", .bool(true)))
        }
        if video.broken {
            metadata.append(("broken", .bool(true)))
        }
        do {
            try MonitorDirectory.writeAtomically(
                PythonJSON.object(metadata).serialized(), named: metadataName, in: context.directory)
        } catch {
            context.report(error)
        }
        if !video.broken {
            videos.append((videoName, metadataName))
        }
    }

    private func temporaryVideoPath(_ episodeID: Int) -> String {
        context.directory.appendingPathComponent(
            MonitorFileNames.temporary(for: context.names.video(episodeID: episodeID))
        ).path
    }

    /// The equivalent of 0.21's `ImageEncoder.version_info` for an in-process libavcodec encoder.
    private func encoderVersion(_ writer: H264VideoWriter?) -> PythonJSON {
        let settings = context.encoding
        var options: [(String, PythonJSON)] = [
            ("preset", .string(settings.preset)),
            ("threads", .int(settings.threads)),
        ]
        if let crf = settings.constantRateFactor {
            options.append(("crf", .int(crf)))
        } else if let quantizer = settings.quantizer {
            options.append(("qp", .int(quantizer)))
        }
        if let tune = settings.tune { options.append(("tune", .string(tune))) }
        if let parameters = settings.x264Parameters { options.append(("x264_params", .string(parameters))) }
        options += [
            ("input_pix_fmt", .string("rgb24")),
            ("pix_fmt", .string("yuv420p")),
            ("frame_rate", .double(context.framesPerSecond)),
            ("container", .string("mp4")),
            ("movflags", .string("+faststart")),
        ]
        if let writer {
            options += [
                ("input_size", .string("\(writer.width)x\(writer.height)")),
                ("size", .string("\(writer.encodedWidth)x\(writer.encodedHeight)")),
            ]
        }
        return .object([
            ("backend", .string("libavcodec")),
            ("version", .string(H264VideoWriter.libraryVersions)),
            ("encoder", .string(settings.encoder)),
            ("encoder_build", writer?.encoderIdentification.map(PythonJSON.string) ?? .null),
            ("options", .object(options)),
        ])
    }

    // MARK: statistics and manifest

    private func writeFiles(final: Bool) {
        let start = MonitorClock.perfCounter()
        defer {
            unwritten = false
            let end = MonitorClock.perfCounter()
            nextWriteTime =
                end + max(Self.minimumWriteInterval, (end - start) * (1 - Self.writeDutyCycle) / Self.writeDutyCycle)
        }
        let statistics = context.statistics.snapshot()
        do throws(MonitorError) {
            try MonitorDirectory.writeAtomically(
                statistics.statsFileText(), named: context.names.stats, in: context.directory)
            let manifest = PythonJSON.object([
                ("stats", .string(context.names.stats)),
                ("videos", .array(videos.map { .array([.string($0.0), .string($0.1)]) })),
                ("env_info", context.envInfo),
            ])
            try MonitorDirectory.writeAtomically(
                manifest.serialized(), named: context.names.manifest, in: context.directory)
            lastWriteProblem = nil
            context.written.markWritten(statistics.episodeLengths.count)
        } catch {
            if error != lastWriteProblem { context.report(error) }
            lastWriteProblem = error
            if final { finalError = error }
            context.written.writeFailed(through: statistics.episodeLengths.count)
        }
    }
}
