import GymCore
import GymService
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore

/// The API port's transports as one server builder, as Hummingbird's own HTTP/2 and TLS add-ons
/// extend its builder: `Application(router: buildAPIRouter(state:), server: .gym(state:))`.
/// Every connection starts with the REST fast path on the bytes (`StepFastPathBytes`), then
/// HTTP/1.1 with the fast path on the decoded parts (`StepFastPath`) before Hummingbird's router,
/// and the WebSocket upgrade of `/gym` (Gymie's protocol: `GymieFastPath`, then `GymieSession`).
extension HTTPServerBuilder {
    /// HTTP/1.1 with the WebSocket upgrade of `/gym` (Gymie's protocol). The socket is authenticated
    /// at the upgrade, with the header or query forms of the API key; without a valid one it is closed
    /// at once with 1008 (policy violation) and a reason that says how to send a key, which a browser's
    /// WebSocket can read where it cannot read an HTTP status. A plain request to `/gym` goes on to the
    /// router (401 without a key, else 426).
    public static func gym(state: GymServerState) -> HTTPServerBuilder {
        let limits = state.manager.limits
        let keyring = state.keyring
        let manager = state.manager
        let fastPath = StepFastPath.Shared(
            manager: manager, keyring: keyring, serverName: "gym-server", bodyLimit: min(limits.maxBodySize, 1 << 16),
            answered: state.fastPathSteps, resets: state.fastPathResets, accessLog: state.accessLog, metrics: manager.serverMetrics,
            loopSpinMicroseconds: state.loopSpinMicroseconds)
        let fromBytes = state.fastPathFromBytes
        let spin = state.loopSpinMicroseconds
        let spinCounters = manager.serverMetrics?.loopSpin
        let configuration = HTTP1WebSocketUpgradeChannel.Configuration(
            http1: .init(additionalChannelHandlers: [StepFastPathInstaller(fastPath)]),
            ws: .init(maxFrameSize: limits.maxMessageSize, validateUTF8: true))
        let shouldUpgrade: @Sendable (HTTPRequest, any Channel, Logger) async throws -> ShouldUpgradeResult<WebSocketDataHandler<HTTP1WebSocketUpgradeChannel.Context>> = { head, channel, _ in
            let uri = URI(head.path ?? "")
            guard uri.path == GymieRoutes.path || uri.path == GymieRoutes.path + "/" else { return .dontUpgrade }
            var owner: Owner?
            if keyring.isEnabled {
                guard let presented = PresentedKey.fromHeaders(head.headerFields) ?? PresentedKey.fromQuery(uri) else {
                    return .upgrade([:]) { _, outbound, _ in
                        try await outbound.close(.policyViolation, reason: "API key needed: send X-API-Key, or ?api_key=<key> in the URL")
                    }
                }
                guard let found = keyring.lookup(presented) else {
                    return .upgrade([:]) { _, outbound, _ in
                        try await outbound.close(.policyViolation, reason: PresentedKey.notValid)
                    }
                }
                owner = found
            }
            let session = GymieSession(
                manager: manager, owner: owner, maxMessageSize: limits.maxMessageSize, accessLog: state.accessLog,
                metrics: manager.serverMetrics)
            // Steps answered on the event loop (GymieFastPath), put in place as the upgrade completes.
            let installer = GymieFastPathInstaller(GymieFastPath.Shared(manager: manager, owner: owner, answered: state.gymieFastSteps, resets: state.gymieFastResets, accessLog: state.accessLog, metrics: manager.serverMetrics, loopSpinMicroseconds: state.loopSpinMicroseconds))
            try await channel.pipeline.addHandler(installer).get()
            return .upgrade([:]) { inbound, outbound, _ in
                try await session.run(inbound: inbound, outbound: outbound)
            }
        }
        // Every connection starts with the byte-level fast path in front (StepFastPathBytes).
        return HTTPServerBuilder { responder in
            FrontedChannel(
                inner: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: configuration, shouldUpgrade: shouldUpgrade),
                front: { StepFastPathBytes(answered: fromBytes, loopSpinMicroseconds: spin, spinCounters: spinCounters) })
        }
    }
}
