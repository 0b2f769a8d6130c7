#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Dispatch
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization

/// `--access-log PATH` (`-`: standard output): one line per request, on every transport.
///
/// ```
/// 2026-12-04T10:59:01.123456Z POST /v1/envs/3c657dbc/step/ 200 187 41 key1 fast
/// <time, UTC>                 <method> <path> <status> <bytes> <microseconds> <key name or -> <transport>
/// ```
///
/// Transports: `rest` (a route), `fast` (a step or reset answered by the fast paths), `ws` (one
/// WebSocket message of Gymie's protocol: the method is Gymie's, the path `/gym`, the status 200
/// for an answer or the close code), `files` (port 8000). The path is the one the client sent,
/// without its query (which may hold a key), bytes outside printable ASCII percent-encoded and
/// cut at 512 characters. The key's name is written, never the key.
///
/// Recording a request appends a small entry to a buffer under a lock held for the append only;
/// a thread of its own formats and writes the entries every 50 ms, so no event loop, request or
/// step ever waits for the disk. A full buffer (`capacity` entries, a stalled disk) drops entries
/// and says how many in the next line it writes. `SIGHUP` reopens the file (logrotate's
/// `postrotate`), as does `reopen()`.
public final class AccessLog: Sendable {
    public enum Transport: String, Sendable {
        case rest, fast, ws, files
    }

    struct Entry: Sendable {
        var wallNanoseconds: Int64
        var method: String
        var path: String
        var status: Int
        var bytes: Int?
        var microseconds: Int
        var key: String?
        var transport: Transport
    }

    /// Where lines go: a file opened for appending, or standard output (`-`).
    public let path: String
    static let capacity = 200_000
    static let flushInterval: UInt32 = 50_000  // µs

    private struct Pending {
        var entries: [Entry] = []
        var dropped = 0
    }

    private let pending = Mutex(Pending())
    /// The file descriptor written to (1 for standard output), and whether to reopen it.
    private let output: Mutex<Int32>
    private let reopenRequested = Atomic(false)
    private let stopped = Atomic(false)
    /// Serialises writes (the writer thread's and `flush()`'s).
    private let writing = Mutex(())
    private let finished = DispatchSemaphore(value: 0)
    /// The SIGHUP handler: set once by `reopenOnHangUp`, cancelled by `close`.
    nonisolated(unsafe) private var signalSource: (any DispatchSourceSignal)?

    /// Opens `path` (`-`: standard output) and starts the writer thread. Throws when the file
    /// cannot be opened.
    public init(path: String) throws {
        self.path = path
        output = Mutex(try Self.open(path))
        let thread = Thread { [self] in
            while !self.stopped.load(ordering: .acquiring) {
                usleep(Self.flushInterval)
                self.flush()
            }
            self.flush()
            self.finished.signal()
        }
        thread.name = "gym-server access log"
        thread.start()
    }

