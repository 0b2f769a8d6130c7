/// The templates of the routes more than one part of the server names: the router registers
/// them, the fast paths count their answers under them, and the metrics label requests with them.
enum RouteTemplate {
    static let step = "/v1/envs/{instance_id}/step/"
    static let reset = "/v1/envs/{instance_id}/reset/"

    /// How the router names a template in `context.endpointPath`, and so in the metrics' `route`
    /// label: without its final slash.
    static func endpoint(_ template: String) -> String {
        template.count > 1 && template.hasSuffix("/") ? String(template.dropLast()) : template
    }
}

/// Which way a step or reset request went: answered from the connection's bytes, from NIO's
/// decoded parts (at once, or after a bridged instance's worker queue: `partsWorker`), by the
/// framework's route (REST); by Gymie's fast path or its session (WebSocket). `/metrics` counts each (`gym_step_requests_total`), so production shows how
/// much the fast paths take.
enum StepPath: String, Sendable, CaseIterable {
    case bytes, parts, route
    case partsWorker = "parts_worker"
    case gymieFast = "gymie_fast"
    case gymieSession = "gymie_session"
}
