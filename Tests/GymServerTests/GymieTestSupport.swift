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
        Application(router: buildAPIRouter(state: state), server: gymieUpgrade(state: state))
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

/// A WebSocket client (the hummingbird-websocket client library) that sends messages one at a time
/// and collects the answers: `next(reply)` says what to send next (nil: stop).
func converse(
    port: Int, path: String = "/gym", maxSize: Int = 1 << 22,
    first: String, next: @escaping @Sendable (String, Int) -> String?
) async throws -> Conversation {
    let collected = Mutex(Conversation())
    let close = try await WebSocketClient.connect(
        url: "ws://localhost:\(port)\(path)", configuration: .init(maxFrameSize: maxSize), logger: Logger(label: "gymie-test")
    ) { inbound, outbound, _ in
        try await outbound.write(.text(first))
        var count = 0
        for try await message in inbound.messages(maxSize: maxSize) {
            guard case .text(let text) = message else { continue }
            count += 1
            collected.withLock { $0.replies.append(text) }
            guard let following = next(text, count) else { return }
            try await outbound.write(.text(following))
        }
    }
    var result = collected.withLock { $0 }
    result.closeCode = close?.closeCode
    result.closeReason = close?.reason
    return result
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

        var closeCode: Int? { opcode == 8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil }
        var closeReason: String { opcode == 8 && payload.count > 2 ? String(decoding: payload[2...], as: UTF8.self) : "" }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private let descriptor: Int32
    private let state = Mutex<(handshake: String?, frames: [Frame], ended: Bool)>((nil, [], false))

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
        shutdown(descriptor, Int32(SHUT_RDWR))
        Glibc.close(descriptor)
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
                let frame = Frame(opcode: buffer[0] & 0x0F, payload: Array(buffer[offset..<(offset + length)]))
                state.withLock { $0.frames.append(frame) }
                buffer.removeFirst(offset + length)
            }
        }
        state.withLock { $0.ended = true }
    }
}
