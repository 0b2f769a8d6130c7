import Foundation
import GymCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The REST step without the framework: `POST /v1/envs/{id}/step/` answered on the event loop
/// that read it, before Hummingbird sees it.
///
/// A plain step at one connection spent ~200 µs in the server, of which the environment and JSON
/// took under 2%: the rest went to the request's trip through Hummingbird (an async channel, a
/// task per connection, four middlewares, the router) and the hops between the event loop and
/// Swift's cooperative pool (docs/performance-profile.md). This handler sits in the channel
/// pipeline after the HTTP codec and answers the common case itself, synchronously:
/// a plain native instance without a monitor, `{"action": ...}` (and `render: false`), no CORS,
/// no `Expect`, no `Connection` header, the key (when keys are on) in a header or the query.
/// It writes exactly the answer the route writes (the same encoder, JSON or MessagePack by
/// `Accept`, the same headers) and counts it in the same metrics series.
///
/// Everything else goes on to Hummingbird untouched, the request replayed as it came: any other
/// route, any other shape of request, and every error (the step throws before it changes
/// anything, so the route does it again and answers the error in its own words). While a
/// request passed on has not been answered, the ones behind it are passed on too, so that
/// pipelined answers keep their order.
final class StepFastPath: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// What it shares with the routes.
    struct Shared: Sendable {
        let manager: EnvironmentManager
        let keyring: APIKeyring
        let serverName: String
        /// Bodies longer than this go to the route (which knows --max-body-size).
        let bodyLimit: Int
        let answered: AtomicCount
    }

    private enum Mode {
        /// Between requests.
        case idle
        /// A step request being read: its head, the instance id, and the body so far.
        case reading(HTTPRequest, instanceID: String, body: ByteBuffer, start: UInt64)
        /// The request is Hummingbird's.
        case passing
    }

    private let shared: Shared
    private var mode = Mode.idle
    /// Requests passed on whose answer has not ended yet.
    private var passedOn = 0
    private var dates = HTTPDateCache()

    static let route = "/v1/envs/{instance_id}/step"

    init(_ shared: Shared) {
        self.shared = shared
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if passedOn == 0, let instanceID = Self.candidate(head) {
                mode = .reading(head, instanceID: instanceID, body: context.channel.allocator.buffer(capacity: 64),
                                start: DispatchTime.now().uptimeNanoseconds)
            } else {
                passOn(context, data)
            }
        case .body(var part):
            guard case .reading(let head, let id, var body, let start) = mode else { return context.fireChannelRead(data) }
            if body.readableBytes + part.readableBytes > shared.bodyLimit {
                replay(context, head, body)
                context.fireChannelRead(data)
                return
            }
            mode = .idle  // (no copy of the buffer while it grows)
            body.writeBuffer(&part)
            mode = .reading(head, instanceID: id, body: body, start: start)
        case .end:
            guard case .reading(let head, let id, let body, let start) = mode else { return context.fireChannelRead(data) }
            mode = .idle
            if let (bytes, contentType) = answer(head, instanceID: id, body: body) {
                // Counted before the answer leaves, as the route's middleware counts it.
                shared.manager.metrics?.api.record(route: Self.route, method: .post, status: .ok, startedAt: start)
                shared.answered.increment()
                write(context, bytes, contentType: contentType)
            } else {
                replay(context, head, body)
                context.fireChannelRead(data)
            }
        }
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
    private func replay(_ context: ChannelHandlerContext, _ head: HTTPRequest, _ body: ByteBuffer) {
        passOn(context, wrapInboundOut(.head(head)))
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    /// The instance id of a request the fast path may take, from its head alone.
    static func candidate(_ head: HTTPRequest) -> String? {
        guard head.method == .post, let path = head.path else { return nil }
        let fields = head.headerFields
        guard fields[.origin] == nil, fields[.expect] == nil, fields[.connection] == nil else { return nil }
        let bytes = path.utf8
        // /v1/envs/<id>/step/ or /v1/envs/<id>/step, with a query or without.
        let prefix = "/v1/envs/".utf8
        guard bytes.starts(with: prefix) else { return nil }
        var rest = bytes.dropFirst(prefix.count)
        if let query = rest.firstIndex(of: UInt8(ascii: "?")) { rest = rest[..<query] }
        guard let slash = rest.firstIndex(of: UInt8(ascii: "/")) else { return nil }
        let id = rest[..<slash]
        let tail = rest[rest.index(after: slash)...]
        guard !id.isEmpty, tail.elementsEqual("step/".utf8) || tail.elementsEqual("step".utf8) else { return nil }
        return String(decoding: id, as: UTF8.self)
    }

    /// The answer's bytes and content type, or nil: the route must answer.
    private func answer(_ head: HTTPRequest, instanceID: String, body: ByteBuffer) -> (ByteBuffer, String)? {
        var owner: Owner?
        if shared.keyring.isEnabled {
            let uri = URI(head.path ?? "")
            guard let presented = PresentedKey.fromHeaders(head.headerFields) ?? PresentedKey.fromQuery(uri),
                let found = shared.keyring.lookup(presented)
            else { return nil }
            owner = found
        }
        guard case .object(let members)? = try? JSONParser.parse(body.readableBytesView),
            let action = members["action"],
            members.keys.allSatisfy({ $0 == "action" || $0 == "render" }),
            members["render"] == nil || members["render"] == .bool(false)
        else { return nil }
        guard let instance = try? shared.manager.instance(instanceID, for: owner),
            let answer = try? instance.stepWithoutWaiting(action: action)
        else { return nil }
        let messagePack = MessagePackNegotiation.wanted(accept: head.headerFields[.accept])
        return Response.encode([answer], single: true, messagePack: messagePack, allocator: ByteBufferAllocator())
    }

    private func write(_ context: ChannelHandlerContext, _ body: ByteBuffer, contentType: String) {
        var fields = HTTPFields()
        fields.reserveCapacity(4)
        fields[.contentType] = contentType
        fields[.contentLength] = String(body.readableBytes)
        fields[.date] = dates.now()
        fields[.server] = shared.serverName
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

/// A count that any thread may bump (how many steps the fast path answered: tests read it).
public final class AtomicCount: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    func increment() { value.add(1, ordering: .relaxed) }
    public var count: Int { value.load(ordering: .relaxed) }
}

/// `Date` as HTTP writes it (RFC 9110's IMF-fixdate), made once a second.
struct HTTPDateCache {
    private var second = -1
    private var text = ""

    mutating func now() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let seconds = Int(now.tv_sec)
        if seconds != second {
            second = seconds
            text = Self.format(seconds)
        }
        return text
    }

    static func format(_ seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
