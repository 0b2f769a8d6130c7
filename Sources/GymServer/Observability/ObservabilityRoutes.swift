import GymCore
import Hummingbird
import NIOCore

/// `GET /healthz` and `GET /metrics` on the API port.
///
/// `/healthz` is open to anyone, keys or not (it tells only whether the parts of the server
/// work). `/metrics` follows `MetricsAccess`; with `--no-metrics` it is a 404 that says so.
struct ObservabilityRoutes: Sendable {
    typealias Context = APIRequestContext
    let state: GymServerState

    static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    func add(to router: Router<Context>, catalog: inout RouteCatalog) {
        let state = self.state
        catalog.add("GET", "/healthz", "Liveness: 200 while the server serves, with whether the files port and the recorder are healthy ({status: ok | degraded, ...}). Needs no key.")
        router.get("/healthz") { _, _ in
            var response = Response.json(HealthReport.json(state: state))
            response.headers[.cacheControl] = "no-store"
            return response
        }
        catalog.add("GET", "/metrics", "Prometheus metrics (text exposition format). With API keys or --metrics-token: a valid key or the token.")
        router.get("/metrics") { _, _ in
            guard let metrics = state.manager.serverMetrics else {
                throw APIError("Metrics are off on this server (--no-metrics)", status: .notFound)
            }
            var buffer = ByteBuffer()
            buffer.writeBytes(metrics.exposition(manager: state.manager))
            return Response(
                status: .ok, headers: [.contentType: Self.prometheusContentType, .cacheControl: "no-store"],
                body: .init(byteBuffer: buffer))
        }
    }
}
