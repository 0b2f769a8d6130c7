import GymCore
import Synchronization

/// One live environment: the made environment behind a lock that serialises calls on it.
/// Different instances step in parallel; nothing here waits on anything but this lock.
public final class EnvironmentInstance: Sendable {
    public let id: String
    public let envID: String
    let environment: Mutex<WrappedEnvironment>

    init(id: String, environment: WrappedEnvironment) {
        self.id = id
        self.envID = environment.id
        self.environment = Mutex(environment)
    }

    /// Runs `body` with exclusive access to the environment.
    public func withEnvironment<T, E: Error>(_ body: (inout WrappedEnvironment) throws(E) -> T) throws(E) -> T {
        try environment.withLock { (env) throws(E) -> T in try body(&env) }
    }
}
