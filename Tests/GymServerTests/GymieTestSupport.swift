import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import Logging
import NIOCore
import NIOWebSocket
import WSClient
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The API application with Gymie's WebSocket upgrade, as `gym-server` builds it.
extension APIHarness {
    var webSocketApplication: some ApplicationProtocol {
        Application(router: buildAPIRouter(state: state), server: .gym(state: state))
    }

    /// Runs `body` against a live server (real sockets) with the WebSocket upgrade.
    func live(_ body: @escaping @Sendable (APIClient, Int) async throws -> Void) async throws {
        try await webSocketApplication.test(.live) { client in
            try await body(APIClient(client: client), try #require(client.port))
        }
    }
}

/// What a conversation over a WebSocket got: one answer per message sent, until the server closed.
struct Conversation: Sendable {
    var replies: [String] = []
    var closeCode: WebSocketErrorCode?
    var closeReason: String?
}

/// A WebSocket client that sends messages one at a time and collects the answers: `next(reply)`
/// says what to send next (nil: stop, with a normal close). It is `RawWebSocket`, not a client
/// library: hummingbird-websocket's client sometimes never returns when the server's 101 and its
/// close frame arrive in one read (a refused key), which hung a whole test run. Every wait here
/// has a deadline, so a server that does not answer fails the test instead of stalling it.
func converse(
    port: Int, path: String = "/gym", maxSize: Int = 1 << 22, timeout: Duration = .seconds(30),
    first: String, next: @escaping @Sendable (String, Int) -> String?
) async throws -> Conversation {
    let socket = try RawWebSocket(port: port, path: path)
    defer { socket.close() }
    var result = Conversation()
    socket.send(opcode: 1, Array(first.utf8))
    var sent = first
    while true {
        switch try await socket.nextMessage(timeout: timeout, after: sent) {
        case .text(let text):
            #expect(text.utf8.count <= maxSize, "an answer of \(text.utf8.count) bytes")
            result.replies.append(text)
            guard let following = next(text, result.replies.count) else {
                // A normal close: the server answers with its own close frame.
                socket.send(opcode: 8, [0x03, 0xE8])
                _ = try await socket.nextMessage(timeout: timeout, after: "close")
                return result
            }
            socket.send(opcode: 1, Array(following.utf8))
            sent = following
        case .close(let code, let reason):
            result.closeCode = code.map { WebSocketErrorCode(codeNumber: $0) }
            result.closeReason = reason.isEmpty ? nil : reason
            return result
        case .ended:
            return result
        }
    }
}

/// Sends the messages in order, one answer each, then closes.
func converse(port: Int, path: String = "/gym", _ messages: [String]) async throws -> Conversation {
    let remaining = messages
    return try await converse(port: port, path: path, first: messages[0]) { _, count in
        count < remaining.count ? remaining[count] : nil
    }
}

/// A `{"method": ..., "params": ...}` message.
func gymie(_ method: String, _ params: JSON) -> String {
    JSONWriter.string(["method": .string(method), "params": params])
}

/// A WebSocket at the level of frames, to send what a client library would not: binary frames,
/// stray continuations, oversized and broken messages. It reads on a thread of its own.
final class RawWebSocket: Sendable {
    struct Frame: Sendable {
        let opcode: UInt8
        let payload: [UInt8]
        var fin = true

        var closeCode: Int? { opcode == 8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil }
        var closeReason: String { opcode == 8 && payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : "" }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// What `nextMessage` found: a whole text message, the server's close frame, or the end of
    /// the connection without one.
    enum Message: Sendable {
        case text(String)
        case close(code: Int?, reason: String)
        case ended
    }

    private let descriptor: Int32
    private let state = Mutex<(handshake: String?, frames: [Frame], ended: Bool, read: Int, closed: Bool)>((nil, [], false, 0, false))

