#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CGymSystem
import Foundation
import GymCore
import Synchronization

/// How gym-server starts workers: the Python, the modules it imports, the time limits.
public struct WorkerConfiguration: Sendable {
    /// The Python with gymnasium installed (`--python`): a path, or a name looked up on PATH.
    public var python: String
    /// Modules that register extra ids (`--python-import`).
    public var imports: [String]
    /// Seconds a request may take before the worker is taken for hung (`--worker-timeout`).
    public var requestTimeout: Double
    /// Seconds start-up (imports) and `make` may take.
    public var startTimeout: Double
    /// Extra environment variables for workers (tests set PYTHONPATH through their own environment).
    public var environment: [String: String]
    /// The most worker processes a vector instance's sub-environments are spread over
    /// (`--vector-worker-processes`; default: the cores): each process holds every P-th one.
    public var processesPerVector: Int
    /// Microseconds a worker polls its request pipe before it blocks (`--worker-spin-us`; the
    /// worker's `--spin-us`, PROTOCOL.md §1); 0: it blocks at once.
    public var spinMicroseconds: Int = 0

    public init(
        python: String, imports: [String] = [], requestTimeout: Double = 30, startTimeout: Double = 60, environment: [String: String] = [:],
        processesPerVector: Int? = nil
    ) {
        self.python = python
        self.imports = imports
        self.requestTimeout = requestTimeout
        self.startTimeout = max(startTimeout, requestTimeout)
        self.environment = environment
        self.processesPerVector = max(1, processesPerVector ?? ProcessInfo.processInfo.activeProcessorCount)
    }
}

/// How long a worker polls for its next request (`--worker-spin-us`).
public enum WorkerSpin {
    /// The default where the process may use more than one CPU: a tight loop's next request
    /// comes within it (with one CPU, polling only keeps the server from the CPU it needs).
    public static let defaultMicroseconds = 200

    /// `--worker-spin-us` when not given: `defaultMicroseconds`, or 0 with one usable CPU (the
    /// affinity mask, or a cgroup's CPU quota: `gym_usable_cpus`).
    public static var automaticMicroseconds: Int { gym_usable_cpus() > 1 ? defaultMicroseconds : 0 }
}

/// One message of the protocol (PROTOCOL.md §2): a kind letter and its payload.
public struct WorkerMessage: Sendable {
    public var kind: UInt8
    public var payload: [UInt8]

    public static let hello = UInt8(ascii: "H"), ok = UInt8(ascii: "K"), error = UInt8(ascii: "E")
    public static let list = UInt8(ascii: "L"), make = UInt8(ascii: "M"), reset = UInt8(ascii: "R"), step = UInt8(ascii: "S")
    public static let render = UInt8(ascii: "F"), sample = UInt8(ascii: "A"), ping = UInt8(ascii: "P"), close = UInt8(ascii: "C")
    /// Makes a slot current; never answered.
    public static let use = UInt8(ascii: "U")
}

/// A worker process (`gym_server_worker.py` run by the configured Python), its pipes and its
/// stderr. Every method blocks its thread on the pipes, but `AnswerWatch`'s (an event loop's):
/// callers run them on threads of their own (an instance's worker queue), never on Swift's
/// cooperative pool, and one thread at a time.
/// A worker holds one environment per slot (a vector's sub-environments share a few workers):
/// requests are pipelined, each `start` returning a ticket whose answer `finish` reads, answers
/// of earlier tickets being kept until asked for. A worker that times out or dies is killed and
/// never used again.
public final class WorkerProcess: AnswerWatch, @unchecked Sendable {
    // @unchecked: the descriptors and the read buffer are touched only by the one thread that
    // holds the request (the caller's serial queue, or the event loop holding the instance's
    // gate); `failure` and the stderr tail are locked.
    public let pid: pid_t
    private let requestFD: Int32
    private let answerFD: Int32
    private var buffer = [UInt8](repeating: 0, count: 65536)
    private var buffered = 0..<0
    /// Requests written and not yet read, oldest first: their tickets, names and deadlines.
    private var inFlight: [(ticket: Int, name: String, deadline: Double)] = []
    private var inFlightStart = 0
    /// Answers read before their ticket was asked for.
    private var readAhead: [Int: (name: String, answer: WorkerMessage)] = [:]
    private var nextTicket = 0
    /// Requests started with `holdBack` and not yet written, and how many.
    private var outbox: [UInt8] = []
    private var heldBack = 0
    /// The slot the worker acts on (as of the last request written), and the next one free.
    private var currentSlot: UInt32 = 0
    private var slotsAllocated: UInt32 = 0
    /// The worker that replaced this one after it failed, for the other slots' environments to
    /// move to (`BridgedEnvironment.restart`).
    private let successorBox = Mutex<WorkerProcess?>(nil)
    private let state = Mutex<(failure: String?, reaped: Bool, status: Int32)>((nil, false, 0))
    private let stderrTail = StderrTail()
    public let configuration: WorkerConfiguration
    /// The hello's fields (python, gymnasium and numpy versions).
    public private(set) var hello: [String: JSON] = [:]

