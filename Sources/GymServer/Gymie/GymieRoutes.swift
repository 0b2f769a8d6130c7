import Hummingbird

/// What plain HTTP finds at Gymie's WebSocket path: a 426 that says how to connect (the upgrade
/// itself happens before the router; see `HTTPServerBuilder.gym`).
struct GymieRoutes: Sendable {
    static let path = "/gym"

    func add(to router: Router<APIRequestContext>, catalog: inout RouteCatalog) {
        catalog.add(
            "GET", Self.path,
            "Gymie's WebSocket protocol: connect with a WebSocket and send {\"method\": make | reset | step | close | observation_space | action_space | action_sample, \"params\": {...}} as text.")
        router.get(RouterPath(Self.path)) { _, _ -> Response in
            throw APIError(
                "This is Gymie's WebSocket endpoint: connect to ws://<host>:<port>\(Self.path) with a WebSocket client",
                status: .upgradeRequired, headers: [.upgrade: "websocket"])
        }
    }
}
