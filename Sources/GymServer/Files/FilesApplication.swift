import Foundation
import Hummingbird
import Logging
import NIOCore
import GymService

/// The request context of port 8000: Hummingbird's basic context plus the connection, so that a
/// live event stream notices at once when its browser goes away.
public struct FilesRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    /// The owner of the key the request carried (nil with API keys off, or without a key on the
    /// open pages).
    public var owner: Owner?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// What port 8000 serves.
public struct FilesSite: Sendable {
    /// The directory served read-only: rendered frames and monitor files.
    public var monitorRoot: URL
    /// Where the pages find the API (`/config.json`): its port, and the host it listens on.
    public var apiPort: Int
    public var apiHost: String
    /// Serve the pages from this directory instead of the copies built into the binary (for
    /// working on them without rebuilding); `GYM_SERVER_WEB_DIR` sets it too.
    public var webDirectory: URL?

    /// The operations (`GET /{path}`) that no route stands for: `MonitorFiles` answers GET and HEAD
    /// of every path no route claims, which docs/openapi-files.json writes as `/{path}` (a file, a
    /// directory's address, `<dir>.zip`) and `/{path}/` (a listing). With the router's `routes`,
    /// these are the port's operations; a test holds the document to them.
    public static let monitorRootOperations: [String] = ["GET", "HEAD"].flatMap { method in
        ["/{path}", "/{path}/"].map { "\(method) \($0)" }
    }

    public init(monitorRoot: URL, apiPort: Int = 5000, apiHost: String = "127.0.0.1", webDirectory: URL? = nil) {
        self.monitorRoot = monitorRoot
        self.apiPort = apiPort
        self.apiHost = apiHost
        self.webDirectory = webDirectory
    }
}

/// The router of port 8000:
///
/// | path | what |
/// | --- | --- |
/// | `/`, `/index.html` | the dashboard (JSON listing of the root when `Accept` prefers JSON) |
/// | `/render.html?instance_id=<id>` | one instance's frames, live |
/// | `/_static/<file>` | the pages' scripts and styles (built into the binary) |
/// | `/config.json` | where the API is, for the pages |
/// | `/_openapi.json` | the OpenAPI description of this port (docs/openapi-files.json) |
/// | `/_live/events?instance_id=<id>` | Server-Sent Events: frames and status (see `LiveRoutes`) |
/// | `/_live/<id>/frame.png` | an instance's newest frame |
/// | `/_recordings` | every monitor recording of the root, wherever its directory (see `RecordingsRoute`) |
/// | `/_files/` | the listing of the monitor root (`/` being the dashboard) |
/// | `/<path>` | the monitor root: listings, files, ranges, conditional requests |
/// | `/<dir>.zip` | a directory of the monitor root as a zip archive |
///
/// Names the pages use begin with `_` or end in `.html`/`.json` at the top level, so they never
/// shadow an instance directory (8 hex digits).
public func buildFilesRouter(
    site: FilesSite, manager: EnvironmentManager, frames: FrameHub, keyring: APIKeyring = APIKeyring(),
    archives: ConcurrencyLimit? = nil, accessLog: AccessLog? = nil
) -> Router<FilesRequestContext> {
    let router = Router(context: FilesRequestContext.self)
    if let accessLog {
        router.middlewares.add(AccessLogMiddleware<FilesRequestContext>(log: accessLog, transport: .files))
    }
    // First, so that it sees every answer and counts every byte written.
    if let metrics = manager.serverMetrics {
        router.middlewares.add(
            RequestMetricsMiddleware<FilesRequestContext>(metrics: metrics.files, bytesServed: metrics.filesBytesServed))
    }
    router.middlewares.add(FilesAccessMiddleware(keyring: keyring))
    let files = MonitorFiles(manager: manager, archives: archives ?? ConcurrencyLimit(manager.limits.maxConcurrentArchives))
    router.middlewares.add(files)
    var webDirectory = site.webDirectory
    if webDirectory == nil, let path = ProcessInfo.processInfo.environment["GYM_SERVER_WEB_DIR"], !path.isEmpty {
        webDirectory = URL(fileURLWithPath: path)
    }
    WebRoutes(site: site, webDirectory: webDirectory, files: files, requiresKey: keyring.isEnabled, fleet: manager.fleet.replicaID != nil)
        .add(to: router)
    let fleetLists = FleetLists(fleet: manager.fleet, keyring: keyring)
    LiveRoutes(manager: manager, frames: frames, requiresKey: keyring.isEnabled, fleetLists: fleetLists).add(to: router)
    RecordingsRoute(manager: manager, fleetLists: fleetLists).add(to: router)
    return router
}
