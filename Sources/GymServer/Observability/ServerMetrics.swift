import CoreMetrics
import GymMonitor
import Prometheus
import Synchronization

/// The server's Prometheus metrics, made through swift-metrics' API on swift-prometheus's
/// registry (which writes the exposition format; nothing here formats it).
///
/// Nothing on a request's path looks a metric up under a lock another request needs: an
/// instance's counters are resolved once when it is created (`EnvironmentMetrics`), a route's
/// once per thread (`RequestMetrics`), and swift-prometheus's counters and gauges are atomics.
/// Gauges whose truth lives elsewhere (live viewers, the encoders' queues) are read when
/// `/metrics` is asked for.
///
/// | metric | labels | what |
/// | --- | --- | --- |
/// | `gym_instances_live` | env_id | instances open now |
/// | `gym_instances_created_total`, `_closed_total`, `_expired_total` | env_id | made; closed (close/, shutdown); closed by `--instance-ttl` |
/// | `gym_resets_total` | env_id | environment resets (a vector's: each sub-environment reset, autoresets included) |
/// | `gym_steps_total` | env_id | environment steps (a vector's: each sub-environment stepped; an autoreset is a reset) |
/// | `gym_episodes_total` | env_id | episodes that ended, terminated or truncated (a vector's: each sub-episode) |
/// | `gym_http_requests_total` | port, route, method, status | requests answered, by route template |
/// | `gym_http_request_duration_seconds` | port, route, method, status | histogram: until the answer's head is ready |
/// | `gym_frames_rendered_total` | | frames rasterised: render: true, GET render, filmed episodes, the live view |
/// | `gym_png_bytes_written_total` | | bytes of PNG files written for render: true |
/// | `gym_video_frames_encoded_total`, `_dropped_total` | | filmed frames put into videos; left out of a broken video |
/// | `gym_video_encoder_queue_frames` | | frames waiting for the monitors' encoders |
/// | `gym_live_viewers` | | live streams open on the files port |
/// | `gym_files_bytes_served_total` | | body bytes written by the files port |
/// | `gym_step_requests_total` | path (bytes, parts, route, gymie_fast, gymie_session), operation (step, reset) | step and reset requests by the way they were answered (`StepPath`) |
public final class ServerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    let framesRendered: CoreMetrics.Counter
    let pngBytesWritten: CoreMetrics.Counter
    let videoFrames: VideoFrameCounters
    let encoderQueueFrames: Meter
    let liveViewers: Meter
    let filesBytesServed: CoreMetrics.Counter
    /// Requests of the API port (5000) and of the files port (8000).
    let api: RequestMetrics
    let files: RequestMetrics
    /// Step and reset requests by the path that answered them.
    let stepPaths: StepPathCounters

    private let environments = Mutex<[String: EnvironmentMetrics]>([:])

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // A plain step takes well under a millisecond: the default buckets start at 5 ms.
        factory.durationHistogramBuckets[RequestMetrics.durationLabel] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(10),
        ]
        self.factory = factory
        framesRendered = CoreMetrics.Counter(label: "gym_frames_rendered_total", factory: factory)
        pngBytesWritten = CoreMetrics.Counter(label: "gym_png_bytes_written_total", factory: factory)
        videoFrames = VideoFrameCounters(
            encoded: CoreMetrics.Counter(label: "gym_video_frames_encoded_total", factory: factory),
            dropped: CoreMetrics.Counter(label: "gym_video_frames_dropped_total", factory: factory))
        encoderQueueFrames = Meter(label: "gym_video_encoder_queue_frames", factory: factory)
        liveViewers = Meter(label: "gym_live_viewers", factory: factory)
        filesBytesServed = CoreMetrics.Counter(label: "gym_files_bytes_served_total", factory: factory)
        api = RequestMetrics(port: "api", factory: factory)
        files = RequestMetrics(port: "files", factory: factory)
        stepPaths = StepPathCounters(factory: factory)
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

    /// The exposition, in Prometheus's text format, after reading the gauges kept elsewhere.
    func exposition(manager: EnvironmentManager) -> [UInt8] {
        liveViewers.set(manager.frames.viewerTotal)
        encoderQueueFrames.set(manager.monitors.queuedFrames)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
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

    init(envID: String, factory: PrometheusMetricsFactory, framesRendered: CoreMetrics.Counter, pngBytesWritten: CoreMetrics.Counter) {
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

/// `gym_step_requests_total{path, operation}`: every series made up front, so that counting one
/// is an atomic increment.
struct StepPathCounters: Sendable {
    private let steps: [StepPath: CoreMetrics.Counter]
    private let resets: [StepPath: CoreMetrics.Counter]

    init(factory: PrometheusMetricsFactory) {
        func series(_ operation: String) -> [StepPath: CoreMetrics.Counter] {
            Dictionary(uniqueKeysWithValues: StepPath.allCases.map { path in
                (path, CoreMetrics.Counter(
                    label: "gym_step_requests_total", dimensions: [("path", path.rawValue), ("operation", operation)], factory: factory))
            })
        }
        steps = series("step")
        resets = series("reset")
    }

    func count(_ path: StepPath, reset: Bool) {
        (reset ? resets : steps)[path]?.increment()
    }
}
