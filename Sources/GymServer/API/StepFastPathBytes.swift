import Dispatch
import HummingbirdCore
import Logging
import GymCore
import NIOCore
import NIOHTTP1
import GymService

/// The REST fast path one step earlier: a plain step or reset read from the connection's bytes,
/// before NIO's HTTP/1 decoder turns it into a `HTTPRequestHead` of Strings and parts.
///
/// At 16 connections the decoder, the head's Strings and the parts' trip to `StepFastPath` were
/// ~15% of the server's CPU (docs/performance-profile.md). This handler sits first in the
/// pipeline and frames requests itself, by strict rules: an HTTP/1.1 request line, header lines
/// of a token, a colon and printable ASCII, CRLF line ends, and a body of `Content-Length` bytes
/// (none without one). A request that `StepFastPath` could answer (`POST
/// /v1/envs/{id}/step/` or `reset/`, kept alive, no `Expect` or `Upgrade`), arriving while no
/// other request is under way, is answered here through `StepFastPath.response`: the same
/// answer, counts and metrics, in one write. Every other request goes on to NIO's decoder whole,
/// as it came (and on to Hummingbird, or to `StepFastPath` after the decoder).
///
/// Anything it cannot frame by those rules (chunked bodies, HTTP/1.0, an upgrade, a folded or
/// non-ASCII header, two lengths, a head over 16 KiB) ends its work on the connection: the bytes
/// from there on go to NIO's decoder untouched, and it leaves the pipeline. It never holds bytes
/// NIO's decoder could act on: it waits only for the rest of a head, or the rest of the body of
/// a request it may answer (at most `StepFastPath.Shared.bodyLimit`), as the decoder would.
final class StepFastPathBytes: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// Longest head framed here: longer ones go to NIO's decoder (and its limits).
    static let maxHeadLength = 16 * 1024

    private let answered: AtomicCount
    /// Bytes held at a request boundary: the start of a request not whole yet.
    private var pending: ByteBuffer?
    /// Bytes of a request passed on whose end has not come yet.
    private var passingRemaining = 0
    /// The part-level fast path, once the connection is a plain HTTP one (it is added after the
    /// first request, when the upgrade to a WebSocket was not asked for).
    private var parts: StepFastPath?

    /// `--loop-spin-us`, and the loop's spinner, armed after each answer (`LoopSpin`).
    private let loopSpinMicroseconds: Int
    private let spinCounters: LoopSpinCounters?
    private var spin: LoopSpin?

    init(answered: AtomicCount, loopSpinMicroseconds: Int = 0, spinCounters: LoopSpinCounters? = nil) {
        self.answered = answered
        self.loopSpinMicroseconds = loopSpinMicroseconds
        self.spinCounters = spinCounters
    }

    func handlerAdded(context: ChannelHandlerContext) {
        spin = LoopSpin.on(context.eventLoop, budgetMicroseconds: loopSpinMicroseconds, counters: spinCounters)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var held = pending {
            pending = nil
            held.writeBuffer(&input)
            input = held
        }
        while input.readableBytes > 0 {
            if passingRemaining > 0 {
                let count = min(passingRemaining, input.readableBytes)
                passingRemaining -= count
                context.fireChannelRead(wrapInboundOut(input.readSlice(length: count)!))
                continue
            }
            // At the start of a request.
            switch Self.frame(input.readableBytesView) {
            case .incomplete:
                pending = input
                return
            case .unframed:
                leave(context, passing: input)
                return
            case .request(let request):
                let total = request.headLength + request.bodyLength
                if request.fast != nil, parts == nil {
                    // (The part-level fast path is there once the first request has made it.)
                    parts = try? context.pipeline.syncOperations.handler(type: StepFastPath.self)
                }
                if let fast = request.fast, let parts, parts.isIdle, request.bodyLength <= parts.bodyLimit {
                    guard input.readableBytes >= total else {
                        pending = input
                        return
                    }
                    let start = DispatchTime.now().uptimeNanoseconds
                    let body = input.readableBytesView.dropFirst(request.headLength).prefix(request.bodyLength)
                    if let response = parts.response(
                        fast.fields, fast.kind, instanceID: fast.instanceID, body: body, start: start,
                        allocator: context.channel.allocator, path: .bytes)
                    {
                        input.moveReaderIndex(forwardBy: total)
                        answered.increment()
                        context.writeAndFlush(NIOAny(response), promise: nil)
                        spin?.arm()
                        continue
                    }
                }
                if request.endsFraming {
                    leave(context, passing: input)
                    return
                }
                // Passed on whole: the head and what there is of the body, the rest as it comes.
                let count = min(total, input.readableBytes)
                passingRemaining = total - count
                context.fireChannelRead(wrapInboundOut(input.readSlice(length: count)!))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        releasePending(context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { releasePending(context) }
        context.fireUserInboundEventTriggered(event)
    }

    /// At the end of the input, what was held goes to NIO's decoder, which says what it makes of
    /// a request cut short.
    private func releasePending(_ context: ChannelHandlerContext) {
        if let held = pending {
            pending = nil
            context.fireChannelRead(wrapInboundOut(held))
        }
    }

    /// Hands the rest of the connection to NIO's decoder and leaves the pipeline.
    private func leave(_ context: ChannelHandlerContext, passing rest: ByteBuffer) {
        pending = nil
        parts = nil
        if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    // MARK: framing

    /// What the bytes at the start of a request are.
    enum Framing {
        /// Not a whole head yet.
        case incomplete
        /// Not framed by these rules: NIO's decoder takes the connection from here.
        case unframed
        case request(Request)
    }

    struct Request {
        var headLength: Int
        var bodyLength: Int
        /// The request changes the connection (an upgrade): NIO's decoder takes it and the rest.
        var endsFraming: Bool
        /// Set when the fast path may answer it.
        var fast: (kind: StepFastPath.Kind, instanceID: String, fields: StepFastPath.RequestFields)?
    }

    /// Frames the request at the start of `bytes`.
    static func frame(_ bytes: ByteBufferView) -> Framing {
        bytes.withContiguousStorageIfAvailable { frame(UnsafeRawBufferPointer($0)) } ?? .unframed
    }

    static func frame(_ bytes: UnsafeRawBufferPointer) -> Framing {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        // The head: printable ASCII and tabs in CRLF-ended lines, up to an empty line.
        var lines: [Range<Int>] = []
        var lineStart = 0
        var index = 0
        var headLength: Int?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == cr {
                guard index + 1 < bytes.count else { break }
                guard bytes[index + 1] == lf else { return .unframed }
                if index == lineStart {
                    headLength = index + 2
                    break
                }
                lines.append(lineStart..<index)
                index += 2
                lineStart = index
                continue
            }
            guard (byte >= 0x20 && byte < 0x7F) || byte == UInt8(ascii: "\t") else { return .unframed }
            index += 1
            if index > maxHeadLength { return .unframed }
        }
        guard let headLength else { return index >= maxHeadLength ? .unframed : .incomplete }
        guard let requestLine = lines.first else { return .unframed }
        // METHOD SP target SP HTTP/1.1
        let line = bytes[requestLine]
        guard let firstSpace = line.firstIndex(of: UInt8(ascii: " ")), firstSpace > line.startIndex,
            let lastSpace = line.lastIndex(of: UInt8(ascii: " ")), lastSpace > firstSpace + 1,
            line[(lastSpace + 1)...].elementsEqual("HTTP/1.1".utf8),
            line[line.startIndex..<firstSpace].allSatisfy(isToken),
            !line[(firstSpace + 1)..<lastSpace].contains(UInt8(ascii: " "))
        else { return .unframed }
        let method = line[line.startIndex..<firstSpace]
        let target = line[(firstSpace + 1)..<lastSpace]
        // The methods, and the characters of a target, that NIO's decoder takes too: framing goes
        // on past a request only when the decoder reads it as it is read here.
        guard knownMethods.contains(where: { method.elementsEqual($0.utf8) }), target.allSatisfy(isTargetCharacter) else {
            return .unframed
        }

        var contentLength: Int?
        var endsFraming = false
        var keepAlive = true
        var expect = false
        var fields = StepFastPath.RequestFields(uri: String(decoding: target, as: UTF8.self))
        for range in lines.dropFirst() {
            let header = bytes[range]
            // name ":" OWS value OWS; a line starting with white space (a folded one) is not framed here.
            guard let colon = header.firstIndex(of: UInt8(ascii: ":")), colon > header.startIndex,
                header[header.startIndex..<colon].allSatisfy(isToken)
            else { return .unframed }
            let name = header[header.startIndex..<colon]
            var value = header[(colon + 1)...]
            while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
            while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
            switch name.count {
            case 14 where equalsLowercased(name, "content-length"):
                guard contentLength == nil, (1...9).contains(value.count), value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return .unframed }
                contentLength = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            case 17 where equalsLowercased(name, "transfer-encoding"):
                return .unframed
            case 7 where equalsLowercased(name, "upgrade"):
                endsFraming = true
            case 10 where equalsLowercased(name, "connection"):
                for token in value.split(separator: UInt8(ascii: ",")) {
                    let trimmed = token.drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }.reversed()
                    if equalsLowercased(trimmed, "close") { keepAlive = false }
                    if equalsLowercased(trimmed, "upgrade") { endsFraming = true }
                }
            case 6 where equalsLowercased(name, "expect"):
                expect = true
            case 6 where equalsLowercased(name, "origin"):
                fields.cors = true
            case 6 where equalsLowercased(name, "accept"):
                note(&fields.accept, value)
            case 9 where equalsLowercased(name, "x-api-key"):
                note(&fields.apiKey, value)
            case 13 where equalsLowercased(name, "authorization"):
                note(&fields.authorization, value)
            default:
                break
            }
        }
        var request = Request(headLength: headLength, bodyLength: contentLength ?? 0, endsFraming: endsFraming || !keepAlive, fast: nil)
        if !request.endsFraming, !expect, method.elementsEqual("POST".utf8), let (kind, id) = StepFastPath.target(target) {
            request.fast = (kind, id, fields)
        }
        return .request(request)
    }

    /// A header's value, and whether it came more than once.
    private static func note(_ field: inout (value: String?, repeated: Bool), _ value: Slice<UnsafeRawBufferPointer>) {
        if field.value != nil { field.repeated = true } else { field.value = String(decoding: value, as: UTF8.self) }
    }

    private static let knownMethods = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]

    /// RFC 3986's characters of a URI (unreserved, reserved, `%`).
    private static func isTargetCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~:/?#[]@!$&'()*+,;=%".utf8.contains(byte)
        }
    }

    private static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    private static func equalsLowercased(_ bytes: some Collection<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        var index = 0
        let expected = lowercase.utf8Start
        for byte in bytes {
            let lowered = byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
            guard lowered == expected[index] else { return false }
            index += 1
        }
        return true
    }
}

