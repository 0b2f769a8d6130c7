import Foundation
import GymCore
import NIOCore
import NIOPosix
import Synchronization

/// A bridged instance's step made from the event loop that read the request (`StepFastPath`,
/// `GymieFastPath`): the loop writes the requests to the workers, watches the workers' answer
/// pipes as it watches sockets, and finishes the step when every answer is in. No thread is
/// woken between the request and the answer but the workers themselves: on the worker queue the
/// same step wakes a queue thread to write and wait, and the loop again to answer, which on a
/// small VM costs as much as a worker's own round trip.
///
/// A plain instance's step, and a vector's whose step is one round of calls (not SAME_STEP
/// autoreset: its resets would be a second), every worker of it up.
///
/// The step is the queue's in every other respect: the same state copy (`stageOneOnCopy`), the
/// same stage 1, the same answer or error. Anything out of the ordinary goes to a thread that
/// may block, which finishes the step as the queue would have: a request that cannot be written
/// at once, a worker that closed its pipe (died), answers later than `--worker-timeout` (the
/// finish then stops the worker with the usual message).
///
/// `WorkerQueueGate` keeps these steps and the worker queue apart: a step is made from the
/// loop only when nothing waits on the queue, and what is queued meanwhile waits for it.
extension EnvironmentInstance {
    /// Starts the step from `loop`; false (nothing done) if it must go the queue's way.
    func stepOnEventLoop(
        _ action: JSON, _ loop: any EventLoop, _ completion: @escaping @Sendable (Result<Answer, GymError>?) -> Void
    ) -> Bool {
        guard gate.claim() else { return false }
        var local = state.withLock { $0 }
        let half: StartedHalf
        let watchers: [AnswerWatcher]
        do throws(GymError) {
            guard !local.closed, local.recording == nil else { return gate.releasing(false) }
            switch local.core {
            case .single(var env):
                guard let watch = env.answerWatch, let ready = self.watchers(for: [watch], on: loop) else { return gate.releasing(false) }
                try env.startStep(json: action)
                local.core = .single(env)
                (half, watchers) = (.single, ready)
            case .vector(var vector):
                guard vector.stepsInHalves, let watches = vector.answerWatches, watches.allSatisfy(\.isAvailable),
                    let ready = self.watchers(for: watches, on: loop)
                else { return gate.releasing(false) }
                let started = try vector.startStep(try unbatchedActions(action, count: vector.count))
                local.core = .vector(vector)
                (half, watchers) = (.vector(started), ready)
            case .taken:
                return gate.releasing(false)
            }
        } catch {
            // Refused before anything went to a worker: nothing changed.
            gate.release()
            completion(.failure(error))
            return true
        }
        stepsOnEventLoop.add(1, ordering: .relaxed)
        let step = ClaimedStep(instance: self, local: local, half: half, completion: completion)
        // Every worker's requests written, or (one cannot be written at once) the finishes send
        // what is left.
        var sent = true
        for watcher in watchers where !watcher.watch.sendStartedWithoutWaiting() { sent = false }
        guard sent else {
            step.finishBlocking()
            return true
        }
        step.wait(on: watchers, loop: loop)
        return true
    }

    /// The watchers of `watches` on `loop`: the current ones, or nil while new ones are made
    /// (for the next step) or if there can be none.
    private func watchers(for watches: [any AnswerWatch], on loop: any EventLoop) -> [AnswerWatcher]? {
        let (current, stale) = answerWatchers.withLock { (held) -> ([AnswerWatcher]?, [AnswerWatcher]) in
            if held.count == watches.count, zip(held, watches).allSatisfy({ $0.watch === $1 && $0.loop === loop }) {
                return (held.allSatisfy(\.isReady) ? held : nil, [])
            }
            let stale = held
            held = []
            for watch in watches {
                guard let fd = watch.openWatchDescriptor() else { break }
                held.append(AnswerWatcher(watch: watch, loop: loop, descriptor: fd))
            }
            if held.count < watches.count {
                // (One cannot be watched: none is.)
                for watcher in held { watcher.stop() }
                held = []
            }
            return (nil, stale)
        }
        for watcher in stale { watcher.stop() }
        return current
    }

