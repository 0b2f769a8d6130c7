import CGymSystem
import Foundation
import GymBridge
import GymCore
import GymEnvs
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import ServiceLifecycle
import GymService

/// How a gym-server is set up: what `gym-server`'s options fill in.
public struct GymServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The port of the file server and web view; 0 disables it.
    public var filesPort: Int
    public var monitorRoot: URL
    public var allowShutdown: Bool
    public var logLevel: Logger.Level
    /// API keys (`--api-key`, `--api-keys-file`); none: every client may do everything.
    public var keyring: APIKeyring
    public var limits: ServerLimits
    /// Whether `/metrics` is served and counted (`--no-metrics` turns it off).
    public var metricsEnabled: Bool
    /// A token that opens `/metrics` besides the API keys (`--metrics-token`).
    public var metricsToken: String?
    /// How to start Python workers for the ids the server lacks (`--python`); nil: no bridge.
    public var workers: WorkerConfiguration?
    /// `--access-log`: where a line per request goes (`-`: standard output); nil: nowhere.
    public var accessLogPath: String?
    /// `--replica-id` and `--peer`: this server's place in a fleet (docs/SCALING.md).
    public var fleet: Fleet = .single
    /// `--public-port`, `--public-files-port`: the ports clients reach the two ports on, when a
    /// front (a fleet's HAProxy) listens for this server; they go into the URLs it answers.
    public var publicPort: Int?
    public var publicFilesPort: Int?
    /// `--loop-spin-us`: microseconds an event loop polls after a fast path's answer before it
    /// blocks (`LoopSpin`); 0: never. By default 1,000 where the process may use more than one CPU.
    public var loopSpinMicroseconds: Int = LoopSpin.automaticMicroseconds

    public init(
        host: String = "127.0.0.1", port: Int = 5000, filesPort: Int = 8000,
        monitorRoot: URL = URL(fileURLWithPath: "monitor"), allowShutdown: Bool = false,
        logLevel: Logger.Level = .info, keyring: APIKeyring = APIKeyring(), limits: ServerLimits = ServerLimits(),
        metricsEnabled: Bool = true, metricsToken: String? = nil, workers: WorkerConfiguration? = nil
    ) {
        self.workers = workers
        self.host = host
        self.port = port
        self.filesPort = filesPort
        self.monitorRoot = monitorRoot
        self.allowShutdown = allowShutdown
        self.logLevel = logLevel
        self.keyring = keyring
        self.limits = limits
        self.metricsEnabled = metricsEnabled
        self.metricsToken = metricsToken
    }

    /// Whether the server listens only on this machine.
    public var isLoopbackOnly: Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased()) || host.hasPrefix("127.")
    }
}

/// What both ports share: the instances, the key ring, the zip-building limit, the state of the
/// files port (for `/healthz`) and who may read `/metrics`.
public struct GymServerState: Sendable {
    public let manager: EnvironmentManager
    public let shutdown: ShutdownSwitch
    public let keyring: APIKeyring
    public let archives: ConcurrencyLimit
    public let filesPort: FilesPortHealth
    public let metricsAccess: MetricsAccess
    /// Steps and resets answered by the REST fast path (`StepFastPath`).
    public let fastPathSteps = AtomicCount()
    public let fastPathResets = AtomicCount()
    /// Of those, the ones read from the connection's bytes (`StepFastPathBytes`).
    public let fastPathFromBytes = AtomicCount()
    /// Gymie step and reset messages answered by the WebSocket's fast path (`GymieFastPath`).
    public let gymieFastSteps = AtomicCount()
    public let gymieFastResets = AtomicCount()
    /// A line per request, every transport (nil: `--access-log` not given).
    public let accessLog: AccessLog?
    /// Microseconds an event loop polls after a fast path's answer (`LoopSpin`); 0: never.
    public var loopSpinMicroseconds = 0

    public init(
        manager: EnvironmentManager, shutdown: ShutdownSwitch, keyring: APIKeyring = APIKeyring(),
        filesPort: FilesPortHealth = FilesPortHealth(enabled: false), metricsToken: String? = nil, accessLog: AccessLog? = nil
    ) {
        self.accessLog = accessLog
        self.manager = manager
        self.shutdown = shutdown
        self.keyring = keyring
        self.archives = ConcurrencyLimit(manager.limits.maxConcurrentArchives)
        self.filesPort = filesPort
        self.metricsAccess = MetricsAccess(keyring: keyring, token: metricsToken)
    }
}

