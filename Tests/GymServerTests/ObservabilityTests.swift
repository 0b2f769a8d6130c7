import Foundation
import GymCore
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import GymService

/// The exposition of `/metrics`, parsed: every sample by its name and labels.
struct MetricsText {
    struct Sample: Hashable {
        let name: String
        let labels: [String: String]
    }

    private(set) var samples: [Sample: Double] = [:]
    private(set) var types: [String: String] = [:]

    init(_ text: String) throws {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                try #require(parts.count == 4, "bad TYPE line: \(line)")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            let valueStart = try #require(line.lastIndex(of: " "), "no value: \(line)")
            let value = try #require(Double(line[line.index(after: valueStart)...]), "bad value: \(line)")
            let series = line[..<valueStart]
            var labels: [String: String] = [:]
            let name: Substring
            if let open = series.firstIndex(of: "{") {
                name = series[..<open]
                try #require(series.last == "}", "unclosed labels: \(line)")
                // Label values here hold no quotes, commas or escapes.
                for pair in series[series.index(after: open)..<series.index(before: series.endIndex)].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    try #require(parts.count == 2 && parts[1].hasPrefix("\"") && parts[1].hasSuffix("\""), "bad label: \(pair)")
                    labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
                }
            } else {
                name = series
            }
            samples[Sample(name: String(name), labels: labels)] = value
        }
    }

    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples[Sample(name: name, labels: labels)]
    }

    /// The samples of a metric whose labels include `labels`.
    func series(_ name: String, matching labels: [String: String] = [:]) -> [Sample: Double] {
        samples.filter { sample, _ in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }
}

/// An API application whose manager counts metrics, driven in-process.
struct MetricsHarness {
    let manager: EnvironmentManager
    let monitorRoot: URL
    let keyring: APIKeyring
    let metricsToken: String?
    let clock = ManualClock()

    init(metrics: Bool = true, keyring: APIKeyring = APIKeyring(), metricsToken: String? = nil, limits: ServerLimits = ServerLimits()) {
        monitorRoot = FileManager.default.temporaryDirectory.appendingPathComponent("gym-metrics-tests-\(UUID().uuidString)")
        let clock = self.clock
        manager = EnvironmentManager(
            monitorRoot: monitorRoot, limits: limits, clock: { clock.now }, metrics: metrics ? ServerMetrics() : nil)
        self.keyring = keyring
        self.metricsToken = metricsToken
    }

    var state: GymServerState {
        GymServerState(manager: manager, shutdown: ShutdownSwitch(allowed: false), keyring: keyring, metricsToken: metricsToken)
    }

    func run(_ body: @escaping @Sendable (APIClient) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: monitorRoot) }
        try await Application(router: buildAPIRouter(state: state)).test(.router) { client in try await body(APIClient(client: client)) }
    }
}

extension APIClient {
    func metrics(headers: HTTPFields = [:]) async throws -> MetricsText {
        let answer = try await request(.get, "/metrics", headers: headers)
        #expect(answer.status == .ok, "GET /metrics: \(answer.status) \(answer.json)")
        #expect(answer.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
        return try MetricsText(String(decoding: answer.bytes, as: UTF8.self))
    }

    /// Steps with action 0 until the episode ends; returns the number of steps.
    func runEpisode(_ id: String) async throws -> Int {
        #expect(try await post("/v1/envs/\(id)/reset/").status == .ok)
        for steps in 1...1000 {
            let answer = try await post("/v1/envs/\(id)/step/", ["action": 0])
            #expect(answer.status == .ok)
            if answer.json["done"]?.boolValue == true { return steps }
        }
        Issue.record("no episode end in 1000 steps")
        return 1000
    }
}

private let step = "/v1/envs/{instance_id}/step"

private func aliceKeyring() throws -> APIKeyring {
    var keyring = APIKeyring()
    try keyring.add(name: "alice", key: "alice-key-0123")
    return keyring
}

@Suite("Health and Prometheus metrics")
struct ObservabilityTests {
    @Test("/healthz: 200 with the files port, the recorder and status ok; open with API keys on")
    func healthz() async throws {
        let harness = MetricsHarness(keyring: try aliceKeyring())
        try await harness.run { client in
            let answer = try await client.get("/healthz")
            #expect(answer.status == .ok)
            #expect(answer.json["status"]?.stringValue == "ok")
            #expect(answer.json["api"]?["healthy"]?.boolValue == true)
            // No files port in-process: disabled, which is no failure.
            #expect(answer.json["files_port"]?["state"]?.stringValue == "disabled")
            #expect(answer.json["files_port"]?["healthy"]?.boolValue == true)
            #expect(answer.json["recorder"]?["healthy"]?.boolValue == true)
            #expect(answer.json["recorder"]?["problems"]?.intValue == 0)
            #expect(answer.json["metrics"]?.boolValue == true)
            // Everything else still needs a key.
            #expect(try await client.get("/v1/envs/").status == .unauthorized)
        }
    }

