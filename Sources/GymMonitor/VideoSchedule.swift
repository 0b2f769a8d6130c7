#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Which episodes get a video, as old gym's Monitor `video_callable` decided it.
///
/// - `cappedCubic`: gym's default (`video_callable` absent, `null` or `true`): episodes
///   0, 1, 8, 27, ..., 729, 1000, then every 1000th.
/// - `never`: `video_callable: false`.
/// - `every(n)`: an integer `n`: episodes whose id is a multiple of `n` (`episode_id % n == 0`).
public enum VideoSchedule: Sendable, Hashable, CustomStringConvertible {
    case cappedCubic
    case never
    case every(Int)

    /// `true` is gym's default schedule, `false` records no video.
    public init(_ enabled: Bool) {
        self = enabled ? .cappedCubic : .never
    }

    /// Every `n`-th episode. `n` must be positive.
    public init(every n: Int) throws(MonitorError) {
        guard n > 0 else {
            throw MonitorError.invalidVideoSchedule(
                "video_callable must be true, false or a positive integer N (record every N-th episode), not \(n)")
        }
        self = .every(n)
    }

    /// Whether the episode with this id (0 for the first episode of the monitor) is filmed.
    public func shouldRecord(episode: Int) -> Bool {
        switch self {
        case .never:
            return false
        case .every(let n):
            return n > 0 && episode % n == 0
        case .cappedCubic:
            // capped_cubic_video_schedule of gym 0.21, with the same floating-point cube root.
            if episode < 1000 {
                guard episode >= 0 else { return false }
                let root = Int(pow(Double(episode), 1.0 / 3.0).rounded(.toNearestOrEven))
                return root * root * root == episode
            }
            return episode % 1000 == 0
        }
    }

    public var description: String {
        switch self {
        case .cappedCubic: return "capped cubic (0, 1, 8, 27, ..., 1000, then every 1000)"
        case .never: return "no videos"
        case .every(let n): return "every \(n)th episode"
        }
    }
}
