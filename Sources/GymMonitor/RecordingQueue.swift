import Foundation

/// Memory for one RGB24 frame, reused from frame to frame. It has one owner at a time: the
/// step path while copying into it, then the recording thread until it gives it back through
/// `RecordingQueue.recycle`; the queue's lock orders those hand-overs.
final class FrameBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(byteCount: Int) {
        bytes = .allocate(byteCount: byteCount, alignment: 64)
    }

    deinit {
        bytes.deallocate()
    }
}

/// An RGB24 frame copied out of the caller's buffer, travelling to the recording thread.
struct QueuedFrame: Sendable {
    let buffer: FrameBuffer
    let width: Int
    let height: Int

    var pixels: UnsafeRawBufferPointer { UnsafeRawBufferPointer(buffer.bytes) }
}

/// Work for a monitor's recording thread, in the order the step path produced it.
enum RecordingJob: Sendable {
    /// The episode `episodeID` is filmed from now on.
    case beginVideo(episodeID: Int)
    case frame(QueuedFrame)
    /// The caller could not provide a frame (old gym: render returned None): the video is broken.
    case breakVideo(reason: String)
    /// The filmed episode ended (or the monitor closed): finish and list the video.
    case endVideo
    /// Take the statistics that arrived (`RecordingQueue.pushStatistics`), then write the stats
    /// file and the manifest. `final` marks the write at close. At most one non-final write
    /// waits in the queue: later statistics join it.
    case writeFiles(final: Bool)
    /// Leave the thread.
    case stop
}

/// The bounded hand-off between the step path and a monitor's recording thread.
///
/// Only frames count against `frameCapacity` (control jobs are small and never wait): a frame
/// occupies a slot from `pushFrame` until the recording thread has converted it and given its
/// buffer back, so memory stays at `frameCapacity` frames and buffers are reused rather than
/// allocated per step. `pushFrame` waits only when every slot is taken.
final class RecordingQueue: @unchecked Sendable {
    // Everything below is guarded by `condition` (an NSCondition owns its mutex). The recording
    // thread waits on it for jobs and the step path for free slots, so changes are broadcast.
    private let condition = NSCondition()
    private var jobs: [RecordingJob] = []
    private var head = 0
    private var framesOutstanding = 0
    private var spareBuffers: [FrameBuffer] = []
    /// Statistics not yet taken by the recording thread, and whether a write for them is queued.
    private var pendingStatistics = StatisticsUpdate()
    private var writeQueued = false
    private var brokenEpisode: Int?
    private var waitingForSlot = false
    /// How the recording thread is waiting, so that the step path wakes it only when needed:
    /// a statistics update does not wake a thread that has already scheduled its next write.
    private var recorderWait = RecorderWait.busy

    private enum RecorderWait {
        case busy
        case untilJob
        case untilDeadline
    }

    let frameCapacity: Int

    init(frameCapacity: Int) {
        self.frameCapacity = max(1, frameCapacity)
    }

    // MARK: step path

    func push(_ job: RecordingJob) {
        condition.lock()
        jobs.append(job)
        if recorderWait != .busy {
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Hands statistics over and asks for the files to be written. They join a write already
    /// waiting (so a busy recording thread faces one write, not one per episode); a `final`
    /// write is always queued, after everything pushed before it.
    func pushStatistics(_ update: StatisticsUpdate, final: Bool) {
        condition.lock()
        pendingStatistics.merge(update)
        if final || !writeQueued {
            jobs.append(.writeFiles(final: final))
            writeQueued = writeQueued || !final
        }
        if recorderWait == .untilJob || (recorderWait == .untilDeadline && final) {
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Copies `bytes` into a pooled buffer and queues it, waiting while the queue is full.
    /// Returns false (and queues nothing) if the recording thread has given up on the video of
    /// `episodeID`, so the caller can stop rendering frames for it.
    func pushFrame(copying bytes: UnsafeRawBufferPointer, width: Int, height: Int, episodeID: Int) -> Bool {
        condition.lock()
        while framesOutstanding >= frameCapacity && brokenEpisode != episodeID {
            waitingForSlot = true
            condition.wait()
        }
        if brokenEpisode == episodeID {
            condition.unlock()
            return false
        }
        framesOutstanding += 1
        let spare = spareBuffers.popLast()
        condition.unlock()

        let frameBuffer =
            spare.flatMap { $0.bytes.count == bytes.count ? $0 : nil } ?? FrameBuffer(byteCount: bytes.count)
        if let source = bytes.baseAddress, let target = frameBuffer.bytes.baseAddress {
            target.copyMemory(from: source, byteCount: bytes.count)
        }

        condition.lock()
        jobs.append(.frame(QueuedFrame(buffer: frameBuffer, width: width, height: height)))
        if recorderWait != .busy {
            condition.broadcast()
        }
        condition.unlock()
        return true
    }

    // MARK: recording thread

    /// The next job, waiting for one, or nil if `deadline` (a `MonitorClock.perfCounter()`
    /// time) passes first; while waiting for a deadline, statistics do not wake the thread.
    /// A `.writeFiles` job comes with the statistics that arrived since the previous one.
    func pop(deadline: Double? = nil) -> (job: RecordingJob, statistics: StatisticsUpdate?)? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count {
            if let deadline {
                let remaining = deadline - MonitorClock.perfCounter()
                if remaining <= 0 { return nil }
                recorderWait = .untilDeadline
                _ = condition.wait(until: Date(timeIntervalSinceNow: remaining))
            } else {
                recorderWait = .untilJob
                condition.wait()
            }
            recorderWait = .busy
        }
        let job = jobs[head]
        jobs[head] = .stop  // drop the reference to the frame's pixels now
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 1024 && head * 2 >= jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        guard case .writeFiles(let final) = job else { return (job, nil) }
        let statistics = pendingStatistics
        pendingStatistics = StatisticsUpdate()
        if !final { writeQueued = false }
        return (job, statistics)
    }

    /// Gives a frame's slot (and its buffer, for reuse) back.
    func recycle(_ buffer: FrameBuffer) {
        condition.lock()
        framesOutstanding -= 1
        if spareBuffers.count < frameCapacity {
            spareBuffers.append(buffer)
        }
        if waitingForSlot {
            waitingForSlot = false
            condition.broadcast()
        }
        condition.unlock()
    }

    /// The video of `episodeID` failed: frames for it are refused from now on.
    func markBroken(episodeID: Int) {
        condition.lock()
        brokenEpisode = episodeID
        condition.broadcast()
        condition.unlock()
    }

    /// Frees the pooled buffers (between videos, so an idle monitor holds no frame memory).
    func releaseSpareBuffers() {
        condition.lock()
        spareBuffers.removeAll()
        condition.unlock()
    }
}
