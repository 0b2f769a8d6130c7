import CoreMetrics
import GymMonitor
import Synchronization

/// What the instance runtime counts, through swift-metrics' API on whatever factory the server
/// gives (swift-prometheus's, in `ServerMetrics`): per environment id, and the frames it draws
/// and writes. The transports' metrics (requests by route, by path) extend it in GymServer.
///
/// Nothing on a request's path looks a metric up under a lock another request needs: an
/// instance's counters are resolved once when it is created (`EnvironmentMetrics`).
open class ServiceMetrics: @unchecked Sendable {
    public let factory: any MetricsFactory
    let framesRendered: CoreMetrics.Counter
    let pngBytesWritten: CoreMetrics.Counter
    let videoFrames: VideoFrameCounters
    private let environments = Mutex<[String: EnvironmentMetrics]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
        framesRendered = CoreMetrics.Counter(label: "gym_frames_rendered_total", factory: factory)
        pngBytesWritten = CoreMetrics.Counter(label: "gym_png_bytes_written_total", factory: factory)
        videoFrames = VideoFrameCounters(
            encoded: CoreMetrics.Counter(label: "gym_video_frames_encoded_total", factory: factory),
            dropped: CoreMetrics.Counter(label: "gym_video_frames_dropped_total", factory: factory))
    }

    /// The counters of one environment id, made on first use and shared by its instances. Ids
    /// come from the registry (an id that is not registered makes no instance), so the label's
    /// values are bounded.
    func environment(_ envID: String) -> EnvironmentMetrics {
        environments.withLock { environments in
            if let known = environments[envID] { return known }
            let made = EnvironmentMetrics(envID: envID, factory: factory, framesRendered: framesRendered, pngBytesWritten: pngBytesWritten)
            environments[envID] = made
            return made
        }
    }
}

/// What one environment id counts (see `ServerMetrics`), resolved when an instance is made so
/// that its steps touch nothing but atomics.
final class EnvironmentMetrics: Sendable {
    let live: Meter
    let created: CoreMetrics.Counter
    let closed: CoreMetrics.Counter
    let expired: CoreMetrics.Counter
    let resets: CoreMetrics.Counter
    let steps: CoreMetrics.Counter
    let episodes: CoreMetrics.Counter
    /// The process-wide frame counters, at hand for the instance.
    let framesRendered: CoreMetrics.Counter
    let pngBytesWritten: CoreMetrics.Counter

    init(envID: String, factory: any MetricsFactory, framesRendered: CoreMetrics.Counter, pngBytesWritten: CoreMetrics.Counter) {
        let label = [("env_id", envID)]
        live = Meter(label: "gym_instances_live", dimensions: label, factory: factory)
        created = CoreMetrics.Counter(label: "gym_instances_created_total", dimensions: label, factory: factory)
        closed = CoreMetrics.Counter(label: "gym_instances_closed_total", dimensions: label, factory: factory)
        expired = CoreMetrics.Counter(label: "gym_instances_expired_total", dimensions: label, factory: factory)
        resets = CoreMetrics.Counter(label: "gym_resets_total", dimensions: label, factory: factory)
        steps = CoreMetrics.Counter(label: "gym_steps_total", dimensions: label, factory: factory)
        episodes = CoreMetrics.Counter(label: "gym_episodes_total", dimensions: label, factory: factory)
        self.framesRendered = framesRendered
        self.pngBytesWritten = pngBytesWritten
    }

    /// A reset or step went through: what it did.
    func record(_ transitions: Transitions) {
        if transitions.steps > 0 { steps.increment(by: transitions.steps) }
        if transitions.resets > 0 { resets.increment(by: transitions.resets) }
        if transitions.episodes > 0 { episodes.increment(by: transitions.episodes) }
    }
}

/// What one reset or step call did to the environments of an instance: a plain instance's reset
/// is one reset, its step one step (and one episode if it ended it); a vector's count each
/// sub-environment (`VectorEnvironment`: the sub-environments a NEXT_STEP autoreset resets were
/// reset, not stepped; a SAME_STEP autoreset is a step and a reset).
struct Transitions: Sendable {
    var steps = 0
    var resets = 0
    var episodes = 0
}

/// The monitors' frames, counted for `VideoFrameObserver`.
struct VideoFrameCounters: VideoFrameObserver {
    let encoded: CoreMetrics.Counter
    let dropped: CoreMetrics.Counter

    func videoFrameEncoded() { encoded.increment() }
    func videoFrameDropped() { dropped.increment() }
}