/// The router of the API on port 5000. `main` and the tests both build the server through here.
public func buildAPIRouter(state: GymServerState, filesPort: Int = 8000) -> Router<APIRequestContext> {
    let router = Router(context: APIRequestContext.self)
    let limits = state.manager.limits
    let body = RequestJSON(limit: limits.maxBodySize)
    // First, so that it sees every answer, errors turned into statuses included.
    if let accessLog = state.accessLog {
        router.middlewares.add(AccessLogMiddleware<APIRequestContext>(log: accessLog, transport: .rest))
    }
    if let metrics = state.manager.serverMetrics {
        router.middlewares.add(RequestMetricsMiddleware<APIRequestContext>(metrics: metrics.api, bytesServed: nil))
    }
    // The pages on the files port (another origin) may read the API.
    router.middlewares.add(
        CORSMiddleware(
            allowOrigin: .all, allowHeaders: [.accept, .contentType, .authorization, PresentedKey.headerName],
            allowMethods: [.get, .post, .head, .options]))
    router.middlewares.add(JSONErrorMiddleware(maxBodySize: limits.maxBodySize))
    router.middlewares.add(APIKeyMiddleware(keyring: state.keyring, body: body, metricsAccess: state.metricsAccess))
    var catalog = RouteCatalog()
    EnvironmentRoutes(
        manager: state.manager, shutdown: state.shutdown, filesPort: filesPort, body: body, archives: state.archives,
        fleetLists: FleetLists(fleet: state.manager.fleet, keyring: state.keyring))
        .add(to: router, catalog: &catalog)
    BatchRoutes(manager: state.manager, body: body).add(to: router, catalog: &catalog)
    GymieRoutes().add(to: router, catalog: &catalog)
    ObservabilityRoutes(state: state).add(to: router, catalog: &catalog)
    OpenAPIRoute().add(to: router, catalog: &catalog)
    catalog.add("GET", "/v1/help", "Every route with its methods and a line of documentation.")
    let help = catalog.json
    router.get("/v1/help") { _, _ in Response.json(help) }
    return router
}

/// `buildAPIRouter` for a manager of its own (tests).
public func buildAPIRouter(manager: EnvironmentManager, shutdown: ShutdownSwitch, filesPort: Int = 8000, keyring: APIKeyring = APIKeyring())
    -> Router<APIRequestContext>
{
    buildAPIRouter(state: GymServerState(manager: manager, shutdown: shutdown, keyring: keyring), filesPort: filesPort)
}

/// The API application (port 5000): the REST API, and Gymie's WebSocket protocol on `/gym`.
public func buildAPIApplication(
    configuration: GymServerConfiguration, state: GymServerState, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildAPIRouter(state: state, filesPort: configuration.filesPort == 0 ? 0 : configuration.publicFilesPort ?? configuration.filesPort),
        server: .gym(state: state),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "gym-server"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

/// The file server and web view (port 8000): the monitor root, read-only, the dashboard at `/`,
/// the live view at `/render.html` and its event stream (see `buildFilesRouter`).
public func buildFilesApplication(configuration: GymServerConfiguration, state: GymServerState, logger: Logger) -> some ApplicationProtocol {
    let site = FilesSite(monitorRoot: configuration.monitorRoot, apiPort: configuration.publicPort ?? configuration.port, apiHost: configuration.host)
    return Application(
        router: buildFilesRouter(
            site: site, manager: state.manager, frames: state.manager.frames, keyring: state.keyring, archives: state.archives,
            accessLog: state.accessLog),
        configuration: .init(address: .hostname(configuration.host, port: configuration.filesPort), serverName: "gym-server"),
        onServerRunning: { channel in
            state.filesPort.listening(port: channel.localAddress?.port ?? configuration.filesPort)
            announce("gym-server files: http://\(configuration.host):\(channel.localAddress?.port ?? configuration.filesPort)/ (monitor root \(configuration.monitorRoot.path))")
        },
        logger: logger)
}

/// The files port, telling `/healthz` when it listens (`buildFilesApplication`) and when it stops.
struct FilesPortService<Files: Service>: Service {
    let application: Files
    let health: FilesPortHealth

    func run() async throws {
        defer { health.stopped() }
        try await application.run()
    }
}

/// Closes idle instances every few seconds (`--instance-ttl`).
struct InstanceExpiryService: Service {
    let manager: EnvironmentManager
    let logger: Logger

    func run() async throws {
        guard let ttl = manager.limits.instanceTTLSeconds, ttl > 0 else {
            // Nothing to do; a service that returned would stop the server.
            try? await gracefulShutdown()
            return
        }
        // Look a few times per TTL, at least every 30 s and at most every 100 ms.
        let interval = Duration.milliseconds(min(30_000, max(100, ttl * 1000 / 4)))
        // The sleep ends at once when the server shuts down.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: interval)
                let closed = await manager.expireIdle()
                if !closed.isEmpty {
                    logger.info("Closed \(closed.count) instance(s) idle for \(ttl) s: \(closed.joined(separator: ", "))")
                }
            }
        }
    }
}

