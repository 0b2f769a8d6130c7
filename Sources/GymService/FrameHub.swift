import Synchronization

/// A frame of one instance as the live view shows it: the PNG and the instance's status when it
/// was rendered.
public struct LiveFrame: Sendable {
    /// The frame, PNG-encoded.
    public var png: [UInt8]
    public var envID: String
    /// The 0-based index of the current episode (resets so far minus one), as the monitor numbers
    /// episodes.
    public var episode: Int
    /// Steps taken in the current episode.
    public var step: Int
    /// Reward accumulated in the current episode.
    public var episodeReward: Double
    /// `n` of `rendered/<n>.png` when this frame was also written to disk.
    public var frameNumber: Int?
    /// The instance's reset-plus-step count when the frame was drawn: which state it shows.
    public var stateCount: Int?

    public init(
        png: [UInt8], envID: String, episode: Int, step: Int, episodeReward: Double, frameNumber: Int? = nil,
        stateCount: Int? = nil
    ) {
        self.png = png
        self.envID = envID
        self.episode = episode
        self.step = step
        self.episodeReward = episodeReward
        self.frameNumber = frameNumber
        self.stateCount = stateCount
    }
}

/// Where rendered frames meet the people watching them.
///
/// The step path publishes each frame it rasterises; a viewer (the live view's event stream)
/// subscribes to some instances and is woken when any of them has a new frame. A viewer never
/// queues frames: it takes the newest frame of each instance when it gets round to it, so a slow
/// browser skips frames instead of falling behind. The newest frame of each instance is kept so
/// that a new viewer sees something at once.
public final class FrameHub: Sendable {
    /// A frame as published, numbered in publication order (across all instances).
    package struct Published: Sendable {
        package let sequence: UInt64
        package let frame: LiveFrame
    }

    /// What a viewer has not yet been shown, per instance.
    package enum Pending: Sendable {
        case frame(Published)
        /// The instance was closed.
        case closed
    }

    private struct Viewer {
        let instanceIDs: Set<String>
        var pending: [String: Pending]
        let doorbell: AsyncStream<Void>.Continuation
    }

    private struct State {
        /// The viewers of each instance id; an instance with none is absent.
        var watchers: [String: Set<Int>] = [:]
        var viewers: [Int: Viewer] = [:]
        var latest: [String: Published] = [:]
        var nextViewer = 0
        var nextSequence: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether anyone watches `instanceID` now. Cheap enough for every step: one lock and one
    /// dictionary lookup.
    public func hasViewers(_ instanceID: String) -> Bool {
        state.withLock { $0.watchers[instanceID] != nil }
    }

    /// Live streams open now, all instances together.
    public var viewerTotal: Int {
        state.withLock { $0.viewers.count }
    }

    /// Number of viewers of `instanceID`.
    public func viewerCount(_ instanceID: String) -> Int {
        state.withLock { $0.watchers[instanceID]?.count ?? 0 }
    }

    /// A frame just rendered for `instanceID` (PNG bytes) with the instance's status.
    public func publish(_ instanceID: String, frame: LiveFrame) {
        let doorbells = state.withLock { state -> [AsyncStream<Void>.Continuation] in
            // A frame of an older state than the one shown (the live renderer drew it while a
            // step rendered a newer one) would step the picture back: drop it.
            if let latest = state.latest[instanceID], let shown = latest.frame.stateCount,
                let count = frame.stateCount, count < shown
            {
                return []
            }
            state.nextSequence += 1
            let published = Published(sequence: state.nextSequence, frame: frame)
            state.latest[instanceID] = published
            guard let keys = state.watchers[instanceID] else { return [] }
            var doorbells: [AsyncStream<Void>.Continuation] = []
            for key in keys {
                state.viewers[key]?.pending[instanceID] = .frame(published)
                if let doorbell = state.viewers[key]?.doorbell { doorbells.append(doorbell) }
            }
            return doorbells
        }
        for doorbell in doorbells { doorbell.yield() }
    }

