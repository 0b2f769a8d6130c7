import CGymSystem
import NIOCore
import NIOPosix

/// Where work that blocks a thread runs: file writes, PNG encoding for files, directory
/// preparation, zip building. Swift's cooperative pool has one thread per core (two here); a
/// request that waited on the disk there would stall every other client's steps, so such work
/// is handed to these threads and awaited.
public enum BlockingWork {
    /// Threads for blocking work: more than cores, since most of what runs here waits on the disk.
    package static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: max(4, 2 * System.coreCount))
        pool.start()
        return pool
    }()

    /// Runs `body` on a thread of the pool and returns its result.
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive {
            // Under load, requests that wait for nothing (plain steps) go first.
            gym_lower_thread_priority(niceness)
            return try body()
        }
    }

    /// How much lower than request handling these threads run (a `nice` increment).
    static let niceness: Int32 = 5
}
