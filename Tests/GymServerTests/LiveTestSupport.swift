import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A bare HTTP/1.1 client over a socket: sends the request line exactly as given (no path
/// normalisation, unlike URLSession), reads the answer on its own thread, and understands chunked
/// bodies, so it can follow a Server-Sent Events stream as it arrives.
final class RawHTTPConnection: Sendable {
    struct Head: Sendable {
        let status: Int
        let headers: [String: String]
    }

    struct Event: Sendable {
        let name: String
        let data: String
        let receivedAt: ContinuousClock.Instant
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let descriptor: Int32
    private let state = Mutex(State())

    private struct State {
        var head: Head?
        var body: [UInt8] = []
        var finished = false
        var events: [Event] = []
        var closed = false
    }

    /// Connects to 127.0.0.1:`port` and sends `GET <rawPath>`.
    init(port: Int, rawPath: String, method: String = "GET", headers: [String: String] = [:], keepOpen: Bool = true) throws {
        let fd = try Self.connectLoopback(port: port)
        descriptor = fd
        var request = "\(method) \(rawPath) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        if !keepOpen { request += "Connection: close\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let thread = Thread { [self] in self.readLoop() }
        thread.start()
    }

    /// A TCP socket connected to 127.0.0.1:`port`.
    static func connectLoopback(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw Failure(description: "connect: \(errno)")
        }
        return fd
    }

    /// Closes the socket (the server sees the client go).
    func close() {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    deinit {
        close()
        Glibc.close(descriptor)
    }

    var head: Head? { state.withLock { $0.head } }
    var body: [UInt8] { state.withLock { $0.body } }
    var events: [Event] { state.withLock { $0.events } }
    var isFinished: Bool { state.withLock { $0.finished } }

    /// Waits (polling) until `condition` holds or `timeout` passes.
    @discardableResult
    func wait(timeout: Duration = .seconds(5), until condition: (RawHTTPConnection) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(2))
        }
        return condition(self)
    }

    /// The first event named `name` after `count` events, waiting for it.
    func nextEvent(named name: String, after count: Int, timeout: Duration = .seconds(5)) async -> Event? {
        var found: Event?
        await wait(timeout: timeout) { connection in
            found = connection.events.dropFirst(count).first { $0.name == name }
            return found != nil
        }
        return found
    }

    /// Sends a request and reads the whole answer (the connection is closed after it).
    static func fetch(port: Int, rawPath: String, method: String = "GET", headers: [String: String] = [:]) async throws -> (Head, [UInt8]) {
        let connection = try RawHTTPConnection(port: port, rawPath: rawPath, method: method, headers: headers, keepOpen: false)
        await connection.wait(timeout: .seconds(10)) { $0.isFinished }
        guard let head = connection.head else { throw Failure(description: "no answer for \(rawPath)") }
        return (head, connection.body)
    }

    // MARK: reading

    private func readLoop() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var parser = Parser()
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            buffer += chunk[0..<n]
            let done = parser.feed(&buffer, into: state)
            if done { break }
        }
        state.withLock { $0.finished = true }
    }

    private struct Parser {
        var head: Head?
        var chunked = false
        var remainingLength: Int?
        var chunkRemaining = 0
        var sseText: [UInt8] = []
        var isEventStream = false

        /// Consumes what it can of `buffer`; true when the answer is complete.
        mutating func feed(_ buffer: inout [UInt8], into state: borrowing Mutex<State>) -> Bool {
            if head == nil {
                guard let end = Self.find([13, 10, 13, 10], in: buffer) else { return false }
                let text = String(decoding: buffer[0..<end], as: UTF8.self)
                buffer.removeFirst(end + 4)
                var lines = text.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let parsed = Head(status: statusLine.count > 1 ? Int(statusLine[1]) ?? 0 : 0, headers: headers)
                head = parsed
                state.withLock { $0.head = parsed }
                chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
                remainingLength = headers["content-length"].flatMap { Int($0) }
                isEventStream = headers["content-type"]?.hasPrefix("text/event-stream") == true
                if !chunked, remainingLength == nil, parsed.status == 304 || parsed.status == 204 { return true }
            }
            var payload: [UInt8] = []
            var complete = false
            if chunked {
                while true {
                    if chunkRemaining > 0 {
                        let take = min(chunkRemaining, buffer.count)
                        payload += buffer[0..<take]
                        buffer.removeFirst(take)
                        chunkRemaining -= take
                        if chunkRemaining > 0 { break }
                        // The CRLF after the chunk.
                        chunkRemaining = -2
                    }
                    if chunkRemaining == -2 {
                        guard buffer.count >= 2 else { break }
                        buffer.removeFirst(2)
                        chunkRemaining = 0
                    }
                    guard let lineEnd = Self.find([13, 10], in: buffer) else { break }
                    let sizeText = String(decoding: buffer[0..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
                    buffer.removeFirst(lineEnd + 2)
                    let size = Int(sizeText, radix: 16) ?? 0
                    if size == 0 {
                        complete = true
                        break
                    }
                    chunkRemaining = size
                }
            } else if let remaining = remainingLength {
                let take = min(remaining, buffer.count)
                payload += buffer[0..<take]
                buffer.removeFirst(take)
                remainingLength = remaining - take
                complete = remainingLength == 0
            } else {
                payload += buffer
                buffer.removeAll()
            }
            if !payload.isEmpty {
                if isEventStream {
                    sseText += payload
                    var events: [Event] = []
                    while let end = Self.find([10, 10], in: sseText) {
                        let block = String(decoding: sseText[0..<end], as: UTF8.self)
                        sseText.removeFirst(end + 2)
                        var name = "message"
                        var data: [String] = []
                        for line in block.split(separator: "\n", omittingEmptySubsequences: false) {
                            if line.hasPrefix("event: ") { name = String(line.dropFirst(7)) }
                            if line.hasPrefix("data: ") { data.append(String(line.dropFirst(6))) }
                            if line.hasPrefix(":") { name = "comment" }
                        }
                        events.append(Event(name: name, data: data.joined(separator: "\n"), receivedAt: .now))
                    }
                    state.withLock { $0.body += payload; $0.events += events }
                } else {
                    state.withLock { $0.body += payload }
                }
            }
            return complete
        }

        static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
                if Array(haystack[start..<(start + needle.count)]) == needle { return start }
            }
            return nil
        }
    }
}
