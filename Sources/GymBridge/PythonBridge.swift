import Dispatch
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
        try make(envID, kwargs: kwargs, count: 1)[0]
    }

    /// `count` environments `gymnasium.make(envID, **kwargs)`, spread over at most
    /// `processesPerVector` new workers (started at once): environment i in worker i mod P, so that
    /// a vector's round of calls, written to every worker before any answer is read, keeps each
    /// worker busy. Everything made is closed if one fails.
    public func make(_ envID: String, kwargs: [String: JSON] = [:], count: Int) throws(GymError) -> [WrappedEnvironment] {
        let processes = max(1, min(count, configuration.processesPerVector))
        let configuration = configuration
        // Each worker makes its own environments, every worker at the same time (starting
        // Python and importing Gymnasium is most of the time).
        let made = Mutex<[Result<[BridgedEnvironment], GymError>?]>(Array(repeating: nil, count: processes))
        let work: @Sendable (Int) -> Void = { p in
            let result = Result { () throws(GymError) -> [BridgedEnvironment] in
                let worker = try WorkerProcess(configuration)
                do throws(GymError) {
                    var envs: [BridgedEnvironment] = []
                    for _ in stride(from: p, to: count, by: processes) {
                        envs.append(try BridgedEnvironment(envID: envID, kwargs: kwargs, in: worker))
                    }
                    return envs
                } catch {
                    worker.stop()
                    throw error
                }
            }
            made.withLock { $0[p] = result }
        }
        if processes == 1 {
            work(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: processes, execute: work)
        }
        let results = made.withLock { $0 }
        var groups: [[BridgedEnvironment]] = []
        var failure: GymError?
        for result in results {
            switch result {
            case .success(let envs)?: groups.append(envs)
            case .failure(let error)?: failure = failure ?? error
            case nil: failure = failure ?? GymError.unavailable("A Python worker was not started")
            }
        }
        if let failure {
            for group in groups { group.first?.close() }
            throw failure
        }
        return (0..<count).map { i in WrappedEnvironment(id: envID, env: groups[i % processes][i / processes], maxEpisodeSteps: nil) }
    }
}
