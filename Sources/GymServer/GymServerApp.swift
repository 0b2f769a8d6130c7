import Foundation
import GymCore
import GymEnvs
import Hummingbird
import Logging
import ServiceLifecycle

/// How a gym-server is set up: what `gym-server`'s options fill in.
public struct GymServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The port of the file server and web view; 0 disables it.
    public var filesPort: Int
    public var monitorRoot: URL
    public var allowShutdown: Bool
    public var logLevel: Logger.Level

    public init(
        host: String = "127.0.0.1", port: Int = 5000, filesPort: Int = 8000,
        monitorRoot: URL = URL(fileURLWithPath: "monitor"), allowShutdown: Bool = false,
        logLevel: Logger.Level = .info
    ) {
        self.host = host
        self.port = port
        self.filesPort = filesPort
        self.monitorRoot = monitorRoot
        self.allowShutdown = allowShutdown
        self.logLevel = logLevel
    }
}

/// The router of the API on port 5000. `main` and the tests both build the server through here.
public func buildAPIRouter(manager: EnvironmentManager, shutdown: ShutdownSwitch, filesPort: Int = 8000) -> Router<BasicRequestContext> {
    let router = Router()
    // The pages on the files port (another origin) read the API: GET /v1/envs/ on the dashboard.
    router.middlewares.add(CORSMiddleware(allowOrigin: .all, allowHeaders: [.accept, .contentType], allowMethods: [.get, .post, .head, .options]))
    router.middlewares.add(JSONErrorMiddleware())
    var catalog = RouteCatalog()
    EnvironmentRoutes(manager: manager, shutdown: shutdown, filesPort: filesPort).add(to: router, catalog: &catalog)
    catalog.add("GET", "/v1/help", "Every route with its methods and a line of documentation.")
    let help = catalog.json
    router.get("/v1/help") { _, _ in Response.json(help) }
    return router
}

/// The API application (port 5000).
public func buildAPIApplication(
    configuration: GymServerConfiguration, manager: EnvironmentManager, shutdown: ShutdownSwitch,
    logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildAPIRouter(manager: manager, shutdown: shutdown, filesPort: configuration.filesPort),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "gym-server"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

/// The file server and web view (port 8000): the monitor root, read-only, the dashboard at `/`,
/// the live view at `/render.html` and its event stream (see `buildFilesRouter`). `frames` is the
/// hub the step path publishes rendered frames to (`manager.frames`).
public func buildFilesApplication(
    configuration: GymServerConfiguration, manager: EnvironmentManager, frames: FrameHub, logger: Logger
) -> some ApplicationProtocol {
    let site = FilesSite(monitorRoot: configuration.monitorRoot, apiPort: configuration.port, apiHost: configuration.host)
    return Application(
        router: buildFilesRouter(site: site, manager: manager, frames: frames),
        configuration: .init(address: .hostname(configuration.host, port: configuration.filesPort), serverName: "gym-server"),
        onServerRunning: { channel in
            print("gym-server files: http://\(configuration.host):\(channel.localAddress?.port ?? configuration.filesPort)/ (monitor root \(configuration.monitorRoot.path))")
        },
        logger: logger)
}

/// Runs both ports until SIGINT, SIGTERM or an allowed `POST /v1/shutdown/`, then closes every
/// instance.
public func runGymServer(configuration: GymServerConfiguration) async throws {
    var logger = Logger(label: "gym-server")
    logger.logLevel = configuration.logLevel
    try FileManager.default.createDirectory(at: configuration.monitorRoot, withIntermediateDirectories: true)

    let manager = EnvironmentManager(monitorRoot: configuration.monitorRoot)
    let shutdown = ShutdownSwitch(allowed: configuration.allowShutdown)
    let api = buildAPIApplication(
        configuration: configuration, manager: manager, shutdown: shutdown, logger: logger,
        onServerRunning: { port in print("gym-server API: http://\(configuration.host):\(port)/v1/help") })
    var services: [any Service] = [api]
    if configuration.filesPort != 0 {
        services.append(buildFilesApplication(configuration: configuration, manager: manager, frames: manager.frames, logger: logger))
    }
    let group = ServiceGroup(
        configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    shutdown.onTrigger { Task { await group.triggerGracefulShutdown() } }
    try await group.run()
    await manager.closeAll()
    logger.info("gym-server stopped")
}