    @Test("/healthz says degraded while the files port is not listening, ok once it is")
    func filesPortHealth() async throws {
        let harness = MetricsHarness()
        let files = FilesPortHealth(enabled: true)
        let state = GymServerState(manager: harness.manager, shutdown: ShutdownSwitch(allowed: false), filesPort: files)
        try await Application(router: buildAPIRouter(state: state)).test(.router) { raw in
            let client = APIClient(client: raw)
            var answer = try await client.get("/healthz")
            #expect(answer.status == .ok)
            #expect(answer.json["status"]?.stringValue == "degraded")
            #expect(answer.json["files_port"]?["state"]?.stringValue == "starting")
            files.listening(port: 8123)
            answer = try await client.get("/healthz")
            #expect(answer.json["status"]?.stringValue == "ok")
            #expect(answer.json["files_port"]?["port"]?.intValue == 8123)
            files.stopped()
            answer = try await client.get("/healthz")
            #expect(answer.json["status"]?.stringValue == "degraded")
            #expect(answer.json["files_port"]?["healthy"]?.boolValue == false)
        }
    }

    @Test("a recording problem makes the recorder unhealthy for a minute")
    func recorderHealth() async throws {
        let harness = MetricsHarness()
        try await harness.run { client in
            let id = try await client.create("CartPole-v1", seed: 3)
            #expect(try await client.post("/v1/envs/\(id)/monitor/start/", ["directory": "gone", "video_callable": false]).status == .ok)
            // The monitor's directory disappears: the stats file of the episode cannot be written.
            try FileManager.default.removeItem(at: harness.monitorRoot.appendingPathComponent("gone"))
            _ = try await client.runEpisode(id)
            // The stats file is written on the recorder's thread: wait (at most 10 s) for its failure.
            var health = try await client.get("/healthz")
            for _ in 0..<200 where health.json["recorder"]?["healthy"]?.boolValue != false {
                try await Task.sleep(for: .milliseconds(50))
                health = try await client.get("/healthz")
            }
            #expect(health.status == .ok)
            #expect(health.json["status"]?.stringValue == "degraded", "\(health.json)")
            #expect(health.json["recorder"]?["healthy"]?.boolValue == false)
            #expect((health.json["recorder"]?["problems"]?.intValue ?? 0) >= 1)
            harness.clock.advance(seconds: Double(RecorderHealth.window) + 1)
            health = try await client.get("/healthz")
            #expect(health.json["status"]?.stringValue == "ok", "\(health.json)")
            #expect(health.json["recorder"]?["healthy"]?.boolValue == true)
        }
    }

