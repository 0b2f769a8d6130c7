import ArgumentParser
import Foundation
import GymCore

#if canImport(Glibc)
    import Glibc
#endif

/// `gym-server healthcheck`: asks a running server's `GET /healthz` and exits 0 when it answers
/// 200 with `"status": "ok"`, 1 otherwise, printing what it found. The container image's
/// HEALTHCHECK runs it, so the image needs no HTTP client of its own. A plain blocking socket on
/// the main thread: the command is a process of its own that does nothing else.
struct HealthCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck",
        abstract: "Exit 0 if the gym-server at --host and --port answers GET /healthz with status ok, else 1.",
        discussion: """
            Takes the server's own --host and --port (gym-server healthcheck --port 5001): a server \
            listening on every address (0.0.0.0, ::) is asked on the loopback address.
            """)

    /// The server's options: `--host` and `--port` are the server's, given as to the server.
    @ParentCommand var server: GymServerCommand

    @Option(help: "Seconds to wait for the answer.")
    var timeout = 5.0

    func validate() throws {
        guard timeout > 0, timeout <= 300 else { throw ValidationError("--timeout must be more than 0 and at most 300 seconds") }
        guard (1...65535).contains(server.port) else { throw ValidationError("--port must be between 1 and 65535") }
    }

    /// Where to ask: the server's host, or loopback for a server on every address.
    var host: String {
        switch server.host {
        case "0.0.0.0", "": "127.0.0.1"
        case "::", "[::]": "::1"
        case let host where host.hasPrefix("[") && host.hasSuffix("]"): String(host.dropFirst().dropLast())
        case let host: host
        }
    }

    var port: Int { server.port }

    func run() throws {
        let answer: HTTPAnswer
        do {
            answer = try HTTPAnswer.get(host: host, port: port, path: "/healthz", timeout: timeout)
        } catch {
            print("unhealthy: no answer from http://\(host):\(port)/healthz: \(error)")
            throw ExitCode(1)
        }
        let body = String(decoding: answer.body, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard answer.status == 200 else {
            print("unhealthy: GET /healthz answered \(answer.status): \(body.prefix(300))")
            throw ExitCode(1)
        }
        guard let json = try? JSONParser.parse(answer.body), let status = json["status"]?.stringValue else {
            print("unhealthy: GET /healthz answered 200 without a status: \(body.prefix(300))")
            throw ExitCode(1)
        }
        print("\(status == "ok" ? "healthy" : "unhealthy"): \(body)")
        if status != "ok" { throw ExitCode(1) }
    }
}

/// One HTTP/1.1 GET over a blocking socket, with a deadline on every system call.
struct HTTPAnswer {
    let status: Int
    let body: [UInt8]

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func get(host: String, port: Int, path: String, timeout: Double) throws -> HTTPAnswer {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let looked = getaddrinfo(host, String(port), &hints, &list)
        guard looked == 0, let first = list else { throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(looked)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let address = candidate {
            candidate = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - timeout.rounded(.down)) * 1e6))
            // On Linux SO_SNDTIMEO bounds connect() too.
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
                lastError = "cannot connect: \(String(cString: strerror(errno)))"
                continue
            }
            let request = Array("GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nAccept: application/json\r\nConnection: close\r\n\r\n".utf8)
            var sent = 0
            while sent < request.count {
                let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { throw Failure(description: "cannot send the request: \(String(cString: strerror(errno)))") }
                sent += n
            }
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 16384)
            while received.count < 1 << 20 {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n == 0 { break }
                guard n > 0 else { throw Failure(description: "no complete answer: \(String(cString: strerror(errno)))") }
                received += chunk[..<n]
            }
            return try parse(received)
        }
        throw Failure(description: lastError)
    }

    /// The status and body of an answer read to its end (`Connection: close`; a chunked body is
    /// joined).
    static func parse(_ bytes: [UInt8]) throws -> HTTPAnswer {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw Failure(description: "the answer has no complete head")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) else {
            throw Failure(description: "not an HTTP answer: \(statusLine.prefix(80))")
        }
        var body = Array(bytes[(end + separator.count)...])
        if head.lowercased().contains("transfer-encoding: chunked") { body = dechunked(body) }
        return HTTPAnswer(status: status, body: body)
    }

    private static func dechunked(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstIndex(of: UInt8(ascii: "\r")),
                let size = Int(String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
                size > 0, lineEnd + 2 + size <= bytes.count
            else { break }
            out += bytes[(lineEnd + 2)..<(lineEnd + 2 + size)]
            index = lineEnd + 2 + size + 2
        }
        return out
    }
}
