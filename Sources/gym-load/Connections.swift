import Foundation
import GymCore

#if canImport(Glibc)
    import Glibc
#endif

/// A blocking TCP connection to 127.0.0.1 (or any IPv4 host) with TCP_NODELAY: the least a client
/// can do per request, so that what is measured is the server.
final class TCPConnection {
    let descriptor: Int32
    private var buffer = [UInt8]()
    private var start = 0
    /// Where a `recv` reads (allocated once: zeroing 64 KiB per read cost the measure microseconds).
    private var chunk = [UInt8](repeating: 0, count: 64 * 1024)

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(host: String, port: Int) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            close(fd)
            throw Failure(description: "not an IPv4 address: \(host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "connect to \(host):\(port): \(reason)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        descriptor = fd
        buffer.reserveCapacity(64 * 1024)
    }

    deinit { close(descriptor) }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; throws at end of stream.
    private func fill() throws {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 32 * 1024 {
            buffer.removeFirst(start)
            start = 0
        }
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return
            }
            if n == 0 { throw Failure(description: "connection closed by the server") }
            if errno == EINTR { continue }
            throw Failure(description: "recv: \(String(cString: strerror(errno)))")
        }
    }

    /// The bytes up to and including the first `\r\n\r\n`.
    func readHead() throws -> [UInt8] {
        while true {
            if let end = findTerminator() {
                let head = Array(buffer[start..<end])
                start = end
                return head
            }
            try fill()
        }
    }

    private func findTerminator() -> Int? {
        guard buffer.count - start >= 4 else { return nil }
        var i = start
        while i + 3 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i + 4 }
            i += 1
        }
        return nil
    }

    /// A line ending in `\r\n` (without it).
    func readLine() throws -> [UInt8] {
        while true {
            var i = start
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 {
                    let line = Array(buffer[start..<i])
                    start = i + 2
                    return line
                }
                i += 1
            }
            try fill()
        }
    }

    func read(exactly count: Int) throws -> [UInt8] {
        while buffer.count - start < count { try fill() }
        let bytes = Array(buffer[start..<(start + count)])
        start += count
        return bytes
    }
}

/// HTTP/1.1 over one keep-alive connection.
final class HTTPClient {
    let host: String
    let port: Int
    var headers: [(String, String)] = []
    private var connection: TCPConnection

    struct Answer {
        let status: Int
        let body: [UInt8]
        var json: JSON? { try? JSONParser.parse(body) }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    init(url: String) throws {
        (host, port) = try Self.hostAndPort(url)
        connection = try TCPConnection(host: host, port: port)
    }

    static func hostAndPort(_ url: String) throws -> (String, Int) {
        var rest = Substring(url)
        for scheme in ["http://", "ws://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        let parts = rest.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else {
            throw TCPConnection.Failure(description: "expected http://host:port, got \(url)")
        }
        return (String(parts[0]), port)
    }

    func request(_ method: String, _ path: String, body: [UInt8]? = nil) throws -> Answer {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        try connection.send(bytes)
        let response = String(decoding: try connection.readHead(), as: UTF8.self)
        let lines = response.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.count >= 12, let status = Int(statusLine.dropFirst(9).prefix(3)) else {
            throw TCPConnection.Failure(description: "bad status line: \(response.prefix(80))")
        }
        var length: Int?
        var chunked = false
        for line in lines.dropFirst() {
            let lower = line.lowercased()
            if lower.hasPrefix("content-length:") { length = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) }
            if lower.hasPrefix("transfer-encoding:") && lower.contains("chunked") { chunked = true }
        }
        var payload: [UInt8] = []
        if chunked {
            while true {
                let sizeLine = String(decoding: try connection.readLine(), as: UTF8.self)
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw TCPConnection.Failure(description: "bad chunk size \(sizeLine)")
                }
                if size == 0 {
                    _ = try connection.readLine()
                    break
                }
                payload += try connection.read(exactly: size)
                _ = try connection.readLine()
            }
        } else if let length {
            payload = try connection.read(exactly: length)
        }
        return Answer(status: status, body: payload)
    }

    func post(_ path: String, _ json: JSON) throws -> Answer {
        try request("POST", path, body: JSONWriter.encode(json))
    }

    func get(_ path: String) throws -> Answer {
        try request("GET", path)
    }
}

/// A WebSocket client (RFC 6455) for text messages: masked frames out, one text message in per
/// answer.
final class WebSocketClient {
    private let connection: TCPConnection
    private var maskSeed: UInt32 = 0x9E37_79B9

    init(url: String, path: String = "/gym", headers: [(String, String)] = []) throws {
        let (host, port) = try HTTPClient.hostAndPort(url)
        connection = try TCPConnection(host: host, port: port)
        var head = "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        try connection.send(Array(head.utf8))
        let response = String(decoding: try connection.readHead(), as: UTF8.self)
        guard response.hasPrefix("HTTP/1.1 101") else {
            throw TCPConnection.Failure(description: "no WebSocket upgrade: \(response.prefix(120))")
        }
    }

    func send(_ text: String) throws {
        try send(opcode: 0x1, Array(text.utf8))
    }

    /// A ping, and the wait for its pong: the socket's bare round trip.
    func ping(_ payload: [UInt8]) throws {
        try send(opcode: 0x9, payload)
        while true {
            let header = try connection.read(exactly: 2)
            let payload = try connection.read(exactly: Int(header[1] & 0x7F))
            switch header[0] & 0x0F {
            case 0xA: return
            case 0x9: continue
            default: throw TCPConnection.Failure(description: "a frame (\(header[0])) answered a ping: \(payload.prefix(80))")
            }
        }
    }

    private func send(opcode: UInt8, _ payload: [UInt8]) throws {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else if payload.count < 65536 {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((payload.count >> shift) & 0xFF)) }
        }
        maskSeed = maskSeed &* 1_664_525 &+ 1_013_904_223
        let mask = withUnsafeBytes(of: maskSeed.bigEndian) { Array($0) }
        frame += mask
        frame.reserveCapacity(frame.count + payload.count)
        for (i, byte) in payload.enumerated() { frame.append(byte ^ mask[i & 3]) }
        try connection.send(frame)
    }

    /// The next text message; throws with the close code and reason when the server closes.
    func receive() throws -> String {
        var message: [UInt8] = []
        while true {
            let header = try connection.read(exactly: 2)
            let fin = header[0] & 0x80 != 0
            let opcode = header[0] & 0x0F
            var length = Int(header[1] & 0x7F)
            if length == 126 {
                let extended = try connection.read(exactly: 2)
                length = Int(extended[0]) << 8 | Int(extended[1])
            } else if length == 127 {
                let extended = try connection.read(exactly: 8)
                length = extended.reduce(0) { $0 << 8 | Int($1) }
            }
            let payload = try connection.read(exactly: length)
            switch opcode {
            case 0x8:
                let code = payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : 1005
                let reason = payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : ""
                throw TCPConnection.Failure(description: "closed \(code): \(reason)")
            case 0x9, 0xA:
                continue
            default:
                message += payload
                if fin { return String(decoding: message, as: UTF8.self) }
            }
        }
    }
}
