import CoreMetrics
import GymMonitor
import Prometheus
import Synchronization
import GymService

/// The server's Prometheus metrics, made through swift-metrics' API on swift-prometheus's
/// registry (which writes the exposition format; nothing here formats it): the instance runtime's
/// (`ServiceMetrics`, GymService) and the transports' (requests by route and by path, the files
/// port's bytes, the gauges read at a scrape).
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
/// | `gym_step_requests_total` | path (bytes, parts, parts_worker, route, gymie_fast, gymie_session), operation (step, reset) | step and reset requests by the way they were answered (`StepPath`) |
/// | `gym_loop_spin_events_total` | event (spin, caught, missed, skipped) | what the event loops' polling after an answer did (`LoopSpin`, `--loop-spin-us`) |
/// | `gym_loop_spin_seconds_total` | | the time the event loops spent polling |
public final class ServerMetrics: ServiceMetrics, @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    let encoderQueueFrames: Meter
    let liveViewers: Meter
    let filesBytesServed: CoreMetrics.Counter
    /// Requests of the API port (5000) and of the files port (8000).
    let api: RequestMetrics
    let files: RequestMetrics
    /// Step and reset requests by the path that answered them.
    let stepPaths: StepPathCounters
    /// What the event loops' spinners did.
    let loopSpin: LoopSpinCounters

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        // A plain step takes well under a millisecond: the default buckets start at 5 ms.
        factory.durationHistogramBuckets[RequestMetrics.durationLabel] = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1),
            .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(10),
        ]
        encoderQueueFrames = Meter(label: "gym_video_encoder_queue_frames", factory: factory)
        liveViewers = Meter(label: "gym_live_viewers", factory: factory)
        filesBytesServed = CoreMetrics.Counter(label: "gym_files_bytes_served_total", factory: factory)
        api = RequestMetrics(port: "api", factory: factory)
        files = RequestMetrics(port: "files", factory: factory)
        stepPaths = StepPathCounters(factory: factory)
        loopSpin = LoopSpinCounters(factory: factory)
        super.init(factory: factory)
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

extension EnvironmentManager {
    /// The server's metrics, which `runGymServer` (or a test) gives the manager as its
    /// `ServiceMetrics`; nil with `--no-metrics`. Read once where a transport is set up.
    var serverMetrics: ServerMetrics? { metrics as? ServerMetrics }
}
