import CGymSystem
import CoreMetrics
import Dispatch
import Glibc
import NIOCore
import NIOPosix
import Synchronization

/// Keeps an event loop polling, instead of blocking, for a while after the fast paths answer
/// (`--loop-spin-us`).
///
/// A loop with nothing to do blocks in `epoll_wait`, and the client's next request must wake
/// its thread: the client's write finds a waiter on the socket and interrupts the server's CPU,
/// which on a virtual machine is an exit to the host, and when that CPU has halted, the host's
/// scheduling it again. A trainer pays this every step, and its policy's forward pass runs
/// slower after it. While the loop polls, the write finds nobody waiting and wakes nothing.
///
/// How: each loop has a pipe that it watches as it watches sockets. `arm()`, after an answer,
/// writes a byte to it; each time the loop has read the byte, the spin writes another until
/// `budget` has passed since the last answer, so that the loop's `epoll_wait` returns at once
/// instead of blocking, and the loop's thread yields its CPU (`sched_yield`) on every turn to any
/// other thread ready to run there. Then the loop blocks as before.
///
/// A spin that ends with no new answer is a miss. Two misses in a row (a client that pauses
/// longer than the budget between requests) stop the spinning for the next 1, then 2, 4 ...
/// 1,024 answers; an answer that comes while the loop spins resets this. So a client that never
/// answers in time costs a budget of CPU now and then, not at every request.
///
/// A bridged instance's answer arms no spin: its workers poll for their next request
/// themselves (`--worker-spin-us`), and a vector's workers are as many as the CPUs, so a loop
/// polling beside them kept the CPUs from the trainer and the workers (LunarLander x8 0.70x
/// AsyncVectorEnv x8 with it, 0.93x without). A spin already under way when a bridged step
/// starts runs on to its end.
///
/// Everything but the table of spinners is the loop's own: `arm`, the turns and the counts are
/// the loop's thread's.
public final class LoopSpin: @unchecked Sendable {
    /// The default budget when the process may use more than one CPU (with one, polling only
    /// keeps the client from the CPU it waits for): long enough to cover a trainer's forward pass
    /// between two steps.
    public static let defaultMicroseconds = 1_000
    /// The most `--loop-spin-us` takes.
    public static let maximumMicroseconds = 100_000
    /// The longest run of answers a spin is skipped for after misses.
    static let maximumSkip = 1_024

    /// `--loop-spin-us` when not given: `defaultMicroseconds`, or 0 with one usable CPU (the
    /// affinity mask, or a cgroup's CPU quota: `gym_usable_cpus`).
    public static var automaticMicroseconds: Int { gym_usable_cpus() > 1 ? defaultMicroseconds : 0 }

    /// What a spinner does, as `/metrics` names it (`gym_loop_spin_events_total{event}`).
    enum Event: String, CaseIterable, Sendable {
        case spin, caught, missed, skipped
    }

    /// What a spinner did.
    struct Counts: Equatable {
        /// Spins started.
        var spins = 0
        /// Answers that came while the loop spun.
        var caught = 0
        /// Spins that ran out of budget with no answer.
        var missed = 0
        /// Answers that started no spin (skipped after misses).
        var skipped = 0
        /// Turns the loop made polling.
        var turns = 0
    }

    let budgetNanoseconds: UInt64
    let loop: any EventLoop
    private let writeEnd: Int32
    private let counters: LoopSpinCounters?
    /// The loop's state.
    private(set) var counts = Counts()
    private(set) var spinning = false
    private var deadline: UInt64 = 0
    private var spinStart: UInt64 = 0
    private var closed = false
    private var misses = 0
    private var nextSkip = 1
    private var skipping = 0

    private static let table = Mutex<[Key: LoopSpin]>([:])

    fileprivate struct Key: Hashable {
        let loop: ObjectIdentifier
        let budget: Int
    }

    /// The spinners made with `budgetMicroseconds`, on every loop (for tests).
    static func spinners(budgetMicroseconds: Int) -> [LoopSpin] {
        table.withLock { spins in spins.filter { $0.key.budget == budgetMicroseconds }.map(\.value) }
    }

