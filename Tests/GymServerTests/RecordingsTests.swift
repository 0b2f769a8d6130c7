import Foundation
import GymCore
@testable import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import GymService

/// Where monitors record, as the API says it (`GET /v1/envs/{id}/monitor/`) and as the dashboard
/// finds it (`/_live/instances`' `monitors`, `/_recordings`), for directories clients name.
@Suite("Every recording, wherever its directory")
struct RecordingsTests {
    /// Runs `body` with the API and the files port of one manager.
    static func withBothPorts(
        keyring: APIKeyring = APIKeyring(), _ body: @escaping @Sendable (APIHarness, APIClient, any TestClientProtocol) async throws -> Void
    ) async throws {
        let harness = APIHarness(keyring: keyring)
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try FileManager.default.createDirectory(at: harness.monitorRoot, withIntermediateDirectories: true)
        let files = Application(
            router: buildFilesRouter(
                site: FilesSite(monitorRoot: harness.monitorRoot), manager: harness.manager, frames: harness.manager.frames,
                keyring: keyring))
        try await harness.run { api in
            try await files.test(.router) { filesClient in try await body(harness, api, filesClient) }
        }
    }

    static func json(_ client: any TestClientProtocol, _ uri: String, key: String? = nil) async throws -> JSON {
        let answer = try await client.fetch(uri, headers: key.map { ["X-API-Key": $0] } ?? [:])
        #expect(answer.status == .ok, "\(uri): \(answer.status) \(answer.text)")
        return try JSONParser.parse(answer.text)
    }