    /// Closes the watchers, if there are any (the instance closes).
    func stopWatchingAnswers() {
        let held = answerWatchers.withLock { held in
            defer { held = [] }
            return held
        }
        for watcher in held { watcher.stop() }
    }
}

/// A step made from an event loop, between its start and its answers: the claim on the gate,
/// the state copy it changes, the watchers it waits on and who waits for the answer.
final class ClaimedStep: @unchecked Sendable {
    // @unchecked: `local` is used by one thread at a time, the loop's or (after a hand-over) a
    // blocking one's, the gate's lock ordering the two; the waiting state is the loop's.
    private let instance: EnvironmentInstance
    private var local: EnvironmentInstance.State
    private let half: EnvironmentInstance.StartedHalf
    private let completion: @Sendable (Result<Answer, GymError>?) -> Void
    private var watchers: [AnswerWatcher] = []
    private var unanswered = 0
    private var expiry: Scheduled<Void>?
    private var settled = false

    init(
        instance: EnvironmentInstance, local: EnvironmentInstance.State, half: EnvironmentInstance.StartedHalf,
        completion: @escaping @Sendable (Result<Answer, GymError>?) -> Void
    ) {
        self.instance = instance
        self.local = local
        self.half = half
        self.completion = completion
    }

    /// Waits (on `loop`) for every watcher's answers, then finishes here; hands the step to a
    /// blocking thread if a pipe closes or the call's time runs out.
    func wait(on watchers: [AnswerWatcher], loop: any EventLoop) {
        self.watchers = watchers
        let waiting = watchers.filter { !$0.watch.answersReady }
        guard !waiting.isEmpty else { return finish() }
        unanswered = waiting.count
        let timeout = watchers.map(\.watch.callTimeout).max() ?? 30
        expiry = loop.scheduleTask(in: .nanoseconds(Int64(min(timeout, 1e6) * 1e9) + 10_000_000)) { [self] in
            handOver()
        }
        for watcher in waiting where !watcher.wait(for: self) {
            return handOver()
        }
    }

    /// One watcher's answers are in (on the loop).
    func answered() {
        guard !settled else { return }
        unanswered -= 1
        guard unanswered == 0 else { return }
        settled = true
        expiry?.cancel()
        finish()
    }

    /// The step goes to a blocking thread once every watcher's channel is closed, so that the
    /// loop reads nothing more of the pipes meanwhile (the next step makes new ones).
    func handOver() {
        guard !settled else { return }
        settled = true
        expiry?.cancel()
        let closed = watchers.map { $0.detachAndStop() }
        guard let loop = closed.first?.eventLoop else { return finishBlocking() }
        EventLoopFuture.andAllComplete(closed, on: loop).whenComplete { [self] _ in finishBlocking() }
    }

    /// Finishes the step here: its answers are in (nothing blocks), or this thread may block.
    func finish() {
        let result = instance.finishStepOnCopy(&local, half)
        instance.gate.release()
        completion(result)
    }

    /// Finishes the step on a thread that may block (not the worker queue, where calls may
    /// wait for this very step).
    func finishBlocking() {
        DispatchQueue.global().async { self.finish() }
    }
}

/// Watches one worker's answer pipe from one event loop: a pipe channel over a second
/// descriptor of that pipe (`AnswerWatch.openWatchDescriptor`), reading only while a step
/// waits for an answer and delivering what it reads to the worker's buffer.
final class AnswerWatcher: @unchecked Sendable {
    // @unchecked: `channel` is under its lock; the handler's state is the loop's.
    let watch: any AnswerWatch
    let loop: any EventLoop
    private let handler: AnswerWatchHandler
    private let channel = Mutex<(channel: (any Channel)?, stopped: Bool)>((nil, false))

