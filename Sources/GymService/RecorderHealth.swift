import Foundation
import GymMonitor
import Synchronization

/// Problems the monitors met while recording (a video that broke, a stats file or manifest that
/// could not be written): how many, and when the last one was. The recorder counts as healthy
/// while none happened in the last `window` seconds.
public final class RecorderHealth: Sendable {
    public static let window: UInt64 = 60
    private let clock: @Sendable () -> UInt64
    private let problems = Atomic<Int>(0)
    /// `clock()` of the last problem (0: none yet).
    private let lastProblem = Atomic<UInt64>(0)

    init(clock: @escaping @Sendable () -> UInt64) {
        self.clock = clock
    }

    func add(_ problem: MonitorError) {
        lastProblem.store(max(1, clock()), ordering: .relaxed)
        problems.add(1, ordering: .relaxed)
    }

    public var problemCount: Int { problems.load(ordering: .relaxed) }

    /// Seconds since the last problem, nil if there was none.
    public var secondsSinceLastProblem: Double? {
        let last = lastProblem.load(ordering: .relaxed)
        guard last != 0 else { return nil }
        return Double(clock() &- last) / 1e9
    }

    public var isHealthy: Bool {
        guard let seconds = secondsSinceLastProblem else { return true }
        return seconds >= Double(Self.window)
    }
}

