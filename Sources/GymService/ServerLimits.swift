import Synchronization

/// What a shared server allows each client and all of them together. Every limit is a command
/// line option of `gym-server`; the defaults suit a lab or a class sharing one server.
public struct ServerLimits: Sendable {
    /// Largest request body on port 5000 (`--max-body-size`); larger is a 413.
    public var maxBodySize = 1 << 20
    /// Largest WebSocket message (`--max-message-size`); larger closes the socket with 1009.
    public var maxMessageSize = 1 << 20
    /// Live instances, all keys together (`--max-instances`).
    public var maxInstances = 1000
    /// Live instances of one API key (`--max-instances-per-key`); with keys off, only
    /// `maxInstances` applies.
    public var maxInstancesPerKey = 100
    /// Sub-environments of one vector instance (`--max-num-envs`).
    public var maxNumEnvs = 4096
    /// An instance no client used for this many seconds is closed (`--instance-ttl`; nil: never).
    public var instanceTTLSeconds: Int? = 3600
    /// Instances one live stream may watch (`--max-stream-instances`).
    public var maxStreamInstances = 64
    /// Live streams open at once on port 8000 (`--max-live-streams`).
    public var maxLiveStreams = 64
    /// Zip archives being built at once (`--max-concurrent-zips`), downloads and uploads together.
    public var maxConcurrentArchives = 2

    public init() {}
}

/// A count of things running at once with a ceiling: `enter` fails past it.
public final class ConcurrencyLimit: Sendable {
    package let limit: Int
    private let running = Mutex(0)

    public init(_ limit: Int) { self.limit = limit }

    /// Takes a place; false when all `limit` places are taken.
    package func enter() -> Bool {
        running.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    package func leave() {
        running.withLock { $0 = max(0, $0 - 1) }
    }

    var current: Int { running.withLock { $0 } }

    /// Runs `body` holding a place, or returns nil when none is free.
    package func run<T>(_ body: () async throws -> T) async rethrows -> T? {
        guard enter() else { return nil }
        defer { leave() }
        return try await body()
    }
}