    @Test("steps, resets, episodes and instances by env id; requests by route template and status")
    func countsStepsAndEpisodes() async throws {
        let harness = MetricsHarness()
        try await harness.run { client in
            let cartpole = try await client.create("CartPole-v1", seed: 7)
            let first = try await client.runEpisode(cartpole)
            let second = try await client.runEpisode(cartpole)
            let lake = try await client.create("FrozenLake-v1", seed: 1, kwargs: ["is_slippery": false])
            #expect(try await client.post("/v1/envs/\(lake)/reset/").status == .ok)
            #expect(try await client.post("/v1/envs/\(lake)/step/", ["action": 1]).status == .ok)
            #expect(try await client.post("/v1/envs/\(lake)/step/", ["action": 9]).status == .badRequest)
            var metrics = try await client.metrics()
            let cart = ["env_id": "CartPole-v1"]
            #expect(metrics.value("gym_steps_total", cart) == Double(first + second))
            #expect(metrics.value("gym_resets_total", cart) == 2)
            #expect(metrics.value("gym_episodes_total", cart) == 2)
            #expect(metrics.value("gym_instances_created_total", cart) == 1)
            #expect(metrics.value("gym_instances_live", cart) == 1)
            #expect(metrics.value("gym_steps_total", ["env_id": "FrozenLake-v1"]) == 1)
            #expect(metrics.value("gym_episodes_total", ["env_id": "FrozenLake-v1"]) == 0)
            #expect(metrics.types["gym_steps_total"] == "counter")
            #expect(metrics.types["gym_instances_live"] == "gauge")
            #expect(metrics.types["gym_http_request_duration_seconds"] == "histogram")
            let ok = ["port": "api", "route": step, "method": "POST", "status": "200"]
            #expect(metrics.value("gym_http_requests_total", ok) == Double(first + second + 1))
            #expect(metrics.value("gym_http_request_duration_seconds_count", ok) == Double(first + second + 1))
            #expect(metrics.value("gym_http_request_duration_seconds_bucket", ok.merging(["le": "+Inf"]) { $1 }) == Double(first + second + 1))
            #expect(metrics.value("gym_http_requests_total", ok.merging(["status": "400"]) { $1 }) == 1)
            #expect(metrics.value("gym_http_requests_total", ["port": "api", "route": "/v1/envs", "method": "POST", "status": "200"]) == 2)
            // No instance id in any label.
            for sample in metrics.samples.keys {
                for value in sample.labels.values { #expect(!value.contains(cartpole) && !value.contains(lake), "\(sample)") }
            }

            #expect(try await client.post("/v1/envs/\(cartpole)/close/").status == .ok)
            metrics = try await client.metrics()
            #expect(metrics.value("gym_instances_closed_total", cart) == 1)
            #expect(metrics.value("gym_instances_live", cart) == 0)
            #expect(metrics.value("gym_instances_live", ["env_id": "FrozenLake-v1"]) == 1)
        }
    }

    @Test("a vector instance counts each sub-environment's steps, resets and episodes")
    func vectorCounts() async throws {
        let harness = MetricsHarness()
        try await harness.run { client in
            let created = try await client.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 3, "seed": 5, "autoreset_mode": "next_step"])
            let id = try #require(created.json["instance_id"]?.stringValue)
            #expect(try await client.post("/v1/envs/\(id)/reset/").status == .ok)
            var steps = 0
            var episodes = 0
            var autoresets = 0
            var dueNext = [false, false, false]
            for _ in 0..<60 {
                let answer = try await client.post("/v1/envs/\(id)/step/", ["action": [0, 0, 0]])
                #expect(answer.status == .ok)
                let flags = answer.json["done"]?.arrayValue?.compactMap { $0.boolValue }
                let done = try #require(flags)
                for i in 0..<3 {
                    if dueNext[i] { autoresets += 1 } else { steps += 1 }
                    if done[i] { episodes += 1 }
                }
                dueNext = done
            }
            #expect(episodes > 0 && autoresets > 0)
            let metrics = try await client.metrics()
            let cart = ["env_id": "CartPole-v1"]
            #expect(metrics.value("gym_steps_total", cart) == Double(steps))
            #expect(metrics.value("gym_episodes_total", cart) == Double(episodes))
            #expect(metrics.value("gym_resets_total", cart) == Double(3 + autoresets))
        }
    }

    @Test("frames rendered, PNG bytes written, video frames encoded")
    func framesAndVideo() async throws {
        let harness = MetricsHarness()
        try await harness.run { client in
            let id = try await client.create("CartPole-v1", seed: 11)
            let started = try await client.post("/v1/envs/\(id)/monitor/start/", ["directory": "filmed", "force": true])
            #expect(started.status == .ok, "\(started.json)")
            let steps = try await client.runEpisode(id)
            let rendered = try await client.post("/v1/envs/\(id)/reset/", ["render": true])
            #expect(rendered.status == .ok)
            #expect(try await client.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            let png = try Data(contentsOf: harness.monitorRoot.appendingPathComponent("\(id)/rendered/0.png"))
            let metrics = try await client.metrics()
            // Episode 0 filmed: its reset and every step; then the reset asked for with render: true
            // (episode 1, filmed too, is one frame).
            #expect(metrics.value("gym_frames_rendered_total") == Double(steps + 2))
            #expect(metrics.value("gym_png_bytes_written_total") == Double(png.count))
            #expect(metrics.value("gym_video_frames_encoded_total") == Double(steps + 2))
            #expect(metrics.value("gym_video_frames_dropped_total") == 0)
            #expect(metrics.value("gym_video_encoder_queue_frames") == 0)
            #expect(metrics.value("gym_live_viewers") == 0)
        }
    }

    @Test("the files port counts its requests by route and the bytes it serves")
    func filesPort() async throws {
        let harness = MetricsHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        let instance = try harness.manager.create(envID: "CartPole-v1")
        _ = try await instance.reset(seed: 1, options: nil, render: true)
        let png = try Data(contentsOf: harness.monitorRoot.appendingPathComponent("\(instance.id)/rendered/0.png"))
        let site = FilesSite(monitorRoot: harness.monitorRoot)
        let files = Application(router: buildFilesRouter(site: site, manager: harness.manager, frames: harness.manager.frames))
        try await files.test(.router) { client in
            let frame = try await client.fetch("/\(instance.id)/rendered/0.png")
            #expect(frame.body.count == png.count)
            let missing = try await client.fetch("/\(instance.id)/rendered/missing.png")
            #expect(missing.status == .notFound)
            let config = try await client.fetch("/config.json")
            #expect(config.status == .ok)
        }
        try await harness.run { client in
            let metrics = try await client.metrics()
            let file = ["port": "files", "route": "/{monitor path}", "method": "GET"]
            #expect(metrics.value("gym_http_requests_total", file.merging(["status": "200"]) { $1 }) == 1)
            #expect(metrics.value("gym_http_requests_total", file.merging(["status": "404"]) { $1 }) == 1)
            #expect(metrics.value("gym_http_requests_total", ["port": "files", "route": "/config.json", "method": "GET", "status": "200"]) == 1)
            let served = try #require(metrics.value("gym_files_bytes_served_total"))
            #expect(served >= Double(png.count))
        }
    }

    @Test("paths no route knows, instance ids and odd methods add no series")
    func boundedCardinality() async throws {
        let harness = MetricsHarness()
        try await harness.run { client in
            _ = try await client.get("/metrics")
            func round() async throws {
                for _ in 0..<20 {
                    #expect(try await client.get("/no/such/route/\(UUID().uuidString)").status == .notFound)
                    let id = UUID().uuidString.prefix(8).lowercased()
                    #expect(try await client.post("/v1/envs/\(id)/step/", ["action": 0]).status == .badRequest)
                    #expect(try await client.request(HTTPRequest.Method("BREW")!, "/\(UUID().uuidString)").status == .notFound)
                }
            }
            try await round()
            let between = try await client.metrics()
            try await round()
            let after = try await client.metrics()
            #expect(after.samples.count == between.samples.count)
            #expect(after.value("gym_http_requests_total", ["port": "api", "route": "unmatched", "method": "GET", "status": "404"]) == 40)
            #expect(after.value("gym_http_requests_total", ["port": "api", "route": step, "method": "POST", "status": "400"]) == 40)
            #expect(after.value("gym_http_requests_total", ["port": "api", "route": "unmatched", "method": "other", "status": "404"]) == 40)
            let routes = Set(after.series("gym_http_requests_total").keys.compactMap { $0.labels["route"] })
            #expect(routes == ["unmatched", step, "/metrics"], "\(routes)")
        }
    }

    @Test("/metrics: open without keys; with keys a valid key or the token; a token alone protects it; --no-metrics: 404")
    func metricsAccess() async throws {
        let keyring = try aliceKeyring()
        let bearer: @Sendable (String) -> HTTPFields = { [.authorization: "Bearer \($0)"] }
        let tokenHeader: @Sendable (String) -> HTTPFields = { [HTTPField.Name("X-Metrics-Token")!: $0] }
        try await MetricsHarness().run { client in
            let open = try await client.get("/metrics")
            #expect(open.status == .ok)
        }
        try await MetricsHarness(keyring: keyring, metricsToken: "scrape-token-99").run { client in
            let without = try await client.get("/metrics")
            #expect(without.status == .unauthorized)
            #expect(without.headers[.wwwAuthenticate] != nil)
            #expect(try await client.request(.get, "/metrics", headers: bearer("wrong-token")).status == .unauthorized)
            _ = try await client.with(key: "alice-key-0123").metrics()
            _ = try await client.metrics(headers: bearer("alice-key-0123"))
            _ = try await client.metrics(headers: bearer("scrape-token-99"))
            _ = try await client.metrics(headers: tokenHeader("scrape-token-99"))
            #expect(try await client.request(.get, "/metrics?api_key=alice-key-0123").status == .ok)
            // The token opens /metrics and nothing else.
            #expect(try await client.request(.get, "/v1/envs/", headers: bearer("scrape-token-99")).status == .unauthorized)
            #expect(try await client.request(.get, "/v1/envs/", headers: tokenHeader("scrape-token-99")).status == .unauthorized)
        }
        try await MetricsHarness(metricsToken: "scrape-token-99").run { client in
            let without = try await client.get("/metrics")
            #expect(without.status == .unauthorized)
            #expect(without.message?.contains("X-Metrics-Token") == true)
            #expect(try await client.request(.get, "/metrics", headers: tokenHeader("nope")).status == .unauthorized)
            _ = try await client.metrics(headers: tokenHeader("scrape-token-99"))
            // The rest of the API stays open, as it is without keys.
            #expect(try await client.get("/v1/envs/").status == .ok)
        }
        try await MetricsHarness(metrics: false).run { client in
            let answer = try await client.get("/metrics")
            #expect(answer.status == .notFound)
            #expect(answer.message?.contains("--no-metrics") == true)
            #expect(try await client.get("/healthz").json["metrics"]?.boolValue == false)
        }
    }
}
