import CoreMetrics
import Dispatch
import HTTPTypes
import Hummingbird
import NIOPosix
import Prometheus
import Synchronization

/// Request counts and latencies of one port, by route, method and status.
///
/// The route is the template the router matched (`/v1/envs/{instance_id}/step/`), never the
/// path a client sent: a request no route matched counts as `unmatched`, and a method outside
/// HTTP's usual ones as `other`, so no client can add series. The series of a (route, method,
/// status) is resolved once per thread and kept in that thread's own table: after the first
/// request, recording takes no lock another request needs (only swift-prometheus's histogram
/// takes its own short lock to add one observation).
final class RequestMetrics: Sendable {
    static let countLabel = "gym_http_requests_total"
    static let durationLabel = "gym_http_request_duration_seconds"
    /// The route of a request no route matched.
    static let unmatched = "unmatched"
    static let knownMethods: Set<HTTPRequest.Method> = [.get, .head, .post, .put, .delete, .options, .patch]

    let port: String
    private let factory: PrometheusMetricsFactory
    /// Every series made so far, for the threads' tables to fill from.
    private let shared = Mutex<[Key: Series]>([:])
    private let perThread = ThreadSpecificVariable<ThreadTable>()

    struct Key: Hashable, Sendable {
        let route: String
        let method: String
        let status: Int
    }

    final class Series: Sendable {
        let count: CoreMetrics.Counter
        let duration: CoreMetrics.Timer

        init(count: CoreMetrics.Counter, duration: CoreMetrics.Timer) {
            self.count = count
            self.duration = duration
        }

        /// One request, started at `start` (`DispatchTime` nanoseconds), ending now.
        func record(startedAt start: UInt64) {
            count.increment()
            duration.recordNanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds &- start))
        }
    }

    /// One thread's copy of the series it has used. Only that thread reads or writes it.
    private final class ThreadTable: @unchecked Sendable {
        var series: [Key: Series] = [:]
    }

    init(port: String, factory: PrometheusMetricsFactory) {
        self.port = port
        self.factory = factory
    }

    /// The label values of a request: its route template (or `unmatched`), its method (or
    /// `other`), its status.
    static func key(route: String?, method: HTTPRequest.Method, status: HTTPResponse.Status) -> Key {
        let template = route.flatMap { $0 == "NotFound" ? nil : $0 } ?? unmatched
        return Key(route: template, method: knownMethods.contains(method) ? method.rawValue : "other", status: status.code)
    }

    func record(route: String?, method: HTTPRequest.Method, status: HTTPResponse.Status, startedAt start: UInt64) {
        series(for: Self.key(route: route, method: method, status: status)).record(startedAt: start)
    }

    /// The series of a key, for a caller that records many requests of one kind (the fast path
    /// resolves its series once per connection).
    func series(for key: Key) -> Series {
        let table: ThreadTable
        if let current = perThread.currentValue {
            table = current
        } else {
            table = ThreadTable()
            perThread.currentValue = table
        }
        if let found = table.series[key] { return found }
        let found = shared.withLock { shared in
            if let known = shared[key] { return known }
            let dimensions = [("port", port), ("route", key.route), ("method", key.method), ("status", String(key.status))]
            let made = Series(
                count: CoreMetrics.Counter(label: Self.countLabel, dimensions: dimensions, factory: factory),
                duration: CoreMetrics.Timer(label: Self.durationLabel, dimensions: dimensions, factory: factory))
            shared[key] = made
            return made
        }
        table.series[key] = found
        return found
    }
}

/// Counts and times every request of a port (`RequestMetrics`); on the files port it also
/// counts the body bytes written. Added first, so that it sees the answer every other
/// middleware made, errors turned into statuses included.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: RequestMetrics
    /// Counts the bytes of every body written (the files port), if set.
    let bytesServed: CoreMetrics.Counter?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = DispatchTime.now().uptimeNanoseconds
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            metrics.record(route: context.endpointPath, method: request.method, status: status, startedAt: start)
            throw error
        }
        metrics.record(route: context.endpointPath, method: request.method, status: response.status, startedAt: start)
        if let bytesServed {
            let body = response.body
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                try await body.write(
                    writer.map { buffer in
                        bytesServed.increment(by: buffer.readableBytes)
                        return buffer
                    })
            }
        }
        return response
    }
}
