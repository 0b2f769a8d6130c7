import Synchronization

/// The process's monitors, as old gym's `monitor_closer`: hands out monitor ids (0, 1, 2, ...
/// per process, in `start` order) and keeps every open monitor so that `finishAll` can close
/// them at shutdown. The server creates one and passes it to every `EpisodeRecorder.start`.
public final class MonitorRegistry: Sendable {
    private struct State {
        var lastID = -1
        var open: [Int: EpisodeRecorder] = [:]
    }

    private let state = Mutex(State())
    /// The `uid` in the names of monitors started without one (old gym's `os.getpid()`).
    public let defaultUID: String

    public init(defaultUID: String = MonitorFileNames.processUID) {
        self.defaultUID = defaultUID
    }

    /// The next monitor id (old gym's `Closer.generate_next_id`).
    func nextID() -> Int {
        state.withLock { state in
            state.lastID += 1
            return state.lastID
        }
    }

    func register(_ recorder: EpisodeRecorder) {
        state.withLock { $0.open[recorder.monitorID] = recorder }
    }

    func unregister(_ monitorID: Int) {
        _ = state.withLock { $0.open.removeValue(forKey: monitorID) }
    }

    /// Ids of the monitors started and not yet closed.
    public var openMonitorIDs: [Int] {
        state.withLock { $0.open.keys.sorted() }
    }

    /// Frames waiting for the encoders of every open monitor.
    public var queuedFrames: Int {
        state.withLock { Array($0.open.values) }.reduce(0) { $0 + $1.queuedFrames }
    }

    /// An open monitor by id.
    public func recorder(monitorID: Int) -> EpisodeRecorder? {
        state.withLock { $0.open[monitorID] }
    }

    /// Closes every open monitor (finishing their videos and writing their files) and waits for
    /// all of them. Returns the problems met while writing the final files, if any.
    @discardableResult
    public func finishAll() async -> [MonitorError] {
        let recorders = state.withLock { Array($0.open.values) }
        for recorder in recorders { recorder.beginClose() }
        var problems: [MonitorError] = []
        for recorder in recorders {
            do {
                try await recorder.close()
            } catch {
                problems.append(error)
            }
        }
        return problems
    }

    /// `finishAll` for a context that cannot await (a signal handler's thread, `atexit`).
    @discardableResult
    public func finishAllAndWait() -> [MonitorError] {
        let recorders = state.withLock { Array($0.open.values) }
        for recorder in recorders { recorder.beginClose() }
        var problems: [MonitorError] = []
        for recorder in recorders {
            do {
                try recorder.closeAndWait()
            } catch {
                problems.append(error)
            }
        }
        return problems
    }
}
