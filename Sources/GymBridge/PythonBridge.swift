import GymCore
import Synchronization

/// An id a worker's Gymnasium can make (the worker's `list` answer).
public struct BridgedID: Sendable, Equatable {
    public let id: String
    public let maxEpisodeSteps: Int?
    public let makeable: Bool
    /// Why it cannot be made (`makeable` false).
    public let reason: String?
}

/// The Gymnasium behind `--python`: makes bridged environments and knows which ids it can make.
/// Every method blocks (it starts a worker or talks to one): call them off the cooperative pool.
public final class PythonBridge: Sendable {
    public let configuration: WorkerConfiguration
    private let listed = Mutex<[BridgedID]?>(nil)

    public init(configuration: WorkerConfiguration) {
        self.configuration = configuration
    }

    /// Every id of the worker's registry (Gymnasium's, then the imports'), asked once and kept.
    public func ids() throws(GymError) -> [BridgedID] {
        if let listed = listed.withLock({ $0 }) { return listed }
        let worker = try WorkerProcess(configuration)
        defer { worker.stop() }
        let payload = try worker.request(WorkerMessage.list, timeout: configuration.startTimeout)
        guard let envs = (try? JSONParser.parse(payload))?["envs"]?.arrayValue else {
            throw GymError.unavailable("The Python worker's list answer has no envs")
        }
        let ids = envs.compactMap { entry -> BridgedID? in
            guard let id = entry["id"]?.stringValue else { return nil }
            return BridgedID(
                id: id, maxEpisodeSteps: entry["max_episode_steps"]?.intValue, makeable: entry["makeable"]?.boolValue ?? true,
                reason: entry["reason"]?.stringValue)
        }
        listed.withLock { $0 = ids }
        return ids
    }

    /// `gymnasium.make(envID, **kwargs)` in a new worker. The worker applies the time limit, so
    /// the wrapped environment has none of its own.
    public func make(_ envID: String, kwargs: [String: JSON] = [:]) throws(GymError) -> WrappedEnvironment {
        let env = try BridgedEnvironment(envID: envID, kwargs: kwargs, configuration: configuration)
        return WrappedEnvironment(id: envID, env: env, maxEpisodeSteps: nil)
    }
}
