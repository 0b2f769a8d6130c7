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

/// An RGB24 frame travelling to the recording thread: copied out of the caller's memory into
/// a pooled buffer, or an array of the caller's kept as it is (arrays are values: the caller
/// cannot change what the recorder holds, and no copy is made unless the caller writes to its
/// array while the recorder still holds it).
struct QueuedFrame: Sendable {
    enum Storage: Sendable {
        case pooled(FrameBuffer)
        case array([UInt8])
    }

    let storage: Storage
    let width: Int
    let height: Int

    /// Runs `body` over the frame's bytes.
    func withPixels(_ body: (UnsafeRawBufferPointer) -> Void) {
        switch storage {
        case .pooled(let buffer): body(UnsafeRawBufferPointer(buffer.bytes))
        case .array(let pixels): pixels.withUnsafeBytes(body)
        }
    }
}

/// Work for a monitor's recording thread, in the order the step path produced it.
enum RecordingJob: Sendable {
    /// The episode `episodeID` is filmed from now on.
    case beginVideo(episodeID: Int)
    case frame(QueuedFrame)
    /// The caller could not provide a frame (old gym: render returned None): the video is broken.
    case breakVideo(reason: String)
    /// The filmed episode ended (or the monitor closed): finish and list the video.
    /// `keepEncoder`: the next episode is filmed too, so the encoder and the frame buffers are
    /// kept for its video rather than freed.
    case endVideo(keepEncoder: Bool)
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
///
/// Wake-ups come in batches: an idle recording thread is woken once `wakeBatch` frames wait
/// (or at once for any other job: the end of a video, statistics, close), and a step path
/// waiting for a slot once `wakeBatch` slots are free. A thread that wakes for a few frames
/// in a row, rather than one, spends markedly less CPU per frame (its caches and the encoder's
/// stay warm), and neither side sleeps and wakes at every frame. Frames never wait for long:
/// an episode's last frame is followed by the end of its video.
final class RecordingQueue: @unchecked Sendable {
    // Everything below is guarded by `condition` (an NSCondition owns its mutex). The recording
    // thread waits on it for jobs and the step path for free slots, so changes are broadcast.
    private let condition = NSCondition()
    private var jobs: [RecordingJob] = []
    private var head = 0
    private var framesOutstanding = 0
    /// Frames in `jobs` not yet taken by the recording thread.
    private var framesQueued = 0
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

    /// Tasks waiting for room (`waitForRoom`), resumed when frames drop to the capacity.
    private var roomWaiters: [CheckedContinuation<Void, Never>] = []
    /// The recording thread has left: nobody will make room any more.
    private var stopped = false

    let frameCapacity: Int
    /// Frames (or free slots) that wake a waiting recording thread (or step path): 4 with the
    /// default 16 slots, 1 (every frame) for queues of fewer than 8.
    let wakeBatch: Int
    /// Whether `pushFrame` blocks its caller while the queue is full (else `waitForRoom`).
    let waitsForRoom: Bool

    init(frameCapacity: Int, waitsForRoom: Bool = true) {
        self.frameCapacity = max(1, frameCapacity)
        self.wakeBatch = max(1, min(4, self.frameCapacity / 4))
        self.waitsForRoom = waitsForRoom
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
        let slot = takeSlot(episodeID: episodeID, wantsBuffer: true)
        guard slot.granted else { return false }
        let frameBuffer =
            slot.spare.flatMap { $0.bytes.count == bytes.count ? $0 : nil } ?? FrameBuffer(byteCount: bytes.count)
        if let source = bytes.baseAddress, let target = frameBuffer.bytes.baseAddress {
            target.copyMemory(from: source, byteCount: bytes.count)
        }
        append(QueuedFrame(storage: .pooled(frameBuffer), width: width, height: height))
        return true
    }