    private static func open(_ path: String) throws -> Int32 {
        if path == "-" { return 1 }
        let fd = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw AccessLogError(message: "Cannot open the access log '\(path)': \(String(cString: strerror(errno)))")
        }
        return fd
    }

    /// Reopens the file on `SIGHUP` (the default action of which, ending the process, is
    /// replaced).
    public func reopenOnHangUp() {
        signal(SIGHUP, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { [self] in reopen() }
        source.resume()
        signalSource = source
    }

    /// Asks the writer to reopen the file before its next write (after logrotate moved it).
    public func reopen() {
        reopenRequested.store(true, ordering: .releasing)
    }

    /// One request. `start` is when it began (`DispatchTime` uptime nanoseconds).
    func record(
        method: String, path: String, status: Int, bytes: Int?, startedAt start: UInt64, key: String?, transport: Transport
    ) {
        let now = DispatchTime.now().uptimeNanoseconds
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        let entry = Entry(
            wallNanoseconds: Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec), method: method, path: path,
            status: status, bytes: bytes, microseconds: Int((now &- start) / 1000), key: key, transport: transport)
        pending.withLock { pending in
            if pending.entries.count < Self.capacity {
                pending.entries.append(entry)
            } else {
                pending.dropped += 1
            }
        }
    }

    /// Writes what was recorded so far (the writer thread does every 50 ms).
    public func flush() {
        writing.withLock { _ in
            let (entries, dropped) = pending.withLock { pending -> ([Entry], Int) in
                defer { pending = Pending() }
                return (pending.entries, pending.dropped)
            }
            if reopenRequested.exchange(false, ordering: .acquiringAndReleasing), path != "-",
                let fd = try? Self.open(path)
            {
                let old = output.withLock { output in
                    defer { output = fd }
                    return output
                }
                Glibc.close(old)
            }
            guard !entries.isEmpty || dropped > 0 else { return }
            var text = ""
            text.reserveCapacity(entries.count * 96 + 64)
            if dropped > 0 {
                text += "\(Self.timestamp(entries.first?.wallNanoseconds ?? 0)) - - - - - - - (\(dropped) access log lines dropped: the log could not keep up)\n"
            }
            for entry in entries { Self.append(entry, to: &text) }
            let fd = output.withLock { $0 }
            var bytes = Array(text.utf8)
            bytes.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 && errno == EINTR { continue }
                    guard written > 0 else { return }
                    offset += written
                }
            }
        }
    }

    /// Stops the writer after a last flush, and closes the file.
    public func close() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
        signalSource?.cancel()
        let fd = output.withLock { $0 }
        if fd != 1 { Glibc.close(fd) }
    }

    static func append(_ entry: Entry, to text: inout String) {
        text += timestamp(entry.wallNanoseconds)
        text += " "
        text += sanitized(entry.method, limit: 32)
        text += " "
        text += sanitized(entry.path, limit: 512)
        text += " \(entry.status) "
        text += entry.bytes.map(String.init) ?? "-"
        text += " \(entry.microseconds) "
        text += entry.key.map { sanitized($0, limit: 128) } ?? "-"
        text += " "
        text += entry.transport.rawValue
        text += "\n"
    }

    /// `2026-12-04T10:59:01.123456Z`.
    static func timestamp(_ nanoseconds: Int64) -> String {
        var seconds = time_t(nanoseconds / 1_000_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let micros = Int((nanoseconds % 1_000_000_000) / 1000)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let fraction = String(micros)
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))."
            + String(repeating: "0", count: 6 - fraction.count) + fraction + "Z"
    }

    /// A client's text as one field of a line: printable ASCII kept; space, `%`, control and
    /// non-ASCII bytes percent-encoded; at most `limit` characters.
    static func sanitized(_ text: String, limit: Int) -> String {
        var out = ""
        for byte in text.utf8 {
            if out.utf8.count >= limit { break }
            if byte > 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + (byte < 16 ? "0" : "") + String(byte, radix: 16, uppercase: true)
            }
        }
        return out.isEmpty ? "-" : out
    }

    /// The path of a request target, without its query.
    static func pathOnly(_ target: String) -> String {
        guard let question = target.firstIndex(of: "?") else { return target }
        return String(target[..<question])
    }

    /// The key name of the request being served, filled by the key checks (`APIKeyMiddleware`,
    /// `FilesAccessMiddleware`) for the access log's middleware around them.
    final class RequestNote: @unchecked Sendable {
        var keyName: String?
    }

    @TaskLocal static var currentRequest: RequestNote?
}

/// Records every request of a router (`rest` on port 5000, `files` on port 8000). Added first,
/// so that it sees every answer, errors turned into statuses included; the key checks inside
/// write the key's name into the request's `AccessLog.RequestNote`.
struct AccessLogMiddleware<Context: RequestContext>: RouterMiddleware {
    let log: AccessLog
    let transport: AccessLog.Transport

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        let note = AccessLog.RequestNote()
        let method = request.method.rawValue
        let path = request.uri.path
        var response: Response
        do {
            response = try await AccessLog.$currentRequest.withValue(note) { try await next(request, context) }
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            log.record(method: method, path: path, status: status, bytes: nil, startedAt: start, key: note.keyName, transport: transport)
            throw error
        }
        let status = response.status.code
        if let length = response.body.contentLength {
            log.record(method: method, path: path, status: status, bytes: length, startedAt: start, key: note.keyName, transport: transport)
            return response
        }
        // A body of unknown length (a zip being built, an event stream): logged when it ends.
        let body = response.body
        let (log, transport) = (self.log, self.transport)
        response.body = ResponseBody { writer in
            let counted = ByteCount()
            defer {
                log.record(
                    method: method, path: path, status: status, bytes: counted.value, startedAt: start, key: note.keyName,
                    transport: transport)
            }
            try await body.write(
                writer.map { buffer in
                    counted.value += buffer.readableBytes
                    return buffer
                })
        }
        return response
    }

    private final class ByteCount: @unchecked Sendable {
        var value = 0
    }
}

public struct AccessLogError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
