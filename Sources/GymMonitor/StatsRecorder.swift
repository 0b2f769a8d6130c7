import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The monitor's clock.
public enum MonitorClock {
    /// Python's `time.perf_counter()` on Linux: `CLOCK_MONOTONIC` in seconds. Old gym 0.21
    /// stamped `initial_reset_timestamp` and `timestamps` with it.
    @Sendable public static func perfCounter() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)) / 1e9
    }
}

/// The episode statistics old gym kept and wrote to `openaigym.episode_batch.*.stats.json`.
public struct EpisodeStatistics: Sendable, Equatable {
    /// When the first reset happened (`nil` until then; written as `null`).
    public var initialResetTimestamp: Double?
    /// When each completed episode ended.
    public var timestamps: [Double] = []
    public var episodeLengths: [Int] = []
    public var episodeRewards: [Double] = []
    /// One entry per reset ("t" for training), so it can be longer than the other lists.
    public var episodeTypes: [String] = []

    public init() {}

    /// Appends what `update` adds.
    mutating func apply(_ update: StatisticsUpdate) {
        if let stamp = update.initialResetTimestamp { initialResetTimestamp = stamp }
        for episode in update.episodes { append(episode) }
        for run in update.types {
            for _ in 0..<run.count { episodeTypes.append(run.type) }
        }
    }

    private mutating func append(_ episode: EpisodeRecord) {
        episodeLengths.append(episode.length)
        episodeRewards.append(episode.reward)
        timestamps.append(episode.timestamp)
    }

    /// The stats file's text: `json.dump` of 0.21's dict, keys in its order. Written straight
    /// into one string (the lists grow with the run).
    func statsFileText() -> String {
        var out = ""
        out.reserveCapacity(
            160 + 24 * timestamps.count + 6 * episodeLengths.count + 24 * episodeRewards.count + 5 * episodeTypes.count)
        out += #"{"initial_reset_timestamp": "#
        if let initialResetTimestamp {
            PythonJSON.writeFloat(initialResetTimestamp, to: &out)
        } else {
            out += "null"
        }
        out += #", "timestamps": ["#
        for (index, value) in timestamps.enumerated() {
            if index > 0 { out += ", " }
            PythonJSON.writeFloat(value, to: &out)
        }
        out += #"], "episode_lengths": ["#
        for (index, value) in episodeLengths.enumerated() {
            if index > 0 { out += ", " }
            out += String(value)
        }
        out += #"], "episode_rewards": ["#
        for (index, value) in episodeRewards.enumerated() {
            if index > 0 { out += ", " }
            PythonJSON.writeFloat(value, to: &out)
        }
        out += #"], "episode_types": ["#
        for (index, value) in episodeTypes.enumerated() {
            if index > 0 { out += ", " }
            PythonJSON.writeString(value, to: &out)
        }
        out += "]}"
        return out
    }
}

/// One saved episode.
struct EpisodeRecord: Sendable {
    var length: Int
    var reward: Double
    var timestamp: Double
}

/// What the statistics gained since the previous update, sent to the recording thread (which
/// keeps its own copy, so the step path never shares, and never copies, its growing lists).
/// Updates waiting for the recording thread are merged into one. The usual update (one episode,
/// one reset) is held inline, so sending it allocates nothing; a long backlog is kept in
/// fixed-size chunks, so adding to it never copies what is already there.
struct StatisticsUpdate: Sendable {
    var initialResetTimestamp: Double?
    private(set) var episodes = EpisodeRecords()
    private(set) var types = TypeRuns()

    mutating func addEpisode(_ episode: EpisodeRecord) { episodes.append(episode) }
    mutating func addType(_ type: String) { types.append(type, count: 1) }

    /// Appends a later update to this one.
    mutating func merge(_ later: StatisticsUpdate) {
        if initialResetTimestamp == nil { initialResetTimestamp = later.initialResetTimestamp }
        for episode in later.episodes { episodes.append(episode) }
        for run in later.types { types.append(run.type, count: run.count) }
    }
}

/// Episode records in order: the first inline, the rest in chunks of `chunkSize`.
struct EpisodeRecords: Sendable, Sequence {
    static let chunkSize = 1024
    private var first: EpisodeRecord?
    private var chunks: [[EpisodeRecord]] = []

    mutating func append(_ record: EpisodeRecord) {
        if first == nil {
            first = record
        } else if let last = chunks.indices.last, chunks[last].count < Self.chunkSize {
            chunks[last].append(record)
        } else {
            var chunk: [EpisodeRecord] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunk.append(record)
            chunks.append(chunk)
        }
    }

    struct Iterator: IteratorProtocol {
        fileprivate var first: EpisodeRecord?
        fileprivate let chunks: [[EpisodeRecord]]
        fileprivate var chunk = 0
        fileprivate var index = 0

        mutating func next() -> EpisodeRecord? {
            if let record = first {
                first = nil
                return record
            }
            while chunk < chunks.count {
                if index < chunks[chunk].count {
                    defer { index += 1 }
                    return chunks[chunk][index]
                }
                chunk += 1
                index = 0
            }
            return nil
        }
    }

    func makeIterator() -> Iterator { Iterator(first: first, chunks: chunks) }
}