    /// The instance is gone: forget its last frame and tell its viewers.
    public func instanceClosed(_ instanceID: String) {
        let doorbells = state.withLock { state -> [AsyncStream<Void>.Continuation] in
            state.latest.removeValue(forKey: instanceID)
            guard let keys = state.watchers[instanceID] else { return [] }
            var doorbells: [AsyncStream<Void>.Continuation] = []
            for key in keys {
                state.viewers[key]?.pending[instanceID] = .closed
                if let doorbell = state.viewers[key]?.doorbell { doorbells.append(doorbell) }
            }
            return doorbells
        }
        for doorbell in doorbells { doorbell.yield() }
    }

    /// The newest frame of `instanceID`, if any was published.
    public func latestFrame(_ instanceID: String) -> LiveFrame? {
        state.withLock { $0.latest[instanceID]?.frame }
    }

    /// The state count of the newest frame of `instanceID` (nil when none, or not known).
    package func latestStateCount(_ instanceID: String) -> Int? {
        state.withLock { $0.latest[instanceID]?.frame.stateCount }
    }

    package func latestPublished(_ instanceID: String) -> Published? {
        state.withLock { $0.latest[instanceID] }
    }

    /// Starts watching `instanceIDs`; the newest frame of each is pending at once. Cancel the
    /// subscription when the viewer leaves.
    package func subscribe(_ instanceIDs: Set<String>) -> FrameSubscription {
        let (stream, doorbell) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let key = state.withLock { state -> Int in
            let key = state.nextViewer
            state.nextViewer += 1
            var pending: [String: Pending] = [:]
            for id in instanceIDs {
                state.watchers[id, default: []].insert(key)
                if let latest = state.latest[id] { pending[id] = .frame(latest) }
            }
            state.viewers[key] = Viewer(instanceIDs: instanceIDs, pending: pending, doorbell: doorbell)
            return key
        }
        doorbell.yield()
        return FrameSubscription(hub: self, key: key, instanceIDs: instanceIDs, doorbell: stream)
    }

    /// Takes what viewer `key` has not been shown yet.
    fileprivate func take(_ key: Int) -> [String: Pending] {
        state.withLock { state in
            guard let pending = state.viewers[key]?.pending, !pending.isEmpty else { return [:] }
            state.viewers[key]?.pending = [:]
            return pending
        }
    }

    fileprivate func ring(_ key: Int) {
        let doorbell = state.withLock { $0.viewers[key]?.doorbell }
        doorbell?.yield()
    }

    fileprivate func unsubscribe(_ key: Int) {
        let doorbell = state.withLock { state -> AsyncStream<Void>.Continuation? in
            guard let viewer = state.viewers.removeValue(forKey: key) else { return nil }
            for id in viewer.instanceIDs {
                state.watchers[id]?.remove(key)
                if state.watchers[id]?.isEmpty == true { state.watchers[id] = nil }
            }
            return viewer.doorbell
        }
        doorbell?.finish()
    }
}

/// One viewer's subscription: wait on `doorbell`, then `take()` what is new. Ends (the doorbell
/// finishes) on `cancel()`, which is idempotent.
package final class FrameSubscription: Sendable {
    private let hub: FrameHub
    private let key: Int
    let instanceIDs: Set<String>
    /// Yields whenever something may be pending; finishes when the subscription is cancelled.
    package let doorbell: AsyncStream<Void>

    fileprivate init(hub: FrameHub, key: Int, instanceIDs: Set<String>, doorbell: AsyncStream<Void>) {
        self.hub = hub
        self.key = key
        self.instanceIDs = instanceIDs
        self.doorbell = doorbell
    }

    package func take() -> [String: FrameHub.Pending] { hub.take(key) }

    /// Wakes the waiting viewer with nothing new (a keep-alive tick).
    package func ring() { hub.ring(key) }

    package func cancel() { hub.unsubscribe(key) }

    deinit { hub.unsubscribe(key) }
}