    init(watch: any AnswerWatch, loop: any EventLoop, descriptor: Int32) {
        self.watch = watch
        self.loop = loop
        let handler = AnswerWatchHandler(watch: watch)
        self.handler = handler
        NIOPipeBootstrap(group: loop)
            .channelOption(.autoRead, value: false)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
            }
            .takingOwnershipOfDescriptor(input: descriptor)
            .whenComplete { [self] result in
                switch result {
                case .success(let made):
                    let stopped = channel.withLock { (state) -> Bool in
                        if !state.stopped { state.channel = made }
                        return state.stopped
                    }
                    if stopped { made.close(promise: nil) }
                case .failure:
                    close(descriptor)  // (still ours when the bootstrap fails)
                }
            }
    }

    /// Whether the channel is up: steps can wait on it.
    var isReady: Bool { channel.withLock { $0.channel?.isActive ?? false } }

    /// Reads (on the loop) until `step`'s answers from this worker are in, then tells it; false
    /// if the channel is gone.
    func wait(for step: ClaimedStep) -> Bool {
        guard let channel = channel.withLock({ $0.channel }), channel.isActive else { return false }
        handler.waiting = step
        channel.read()
        return true
    }

    /// No step is waited for here any more, and the channel closes: done when it is closed.
    func detachAndStop() -> EventLoopFuture<Void> {
        handler.waiting = nil
        return stopping()?.close() ?? loop.makeSucceededVoidFuture()
    }

    /// Closes the channel (and so the second descriptor).
    func stop() {
        stopping()?.close(promise: nil)
    }

    /// The channel, marked stopped (one made later is closed at once), to close.
    private func stopping() -> (any Channel)? {
        channel.withLock { (state) -> (any Channel)? in
            state.stopped = true
            return state.channel
        }
    }
}

/// The handler of an `AnswerWatcher`'s channel, on its loop.
final class AnswerWatchHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: touched on the channel's loop only.
    typealias InboundIn = ByteBuffer
    private let watch: any AnswerWatch
    var waiting: ClaimedStep?

    init(watch: any AnswerWatch) {
        self.watch = watch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { watch.deliver($0) }
    }

    /// The end of a read: the step is told if this worker's answers are in (here, where the
    /// channel reads no more until asked, so that nothing is read once the gate is open to
    /// others), else the channel reads on.
    func channelReadComplete(context: ChannelHandlerContext) {
        guard let step = waiting else { return }
        guard watch.answersReady else { return context.read() }
        waiting = nil
        step.answered()
    }

    /// The worker closed its end (it died), or the channel was closed: the step waiting, if
    /// any, goes to a blocking thread, whose finish says what happened (no more is read here).
    func channelInactive(context: ChannelHandlerContext) {
        guard let step = waiting else { return }
        waiting = nil
        step.handOver()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Keeps a bridged instance's worker queue and its steps made from an event loop apart: a step
/// claims the gate only when nothing is queued, and a queued call waits while a step holds it.
/// The lock is held for a few instructions, never while anything waits on a worker.
final class WorkerQueueGate: @unchecked Sendable {
    // @unchecked: every field under `condition`.
    private let condition = NSCondition()
    private var queued = 0
    private var claimed = false

    /// A call was queued.
    func enqueued() {
        condition.lock()
        queued += 1
        condition.unlock()
    }

    /// A queued call starts: after the step that holds the gate, if one does.
    func enter() {
        condition.lock()
        while claimed { condition.wait() }
        condition.unlock()
    }

    /// A queued call ended.
    func left() {
        condition.lock()
        queued -= 1
        condition.unlock()
    }

    /// A step from an event loop takes the gate, if nothing is queued and no step holds it.
    func claim() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard queued == 0, !claimed else { return false }
        claimed = true
        return true
    }

    /// The step that held the gate ended.
    func release() {
        condition.lock()
        claimed = false
        condition.broadcast()
        condition.unlock()
    }

    /// `release`, then `value`.
    func releasing<T>(_ value: T) -> T {
        release()
        return value
    }
}
