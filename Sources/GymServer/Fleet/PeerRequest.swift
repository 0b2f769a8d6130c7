import Foundation
import GymCore
import GymService

#if canImport(Glibc)
    import Glibc
#endif

/// One `GET` to another replica of the fleet, with plain blocking sockets under a deadline (run
/// on `BlockingWork`'s threads, never on Swift's cooperative pool): the fleet's lists are a few
/// small JSON answers, not worth a client library. `Connection: close`, a body of known length
/// or chunked, at most `maximumBody` bytes.
struct PeerRequest: Sendable {
    let host: String
    let port: Int
    /// The path with its query, e.g. `/v1/envs/`.
    let target: String
    /// Headers to send besides `Host` and `Connection` (the caller's key, the fleet's mark).
    let headers: [(String, String)]
    var timeout: Double = 2
    static let maximumBody = 16 << 20

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// The status and body, or why there are none.
    func run() throws(Failure) -> (status: Int, body: [UInt8]) {
        let deadline = Date().addingTimeInterval(timeout)
        let fd = try connect(deadline: deadline)
        defer { close(fd) }
        var request = "GET \(target) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\nAccept: application/json\r\n"
        for (name, value) in headers where !name.contains("\r") && !name.contains("\n") && !value.contains("\r") && !value.contains("\n") {
            request += "\(name): \(value)\r\n"
        }
        request += "\r\n"
        try send(Array(request.utf8), fd, deadline: deadline)
        let raw = try receive(fd, deadline: deadline)
        return try Self.parse(raw)
    }

    private func connect(deadline: Date) throws(Failure) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else { continue }
            if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 {
                return fd
            }
            if errno == EINPROGRESS, wait(fd, for: Int16(POLLOUT), deadline: deadline) {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 { return fd }
                lastError = String(cString: strerror(error))
            } else {
                lastError = errno == EINPROGRESS ? "timed out" : String(cString: strerror(errno))
            }
            close(fd)
        }
        throw Failure(description: "cannot connect to \(host):\(port): \(lastError)")
    }

    private func wait(_ fd: Int32, for events: Int16, deadline: Date) -> Bool {
        while true {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { return false }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(min(left * 1000, 60_000).rounded(.up)))
            if ready > 0 { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }

    private func send(_ bytes: [UInt8], _ fd: Int32, deadline: Date) throws(Failure) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if sent > 0 {
                offset += sent
            } else if sent < 0 && (errno == EAGAIN || errno == EINTR) {
                guard wait(fd, for: Int16(POLLOUT), deadline: deadline) else { throw Failure(description: "timed out sending to \(host):\(port)") }
            } else {
                throw Failure(description: "cannot send to \(host):\(port): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func receive(_ fd: Int32, deadline: Date) throws(Failure) -> [UInt8] {
        var raw: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                raw.append(contentsOf: chunk[0..<count])
                guard raw.count <= Self.maximumBody + 65536 else { throw Failure(description: "\(host):\(port) answered more than \(Self.maximumBody) bytes") }
            } else if count == 0 {
                return raw
            } else if errno == EAGAIN || errno == EINTR {
                guard wait(fd, for: Int16(POLLIN), deadline: deadline) else { throw Failure(description: "\(host):\(port) did not answer within \(timeout) s") }
            } else {
                throw Failure(description: "cannot read from \(host):\(port): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The status and body of a whole HTTP/1.1 answer read to its end.
    static func parse(_ raw: [UInt8]) throws(Failure) -> (status: Int, body: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = raw.firstRange(of: separator) else { throw Failure(description: "an answer cut short (no end of headers)") }
        guard let head = String(bytes: raw[..<end.lowerBound], encoding: .utf8) else { throw Failure(description: "an answer whose head is not text") }
        let lines = head.components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            throw Failure(description: "an answer without a status line")
        }
        var chunked = false
        var length: Int?
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "transfer-encoding" && value.lowercased().contains("chunked") { chunked = true }
            if name == "content-length" { length = Int(value) }
        }
        var body = Array(raw[end.upperBound...])
        if chunked {
            body = try unchunk(body)
        } else if let length {
            guard body.count >= length else { throw Failure(description: "an answer cut short (\(body.count) of \(length) bytes)") }
            body = Array(body.prefix(length))
        }
        return (status, body)
    }

    private static func unchunk(_ bytes: [UInt8]) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while true {
            guard let lineEnd = bytes[index...].firstRange(of: [13, 10]) else { throw Failure(description: "a chunked answer cut short") }
            let sizeText = String(decoding: bytes[index..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                throw Failure(description: "a chunked answer with a bad chunk size")
            }
            index = lineEnd.upperBound
            if size == 0 { return out }
            guard index + size <= bytes.count else { throw Failure(description: "a chunked answer cut short") }
            out.append(contentsOf: bytes[index..<index + size])
            index += size + 2
        }
    }
}
