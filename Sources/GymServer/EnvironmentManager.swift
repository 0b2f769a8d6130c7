import Foundation
import GymCore
import GymEnvs
import GymMonitor
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Owns the live instances. Every front end (REST, WebSocket, the web view) acts on instances
/// through this one API, so they all see the same state.
public final class EnvironmentManager: Sendable {
    public let registry: Registry
    /// Where rendered frames and monitor files go (served on the files port).
    public let monitorRoot: URL
    /// Open monitors and the monitor-id counter of this process.
    public let monitors = MonitorRegistry()
    /// Frames for the live view.
    public let frames = FrameHub()
    private let instances = Mutex<[String: EnvironmentInstance]>([:])

    public init(registry: Registry = .gym, monitorRoot: URL) {
        self.registry = registry
        self.monitorRoot = monitorRoot
    }

    // MARK: instances

    /// Makes an environment and returns its new instance id (8 lower-case hex characters).
    /// A seed is applied at the first reset, as the seed of `POST /v1/envs/` always was.
    @discardableResult
    public func create(envID: String, seed: UInt64? = nil, kwargs: [String: JSON] = [:]) throws(GymError) -> EnvironmentInstance {
        var environment = try registry.make(envID, kwargs: kwargs)
        environment.pendingSeed = seed
        return instances.withLock { table in
            var id: String
            repeat {
                id = String(UInt32.random(in: .min ... .max), radix: 16)
                id = String(repeating: "0", count: 8 - id.count) + id
            } while table[id] != nil
            let instance = EnvironmentInstance(id: id, environment: environment, monitorRoot: monitorRoot, hub: frames)
            table[id] = instance
            return instance
        }
    }

    /// The instance with this id, or the error the gym-http-api server gave.
    public func instance(_ id: String) throws(GymError) -> EnvironmentInstance {
        guard let instance = instances.withLock({ $0[id] }) else {
            throw GymError("Instance_id \(id) unknown")
        }
        return instance
    }

    /// `{instance_id: env_id}` for every live instance.
    public func list() -> [String: String] {
        instances.withLock { $0.mapValues(\.envID) }
    }

    /// Closes an instance, finishing its monitor, and forgets it.
    public func close(_ id: String) async throws(GymError) {
        guard let removed = instances.withLock({ $0.removeValue(forKey: id) }) else {
            throw GymError("Instance_id \(id) unknown")
        }
        frames.instanceClosed(id)
        try await removed.closeMonitor()
    }

    /// Closes every instance and finishes every monitor: nothing recorded is lost on a clean stop.
    public func closeAll() async {
        let all = instances.withLock { table in
            let all = Array(table.values)
            table.removeAll()
            return all
        }
        for instance in all {
            frames.instanceClosed(instance.id)
            try? await instance.closeMonitor()
        }
        await monitors.finishAll()
    }

    // MARK: monitors

    /// `monitor/start/`: records the instance's episodes into `directory`, a path relative to the
    /// monitor root (default `<instance_id>/simulation`); nothing outside the root is ever written.
    public func startMonitor(
        _ instance: EnvironmentInstance, directory: String?, force: Bool, resume: Bool, videoSchedule: VideoSchedule
    ) throws(GymError) {
        let relative = directory ?? "\(instance.id)/simulation"
        let resolved: URL
        do {
            resolved = try MonitorRoot(monitorRoot).resolve(relative)
        } catch {
            throw GymError(error.message)
        }
        try instance.startMonitor(
            directory: resolved, displayDirectory: relative, force: force, resume: resume,
            videoSchedule: videoSchedule, registry: monitors)
    }
}
