import GymCore
import GymEnvs
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Owns the live instances. Every front end (REST, WebSocket, the web view) acts on instances
/// through this one API, so they all see the same state.
public final class EnvironmentManager: Sendable {
    public let registry: Registry
    private let instances = Mutex<[String: EnvironmentInstance]>([:])

    public init(registry: Registry = .gym) {
        self.registry = registry
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
            let instance = EnvironmentInstance(id: id, environment: environment)
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

    public var count: Int { instances.withLock { $0.count } }

    /// Closes an instance and forgets it.
    public func close(_ id: String) throws(GymError) {
        let removed = instances.withLock { $0.removeValue(forKey: id) }
        guard removed != nil else { throw GymError("Instance_id \(id) unknown") }
    }

    /// Closes every instance (server shutdown).
    public func closeAll() {
        _ = instances.withLock { table in
            let all = Array(table.values)
            table.removeAll()
            return all
        }
    }
}
