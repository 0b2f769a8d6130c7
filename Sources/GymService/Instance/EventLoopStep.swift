import Foundation
import GymCore
import NIOCore
import NIOPosix
import Synchronization

/// A plain bridged instance's step made from the event loop that read the request
/// (`StepFastPath`): the loop writes the request to the worker, watches the worker's answer pipe
/// as it watches sockets, and finishes the step when the answer is in. No thread is woken
/// between the request and the answer but the worker itself: on the worker queue the same step
/// wakes a queue thread to write and wait, and the loop again to answer, which on a small VM
/// costs as much as the worker's own round trip.
///
/// The step is the queue's in every other respect: the same state copy (`stageOneOnCopy`), the
/// same stage 1, the same answer or error. Anything out of the ordinary goes back to a thread
/// that may block, which finishes the step as the queue would have: a request that cannot be
/// written at once, a worker that closed its pipe (died), an answer later than
/// `--worker-timeout` (the finish then stops the worker with the usual message).
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
        guard !local.closed, local.recording == nil, case .single(var env) = local.core, let watch = env.answerWatch,
            let watcher = watcher(for: watch, on: loop)
        else {
            gate.release()
            return false
        }
        do {
            try env.startStep(json: action)
        } catch {
            // Refused before anything went to the worker: nothing changed.
            gate.release()
            completion(.failure(error))
            return true
        }
        local.core = .single(env)
        stepsOnEventLoop.add(1, ordering: .relaxed)
        let step = ClaimedStep(instance: self, local: local, completion: completion)
        guard watch.sendStartedWithoutWaiting() else {
            step.finishBlocking()
            return true
        }
        watcher.wait(for: step, timeout: watch.callTimeout)
        return true
    }

    /// The watcher of `watch`'s answers on `loop`: the current one, or nil while one is made
    /// (for the next step) or if there can be none.
    private func watcher(for watch: any AnswerWatch, on loop: any EventLoop) -> AnswerWatcher? {
        let (current, stale) = answerWatcher.withLock { (held) -> (AnswerWatcher?, AnswerWatcher?) in
            if let watcher = held, watcher.watch === watch, watcher.loop === loop {
                return (watcher.isReady ? watcher : nil, nil)
            }
            let stale = held
            held = nil
            if let fd = watch.openWatchDescriptor() {
                held = AnswerWatcher(watch: watch, loop: loop, descriptor: fd)
            }
            return (nil, stale)
        }
        stale?.stop()
        return current
    }

    /// Closes the watcher, if there is one (the instance closes).
    func stopWatchingAnswers() {
        answerWatcher.withLock { held in
            defer { held = nil }
            return held
        }?.stop()
    }
}

/// A step made from an event loop, between its start and its answer: the claim on the gate,
/// the state copy it changes and who waits for the answer.
final class ClaimedStep: @unchecked Sendable {
    // @unchecked: `local` is used by one thread at a time, the loop's or (after a hand-over) a
    // blocking one's, the gate's lock ordering the two.
    private let instance: EnvironmentInstance
    private var local: EnvironmentInstance.State
    private let completion: @Sendable (Result<Answer, GymError>?) -> Void

    init(instance: EnvironmentInstance, local: EnvironmentInstance.State, completion: @escaping @Sendable (Result<Answer, GymError>?) -> Void) {
        self.instance = instance
        self.local = local
        self.completion = completion
    }

    /// Finishes the step here: its answer is in (nothing blocks), or this thread may block.
    func finish() {
        let result = instance.finishStepOnCopy(&local)
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
    // @unchecked: `channel` is set once, under `lock`; the handler's state is the loop's.
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

    /// Waits (on the loop) for the answers of `step`'s call, then finishes it there; hands it
    /// to a blocking thread if the pipe closes or `timeout` seconds pass.
    func wait(for step: ClaimedStep, timeout: Double) {
        guard let channel = channel.withLock({ $0.channel }) else { return step.finishBlocking() }
        if watch.answersReady { return step.finish() }
        let expiry = loop.scheduleTask(in: .nanoseconds(Int64(min(timeout, 1e6) * 1e9) + 10_000_000)) { [self] in
            handOver()
        }
        handler.waiting = (step, expiry)
        channel.read()
    }

    /// The step waiting goes to a blocking thread once the channel is closed, so that the loop
    /// reads nothing more of the pipe meanwhile (the next step makes a new one).
    private func handOver() {
        guard let step = handler.takeWaiting() else { return }
        let made = channel.withLock { (state) -> (any Channel)? in
            state.stopped = true
            return state.channel
        }
        guard let made else { return step.finishBlocking() }
        made.close().whenComplete { _ in step.finishBlocking() }
    }

    /// Closes the channel (and so the second descriptor).
    func stop() {
        let made = channel.withLock { (state) -> (any Channel)? in
            state.stopped = true
            return state.channel
        }
        made?.close(promise: nil)
    }
}

/// The handler of an `AnswerWatcher`'s channel, on its loop.
final class AnswerWatchHandler: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: touched on the channel's loop only.
    typealias InboundIn = ByteBuffer
    private let watch: any AnswerWatch
    var waiting: (step: ClaimedStep, expiry: Scheduled<Void>)?

    init(watch: any AnswerWatch) {
        self.watch = watch
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        bytes.withUnsafeReadableBytes { watch.deliver($0) }
    }

    /// The end of a read: the step finishes if its answer is in (here, where the channel reads
    /// no more until asked, so that nothing is read once the gate is open to others), else the
    /// channel reads on.
    func channelReadComplete(context: ChannelHandlerContext) {
        guard waiting != nil else { return }
        guard watch.answersReady else { return context.read() }
        takeWaiting()?.finish()
    }

    /// The worker closed its end (it died), or the channel was closed: the step waiting, if
    /// any, goes to a blocking thread, whose finish says what happened (no more is read here).
    func channelInactive(context: ChannelHandlerContext) {
        takeWaiting()?.finishBlocking()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// The step waiting, no longer waited for here.
    func takeWaiting() -> ClaimedStep? {
        guard let (step, expiry) = waiting else { return nil }
        waiting = nil
        expiry.cancel()
        return step
    }
}

/// Keeps a bridged instance's worker queue and its steps made from an event loop apart: a step
/// claims the gate only when nothing is queued, and a queued call waits while a step holds it.
/// The lock is held for a few instructions, never while anything waits on the worker.
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
}
