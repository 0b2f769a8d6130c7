import Foundation
import GymCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import Synchronization
import GymService

/// The REST step (and reset) without the framework: `POST /v1/envs/{id}/step/` answered on the
/// event loop that read it, before Hummingbird sees it.
///
/// A plain step at one connection spent ~200 µs in the server, of which the environment and JSON
/// took under 2%: the rest went to the request's trip through Hummingbird (an async channel, a
/// task per connection, four middlewares, the router) and the hops between the event loop and
/// Swift's cooperative pool (docs/performance-profile.md). This handler sits in the channel
/// pipeline right after NIO's HTTP/1 decoder (`StepFastPathInstaller` puts it there, before the
/// conversion to swift-http-types) and answers the common case itself, synchronously:
/// a plain native instance without a monitor, `{"action": ...}` (and `render: false`), HTTP/1.1
/// kept alive, no `Expect`, the key (when keys are on) in a header or the query. The
/// same for `POST /v1/envs/{id}/reset/` with a seed or none (no options): agents reset at every
/// episode's end, and a toy-text episode is a few steps long.
/// It writes exactly the answer the route writes (the same encoder, JSON or MessagePack by
/// `Accept`, the same headers) and counts it in the same metrics series.
///
/// A bridged instance's step or reset (`EnvironmentInstance.performLater`) runs on its worker
/// queue instead (a plain instance's step from this event loop itself, which watches the
/// worker's answer pipe), and its answer, or its error in the route's words, is written from the
/// event loop when it comes; the connection's later requests are held until then. A call the route
/// must make after all (a monitor started meanwhile) goes to it unchanged.
///
/// Everything else goes on to Hummingbird untouched, the request replayed as it came: any other
/// route, any other shape of request, and every error (the step throws before it changes
/// anything, so the route does it again and answers the error in its own words). While a
/// request passed on has not been answered, the ones behind it are passed on too, so that
/// pipelined answers keep their order.
final class StepFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What it shares with the routes.
    struct Shared: Sendable {
        let manager: EnvironmentManager
        let keyring: APIKeyring
        let serverName: String
        /// Bodies longer than this go to the route (which knows --max-body-size).
        let bodyLimit: Int
        let answered: AtomicCount
        let resets: AtomicCount
        /// Where each answer is logged (`--access-log`), if anywhere.
        var accessLog: AccessLog? = nil
        /// The manager's metrics, as the transports count them (nil: `--no-metrics`).
        var metrics: ServerMetrics? = nil
        /// `--loop-spin-us` (`LoopSpin`).
        var loopSpinMicroseconds = 0
    }

    /// The two requests the fast path takes.
    enum Kind {
        case step, reset

        var route: String {
            switch self {
            case .step: return RouteTemplate.endpoint(RouteTemplate.step)
            case .reset: return RouteTemplate.endpoint(RouteTemplate.reset)
            }
        }
    }

    private enum Mode {
        /// Between requests.
        case idle
        /// A step or reset request being read: its head, the instance id, and the body so far.
        case reading(HTTPRequestHead, Kind, instanceID: String, body: ByteBuffer, start: UInt64)
        /// The request is Hummingbird's.
        case passing
        /// A bridged instance's call under way on its worker queue (`startLater`): the request
        /// kept in case the route must take it after all; the parts that come meanwhile are held.
        case waiting(HTTPRequestHead, body: ByteBuffer)
    }

    /// Parts read while a call was under way (`Mode.waiting`), fed in again after its answer.
    /// No more is read from the socket meanwhile (`read` is held back), so what is held is at
    /// most what one read brought.
    private var held: [NIOAny] = []
    /// A read asked for while a call was under way, to ask for when it is over.
    private var readHeldBack = false
    /// Set when the handler leaves the pipeline (the connection closed): a call that ends
    /// afterwards writes nothing.
    private var removed = false

    private let shared: Shared
    private var mode = Mode.idle
    /// Requests passed on whose answer has not ended yet.
    private var passedOn = 0
    private var dates = HTTPDateCache()
    /// The metrics series of a fast step and reset, resolved at the first.
    private lazy var stepSeries: RequestMetrics.Series? = series(.step)
    private lazy var resetSeries: RequestMetrics.Series? = series(.reset)

    private func series(_ kind: Kind) -> RequestMetrics.Series? {
        shared.metrics.map { $0.api.series(for: RequestMetrics.key(route: kind.route, method: .post, status: .ok)) }
    }
    /// The last answer's head: the next answer of the same length and type in the same second
    /// reuses it.
    /// The heads written this second, by content type and length (answers of one environment
    /// differ by a few bytes in length: a handful of heads serve them all).
    private var heads: [HeadKey: [UInt8]] = [:]
    private var headsDate = ""

    private struct HeadKey: Hashable {
        let length: Int
        let messagePack: Bool
        let cors: Bool
    }
    /// NIO's response encoder, where an answer of the fast path enters the pipeline.
    private var encoderContext: ChannelHandlerContext?
    /// The loop's spinner, armed after each answer (nil: `--loop-spin-us 0`).
    private var spin: LoopSpin?

    init(_ shared: Shared) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) {
        encoderContext = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        spin = LoopSpin.on(context.eventLoop, budgetMicroseconds: shared.loopSpinMicroseconds, counters: shared.metrics?.loopSpin)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        encoderContext = nil
        removed = true
        held.removeAll()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .waiting = mode {
            held.append(data)
            return
        }
        switch unwrapInboundIn(data) {
        case .head(let head):
            // (Without NIO's encoder where Hummingbird puts it, nothing is answered here.)
            if passedOn == 0, encoderContext != nil, let (kind, instanceID) = Self.candidate(head) {
                mode = .reading(head, kind, instanceID: instanceID, body: context.channel.allocator.buffer(capacity: 64),
                                start: DispatchTime.now().uptimeNanoseconds)
            } else {
                passOn(context, data)
            }
        case .body(var part):
            guard case .reading(let head, let kind, let id, var body, let start) = mode else { return context.fireChannelRead(data) }
            if body.readableBytes + part.readableBytes > shared.bodyLimit {
                replay(context, head, body)
                context.fireChannelRead(data)
                return
            }
            mode = .idle  // (no copy of the buffer while it grows)
            body.writeBuffer(&part)
            mode = .reading(head, kind, instanceID: id, body: body, start: start)
        case .end:
            guard case .reading(let head, let kind, let id, let body, let start) = mode else { return context.fireChannelRead(data) }
            mode = .idle
            let fields = RequestFields(head)
            guard let encoder = encoderContext else {
                replay(context, head, body)
                return context.fireChannelRead(data)
            }
            switch attempt(fields, kind, instanceID: id, body: body.readableBytesView) {
            case .now(let bytes, let contentType, let owner):
                write(encoder, respond(bytes, contentType: contentType, owner: owner, fields, kind, start: start, path: .parts, allocator: context.channel.allocator))
            case .later(let later):
                startLater(context, encoder, later, fields, kind, head: head, body: body, start: start)
            case .declined:
                replay(context, head, body)
                context.fireChannelRead(data)
            }
        }
    }

    /// Runs a bridged instance's call on its worker queue; its answer (or error) is written from
    /// the event loop when it comes, or the request goes to the route if the call needs it.
    private func startLater(
        _ context: ChannelHandlerContext, _ encoder: ChannelHandlerContext, _ later: Later, _ fields: RequestFields, _ kind: Kind,
        head: HTTPRequestHead, body: ByteBuffer, start: UInt64
    ) {
        mode = .waiting(head, body: body)
        let loop = context.eventLoop
        let bound = NIOLoopBound((self, context, encoder), eventLoop: loop)
        let completion: @Sendable (Result<Answer, GymError>?) -> Void = { result in
            loop.execute {
                let (handler, context, encoder) = bound.value
                handler.finishLater(context, encoder, result, later, fields, kind, start: start)
            }
        }
        let started =
            switch later.call {
            case .step(let call): later.instance.performLater(call, on: loop, completion: completion)
            case .reset(let call): later.instance.performLater(call, completion: completion)
            }
        if !started { finishLater(context, encoder, nil, later, fields, kind, start: start) }
    }

    /// The end of `startLater`'s call, on the event loop: its answer or error written, or (nil)
    /// the request handed to the route; then the parts held meanwhile go on.
    private func finishLater(
        _ context: ChannelHandlerContext, _ encoder: ChannelHandlerContext, _ result: Result<Answer, GymError>?, _ later: Later,
        _ fields: RequestFields, _ kind: Kind, start: UInt64
    ) {
        guard !removed, case .waiting(let head, let body) = mode else { return }
        mode = .idle
        let allocator = context.channel.allocator
        switch result {
        case nil:
            replay(context, head, body)
            context.fireChannelRead(wrapInboundOut(.end(nil)))
        case .success(let answer):
            let (bytes, contentType) = Response.encode([answer], single: true, messagePack: later.messagePack, allocator: allocator)
            write(encoder, respond(bytes, contentType: contentType, owner: later.owner, fields, kind, start: start, path: .partsWorker, allocator: allocator), arm: false)
        case .failure(let error):
            // As the route answers it (JSONErrorMiddleware): the error's status and JSON body.
            let failure = CallError(error)
            var bytes = allocator.buffer(capacity: 256)
            JSONWriter.write(failure.body, into: &bytes)
            bytes.writeInteger(UInt8(ascii: "\n"))
            write(encoder, respond(
                bytes, contentType: "application/json", owner: later.owner, fields, kind, start: start, path: .partsWorker,
                status: failure.statusCode, headers: failure.headers, allocator: allocator), arm: false)
        }
        while !held.isEmpty {
            if case .waiting = mode { break }
            channelRead(context: context, data: held.removeFirst())
        }
        // What went on to Hummingbird outside a read of the channel: its async channel hands
        // reads over at the end of a read.
        context.fireChannelReadComplete()
        if case .waiting = mode { return }
        if readHeldBack {
            readHeldBack = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if case .waiting = mode {
            readHeldBack = true
            return
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            passedOn = max(0, passedOn - 1)
            if passedOn == 0, case .passing = mode { mode = .idle }
        }
        context.write(data, promise: promise)
    }

    private func passOn(_ context: ChannelHandlerContext, _ data: NIOAny) {
        passedOn += 1
        mode = .passing
        context.fireChannelRead(data)
    }

    /// Hands a request read so far to Hummingbird, as it came.
    private func replay(_ context: ChannelHandlerContext, _ head: HTTPRequestHead, _ body: ByteBuffer) {
        passOn(context, wrapInboundOut(.head(head)))
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    /// The kind and instance id of a request the fast path may take, from its head alone.
    static func candidate(_ head: HTTPRequestHead) -> (Kind, String)? {
        guard head.method == .POST, head.version == .http1_1, head.isKeepAlive else { return nil }
        let fields = head.headers
        guard !fields.contains(name: "expect"), !fields.contains(name: "upgrade") else { return nil }
        return target(head.uri.utf8)
    }

    /// `/v1/envs/<id>/step/` (or `step`, `reset/`, `reset`), with a query or without: the kind
    /// and the instance id. Both fast paths read the target with it (`StepFastPathBytes` from
    /// the connection's bytes).
    static func target<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> (Kind, String)? {
        let prefix = "/v1/envs/".utf8
        guard bytes.starts(with: prefix) else { return nil }
        var rest = bytes.dropFirst(prefix.count)
        if let query = rest.firstIndex(of: UInt8(ascii: "?")) { rest = rest[..<query] }
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let id = rest[..<slash]
        let tail = rest[rest.index(after: slash)...]
        guard !id.isEmpty else { return nil }
        let kind: Kind
        if tail.elementsEqual("step/".utf8) || tail.elementsEqual("step".utf8) {
            kind = .step
        } else if tail.elementsEqual("reset/".utf8) || tail.elementsEqual("reset".utf8) {
            kind = .reset
        } else {
            return nil
        }
        return (kind, String(decoding: id, as: UTF8.self))
    }

    /// What the fast path reads of a request's head besides its path: the target (for a key in
    /// the query), the headers that carry a key or choose the answer's type (each with whether
    /// it was repeated: the route decides those), and whether it came from a browser (CORS).
    struct RequestFields {
        var uri: String
        var apiKey: (value: String?, repeated: Bool) = (nil, false)
        var authorization: (value: String?, repeated: Bool) = (nil, false)
        var accept: (value: String?, repeated: Bool) = (nil, false)
        var cors = false

        init(uri: String) {
            self.uri = uri
        }

        init(_ head: HTTPRequestHead) {
            uri = head.uri
            apiKey = Self.single(head.headers, "x-api-key")
            authorization = Self.single(head.headers, "authorization")
            accept = Self.single(head.headers, "accept")
            cors = head.headers.contains(name: "origin")
        }

        /// The one value of a header, nil when absent.
        private static func single(_ headers: HTTPHeaders, _ name: String) -> (value: String?, repeated: Bool) {
            let values = headers[name]
            return (values.first, values.count > 1)
        }
    }

    /// Bodies longer than this are the route's.
    var bodyLimit: Int { shared.bodyLimit }

    /// Whether no request is under way on this connection (and NIO's decoder has refused
    /// none): the next one may be answered here.
    var isIdle: Bool {
        guard passedOn == 0, !decoderFailed, held.isEmpty, case .idle = mode else { return false }
        return true
    }

    /// NIO's decoder refused a request: the connection is not framed by anyone from there on.
    private var decoderFailed = false

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        decoderFailed = true
        context.fireErrorCaught(error)
    }

    /// The whole response (head and body) to a step or reset, counted as the route counts it;
    /// nil when the route must answer (or, for a bridged instance, the part-level handler: the
    /// bytes-level one hands it the request).
    func response(
        _ fields: RequestFields, _ kind: Kind, instanceID: String, body: ByteBufferView, start: UInt64, allocator: ByteBufferAllocator,
        path: StepPath = .parts
    ) -> ByteBuffer? {
        guard case .now(let bytes, let contentType, let owner) = attempt(fields, kind, instanceID: instanceID, body: body) else { return nil }
        return respond(bytes, contentType: contentType, owner: owner, fields, kind, start: start, path: path, allocator: allocator)
    }

    /// An answer counted (metrics, access log) as the route counts it, and framed.
    private func respond(
        _ bytes: ByteBuffer, contentType: String, owner: Owner?, _ fields: RequestFields, _ kind: Kind, start: UInt64, path: StepPath,
        status: Int = 200, headers: [(name: String, value: String)] = [], allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        // Counted before the answer leaves, as the route's middleware counts it.
        if status == 200 {
            switch kind {
            case .step:
                stepSeries?.record(startedAt: start)
                shared.answered.increment()
            case .reset:
                resetSeries?.record(startedAt: start)
                shared.resets.increment()
            }
        } else {
            shared.metrics?.api.series(for: RequestMetrics.key(route: kind.route, method: .post, status: HTTPResponse.Status(code: status)))
                .record(startedAt: start)
        }
        shared.metrics?.stepPaths.count(path, reset: kind == .reset)
        shared.accessLog?.record(
            method: "POST", path: AccessLog.pathOnly(fields.uri), status: status, bytes: bytes.readableBytes, startedAt: start,
            key: owner?.name, transport: .fast)
        // A browser's request (CORS) gets what the route's CORSMiddleware adds for any origin,
        // `Access-Control-Allow-Origin: *`.
        return encodeResponse(bytes, contentType: contentType, cors: fields.cors, status: status, headers: headers, allocator: allocator)
    }

    /// What the fast path makes of a request.
    enum Attempt {
        /// Answered: the answer's bytes, content type and the key's owner.
        case now(ByteBuffer, String, Owner?)
        /// A call for a bridged instance's worker queue (`startLater`).
        case later(Later)
        /// The route's.
        case declined
    }

    /// A call the part-level handler runs on a bridged instance's worker queue.
    struct Later {
        enum Call {
            case step(StepCall)
            case reset(ResetCall)
        }
        let instance: EnvironmentInstance
        let call: Call
        let owner: Owner?
        let messagePack: Bool
    }

    /// The answer's bytes and content type, and the key's owner; or the call to make on a
    /// bridged instance's worker queue; or nothing: the route must answer.
    private func attempt(_ fields: RequestFields, _ kind: Kind, instanceID: String, body: ByteBufferView) -> Attempt {
        var owner: Owner?
        if shared.keyring.isEnabled {
            guard !fields.apiKey.repeated, !fields.authorization.repeated,
                let presented = PresentedKey.fromHeaders(apiKey: fields.apiKey.value, authorization: fields.authorization.value)
                    ?? PresentedKey.fromQuery(URI(fields.uri)),
                let found = shared.keyring.lookup(presented)
            else { return .declined }
            owner = found
        }
        guard !fields.accept.repeated else { return .declined }
        let messagePack = MessagePackNegotiation.wanted(accept: fields.accept.value)
        // The body in the decoder's fast mode: it declines what the route must read (a key in
        // the body, anything strict would refuse); the instance declines what it must wait for.
        let answer: Answer?
        switch kind {
        case .step:
            guard let call = CallDecoder.fastStep(body, instanceID: instanceID),
                let instance = try? shared.manager.instance(instanceID, for: owner)
            else { return .declined }
            if instance.callsBlockingWork {
                return call.render ? .declined : .later(Later(instance: instance, call: .step(call), owner: owner, messagePack: messagePack))
            }
            answer = try? instance.performWithoutWaiting(call)
        case .reset:
            guard let call = CallDecoder.fastReset(body, instanceID: instanceID),
                let instance = try? shared.manager.instance(instanceID, for: owner)
            else { return .declined }
            if instance.callsBlockingWork {
                return call.render ? .declined : .later(Later(instance: instance, call: .reset(call), owner: owner, messagePack: messagePack))
            }
            answer = try? instance.performWithoutWaiting(call)
        }
        guard let answer else { return .declined }
        let (bytes, contentType) = Response.encode([answer], single: true, messagePack: messagePack, allocator: ByteBufferAllocator())
        return .now(bytes, contentType, owner)
    }

    /// The answer as one buffer: the head as NIO's `HTTPResponseEncoder` writes Hummingbird's
    /// (status line, then the type, the length, CORS's line, the date and the server), and the
    /// body.
    private func encodeResponse(
        _ body: ByteBuffer, contentType: String, cors: Bool, status: Int = 200, headers: [(name: String, value: String)] = [],
        allocator: ByteBufferAllocator
    ) -> ByteBuffer {
        let date = dates.now()
        guard status == 200, headers.isEmpty else {
            // (An error: rare, its head made for it.) Hummingbird writes the extra lines after
            // the type and length, before CORS's line.
            let origin = cors ? "Access-Control-Allow-Origin: *\r\n" : ""
            let extra = headers.map { "\($0.name): \($0.value)\r\n" }.joined()
            let reason = HTTPResponseStatus(statusCode: status).reasonPhrase
            let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.readableBytes)\r\n\(extra)\(origin)Date: \(date)\r\nServer: \(shared.serverName)\r\n\r\n"
            var buffer = allocator.buffer(capacity: head.utf8.count + body.readableBytes)
            buffer.writeString(head)
            buffer.writeImmutableBuffer(body)
            return buffer
        }
        if date != headsDate {
            heads.removeAll(keepingCapacity: true)
            headsDate = date
        }
        let key = HeadKey(length: body.readableBytes, messagePack: contentType == MessagePackNegotiation.contentType, cors: cors)
        let head: [UInt8]
        if let cached = heads[key] {
            head = cached
        } else {
            let origin = cors ? "Access-Control-Allow-Origin: *\r\n" : ""
            head = Array("HTTP/1.1 200 OK\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.readableBytes)\r\n\(origin)Date: \(date)\r\nServer: \(shared.serverName)\r\n\r\n".utf8)
            heads[key] = head
        }
        var buffer = allocator.buffer(capacity: head.count + body.readableBytes)
        buffer.writeBytes(head)
        buffer.writeImmutableBuffer(body)
        return buffer
    }

    /// Writes a response from the encoder's place in the pipeline, past it: nothing is left to
    /// encode, and one buffer leaves in one `write` where the encoder's head, body and end left
    /// in a `writev` of three. The encoder holds no state between responses, and none of
    /// Hummingbird's is under way (`passedOn` is 0), so it misses nothing.
    /// `arm`: whether the loop spins after it (`LoopSpin`): not after a bridged instance's answer,
    /// whose workers poll for the next request themselves.
    private func write(_ encoder: ChannelHandlerContext, _ response: ByteBuffer, arm: Bool = true) {
        encoder.writeAndFlush(NIOAny(response), promise: nil)
        if arm { spin?.arm() }
    }
}

/// Puts `StepFastPath` in its place. Hummingbird adds a connection's extra handlers after the
/// codec that turns NIO's HTTP/1 parts into swift-http-types' (`HTTP1ToHTTPServerCodec`); the
/// fast path works before it, on NIO's own parts, so that a step it answers is never converted
/// either way. This handler moves it there when it is added, and leaves.
final class StepFastPathInstaller: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let shared: StepFastPath.Shared

    init(_ shared: StepFastPath.Shared) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let pipeline = context.pipeline.syncOperations
        if let codec = try? pipeline.context(handlerType: HTTP1ToHTTPServerCodec.self) {
            try? pipeline.addHandler(StepFastPath(shared), position: .before(codec.handler))
        }
        pipeline.removeHandler(context: context, promise: nil)
    }
}

/// A count that any thread may bump (how many steps the fast path answered: tests read it).
public final class AtomicCount: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    func increment() { value.add(1, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}

/// `Date` as HTTP writes it (`HTTPDate`, RFC 9110's IMF-fixdate), made once a second.
struct HTTPDateCache {
    private var second = -1
    private var text = ""

    mutating func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec)
        if seconds != second {
            second = seconds
            text = HTTPDate.string(epochSeconds: seconds)
        }
        return text
    }
}