    /// Starts a worker and waits for its hello. Throws `.unavailable` if Python cannot be run or
    /// the worker does not come up, with what it said on stderr.
    public init(_ configuration: WorkerConfiguration) throws(GymError) {
        self.configuration = configuration
        var toWorker: [Int32] = [0, 0]
        var fromWorker: [Int32] = [0, 0]
        var errors: [Int32] = [0, 0]
        guard gym_pipe_cloexec(&toWorker) == 0 else { throw GymError.unavailable("Could not make a pipe for a Python worker: \(Self.errnoText())") }
        guard gym_pipe_cloexec(&fromWorker) == 0 else {
            close(toWorker[0]); close(toWorker[1])
            throw GymError.unavailable("Could not make a pipe for a Python worker: \(Self.errnoText())")
        }
        guard gym_pipe_cloexec(&errors) == 0 else {
            for fd in toWorker + fromWorker { close(fd) }
            throw GymError.unavailable("Could not make a pipe for a Python worker: \(Self.errnoText())")
        }
        var arguments = [configuration.python, "-u", "-c", WorkerScript.text]
        for module in configuration.imports { arguments += ["--import", module] }
        if configuration.spinMicroseconds > 0 { arguments += ["--spin-us", String(configuration.spinMicroseconds)] }
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in configuration.environment { environment[key] = value }
        let spawned = Self.spawn(arguments: arguments, environment: environment, stdin: toWorker[0], stdout: fromWorker[1], stderr: errors[1])
        close(toWorker[0]); close(fromWorker[1]); close(errors[1])
        guard case .success(let pid) = spawned else {
            close(toWorker[1]); close(fromWorker[0]); close(errors[0])
            if case .failure(let failure) = spawned { throw GymError.unavailable(failure.message) }
            throw GymError.unavailable("Could not start \(configuration.python)")
        }
        self.pid = pid
        self.requestFD = toWorker[1]
        self.answerFD = fromWorker[0]
        _ = fcntl(requestFD, F_SETFL, fcntl(requestFD, F_GETFL) | O_NONBLOCK)
        _ = fcntl(answerFD, F_SETFL, fcntl(answerFD, F_GETFL) | O_NONBLOCK)
        stderrTail.drain(errors[0])
        let first: WorkerMessage
        do {
            first = try receive(timeout: configuration.startTimeout, doing: "start")
        } catch {
            stop()
            throw error
        }
        if first.kind == WorkerMessage.error {
            let message = Self.errorMessage(first.payload)
            stop()
            throw GymError.unavailable("The Python worker could not start: \(message)")
        }
        guard first.kind == WorkerMessage.hello, let hello = (try? JSONParser.parse(first.payload))?.objectValue,
            hello["protocol"]?.intValue == 1
        else {
            stop()
            throw GymError.unavailable("The Python worker speaks another protocol (gym-server speaks version 1)")
        }
        self.hello = hello
    }

    deinit {
        stop()
    }

    // MARK: requests

    /// Sends one request and returns the `K` answer's payload. An `E` answer throws its `error`
    /// text as a 400 (the environment raised); a death or a timeout throws `.unavailable` and
    /// leaves the worker killed.
    public func request(_ kind: UInt8, _ payload: [UInt8] = [], slot: UInt32 = 0, timeout: Double? = nil) throws(GymError) -> [UInt8] {
        try finish(start(kind, payload, slot: slot, timeout: timeout))
    }