/// Runs both ports until SIGINT, SIGTERM or an allowed `POST /v1/shutdown/`, then closes every
/// instance.
public func runGymServer(configuration: GymServerConfiguration) async throws {
    var logger = Logger(label: "gym-server")
    logger.logLevel = configuration.logLevel
    // Before any thread allocates: few arenas, so that what closed instances free is returned.
    gym_limit_malloc_arenas(4)
    try FileManager.default.createDirectory(at: configuration.monitorRoot, withIntermediateDirectories: true)
    if !configuration.isLoopbackOnly && !configuration.keyring.isEnabled {
        announce(
            "gym-server WARNING: listening on \(configuration.host) without API keys: anyone who can reach ports \(configuration.port) and \(configuration.filesPort) can drive and read every instance. Give keys with --api-key or --api-keys-file.")
    }
    let problemLogger = logger
    let manager = EnvironmentManager(
        monitorRoot: configuration.monitorRoot, limits: configuration.limits,
        onMonitorProblem: { problem in problemLogger.warning("monitor: \(problem.message)") },
        metrics: configuration.metricsEnabled ? ServerMetrics() : nil,
        bridge: configuration.workers.map(PythonBridge.init(configuration:)), fleet: configuration.fleet)
    if let replica = configuration.fleet.replicaID, let prefix = configuration.fleet.idPrefix {
        let peers = configuration.fleet.peers.map { "\($0.id)=\($0.host):\($0.apiPort):\($0.filesPort)" }
        announce("gym-server replica \(replica): instance ids begin with \(prefix)" + (peers.isEmpty ? "" : "; lists join replicas \(peers.joined(separator: ", "))"))
    }
    let accessLog = try configuration.accessLogPath.map { try AccessLog(path: $0) }
    accessLog?.reopenOnHangUp()
    defer { accessLog?.close() }
    var state = GymServerState(
        manager: manager, shutdown: ShutdownSwitch(allowed: configuration.allowShutdown), keyring: configuration.keyring,
        filesPort: FilesPortHealth(enabled: configuration.filesPort != 0), metricsToken: configuration.metricsToken,
        accessLog: accessLog)
    state.loopSpinMicroseconds = configuration.loopSpinMicroseconds
    let api = buildAPIApplication(
        configuration: configuration, state: state, logger: logger,
        onServerRunning: { port in announce("gym-server API: http://\(configuration.host):\(port)/v1/help") })
    var services: [any Service] = [api, InstanceExpiryService(manager: manager, logger: logger)]
    if configuration.filesPort != 0 {
        services.append(
            FilesPortService(application: buildFilesApplication(configuration: configuration, state: state, logger: logger), health: state.filesPort))
    }
    let group = ServiceGroup(
        configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
    state.shutdown.onTrigger { Task { await group.triggerGracefulShutdown() } }
    try await group.run()
    await manager.closeAll()
    logger.info("gym-server stopped")
}

/// Prints a line about the server and flushes it at once, so that a supervisor reading a pipe
/// sees where the server listens when it does.
func announce(_ line: String) {
    print(line)
    fflush(nil)
}