/// Episode types in order, as runs of the same type (almost always a single run of "t").
struct TypeRuns: Sendable, Sequence {
    private var first: (type: String, count: Int)?
    private var more: [(type: String, count: Int)] = []

    mutating func append(_ type: String, count: Int) {
        guard count > 0 else { return }
        if let last = more.indices.last {
            if more[last].type == type { more[last].count += count } else { more.append((type, count)) }
        } else if let run = first {
            if run.type == type { first = (type, run.count + count) } else { more.append((type, count)) }
        } else {
            first = (type, count)
        }
    }

    struct Iterator: IteratorProtocol {
        fileprivate var first: (type: String, count: Int)?
        fileprivate let more: [(type: String, count: Int)]
        fileprivate var index = 0

        mutating func next() -> (type: String, count: Int)? {
            if let run = first {
                first = nil
                return run
            }
            guard index < more.count else { return nil }
            defer { index += 1 }
            return more[index]
        }
    }

    /// Runs in order (no allocation: iterating happens on the step path).
    func makeIterator() -> Iterator { Iterator(first: first, more: more) }
}

/// Old gym 0.21's `StatsRecorder` (gym/wrappers/monitoring/stats_recorder.py) for environments
/// without `semantics.autoreset`, transcribed: steps and rewards are counted between resets; an
/// episode is saved when a step reports `done`; a reset in the middle of an episode (steps taken,
/// not done) is refused; a reset without steps adds an episode type but no episode.
///
/// This half lives on the step path and keeps only counters and what has not been handed to
/// the recording thread yet (`pending`); the lists themselves are kept by `StatisticsMirror`.
struct StatsRecorder: Sendable {
    let envID: String
    /// "t" (training) or "e" (evaluation); written at each reset.
    var episodeType = "t"
    /// Steps of the current episode, `nil` before the first reset.
    private(set) var steps: Int?
    private(set) var totalSteps = 0
    private(set) var rewards: Double?
    /// `nil` before the first reset, then whether the current episode has ended.
    private(set) var done: Bool?
    private(set) var initialResetTimestamp: Double?
    /// Saved episodes so far.
    private(set) var episodeCount = 0
    /// Saved episodes and types not yet handed over by `takeUpdate`.
    private var pending = StatisticsUpdate()

    init(envID: String) {
        self.envID = envID
    }

    /// `before_step`: stepping is allowed only between a reset and the end of the episode.
    func checkStep() throws(MonitorError) {
        if done == true { throw .stepAfterDone(envID: envID) }
        if steps == nil { throw .stepBeforeReset(envID: envID) }
    }

    /// `after_step`. Returns whether an episode was saved. A step without a preceding reset is
    /// ignored (old gym would have raised in `before_step`).
    @discardableResult
    mutating func recordStep(reward: Double, done stepDone: Bool, now: () -> Double) -> Bool {
        guard let current = steps else { return false }
        steps = current + 1
        totalSteps += 1
        rewards = (rewards ?? 0) + reward
        done = stepDone
        if stepDone {
            saveComplete(now: now)
            return true
        }
        return false
    }

    /// `before_reset`'s check alone.
    func checkReset() throws(MonitorError) {
        if let done, !done, let steps, steps > 0 {
            throw .resetBeforeDone(envID: envID)
        }
    }

    /// `before_reset` after its check: marks the episode not done, stamps the first reset.
    mutating func beforeReset(now: () -> Double) {
        done = false
        if initialResetTimestamp == nil {
            let stamp = now()
            initialResetTimestamp = stamp
            pending.initialResetTimestamp = stamp
        }
    }

    /// `after_reset`.
    mutating func afterReset() {
        steps = 0
        rewards = 0
        pending.addType(episodeType)
    }

    /// An episode that ran elsewhere (another sub-environment of a vector): saved as it is, with
    /// its type, whatever the current episode's state.
    mutating func recordEpisode(length: Int, reward: Double, now: () -> Double) {
        if initialResetTimestamp == nil {
            let stamp = now()
            initialResetTimestamp = stamp
            pending.initialResetTimestamp = stamp
        }
        totalSteps += length
        pending.addType(episodeType)
        pending.addEpisode(EpisodeRecord(length: length, reward: reward, timestamp: now()))
        episodeCount += 1
    }

    /// What was added since the previous call.
    mutating func takeUpdate() -> StatisticsUpdate {
        defer { pending = StatisticsUpdate() }
        return pending
    }

    /// `save_complete`.
    private mutating func saveComplete(now: () -> Double) {
        guard let steps else { return }
        pending.addEpisode(EpisodeRecord(length: steps, reward: rewards ?? 0, timestamp: now()))
        episodeCount += 1
    }
}

/// The statistics' lists (what the stats file holds), built from the updates on the recording
/// thread and readable from any thread.
final class StatisticsMirror: Sendable {
    private let stored = Mutex(EpisodeStatistics())

    func apply(_ update: StatisticsUpdate) {
        stored.withLock { $0.apply(update) }
    }

    /// A copy-on-write snapshot (its cost, if any, falls on the next `apply`).
    func snapshot() -> EpisodeStatistics {
        stored.withLock { $0 }
    }
}
