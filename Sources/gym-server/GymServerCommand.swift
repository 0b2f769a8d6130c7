import ArgumentParser
import Foundation
import GymBridge
import GymServer
import Logging
import NIOCore
import NIOPosix
import GymService

@main
struct GymServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gym-server",
        abstract: "The OpenAI gym HTTP API, with Gymnasium's environments built in.",
        discussion: """
            Serves the API on --port and the monitor directory with the web view on --files-port.
            With API keys (--api-key, --api-keys-file), every client sees only its own instances and files.
            `gym-server healthcheck` asks a running server whether it is healthy (exit 0 or 1).
            """,
        subcommands: [HealthCheckCommand.self])

    /// Swift's tasks run on SwiftNIO's event loops rather than on a pool of their own, so that a
    /// request does not hop from the loop that read it to another thread and back (see
    /// docs/PERFORMANCE.md). Nothing on the request path blocks a thread: blocking work runs on
    /// `BlockingWork`'s threads. `GYM_SERVER_SWIFT_EXECUTOR=1` keeps Swift's own pool.
    static func main() async {
        checkCommandLineIsReadable()
        if ProcessInfo.processInfo.environment["GYM_SERVER_SWIFT_EXECUTOR"] == nil {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        let parseAndRun: ([String]?) async -> Void = Self.main
        await parseAndRun(nil)
    }

    /// A statically linked binary reads its arguments from /proc/self/cmdline: without /proc
    /// (a chroot, a container run by hand) it sees none at all, not even its own name, and
    /// every option would be silently ignored. Stop then, and say why.
    static func checkCommandLineIsReadable() {
        guard CommandLine.arguments.isEmpty else { return }
        let reason =
            FileManager.default.isReadableFile(atPath: "/proc/self/cmdline")
            ? "its command line is empty" : "/proc/self/cmdline cannot be read (is /proc mounted?)"
        FileHandle.standardError.write(Data("gym-server: cannot read its arguments: \(reason). Refusing to start with every option ignored.\n".utf8))
        Foundation.exit(2)
    }

    @Option(help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(help: "Port of the gym HTTP API.")
    var port = 5000

    @Option(name: .customLong("files-port"), help: "Port of the file server and web view (0 disables it).")
    var filesPort = 8000

    @Option(name: .customLong("monitor-dir"), help: "Directory for rendered frames and monitor files, served on --files-port.")
    var monitorDir = "./monitor"

    @Option(name: .customLong("log-level"), help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @Flag(name: .customLong("allow-shutdown"), help: "Allow POST /v1/shutdown/ to stop the server (with API keys, any valid key may).")
    var allowShutdown = false

    @Option(name: .customLong("api-key"), help: "An API key clients must send (repeatable; named key1, key2, ...).")
    var apiKeys: [String] = []

    @Option(name: .customLong("api-keys-file"), help: "A file of API keys, one 'name:key' per line ('#' starts a comment).")
    var apiKeysFile: String?

    @Option(name: .customLong("max-body-size"), help: "Largest request body, in bytes (413 beyond).")
    var maxBodySize = ServerLimits().maxBodySize

    @Option(name: .customLong("max-message-size"), help: "Largest WebSocket message, in bytes (the socket is closed with 1009 beyond).")
    var maxMessageSize = ServerLimits().maxMessageSize

    @Option(name: .customLong("max-instances"), help: "Live instances, all clients together (429 beyond).")
    var maxInstances = ServerLimits().maxInstances

    @Option(name: .customLong("max-instances-per-key"), help: "Live instances of one API key (429 beyond).")
    var maxInstancesPerKey = ServerLimits().maxInstancesPerKey

    @Option(name: .customLong("max-num-envs"), help: "Sub-environments of one vector instance (num_envs at create).")
    var maxNumEnvs = ServerLimits().maxNumEnvs

    @Option(name: .customLong("instance-ttl"), help: "Close an instance no client used for this many seconds (0: never).")
    var instanceTTL = ServerLimits().instanceTTLSeconds ?? 0

    @Option(name: .customLong("max-stream-instances"), help: "Instances one live stream may watch.")
    var maxStreamInstances = ServerLimits().maxStreamInstances

    @Option(name: .customLong("max-live-streams"), help: "Live streams open at once on the files port (429 beyond).")
    var maxLiveStreams = ServerLimits().maxLiveStreams

    @Option(name: .customLong("max-concurrent-zips"), help: "Zip archives built at once, downloads and uploads together (429 beyond).")
    var maxConcurrentZips = ServerLimits().maxConcurrentArchives

    @Flag(name: .customLong("no-metrics"), help: "Count nothing and answer /metrics with 404 (the step path then does no metrics work at all).")
    var noMetrics = false

    @Option(
        name: .customLong("metrics-token"),
        help: "A token that opens GET /metrics besides the API keys ('Authorization: Bearer <token>' or 'X-Metrics-Token'); without keys it alone protects /metrics.")
    var metricsToken: String?

    @Option(
        name: .customLong("python"),
        help: "A Python with gymnasium installed: ids the server lacks are served by worker processes it runs (also GYM_SERVER_PYTHON). Without it no Python is needed.")
    var python: String?

    @Option(name: .customLong("python-import"), help: "A module the Python workers import to register more ids (repeatable), e.g. a lab's package of environments.")
    var pythonImports: [String] = []

    @Option(name: .customLong("worker-timeout"), help: "Seconds a Python worker may take to answer a request; one that dies or hangs answers 503 until its instance is reset or closed.")
    var workerTimeout: Double = 30

    @Option(
        name: .customLong("vector-worker-processes"),
        help: "The most Python worker processes a bridged vector instance's sub-environments are spread over (default: the number of cores); each process steps its share one after the other, all processes at once. Raise it for environments that wait rather than compute.")
    var vectorWorkerProcesses: Int?

    @Option(
        name: .customLong("loop-spin-us"),
        help: "Microseconds an event loop keeps polling after it answers a native environment's step or reset (a bridged one's workers poll themselves), before it blocks, so that the client's next request wakes nothing (0 to \(LoopSpin.maximumMicroseconds); default \(LoopSpin.defaultMicroseconds) when the process may use more than one CPU, else 0). 0 saves the CPU it costs, e.g. under a CPU quota.")
    var loopSpinMicroseconds: Int?

    @Option(
        name: .customLong("worker-spin-us"),
        help: "Microseconds a Python worker keeps polling for its next request after it answers, before it blocks (0 to \(LoopSpin.maximumMicroseconds); default \(WorkerSpin.defaultMicroseconds) when the process may use more than one CPU, else 0).")
    var workerSpinMicroseconds: Int?

    @Option(
        name: .customLong("access-log"),
        help: "Write a line per request (time, method, path, status, bytes, microseconds, key name, transport) to this file ('-': standard output); SIGHUP reopens it. Off by default.")
    var accessLog: String?

    @Option(
        name: .customLong("replica-id"),
        help: "This server's id in a fleet of replicas behind a front (0-255; also GYM_SERVER_REPLICA_ID; under Kubernetes a StatefulSet pod's ordinal when not given): every instance id it makes begins with it in two hex characters. See docs/SCALING.md.")
    var replicaID: String?

    @Option(
        name: .customLong("peer"),
        help: "Another replica of the fleet, ID=HOST:API_PORT:FILES_PORT (repeatable; also GYM_SERVER_PEERS, separated by commas): GET /v1/envs/ and the dashboard's lists join its instances. The fleet's whole list may include this replica.")
    var peers: [String] = []

    @Option(
        name: .customLong("public-port"),
        help: "The port clients reach the API on when a front (a fleet's HAProxy) listens for this server: the pages link to it.")
    var publicPort: Int?

    @Option(
        name: .customLong("public-files-port"),
        help: "The port clients reach the files port on when a front listens for this server: monitor and render URLs name it.")
    var publicFilesPort: Int?

    /// `--replica-id`, else `GYM_SERVER_REPLICA_ID`, else a StatefulSet pod's ordinal; and the
    /// peers of `--peer` and `GYM_SERVER_PEERS`.
    func fleet(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Fleet {
        do {
            var replica: Int?
            if let replicaID {
                replica = try Fleet.replicaID(replicaID, from: "--replica-id")
            } else if let text = environment["GYM_SERVER_REPLICA_ID"], !text.isEmpty {
                replica = try Fleet.replicaID(text, from: "GYM_SERVER_REPLICA_ID")
            } else {
                replica = Fleet.podOrdinal(environment: environment)
            }
            var texts = peers
            if texts.isEmpty, let list = environment["GYM_SERVER_PEERS"] {
                texts = list.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\n" }).map(String.init)
            }
            return try Fleet(replicaID: replica, peers: texts.map { (text) throws(FleetError) in try Fleet.Replica.parse(text) })
        } catch {
            throw ValidationError(error.message)
        }
    }

    func validate() throws {
        _ = try fleet()
        for (name, value) in [("--public-port", publicPort), ("--public-files-port", publicFilesPort)] {
            if let value, !(1...65535).contains(value) { throw ValidationError("\(name) must be between 1 and 65535") }
        }
        if let accessLog, accessLog.isEmpty {
            throw ValidationError("--access-log needs a file name, or '-' for standard output")
        }
        if let vectorWorkerProcesses, !(1...1024).contains(vectorWorkerProcesses) {
            throw ValidationError("--vector-worker-processes must be from 1 to 1024, got \(vectorWorkerProcesses)")
        }
        for (name, value) in [("--loop-spin-us", loopSpinMicroseconds), ("--worker-spin-us", workerSpinMicroseconds)] {
            if let value, !(0...LoopSpin.maximumMicroseconds).contains(value) {
                throw ValidationError("\(name) must be from 0 to \(LoopSpin.maximumMicroseconds) microseconds, got \(value)")
            }
        }
        guard workerTimeout > 0, workerTimeout <= 86400 else {
            throw ValidationError("--worker-timeout must be more than 0 and at most 86400 seconds")
        }
        if !pythonImports.isEmpty && pythonPath == nil {
            throw ValidationError("--python-import needs --python (or GYM_SERVER_PYTHON): the modules are imported by that Python's workers")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("Unknown log level '\(logLevel)': use trace, debug, info, notice, warning, error or critical.")
        }
        guard (0...65535).contains(port) else {
            throw ValidationError("--port must be between 0 and 65535")
        }
        guard (0...65535).contains(filesPort) else {
            throw ValidationError("--files-port must be between 0 and 65535")
        }
        for (name, value, minimum) in [
            ("--max-body-size", maxBodySize, 64), ("--max-message-size", maxMessageSize, 64),
            ("--max-instances", maxInstances, 1), ("--max-instances-per-key", maxInstancesPerKey, 1), ("--max-num-envs", maxNumEnvs, 1),
            ("--instance-ttl", instanceTTL, 0), ("--max-stream-instances", maxStreamInstances, 1),
            ("--max-live-streams", maxLiveStreams, 1), ("--max-concurrent-zips", maxConcurrentZips, 1),
        ] where value < minimum {
            throw ValidationError("\(name) must be at least \(minimum)")
        }
        guard instanceTTL <= 10 * 365 * 86400 else {
            throw ValidationError("--instance-ttl must be at most ten years (0 turns expiry off)")
        }
        if let metricsToken {
            guard APIKeyring.isValidKey(metricsToken) else {
                throw ValidationError("--metrics-token must be 1 to \(APIKeyring.maximumKeyLength) printable ASCII characters without spaces")
            }
            guard !noMetrics else { throw ValidationError("--metrics-token has nothing to open with --no-metrics") }
        }
    }

    /// `--python`, else `GYM_SERVER_PYTHON` (empty counts as unset).
    var pythonPath: String? {
        if let python, !python.isEmpty { return python }
        if let python = ProcessInfo.processInfo.environment["GYM_SERVER_PYTHON"], !python.isEmpty { return python }
        return nil
    }

    func run() async throws {
        let keyring: APIKeyring
        do {
            keyring = try APIKeyring.load(keys: apiKeys, file: apiKeysFile)
        } catch {
            throw ValidationError(error.message)
        }
        var limits = ServerLimits()
        limits.maxBodySize = maxBodySize
        limits.maxMessageSize = maxMessageSize
        limits.maxInstances = maxInstances
        limits.maxInstancesPerKey = maxInstancesPerKey
        limits.maxNumEnvs = maxNumEnvs
        limits.instanceTTLSeconds = instanceTTL > 0 ? instanceTTL : nil
        limits.maxStreamInstances = maxStreamInstances
        limits.maxLiveStreams = maxLiveStreams
        limits.maxConcurrentArchives = maxConcurrentZips
        var configuration = GymServerConfiguration(
            host: host, port: port, filesPort: filesPort,
            monitorRoot: URL(fileURLWithPath: monitorDir).standardizedFileURL,
            allowShutdown: allowShutdown, logLevel: Logger.Level(rawValue: logLevel) ?? .info,
            keyring: keyring, limits: limits, metricsEnabled: !noMetrics, metricsToken: metricsToken,
            workers: pythonPath.map {
                var workers = WorkerConfiguration(python: $0, imports: pythonImports, requestTimeout: workerTimeout, processesPerVector: vectorWorkerProcesses)
                workers.spinMicroseconds = workerSpinMicroseconds ?? WorkerSpin.automaticMicroseconds
                return workers
            })
        configuration.accessLogPath = accessLog
        if let loopSpinMicroseconds { configuration.loopSpinMicroseconds = loopSpinMicroseconds }
        configuration.fleet = try fleet()
        configuration.publicPort = publicPort
        configuration.publicFilesPort = publicFilesPort
        do {
            try await runGymServer(configuration: configuration)
        } catch let error as AccessLogError {
            throw ValidationError(error.message)
        }
    }
}