/// A server channel with a handler put first in every connection's pipeline, before the
/// inner channel sets up its own.
struct FrontedChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value

    let inner: Inner
    let front: @Sendable () -> any ChannelHandler

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(front())
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }.flatMapThrowing { value in
            // The first request's protocol errors are answered (see FirstRequestErrors).
            let pipeline = channel.pipeline.syncOperations
            if let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self) {
                try pipeline.addHandler(FirstRequestErrors(), position: .after(decoder.handler))
            }
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// Answers a first request NIO's decoder refuses (a folded header, two lengths, a control byte)
/// with 400 and a JSON message, and closes the connection. Later requests' errors are
/// Hummingbird's (400, then close); the first is read while the WebSocket upgrade is being
/// decided, and nothing answered it: the connection stayed open and silent. Right after the
/// decoder until the first request's end has passed, then it leaves (it is never there to see
/// a WebSocket frame).
final class FirstRequestErrors: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let isEnd: Bool
        if case .end = unwrapInboundIn(data) { isEnd = true } else { isEnd = false }
        context.fireChannelRead(data)
        if isEnd { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? HTTPParserError else { return context.fireErrorCaught(error) }
        let message = "The request is not valid HTTP/1.1: \(error)"
        var body = context.channel.allocator.buffer(capacity: 128)
        body.writeBytes(JSONWriter.encode(["message": .string(message), "error": .string(message)]))
        body.writeInteger(UInt8(ascii: "\n"))
        let head = HTTPResponseHead(
            version: .http1_1, status: .badRequest,
            headers: ["Content-Type": "application/json", "Content-Length": String(body.readableBytes), "Connection": "close"])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }
}
