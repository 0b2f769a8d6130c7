import Foundation
import GymCore
import GymMonitor
import Synchronization

/// Whether the files port serves: told by the files application when it listens and when it
/// stops.
public final class FilesPortHealth: Sendable {
    public enum State: Int, Sendable {
        /// `--files-port 0`.
        case disabled
        case starting
        case listening
        case stopped

        var name: String {
            switch self {
            case .disabled: "disabled"
            case .starting: "starting"
            case .listening: "listening"
            case .stopped: "stopped"
            }
        }
    }

    private let state: Atomic<Int>
    private let boundPort = Atomic<Int>(0)

    public init(enabled: Bool) {
        state = Atomic(enabled ? State.starting.rawValue : State.disabled.rawValue)
    }

    public func listening(port: Int) {
        boundPort.store(port, ordering: .relaxed)
        state.store(State.listening.rawValue, ordering: .releasing)
    }

    public func stopped() {
        state.store(State.stopped.rawValue, ordering: .releasing)
    }

    public var current: State { State(rawValue: state.load(ordering: .acquiring)) ?? .stopped }
    public var port: Int? { current == .listening ? boundPort.load(ordering: .relaxed) : nil }

    /// A disabled files port is no failure; one that is not listening (yet or any more) is.
    public var isHealthy: Bool { current == .listening || current == .disabled }
}

/// `GET /healthz`: 200 while the API serves, with whether the files port and the recorder are
/// healthy. `status` is `ok` when both are, else `degraded` (what `gym-server healthcheck` checks).
enum HealthReport {
    static func json(state: GymServerState) -> JSON {
        let manager = state.manager
        let files = state.filesPort
        let recorder = manager.recorderHealth
        let healthy = files.isHealthy && recorder.isHealthy
        var filesJSON: [String: JSON] = ["healthy": .bool(files.isHealthy), "state": .string(files.current.name)]
        if let port = files.port { filesJSON["port"] = .int(port) }
        let recorderJSON: [String: JSON] = [
            "healthy": .bool(recorder.isHealthy),
            "open_monitors": .int(manager.monitors.openMonitorIDs.count),
            "queued_frames": .int(manager.monitors.queuedFrames),
            "problems": .int(recorder.problemCount),
            "seconds_since_last_problem": recorder.secondsSinceLastProblem.map { .double(($0 * 10).rounded() / 10) } ?? .null,
        ]
        return [
            "status": .string(healthy ? "ok" : "degraded"),
            "api": ["healthy": true],
            "files_port": .object(filesJSON),
            "recorder": .object(recorderJSON),
            "instances": .int(manager.liveCount),
            "metrics": .bool(manager.metrics != nil),
            "replica_id": manager.fleet.replicaID.map(JSON.int) ?? .null,
        ]
    }
}
