import Dispatch
import GymCore
import NIOCore
import NIOHTTP1
import NIOWebSocket
import GymService

/// Gymie's `step` (and `reset`) without the framework: a message answered on the event loop
/// that read it, the WebSocket's counterpart of the REST fast path (`StepFastPath`).
///
/// Over hummingbird-websocket a message crosses an async channel, the session's task and the
/// async writer, ~110 µs a step at one connection, where the REST fast path answers in ~50. This
/// handler sits right after NIO's WebSocket frame decoder (`GymieFastPathInstaller` puts it there
/// during the upgrade, before any frame is read) and answers
/// `{"method": "step", "params": {"instance_id", "action"}}` itself: a single text frame, valid
/// UTF-8, no other keys (`render` only when false; `full` either way), for an instance the socket's key
/// may use that the REST fast path could step (native, plain, no monitor), with an action Gymie
/// would not call wrong. The answer is the session's own text (`GymieSession.stepBytes`). So is
/// `reset` with `instance_id` and a seed or none (options are the session's), `full` or not: the
/// observation.
///
/// A bridged instance's step or reset (`EnvironmentInstance.performLater`: a plain instance's
/// step from this event loop, anything else on its worker queue) is answered here too, when it
/// comes: the frames behind it are held meanwhile, and no more is read. Its error closes the
/// socket as the session closes it (the call was made: it is not made again), and a call the
/// session must make after all (a monitor started) goes to it unchanged.
///
/// Every other frame goes on to the session as it came, and every message the session has not
/// answered yet holds the fast path back: a message is answered only when all before it are, so
/// answers keep the order of the messages. Once either side sends a close frame nothing more is
/// answered here.
final class GymieFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    struct Shared: Sendable {
        let manager: EnvironmentManager
        /// The key the socket was opened with (nil with API keys off).
        let owner: Owner?
        let answered: AtomicCount
        let resets: AtomicCount
        /// Where each answer is logged (`--access-log`), if anywhere.
        var accessLog: AccessLog? = nil
        var metrics: ServerMetrics? = nil
        /// `--loop-spin-us` (`LoopSpin`).
        var loopSpinMicroseconds = 0
    }

    private let shared: Shared
    /// Messages passed on to the session that it has not answered yet.
    private var unanswered = 0
    /// A close frame went one way or the other.
    private var ending = false
    /// This handler closed the socket (a bridged call's error): what comes after is dropped, and
    /// the client's close frame ends the connection.
    private var closing = false
    /// A bridged call under way: frames read meanwhile wait in `held`, and so does the read.
    private var waiting = false
    private var held: [NIOAny] = []
    private var readHeldBack = false
    /// Out of the pipeline (the connection ended): a call's answer that comes after is dropped.
    private var removed = false

    /// NIO's frame encoder: an answer enters the pipeline there, already a frame.
    private var encoderContext: ChannelHandlerContext?

    init(_ shared: Shared) {
        self.shared = shared
    }

    /// The loop's spinner, armed after each answer (nil: `--loop-spin-us 0`).
    private var spin: LoopSpin?

    func handlerAdded(context: ChannelHandlerContext) {
        encoderContext = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        spin = LoopSpin.on(context.eventLoop, budgetMicroseconds: shared.loopSpinMicroseconds, counters: shared.metrics?.loopSpin)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoderContext = nil
        removed = true
        held.removeAll()
    }

    /// A final, unmasked text frame (a server's) of `payload`, header and payload in one buffer, as
    /// `WebSocketFrameEncoder` would write it in two: one `write` for the answer instead of a
    /// `writev`.
    static func textFrame(_ payload: [UInt8], allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: payload.count + 10)
        buffer.writeInteger(UInt8(0x81))  // FIN, text
        if payload.count < 126 {
            buffer.writeInteger(UInt8(payload.count))
        } else if payload.count <= Int(UInt16.max) {
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(payload.count))
        } else {
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(payload.count))
        }
        buffer.writeBytes(payload)
        return buffer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if waiting {
            held.append(data)
            return
        }
        let frame = unwrapInboundIn(data)
        if closing {
            if frame.opcode == .connectionClose { context.close(promise: nil) }
            return
        }
        let start = shared.accessLog == nil ? 0 : DispatchTime.now().uptimeNanoseconds
        if !ending, unanswered == 0, frame.fin, frame.opcode == .text, frame.rsv1 == false, frame.rsv2 == false, frame.rsv3 == false,
            let outcome = answer(frame.unmaskedData)
        {
            switch outcome {
            case .now(let text, let reset):
                send(context, text, reset: reset, start: start)
            case .later(let instance, let call):
                startLater(context, instance, call, data, start: start)
            }
            return
        }
        if !ending, unanswered == 0, frame.opcode == .ping, frame.fin, frame.length <= 125, let encoder = encoderContext {
            // A ping is answered here too, with its payload (RFC 6455 5.5.3), as the session would:
            // the bare round trip of this socket, which `gym-load compare` measures as the floor
            // of a step.
            var pong = context.channel.allocator.buffer(capacity: frame.length + 2)
            pong.writeInteger(UInt8(0x8A))  // FIN, pong
            pong.writeInteger(UInt8(frame.length))
            var payload = frame.unmaskedData
            pong.writeBuffer(&payload)
            encoder.writeAndFlush(NIOAny(pong), promise: nil)
            spin?.arm()
            return
        }
        switch frame.opcode {
        case .connectionClose: ending = true
        case .text, .binary, .continuation: if frame.fin { unanswered += 1 }
        default: break
        }
        context.fireChannelRead(data)
    }

    /// A call answered here, counted and logged (`status`: 200, or the close code of an error).
    private func count(reset: Bool, status: Int, bytes: Int, start: UInt64) {
        (reset ? shared.resets : shared.answered).increment()
        shared.metrics?.stepPaths.count(.gymieFast, reset: reset)
        shared.accessLog?.record(
            method: reset ? "reset" : "step", path: GymieRoutes.path, status: status, bytes: bytes, startedAt: start,
            key: shared.owner?.name, transport: .ws)
    }

    /// An answer written, counted and logged; then the loop spins (`LoopSpin`), unless `arm` is
    /// false (a bridged instance's answer: its workers poll for the next request themselves).
    private func send(_ context: ChannelHandlerContext, _ text: [UInt8], reset: Bool, start: UInt64, arm: Bool = true) {
        count(reset: reset, status: 200, bytes: text.count, start: start)
        if let encoder = encoderContext {
            encoder.writeAndFlush(NIOAny(Self.textFrame(text, allocator: context.channel.allocator)), promise: nil)
        } else {
            var buffer = context.channel.allocator.buffer(capacity: text.count)
            buffer.writeBytes(text)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
        }
        if arm { spin?.arm() }
    }

    /// Makes a bridged instance's call; its answer (or error) is written from the event loop
    /// when it comes, the frames behind it held until then.
    private func startLater(_ context: ChannelHandlerContext, _ instance: EnvironmentInstance, _ call: GymieCall, _ data: NIOAny, start: UInt64) {
        waiting = true
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context, data), eventLoop: loop)
        let completion: @Sendable (Result<Answer, GymError>?) -> Void = { result in
            loop.execute {
                let (handler, context, data) = bound.value
                handler.finishLater(context, result, call, data, start: start)
            }
        }
        let started =
            switch call {
            case .step(let step, _): instance.performLater(step, on: loop, completion: completion)
            case .reset(let reset, _): instance.performLater(reset, completion: completion)
            }
        if !started { finishLater(context, nil, call, data, start: start) }
    }

    /// The end of `startLater`'s call, on the event loop: its answer written, its error closing
    /// the socket as the session would, or (nil) the message handed to the session; then the
    /// frames held meanwhile go on.
    private func finishLater(_ context: ChannelHandlerContext, _ result: Result<Answer, GymError>?, _ call: GymieCall, _ data: NIOAny, start: UInt64) {
        guard waiting, !removed else { return }
        waiting = false
        let reset: Bool
        let full: Bool
        switch call {
        case .step(_, let f): (reset, full) = (false, f)
        case .reset(_, let f): (reset, full) = (true, f)
        }
        switch result {
        case nil:
            unanswered += 1
            context.fireChannelRead(data)
        case .success(let answer):
            send(context, reset ? GymieSession.resetBytes(answer, full: full) : GymieSession.stepBytes(answer, full: full), reset: reset, start: start, arm: false)
        case .failure(let error):
            let message = String(decoding: unwrapInboundIn(data).unmaskedData.readableBytesView, as: UTF8.self)
            let (code, reason) = GymieSession.close(for: error, message: message)
            count(reset: reset, status: Int(code), bytes: 0, start: start)
            closeSocket(context, code: code, reason: reason)
        }
        while !held.isEmpty, !waiting {
            channelRead(context: context, data: held.removeFirst())
        }
        context.fireChannelReadComplete()
        if !waiting, readHeldBack {
            readHeldBack = false
            context.read()
        }
    }

    /// Sends a close frame with Gymie's code and reason; the client's answering close frame (or
    /// 10 seconds without one) ends the connection, and nothing else is read.
    private func closeSocket(_ context: ChannelHandlerContext, code: UInt16, reason: String) {
        ending = true
        closing = true
        var payload = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        payload.writeInteger(code)
        payload.writeString(reason)  // (at most 123 bytes: `GymieSession.closeReason`)
        if let encoder = encoderContext {
            // Past the encoder: the frame's bytes, as `textFrame` writes them.
            var bytes = context.channel.allocator.buffer(capacity: payload.readableBytes + 2)
            bytes.writeInteger(UInt8(0x88))  // FIN, close
            bytes.writeInteger(UInt8(payload.readableBytes))
            bytes.writeBuffer(&payload)
            encoder.writeAndFlush(NIOAny(bytes), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload)), promise: nil)
        }
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(10)) { channel.close(promise: nil) }
    }

    func read(context: ChannelHandlerContext) {
        if waiting {
            readHeldBack = true
            return
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        switch frame.opcode {
        case .connectionClose: ending = true
        // The session's answer (its last frame, if the writer split it).
        case .text, .binary, .continuation: if frame.fin { unanswered = max(0, unanswered - 1) }
        default: break
        }
        context.write(data, promise: promise)
    }

    /// What the fast path does with a message.
    private enum Outcome {
        /// Its answer's text, and whether it answers a reset.
        case now([UInt8], reset: Bool)
        /// A bridged instance's call, answered when it comes.
        case later(EnvironmentInstance, GymieCall)
    }

    /// What the fast path does with a message, or nil: the session must answer.
    private func answer(_ payload: ByteBuffer) -> Outcome? {
        let parsedCall = Self.plainStep(payload).map({ GymieCall.step($0, full: false) }) ?? Self.parsed(payload)
        switch parsedCall {
        case .step(let call, let full)?:
            guard let instance = try? shared.manager.instance(call.instanceID, for: shared.owner),
                // Gymie's check, as the session makes it: an action it would call wrong is the session's.
                GymieSession.acceptsAction(call.action, instance)
            else { return nil }
            if instance.callsBlockingWork { return .later(instance, .step(call, full: full)) }
            guard let stepped = try? instance.performWithoutWaiting(call) else { return nil }
            return .now(GymieSession.stepBytes(stepped, full: full), reset: false)
        case .reset(let call, let full)?:
            guard let instance = try? shared.manager.instance(call.instanceID, for: shared.owner) else { return nil }
            if instance.callsBlockingWork { return .later(instance, .reset(call, full: full)) }
            guard let reset = try? instance.performWithoutWaiting(call) else { return nil }
            return .now(GymieSession.resetBytes(reset, full: full), reset: true)
        case nil:
            return nil
        }
    }

    /// A message the fast path may answer.
    enum GymieCall: Equatable {
        case step(StepCall, full: Bool)
        case reset(ResetCall, full: Bool)
    }

    /// A message read as JSON and decoded by the session's decoder (`CallDecoder.gymieStep`,
    /// `gymieReset`), when it is one the fast path may answer: exactly `method` and `params`,
    /// valid UTF-8, a string `instance_id` (`full` answered here too, as the session writes it).
    static func parsed(_ payload: ByteBuffer) -> GymieCall? {
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil,
            case .object(let message)? = try? JSONParser.parse(payload.readableBytesView),
            message.count == 2, case .object(let params)? = message["params"],
            let instanceID = params["instance_id"]?.stringValue
        else { return nil }
        switch message["method"] {
        case .string("step")?:
            guard Set(params.keys).isSubset(of: GymieSession.Method.step.parameters),
                let (call, full) = try? CallDecoder.gymieStep(params, instanceID: instanceID)
            else { return nil }
            return .step(call, full: full)
        case .string("reset")?:
            guard Set(params.keys).isSubset(of: GymieSession.Method.reset.parameters),
                let (call, full) = try? CallDecoder.gymieReset(params, instanceID: instanceID)
            else { return nil }
            return .reset(call, full: full)
        default:
            return nil
        }
    }

    /// The step message as clients write it, read without building its JSON:
    /// `{"method": "step", "params": {"instance_id": "<id>", "action": <value>}}`, with or without
    /// a space after each `:` and `,` (Python's `json.dumps`, JavaScript's `JSON.stringify`).
    /// Only the action is parsed. Anything else (another order, other keys, escapes in the id,
    /// a byte outside ASCII) is nil, and `parsed` reads it: both take exactly the same
    /// messages to the same id and action.
    static func plainStep(_ payload: ByteBuffer) -> StepCall? {
        payload.withUnsafeReadableBytes { bytes -> StepCall? in
            var scanner = LiteralScanner(bytes: bytes)
            guard scanner.take("{"), scanner.take("\"method\""), scanner.take(":"), scanner.take("\"step\""), scanner.take(","),
                scanner.take("\"params\""), scanner.take(":"), scanner.take("{"), scanner.take("\"instance_id\""), scanner.take(":"),
                scanner.take("\""), let id = scanner.identifier(), scanner.take("\""), scanner.take(","),
                scanner.take("\"action\""), scanner.take(":"),
                let action = scanner.valueBeforeClosingBraces(2),
                !action.contains(where: { $0 >= 0x80 }),
                let value = try? JSONParser.parse(action)
            else { return nil }
            return StepCall(instanceID: id, action: value)
        }
    }
}