    /// A new slot for one more environment in this worker.
    public func allocateSlot() -> UInt32 {
        defer { slotsAllocated += 1 }
        return slotsAllocated
    }

    /// The worker started in this one's place after it failed, if one was.
    public var successor: WorkerProcess? {
        get { successorBox.withLock { $0 } }
        set { successorBox.withLock { $0 = newValue } }
    }

    /// The first half of `request`: sends it (to `slot`'s environment), and returns its ticket
    /// without waiting for the answer, so that the caller can send more meanwhile, to this worker
    /// or others (a vector keeps a request in flight for every sub-environment). `finish` reads
    /// the answer.
    ///
    /// With `holdBack`, the request waits in an outbox, to be written with the others started
    /// after it in one write (`sendHeldBack`; `finish` writes it in any case): a worker woken
    /// for each of a vector's requests would take the core from the thread still writing them.
    public func start(_ kind: UInt8, _ payload: [UInt8] = [], slot: UInt32 = 0, timeout: Double? = nil, holdBack: Bool = false) throws(GymError) -> Int {
        if let failure = state.withLock({ $0.failure }) { throw GymError.unavailable(failure) }
        let name = Self.requestName(kind)
        var message = outbox
        outbox = []
        message.reserveCapacity(message.count + 14 + payload.count)
        if slot != currentSlot {
            withUnsafeBytes(of: UInt32(5).littleEndian) { message.append(contentsOf: $0) }
            message.append(WorkerMessage.use)
            withUnsafeBytes(of: slot.littleEndian) { message.append(contentsOf: $0) }
        }
        withUnsafeBytes(of: UInt32(payload.count + 1).littleEndian) { message.append(contentsOf: $0) }
        message.append(kind)
        message.append(contentsOf: payload)
        let deadline = Self.now() + (timeout ?? configuration.requestTimeout)
        currentSlot = slot
        let ticket = nextTicket
        nextTicket += 1
        if holdBack {
            outbox = message
            heldBack += 1
        } else {
            heldBack = 0
            try send(message, deadline: deadline, doing: name)
        }
        inFlight.append((ticket, name, deadline))
        return ticket
    }

    /// Writes the requests `start` held back, if any. A failure marks the worker failed: the
    /// finishes of those requests throw it.
    public func sendHeldBack() {
        guard !outbox.isEmpty else { return }
        let message = outbox
        outbox = []
        heldBack = 0
        let (name, deadline) = inFlight.last.map { ($0.name, $0.deadline) } ?? ("a request", Self.now() + configuration.requestTimeout)
        do {
            try send(message, deadline: deadline, doing: name)
        } catch {
            // Marked failed by `send`; the finishes say so.
        }
    }

    /// The second half of `request`: the answer of the request `start` gave `ticket`. Answers
    /// come in the order the requests went; those of earlier tickets are kept for their turn.
    public func finish(_ ticket: Int) throws(GymError) -> [UInt8] {
        if let (name, answer) = readAhead.removeValue(forKey: ticket) { return try Self.payload(of: answer, name) }
        sendHeldBack()
        if let failure = state.withLock({ $0.failure }) { throw GymError.unavailable(failure) }
        guard inFlight[inFlightStart...].contains(where: { $0.ticket == ticket }) else {
            throw fail("An answer was read for a request that was not sent, or was read before")
        }
        while true {
            let (oldest, name, deadline) = inFlight[inFlightStart]
            let answer = try receive(deadline: deadline, doing: name)
            inFlightStart += 1
            if inFlightStart == inFlight.count {
                inFlight.removeAll(keepingCapacity: true)
                inFlightStart = 0
            }
            if oldest == ticket { return try Self.payload(of: answer, name) }
            readAhead[oldest] = (name, answer)
        }
    }

    // MARK: answers watched from an event loop (AnswerWatch)

    /// The longest write `sendStartedWithoutWaiting` makes: far below a pipe's capacity, so that
    /// it never waits for the worker to read.
    static let watchedWriteLimit = 16384