    /// Queues `pixels` without copying them, waiting while the queue is full. Returns false as
    /// `pushFrame(copying:)` does.
    func pushFrame(keeping pixels: [UInt8], width: Int, height: Int, episodeID: Int) -> Bool {
        guard takeSlot(episodeID: episodeID, wantsBuffer: false).granted else { return false }
        append(QueuedFrame(storage: .array(pixels), width: width, height: height))
        return true
    }

    /// Takes a slot, with a pooled buffer if wanted and there is one; not granted if the video
    /// of `episodeID` is broken. With `waitsForRoom`, waits while every slot is taken; without,
    /// takes one beyond the capacity (the caller waits afterwards with `waitForRoom`, holding no
    /// lock).
    private func takeSlot(episodeID: Int, wantsBuffer: Bool) -> (granted: Bool, spare: FrameBuffer?) {
        condition.lock()
        defer { condition.unlock() }
        while waitsForRoom && framesOutstanding >= frameCapacity && brokenEpisode != episodeID {
            waitingForSlot = true
            condition.wait()
        }
        if brokenEpisode == episodeID { return (false, nil) }
        framesOutstanding += 1
        return (true, wantsBuffer ? spareBuffers.popLast() : nil)
    }

    /// Frames handed over and not yet taken into the encoder (the queue's depth).
    var framesWaiting: Int {
        condition.lock()
        defer { condition.unlock() }
        return framesOutstanding
    }

    /// Whether frames wait in the queue beyond its capacity (pushed by a caller that does not
    /// wait for room).
    var isOverCapacity: Bool {
        condition.lock()
        defer { condition.unlock() }
        return framesOutstanding > frameCapacity
    }

    /// Returns once the queue holds at most `frameCapacity` frames (at once when it does), or the
    /// video is broken or the monitor closed; suspends the calling task without blocking a thread.
    func waitForRoom() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if framesOutstanding <= frameCapacity || stopped {
                condition.unlock()
                continuation.resume()
                return
            }
            roomWaiters.append(continuation)
            condition.unlock()
        }
    }

    /// Resumes the tasks waiting for room if there is room (call with the condition's lock held;
    /// resumes after unlocking through the returned list).
    private func takeRoomWaiters(force: Bool = false) -> [CheckedContinuation<Void, Never>] {
        guard !roomWaiters.isEmpty, force || framesOutstanding <= frameCapacity else { return [] }
        defer { roomWaiters = [] }
        return roomWaiters
    }

    private func append(_ frame: QueuedFrame) {
        condition.lock()
        jobs.append(.frame(frame))
        framesQueued += 1
        // A waiting recording thread has an empty queue: wake it when a batch has gathered.
        // (A step path that waits for a slot has pushed at least `frameCapacity - 1 >= wakeBatch`
        // frames, so it never waits on frames that wait for it.)
        if recorderWait != .busy && framesQueued >= wakeBatch {
            condition.broadcast()
        }
        condition.unlock()
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
        if case .frame = job { framesQueued -= 1 }
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

    /// Gives a frame's slot (and its pooled buffer, for reuse) back.
    func recycle(_ frame: QueuedFrame) {
        condition.lock()
        framesOutstanding -= 1
        if case .pooled(let buffer) = frame.storage, spareBuffers.count < frameCapacity {
            spareBuffers.append(buffer)
        }
        if waitingForSlot && framesOutstanding <= frameCapacity - wakeBatch {
            waitingForSlot = false
            condition.broadcast()
        }
        let waiters = takeRoomWaiters()
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// The video of `episodeID` failed: frames for it are refused from now on.
    func markBroken(episodeID: Int) {
        condition.lock()
        brokenEpisode = episodeID
        condition.broadcast()
        condition.unlock()
    }

    /// The recording thread has stopped: nobody waits for room any more.
    func markStopped() {
        condition.lock()
        stopped = true
        condition.broadcast()
        let waiters = takeRoomWaiters(force: true)
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    /// Frees the pooled buffers (between videos, so an idle monitor holds no frame memory).
    func releaseSpareBuffers() {
        condition.lock()
        spareBuffers.removeAll()
        condition.unlock()
    }
}