/// Reads fixed ASCII tokens from the front of a message, a space allowed before each.
private struct LiteralScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    private mutating func skipSpace() {
        while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 }
    }

    mutating func take(_ token: StaticString) -> Bool {
        skipSpace()
        let count = token.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let start = token.utf8Start
        for i in 0..<count where bytes[index + i] != start[i] { return false }
        index += count
        return true
    }

    /// An instance id: letters, digits, `-` and `_` (nothing to unescape).
    mutating func identifier() -> String? {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            guard (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            else { break }
            index += 1
        }
        guard index > start else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    /// What is left before `count` closing braces that end the message (spaces allowed around
    /// them): the last value's bytes.
    func valueBeforeClosingBraces(_ count: Int) -> UnsafeRawBufferPointer? {
        var end = bytes.count
        for _ in 0..<count {
            while end > index, bytes[end - 1] == UInt8(ascii: " ") { end -= 1 }
            guard end > index, bytes[end - 1] == UInt8(ascii: "}") else { return nil }
            end -= 1
        }
        guard end > index else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[index..<end])
    }
}

/// Added to a connection while its upgrade to Gymie's WebSocket is decided: when the upgrade
/// completes (NIO has added the WebSocket frame decoder, and has not yet passed on a byte read
/// after the request) it puts `GymieFastPath` right after the decoder, and leaves.
final class GymieFastPathInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let shared: GymieFastPath.Shared

    init(_ shared: GymieFastPath.Shared) {
        self.shared = shared
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .upgradeComplete? = event as? HTTPServerUpgradeEvents else {
            return context.fireUserInboundEventTriggered(event)
        }
        let pipeline = context.pipeline.syncOperations
        if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) {
            try? pipeline.addHandler(GymieFastPath(shared), position: .after(decoder.handler))
        }
        context.fireUserInboundEventTriggered(event)
        pipeline.removeHandler(context: context, promise: nil)
    }
}