    /// The spinner of `loop` with `budgetMicroseconds` (made at the first call for that loop,
    /// counting into `counters` if given); nil when the budget is 0 or the pipe cannot be made
    /// (the loop then blocks as before).
    static func on(_ loop: any EventLoop, budgetMicroseconds: Int, counters: LoopSpinCounters? = nil) -> LoopSpin? {
        guard budgetMicroseconds > 0 else { return nil }
        let key = Key(loop: ObjectIdentifier(loop as AnyObject), budget: budgetMicroseconds)
        return table.withLock { spins -> LoopSpin? in
            if let made = spins[key] { return made }
            var ends: [Int32] = [0, 0]
            guard gym_pipe_cloexec(&ends) == 0 else { return nil }
            _ = fcntl(ends[1], F_SETFL, fcntl(ends[1], F_GETFL) | O_NONBLOCK)
            let spin = LoopSpin(budgetNanoseconds: UInt64(budgetMicroseconds) * 1_000, loop: loop, writeEnd: ends[1], counters: counters)
            spins[key] = spin
            spin.watch(readEnd: ends[0], key: key)
            return spin
        }
    }

    private init(budgetNanoseconds: UInt64, loop: any EventLoop, writeEnd: Int32, counters: LoopSpinCounters?) {
        self.budgetNanoseconds = budgetNanoseconds
        self.loop = loop
        self.writeEnd = writeEnd
        self.counters = counters
    }

    /// The loop watches the pipe's read end; when the loop ends (its channels close) the pipe is
    /// closed and the spinner leaves the table.
    private func watch(readEnd: Int32, key: Key) {
        NIOPipeBootstrap(group: self.loop)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Turns(spin: self, key: key)) }
            }
            .takingOwnershipOfDescriptor(input: readEnd)
            .whenFailure { [self] _ in
                Glibc.close(readEnd)  // (still ours when the bootstrap fails)
                self.loop.execute { self.end(key) }
            }
    }

    /// After an answer, on the loop: poll until the budget has passed with no other answer.
    func arm() {
        guard !closed else { return }
        if spinning {
            add(.caught)
            misses = 0
            nextSkip = 1
            deadline = DispatchTime.now().uptimeNanoseconds &+ budgetNanoseconds
            return
        }
        if skipping > 0 {
            skipping -= 1
            add(.skipped)
            return
        }
        add(.spin)
        spinning = true
        spinStart = DispatchTime.now().uptimeNanoseconds
        deadline = spinStart &+ budgetNanoseconds
        kick()
    }

    private func kick() {
        var byte: UInt8 = 1
        _ = Glibc.write(writeEnd, &byte, 1)
    }

    /// The loop has read the pipe: one more turn, or the end of the spin.
    fileprivate func turned() {
        guard spinning, !closed else { return }
        counts.turns += 1
        let now = DispatchTime.now().uptimeNanoseconds
        if now < deadline {
            gym_yield()
            kick()
            return
        }
        stopSpinning(at: now)
        add(.missed)
        misses += 1
        if misses >= 2 {
            skipping = nextSkip
            nextSkip = min(nextSkip * 2, Self.maximumSkip)
        }
    }

    fileprivate func end(_ key: Key) {
        guard !closed else { return }
        closed = true
        if spinning { stopSpinning(at: DispatchTime.now().uptimeNanoseconds) }
        Glibc.close(writeEnd)
        Self.table.withLock { spins in
            if spins[key] === self { spins[key] = nil }
        }
    }

    private func stopSpinning(at now: UInt64) {
        spinning = false
        counters?.seconds.increment(by: Double(now &- spinStart) / 1e9)
    }

    private func add(_ event: Event) {
        switch event {
        case .spin: counts.spins += 1
        case .caught: counts.caught += 1
        case .missed: counts.missed += 1
        case .skipped: counts.skipped += 1
        }
        counters?.events[event]?.increment()
    }

    /// The pipe's handler: the end of each read is a turn.
    private final class Turns: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let spin: LoopSpin
        let key: Key

        init(spin: LoopSpin, key: Key) {
            self.spin = spin
            self.key = key
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
        func channelReadComplete(context: ChannelHandlerContext) { spin.turned() }
        func channelInactive(context: ChannelHandlerContext) { spin.end(key) }
    }
}

/// `gym_loop_spin_events_total{event}` (spin: spins started; caught: answers that came while a
/// loop spun; missed: spins that ran out; skipped: answers after misses that started none) and
/// `gym_loop_spin_seconds_total` (the time the loops spent polling: the CPU the polling costs,
/// less the turns' yields to other threads). Every series made up front: counting is atomic.
struct LoopSpinCounters: Sendable {
    fileprivate let events: [LoopSpin.Event: CoreMetrics.Counter]
    fileprivate let seconds: FloatingPointCounter

    init(factory: any MetricsFactory) {
        events = Dictionary(uniqueKeysWithValues: LoopSpin.Event.allCases.map { event in
            (event, CoreMetrics.Counter(label: "gym_loop_spin_events_total", dimensions: [("event", event.rawValue)], factory: factory))
        })
        seconds = FloatingPointCounter(label: "gym_loop_spin_seconds_total", factory: factory)
    }
}