    /// The second description of the answer pipe (Linux's `/proc/self/fd`): its own O_NONBLOCK
    /// and its own registration with an event loop, the pipe's bytes the same.
    public func openWatchDescriptor() -> Int32? {
        #if os(Linux)
        guard !hasFailed, !answersClosed.load(ordering: .acquiring) else { return nil }
        let fd = open("/proc/self/fd/\(answerFD)", O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        return fd >= 0 ? fd : nil
        #else
        return nil
        #endif
    }

    public func sendStartedWithoutWaiting() -> Bool {
        guard !outbox.isEmpty, outbox.count <= Self.watchedWriteLimit, inFlight.count - inFlightStart == heldBack, readAhead.isEmpty,
            buffered.isEmpty, !hasFailed
        else { return false }
        let written = outbox.withUnsafeBytes { write(requestFD, $0.baseAddress!, $0.count) }
        if written == outbox.count {
            outbox = []
            heldBack = 0
            return true
        }
        if written > 0 { outbox.removeFirst(written) }  // (the finish sends the rest)
        return false
    }

    public func deliver(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        let end = buffered.upperBound
        buffer.withUnsafeMutableBytes { $0.baseAddress!.advanced(by: end).copyMemory(from: source, byteCount: bytes.count) }
        buffered = buffered.lowerBound..<(end + bytes.count)
    }

    public var answersReady: Bool {
        guard outbox.isEmpty else { return false }
        var needed = inFlight.count - inFlightStart
        var at = buffered.lowerBound
        while needed > 0 {
            guard buffered.upperBound - at >= 4 else { return false }
            let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
            if length < 1 { return true }  // (the finish reports it)
            guard buffered.upperBound - at >= 4 + length else { return false }
            at += 4 + length
            needed -= 1
        }
        return true
    }

    public var callTimeout: Double { configuration.requestTimeout }

    public var isAvailable: Bool { !hasFailed }

    /// A `K` answer's payload; an `E` answer thrown.
    private static func payload(of answer: WorkerMessage, _ name: String) throws(GymError) -> [UInt8] {
        switch answer.kind {
        case WorkerMessage.ok: return answer.payload
        case WorkerMessage.error: throw GymError(errorMessage(answer.payload))
        default:
            throw GymError.unavailable("The Python worker answered \(name) with an unknown message kind \(answer.kind)")
        }
    }

    private func send(_ message: [UInt8], deadline: Double, doing name: String) throws(GymError) {
        var sent = 0
        while sent < message.count {
            let n = message.withUnsafeBytes { write(requestFD, $0.baseAddress! + sent, message.count - sent) }
            if n > 0 {
                sent += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN {
                // The request pipe is full: the worker is busy, perhaps blocked writing answers
                // to requests already sent. Reading those meanwhile keeps both from waiting on
                // each other.
                if try wait(for: requestFD, events: Int16(POLLOUT), orAnswers: !inFlight.isEmpty, deadline: deadline, doing: name) {
                    try readAvailable(doing: name)
                }
                continue
            }
            throw died(doing: name)
        }
    }

    private func receive(timeout: Double, doing name: String) throws(GymError) -> WorkerMessage {
        try receive(deadline: Self.now() + timeout, doing: name)
    }

    /// Reads one message: the 4-byte length, the kind, the payload.
    private func receive(deadline: Double, doing name: String) throws(GymError) -> WorkerMessage {
        try fill(4, deadline: deadline, doing: name)
        let length = buffer.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: buffered.lowerBound, as: UInt32.self))) }
        guard length >= 1 else { throw fail("The Python worker sent an empty message") }
        try fill(4 + length, deadline: deadline, doing: name)
        let start = buffered.lowerBound
        let message = WorkerMessage(kind: buffer[start + 4], payload: Array(buffer[(start + 5)..<(start + 4 + length)]))
        buffered = (start + 4 + length)..<buffered.upperBound
        return message
    }

    /// Reads until `count` bytes are buffered, growing the buffer for large answers (frames).
    private func fill(_ count: Int, deadline: Double, doing name: String) throws(GymError) {
        while buffered.count < count {
            reserve(count - buffered.count)
            if try !readAvailable(doing: name) {
                _ = try wait(for: answerFD, events: Int16(POLLIN), orAnswers: false, deadline: deadline, doing: name)
            }
        }
    }

    /// Room for `count` more bytes after what is buffered: what is buffered moved to the front,
    /// the buffer grown if it still does not fit.
    private func reserve(_ count: Int) {
        guard buffered.upperBound + count > buffer.count else { return }
        let pending = Array(buffer[buffered])
        if pending.count + count > buffer.count { buffer = [UInt8](repeating: 0, count: max(pending.count + count, buffer.count * 2)) }
        buffer.replaceSubrange(0..<pending.count, with: pending)
        buffered = 0..<pending.count
    }

    /// Reads what the answer pipe holds into the buffer; false if it held nothing.
    @discardableResult
    private func readAvailable(doing name: String) throws(GymError) -> Bool {
        while true {
            if buffered.upperBound == buffer.count { reserve(buffer.count / 2) }
            let end = buffered.upperBound
            let n = buffer.withUnsafeMutableBytes { read(answerFD, $0.baseAddress! + end, $0.count - end) }
            if n > 0 {
                buffered = buffered.lowerBound..<(end + n)
                return true
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && errno == EAGAIN { return false }
            throw died(doing: name)
        }
    }

    /// Waits until `fd` is ready for `events`, or (`orAnswers`) the answer pipe has something
    /// to read: true in that second case.
    private func wait(for fd: Int32, events: Int16, orAnswers: Bool, deadline: Double, doing name: String) throws(GymError) -> Bool {
        while true {
            let remaining = deadline - Self.now()
            if remaining <= 0 {
                throw fail("The Python worker (pid \(pid)) did not answer \(name) within \(Self.seconds(configuration.requestTimeout)) s (--worker-timeout): it was stopped. Reset the instance to start a new worker, or close it")
            }
            var descriptors = [pollfd(fd: fd, events: events, revents: 0), pollfd(fd: answerFD, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, orAnswers ? 2 : 1, Int32(min(remaining * 1000, 1_000_000)) + 1)
            if ready > 0 { return orAnswers && descriptors[1].revents != 0 }
            if ready < 0 && errno != EINTR { throw died(doing: name) }
        }
    }

    /// The worker is gone: reap it and say how it ended, with its last words on stderr.
    private func died(doing name: String) -> GymError {
        let status = reap(waiting: 2)
        var message = "The Python worker (pid \(pid)) died during \(name)"
        if let status { message += Self.describe(status) }
        stderrTail.waitForEnd(seconds: 0.2)
        let tail = stderrTail.lines()
        if !tail.isEmpty { message += "; its last words on stderr: " + tail.suffix(5).joined(separator: " | ") }
        message += ". Reset the instance to start a new worker, or close it"
        return fail(message)
    }

    /// Marks the worker failed for good and kills it.
    private func fail(_ message: String) -> GymError {
        state.withLock { if $0.failure == nil { $0.failure = message } }
        kill(-pid, SIGKILL)
        kill(pid, SIGKILL)
        _ = reap(waiting: 5)
        return GymError.unavailable(message)
    }

    /// Whether the worker is known dead or hung.
    public var hasFailed: Bool { state.withLock { $0.failure != nil } }

    // MARK: ending

    /// Ends the worker: `C`, a short wait for it to exit, then SIGTERM and SIGKILL to its process
    /// group; always reaped. Idempotent.
    public func stop() {
        let (alreadyDone, failed) = state.withLock { state -> (Bool, Bool) in
            let failed = state.failure != nil
            if !failed { state.failure = "The Python worker was stopped" }
            return (state.reaped, failed)
        }
        if !alreadyDone {
            if !failed {
                // `C` closes the current slot's environment (reporting on stderr if that raises);
                // the end of input then closes the other slots' and ends the worker.
                let close = [UInt8]([1, 0, 0, 0, WorkerMessage.close])
                _ = close.withUnsafeBytes { write(requestFD, $0.baseAddress!, 4 + 1) }
            }
            closeRequests()
            if reap(waiting: 2) == nil {
                kill(-pid, SIGTERM)
                kill(pid, SIGTERM)
                if reap(waiting: 1) == nil {
                    kill(-pid, SIGKILL)
                    kill(pid, SIGKILL)
                    _ = reap(waiting: 5)
                }
            }
            // Whatever the environment started in its process group goes too.
            kill(-pid, SIGKILL)
        }
        closeDescriptors()
    }

    private let requestsClosed = Atomic<Bool>(false)
    private let answersClosed = Atomic<Bool>(false)

    private func closeRequests() {
        guard !requestsClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        close(requestFD)
    }

    private func closeDescriptors() {
        closeRequests()
        guard !answersClosed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        close(answerFD)
    }

    /// Waits up to `seconds` for the worker to exit; its wait status, or nil if it still runs.
    @discardableResult
    private func reap(waiting seconds: Double) -> Int32? {
        if let status = state.withLock({ $0.reaped ? $0.status : nil }) { return status }
        let deadline = Self.now() + seconds
        while true {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid || (result < 0 && errno == ECHILD) {
                state.withLock {
                    $0.reaped = true
                    $0.status = status
                }
                return status
            }
            if Self.now() >= deadline { return nil }
            usleep(2000)
        }
    }

    // MARK: helpers

    private static func spawn(arguments: [String], environment: [String: String], stdin: Int32, stdout: Int32, stderr: Int32) -> Result<pid_t, SpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        posix_spawn_file_actions_adddup2(&actions, stderr, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (a terminal's Ctrl-C does not reach it; kill(-pid) ends all it
        // started), default signal handling and no blocked signals whatever this thread has.
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in argv { free(p) }
            for p in envp { free(p) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            return .failure(SpawnFailure(message: "Could not start the Python worker with \(arguments[0]): \(String(cString: strerror(result)))"))
        }
        return .success(pid)
    }

    struct SpawnFailure: Error { let message: String }

    static func errorMessage(_ payload: [UInt8]) -> String {
        if let error = (try? JSONParser.parse(payload))?["error"]?.stringValue { return error }
        return String(decoding: payload.prefix(500), as: UTF8.self)
    }

    private static func requestName(_ kind: UInt8) -> String {
        switch kind {
        case WorkerMessage.list: return "list"
        case WorkerMessage.make: return "make"
        case WorkerMessage.reset: return "reset"
        case WorkerMessage.step: return "step"
        case WorkerMessage.render: return "render"
        case WorkerMessage.sample: return "sample"
        case WorkerMessage.ping: return "ping"
        case WorkerMessage.close: return "close"
        case WorkerMessage.use: return "use"
        default: return "a request"
        }
    }

    private static func describe(_ status: Int32) -> String {
        let signal = status & 0x7F
        if signal == 0 { return " (exit status \((status >> 8) & 0xFF))" }
        return " (killed by signal \(signal)\(signal == SIGKILL ? ", SIGKILL" : signal == SIGSEGV ? ", SIGSEGV" : ""))"
    }

    static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    private static func seconds(_ x: Double) -> String {
        x == x.rounded() ? String(Int(x)) : String(x)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}

/// The last lines a worker wrote on stderr, read by a thread of its own so that a chatty
/// environment never blocks on a full pipe.
final class StderrTail: Sendable {
    private let tail = Mutex<[String]>([])
    private let ended = Atomic<Bool>(false)
    static let kept = 20

    /// Waits a little for the pipe's end (the worker's last lines after its death).
    func waitForEnd(seconds: Double) {
        let deadline = WorkerProcess.now() + seconds
        while !ended.load(ordering: .acquiring) && WorkerProcess.now() < deadline { usleep(2000) }
    }

    func drain(_ fd: Int32) {
        let thread = Thread { [self] in
            var pending = [UInt8]()
            var chunk = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: chunk[0..<n])
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    add(String(decoding: pending[..<newline], as: UTF8.self))
                    pending.removeSubrange(...newline)
                }
                if pending.count > 4096 {
                    add(String(decoding: pending, as: UTF8.self))
                    pending.removeAll()
                }
            }
            if !pending.isEmpty { add(String(decoding: pending, as: UTF8.self)) }
            close(fd)
            ended.store(true, ordering: .releasing)
        }
        thread.name = "gym-worker-stderr"
        thread.start()
    }

    private func add(_ line: String) {
        guard !line.isEmpty else { return }
        tail.withLock {
            $0.append(line)
            if $0.count > Self.kept { $0.removeFirst($0.count - Self.kept) }
        }
    }

    func lines() -> [String] { tail.withLock { $0 } }
}