    @Test("GET /v1/envs/{id}/monitor/ says where the monitor records, whether it still does, and its episodes")
    func monitorStatus() async throws {
        try await Self.withBothPorts { _, api, _ in
            let id = try await api.create("CartPole-v1")
            #expect(try await api.get("/v1/envs/\(id)/monitor/").json == ["directory": .null, "url": .null, "recording": false, "episodes": 0])
            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "/tmp/random-agent-results", "force": true])
            let started = try await api.get("/v1/envs/\(id)/monitor/")
            #expect(started.json["directory"] == "tmp/random-agent-results")
            #expect(started.json["url"]?.stringValue?.hasSuffix(":8000/tmp/random-agent-results/") == true)
            #expect(started.json["recording"] == true && started.json["episodes"] == 0)
            _ = try await MonitorRoutesTests.runEpisodes(api, id, episodes: 3)
            #expect(try await api.get("/v1/envs/\(id)/monitor/").json["episodes"] == 3)
            _ = try await api.post("/v1/envs/\(id)/monitor/close/")
            let closed = try await api.get("/v1/envs/\(id)/monitor/")
            #expect(closed.json["recording"] == false && closed.json["episodes"] == 3 && closed.json["directory"] == "tmp/random-agent-results")
            // The default directory of a second monitor.
            _ = try await api.post("/v1/envs/\(id)/monitor/start/")
            #expect(try await api.get("/v1/envs/\(id)/monitor/").json["directory"]?.stringValue == "\(id)/simulation")
            expectErrorContaining(try await api.get("/v1/envs/0000beef/monitor/"), ["0000beef"])
        }
    }

    @Test("/_recordings lists named and default directories, live or closed, with env id, episodes, stats and videos")
    func recordingsListed() async throws {
        try await Self.withBothPorts { harness, api, files in
            let named = try await api.create("CartPole-v1")
            let openai = try await api.create("CartPole-v1")
            let plain = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(named)/monitor/start/", ["directory": "runs/cartpole", "video_callable": true])
            _ = try await api.post("/v1/envs/\(openai)/monitor/start/", ["directory": "/tmp/random-agent-results", "force": true])
            _ = try await api.post("/v1/envs/\(plain)/monitor/start/")
            _ = try await MonitorRoutesTests.runEpisodes(api, named, episodes: 2)
            _ = try await MonitorRoutesTests.runEpisodes(api, openai, episodes: 3)
            // One recording of a closed instance, and things the search must not take.
            _ = try await api.post("/v1/envs/\(openai)/monitor/close/")
            _ = try await api.post("/v1/envs/\(openai)/close/")
            let root = harness.monitorRoot
            let deep = root.appendingPathComponent("a/b/c/d/e/f/g")
            try FileManager.default.createDirectory(at: deep, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: deep.appendingPathComponent("openaigym.manifest.0.1.manifest.json"))
            let frames = root.appendingPathComponent("\(named)/rendered")
            try FileManager.default.createDirectory(at: frames, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: frames.appendingPathComponent("openaigym.manifest.0.1.manifest.json"))
            try FileManager.default.createSymbolicLink(
                atPath: root.appendingPathComponent("linked").path, withDestinationPath: root.appendingPathComponent("runs").path)

            let listing = try await Self.json(files, "/_recordings")
            let recordings = try #require(listing["recordings"]?.arrayValue)
            let byDirectory = Dictionary(uniqueKeysWithValues: recordings.compactMap { r in r["directory"]?.stringValue.map { ($0, r) } })
            #expect(Set(byDirectory.keys) == ["runs/cartpole", "tmp/random-agent-results", "\(plain)/simulation"], "\(byDirectory.keys.sorted())")
            #expect(listing["truncated"] == false)

            let runs = try #require(byDirectory["runs/cartpole"])
            #expect(runs["env_id"] == "CartPole-v1" && runs["episodes"] == 2)
            #expect(runs["recording"] == true && runs["instance_id"]?.stringValue == named)
            #expect(runs["zip"] == "/runs/cartpole.zip")
            let videos = try #require(runs["videos"]?.arrayValue)
            #expect(videos.compactMap { $0["episode"]?.intValue } == [0, 1])
            for video in videos {
                let url = try #require(video["url"]?.stringValue)
                let fetched = try await files.fetch(url)
                #expect(fetched.status == .ok && fetched.body.count == video["size"]?.intValue, "\(url)")
            }
            let stats = try #require(runs["stats"]?.arrayValue?.first?["url"]?.stringValue)
            #expect(try JSONParser.parse(try await files.fetch(stats).text)["episode_rewards"]?.arrayValue?.count == 2)
            #expect((runs["last_write"]?.doubleValue ?? 0) > Date().timeIntervalSince1970 - 600)

            let closed = try #require(byDirectory["tmp/random-agent-results"])
            #expect(closed["recording"] == false && closed["instance_id"] == .null && closed["episodes"] == 3)
            // A live monitor that finished no episode yet is listed, without a manifest's env id.
            #expect(byDirectory["\(plain)/simulation"]?["recording"] == true)

            // Newest write first.
            let times = recordings.compactMap { $0["last_write"]?.doubleValue }
            #expect(times == times.sorted(by: >))

            let live = try await Self.json(files, "/_live/instances")
            #expect(live["monitors"]?[named] == ["directory": "runs/cartpole", "recording": true, "episodes": 2])
            #expect(live["monitors"]?[plain]?["directory"]?.stringValue == "\(plain)/simulation")
            #expect(live["all_envs"]?[named] == "CartPole-v1")
        }
    }

    @Test("with API keys, /_recordings and the monitors of /_live/instances are the key's own")
    func recordingsPerKey() async throws {
        try await Self.withBothPorts(keyring: try twoKeys()) { _, api, files in
            let alice = api.with(key: "alice-key-0123")
            let bob = api.with(key: "bob-key-4567")
            let a = try await alice.create("CartPole-v1")
            let b = try await bob.create("CartPole-v1")
            _ = try await alice.post("/v1/envs/\(a)/monitor/start/", ["directory": "runs/alice"])
            _ = try await bob.post("/v1/envs/\(b)/monitor/start/", ["directory": "runs/bob"])
            _ = try await MonitorRoutesTests.runEpisodes(alice, a, episodes: 1)
            _ = try await MonitorRoutesTests.runEpisodes(bob, b, episodes: 1)
            let seen = try await Self.json(files, "/_recordings", key: "alice-key-0123")
            #expect(seen["recordings"]?.arrayValue?.compactMap { $0["directory"]?.stringValue } == ["runs/alice"])
            let live = try await Self.json(files, "/_live/instances", key: "bob-key-4567")
            #expect(live["monitors"]?.objectValue?.keys.sorted() == [b])
            #expect(try await files.fetch("/_recordings").status == .unauthorized)
        }
    }

    @Test("the search is bounded: a root of thousands of entries is cut and says so")
    func searchIsBounded() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("gym-recordings-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let run = root.appendingPathComponent("zz/run")
        try FileManager.default.createDirectory(at: run, withIntermediateDirectories: true)
        try Data(#"{"env_info": {"env_id": "Taxi-v3"}}"#.utf8).write(to: run.appendingPathComponent("openaigym.manifest.0.7.manifest.json"))
        let index = RecordingsIndex(maximumEntries: 500)
        let found = index.recordings(under: root)
        #expect(found.recordings.map(\.directory) == ["zz/run"] && found.recordings.first?.envID == "Taxi-v3" && !found.truncated)
        // More names than the search reads, in folders sorted before the recording.
        let crowd = root.appendingPathComponent("aa")
        try FileManager.default.createDirectory(at: crowd, withIntermediateDirectories: true)
        for i in 0..<600 {
            FileManager.default.createFile(atPath: crowd.appendingPathComponent("\(i).png").path, contents: nil)
        }
        let cut = index.recordings(under: root)
        #expect(cut.truncated)
    }
}
