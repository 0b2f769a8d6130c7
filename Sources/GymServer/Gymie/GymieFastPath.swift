import GymCore
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Gymie's `step` without the framework: a step message answered on the event loop that read it,
/// the WebSocket's counterpart of the REST fast path (`StepFastPath`).
///
/// Over hummingbird-websocket a message crosses an async channel, the session's task and the
/// async writer, ~110 µs a step at one connection, where the REST fast path answers in ~50. This
/// handler sits right after NIO's WebSocket frame decoder (`GymieFastPathInstaller` puts it there
/// during the upgrade, before any frame is read) and answers
/// `{"method": "step", "params": {"instance_id", "action"}}` itself: a single text frame, valid
/// UTF-8, no other keys (`render` and `full` only when false), for an instance the socket's key
/// may use that the REST fast path could step (native, plain, no monitor), with an action Gymie
/// would not call wrong. The answer is the session's own text (`GymieSession.stepText`).
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
    }

    private let shared: Shared
    /// Messages passed on to the session that it has not answered yet.
    private var unanswered = 0
    /// A close frame went one way or the other.
    private var ending = false

    init(_ shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if !ending, unanswered == 0, frame.fin, frame.opcode == .text, frame.rsv1 == false, frame.rsv2 == false, frame.rsv3 == false,
            let text = answer(frame.unmaskedData)
        {
            shared.answered.increment()
            var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
            buffer.writeString(text)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: buffer)), promise: nil)
            return
        }
        switch frame.opcode {
        case .connectionClose: ending = true
        case .text, .binary, .continuation: if frame.fin { unanswered += 1 }
        default: break
        }
        context.fireChannelRead(data)
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

    /// The answer's text, or nil: the session must answer.
    private func answer(_ payload: ByteBuffer) -> String? {
        guard String(validating: payload.readableBytesView, as: UTF8.self) != nil,
            case .object(let message)? = try? JSONParser.parse(payload.readableBytesView),
            message.count == 2, message["method"] == .string("step"),
            case .object(let params)? = message["params"],
            params.keys.allSatisfy({ Self.parameters.contains($0) }),
            let instanceID = params["instance_id"]?.stringValue, let action = params["action"],
            params["render"] == nil || params["render"] == .bool(false),
            params["full"] == nil || params["full"] == .bool(false),
            let instance = try? shared.manager.instance(instanceID, for: shared.owner),
            // Gymie's check, as the session makes it: an action it would call wrong is the session's.
            (try? instance.actionSpace.value(from: action)).map(instance.actionSpace.contains) == true,
            let stepped = try? instance.stepWithoutWaiting(action: action)
        else { return nil }
        return GymieSession.stepText(stepped)
    }

    private static let parameters: Set<String> = ["instance_id", "action", "render", "full"]
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