    init(port: Int, path: String = "/gym") throws {
        let fd = try RawHTTPConnection.connectLoopback(port: port)
        descriptor = fd
        let request =
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        sendRaw(Array(request.utf8))
        let thread = Thread { [self] in readLoop() }
        thread.start()
    }

    deinit {
        close()
        Glibc.close(descriptor)
    }

    /// Ends the connection; the reading thread sees it end and lets go of the socket.
    func close() {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            return !state.closed
        }
        if first { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// The next message the server sent after the ones already taken: a text message (fragments
    /// joined; pings answered), its close frame, or the end of the connection. Throws when
    /// nothing comes within `timeout`; `after` names what was sent, for that message.
    func nextMessage(timeout: Duration, after: String) async throws -> Message {
        let deadline = ContinuousClock.now + timeout
        var pending: [UInt8] = []
        while true {
            let (frame, ended) = state.withLock { state -> (Frame?, Bool) in
                guard state.read < state.frames.count else { return (nil, state.ended) }
                state.read += 1
                return (state.frames[state.read - 1], false)
            }
            if let frame {
                switch frame.opcode {
                case 8: return .close(code: frame.closeCode, reason: frame.closeReason)
                case 9: send(opcode: 10, frame.payload)
                case 1, 2, 0:
                    pending += frame.payload
                    if frame.fin { return .text(String(decoding: pending, as: UTF8.self)) }
                default: break
                }
                continue
            }
            if ended { return .ended }
            guard ContinuousClock.now < deadline else {
                throw Failure(description: "no answer from the server within \(timeout) after \(after.prefix(200))")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    func sendRaw(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// A masked frame; `length` overrides the length written in the header (for lies).
    func send(opcode: UInt8, fin: Bool = true, _ payload: [UInt8], declaredLength: Int? = nil) {
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        let length = declaredLength ?? payload.count
        if length < 126 {
            frame.append(0x80 | UInt8(length))
        } else if length < 65536 {
            frame += [0x80 | 126, UInt8(length >> 8), UInt8(length & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8((length >> shift) & 0xFF)) }
        }
        let mask: [UInt8] = [0x12, 0x34, 0x56, 0x78]
        frame += mask
        for (i, byte) in payload.enumerated() { frame.append(byte ^ mask[i & 3]) }
        sendRaw(frame)
    }

    var frames: [Frame] { state.withLock { $0.frames } }
    var handshake: String? { state.withLock { $0.handshake } }

    /// Waits (polling) for a close frame from the server.
    func closeFrame(timeout: Duration = .seconds(5)) async -> Frame? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let frame = frames.first(where: { $0.opcode == 8 }) { return frame }
            if state.withLock({ $0.ended }) { break }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return frames.first(where: { $0.opcode == 8 })
    }

    private func readLoop() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var headDone = false
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            buffer += chunk[0..<n]
            if !headDone {
                guard let end = buffer.indices.dropLast(3).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10 }) else { continue }
                let head = String(decoding: buffer[..<end], as: UTF8.self)
                state.withLock { $0.handshake = head }
                buffer.removeFirst(end + 4)
                headDone = true
            }
            while buffer.count >= 2 {
                var length = Int(buffer[1] & 0x7F)
                var offset = 2
                if length == 126 {
                    guard buffer.count >= 4 else { break }
                    length = Int(buffer[2]) << 8 | Int(buffer[3])
                    offset = 4
                } else if length == 127 {
                    guard buffer.count >= 10 else { break }
                    length = buffer[2..<10].reduce(0) { $0 << 8 | Int($1) }
                    offset = 10
                }
                guard buffer.count >= offset + length else { break }
                let frame = Frame(opcode: buffer[0] & 0x0F, payload: Array(buffer[offset..<(offset + length)]), fin: buffer[0] & 0x80 != 0)
                state.withLock { $0.frames.append(frame) }
                buffer.removeFirst(offset + length)
            }
        }
        state.withLock { $0.ended = true }
    }
}
