import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Monitor and upload over the API")
struct MonitorRoutesTests {
    /// Runs CartPole episodes with alternating actions until `episodes` have ended.
    static func runEpisodes(_ api: APIClient, _ id: String, episodes: Int, seed: Int = 5) async throws -> [(length: Int, reward: Double)] {
        var results: [(Int, Double)] = []
        _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": .int(seed)])
        var length = 0
        var reward = 0.0
        while results.count < episodes {
            let step = try await api.post("/v1/envs/\(id)/step/", ["action": .int(length % 2)])
            #expect(step.status == .ok, "\(step.json)")
            length += 1
            reward += step.json["reward"]?.doubleValue ?? 0
            if step.json["done"] == true {
                results.append((length, reward))
                length = 0
                reward = 0
                if results.count < episodes { _ = try await api.post("/v1/envs/\(id)/reset/") }
            }
        }
        return results
    }

    static func monitorFiles(_ directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("openaigym.") }.sorted()
    }

    @Test("start, record episodes, close: stats, manifest and videos in <id>/simulation")
    func records() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            let started = try await api.post("/v1/envs/\(id)/monitor/start/", [:])
            #expect(started.json["message"] == true)
            #expect(started.json["directory"]?.stringValue == "\(id)/simulation")
            #expect(started.json["url"]?.stringValue?.hasSuffix(":8000/\(id)/simulation/") == true)
            let episodes = try await Self.runEpisodes(api, id, episodes: 3)
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").json == ["message": true])

            let directory = harness.monitorRoot.appendingPathComponent("\(id)/simulation")
            let files = try Self.monitorFiles(directory)
            let stats = try #require(files.first { $0.hasSuffix(".stats.json") })
            let manifest = try #require(files.first { $0.hasSuffix(".manifest.json") })
            #expect(stats.hasPrefix("openaigym.episode_batch.") && manifest.hasPrefix("openaigym.manifest."))
            let statsJSON = try JSONParser.parse(try Data(contentsOf: directory.appendingPathComponent(stats)))
            #expect(statsJSON["episode_lengths"] == .array(episodes.map { .int($0.length) }))
            #expect(statsJSON["episode_rewards"]?.arrayValue?.compactMap(\.doubleValue) == episodes.map(\.reward))
            #expect(statsJSON["episode_types"] == ["t", "t", "t"])
            let manifestJSON = try JSONParser.parse(try Data(contentsOf: directory.appendingPathComponent(manifest)))
            #expect(manifestJSON["env_info"]?["env_id"] == "CartPole-v1")
            // capped cubic: episodes 0 and 1 of 3 are filmed
            let videos = files.filter { $0.hasSuffix(".mp4") }
            #expect(videos.count == 2)
            #expect(videos.allSatisfy { $0.contains(".video.") })
            #expect(manifestJSON["videos"]?.arrayValue?.count == 2)
        }
    }

    @Test("video_callable false records no video; an integer N films every N-th episode")
    func videoCallable() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let none = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(none)/monitor/start/", ["directory": "none", "video_callable": false])
            _ = try await Self.runEpisodes(api, none, episodes: 2)
            _ = try await api.post("/v1/envs/\(none)/monitor/close/")
            #expect(try Self.monitorFiles(harness.monitorRoot.appendingPathComponent("none")).filter { $0.hasSuffix(".mp4") }.isEmpty)

            let every = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(every)/monitor/start/", ["directory": "every", "video_callable": 2])
            _ = try await Self.runEpisodes(api, every, episodes: 5)
            _ = try await api.post("/v1/envs/\(every)/monitor/close/")
            let videos = try Self.monitorFiles(harness.monitorRoot.appendingPathComponent("every")).filter { $0.hasSuffix(".mp4") }
            #expect(videos.count == 3)  // episodes 0, 2, 4
            #expect(videos.contains { $0.hasSuffix("video000004.mp4") })

            for bad: JSON in [0, -3, "often", 1.5, [1]] {
                expectErrorContaining(try await api.post("/v1/envs/\(every)/monitor/start/", ["directory": "bad", "video_callable": bad]), ["video_callable"])
            }
        }
    }

    @Test("force, resume and the conflict without them")
    func forceResumeConflict() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "run", "video_callable": false])
            _ = try await Self.runEpisodes(api, id, episodes: 1)
            _ = try await api.post("/v1/envs/\(id)/monitor/close/")
            let directory = harness.monitorRoot.appendingPathComponent("run")
            let first = try Self.monitorFiles(directory)

            expectErrorContaining(try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "run"]), ["existing monitor files", "force=True"])
            #expect(try Self.monitorFiles(directory) == first)

            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "run", "resume": true, "video_callable": false])
            _ = try await Self.runEpisodes(api, id, episodes: 1, seed: 9)
            _ = try await api.post("/v1/envs/\(id)/monitor/close/")
            let resumed = try Self.monitorFiles(directory)
            #expect(Set(first).isSubset(of: Set(resumed)) && resumed.count == first.count * 2)

            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "run", "force": true, "video_callable": false])
            _ = try await api.post("/v1/envs/\(id)/monitor/close/")
            #expect(Set(try Self.monitorFiles(directory)).isDisjoint(with: Set(resumed)))
        }
    }

    @Test("directories that would leave the monitor root are refused and nothing is written", arguments: [
        "../escape", "a/../../escape", "/../escape", "a/./../..", "link/escape", "x\u{0}y", "/", "//",
    ])
    func confinement(_ directory: String) async throws {
        let harness = APIHarness()
        let outside = harness.monitorRoot.deletingLastPathComponent().appendingPathComponent("outside-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: harness.monitorRoot, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: harness.monitorRoot.appendingPathComponent("link"), withDestinationURL: outside)
        defer {
            try? FileManager.default.removeItem(at: harness.monitorRoot)
            try? FileManager.default.removeItem(at: outside)
        }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            let answer = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": .string(directory)])
            #expect(answer.status == .badRequest, "\(directory): \(answer.json)")
            #expect(answer.message != nil)
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
            #expect(!FileManager.default.fileExists(atPath: "/tmp/escape"))
        }
    }

    @Test("a second monitor on one instance, and reset mid-episode while monitored, are refused")
    func monitorRules() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["video_callable": false])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "other"]), ["already has a monitor"])
            _ = try await api.post("/v1/envs/\(id)/reset/")
            _ = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/"), ["not done"])
            // closing twice is harmless, as old gym's close was
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            expectError(try await api.post("/v1/envs/nope/monitor/start/", [:]), "Instance_id nope unknown")
            expectError(try await api.post("/v1/envs/nope/monitor/close/"), "Instance_id nope unknown")
        }
    }

    @Test("closing the instance finishes its monitor")
    func closeInstanceFinishesMonitor() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(id)/monitor/start/", [:])
            let episodes = try await Self.runEpisodes(api, id, episodes: 1)
            _ = try await api.post("/v1/envs/\(id)/close/")
            let directory = harness.monitorRoot.appendingPathComponent("\(id)/simulation")
            let files = try Self.monitorFiles(directory)
            #expect(files.contains { $0.hasSuffix("video000000.mp4") })
            #expect(!files.contains { $0.hasSuffix(".tmp") })
            let stats = try #require(files.first { $0.hasSuffix(".stats.json") })
            let json = try JSONParser.parse(try Data(contentsOf: directory.appendingPathComponent(stats)))
            #expect(json["episode_lengths"] == [.int(episodes[0].length)])
        }
    }

    @Test("upload packages the training directory as a zip and names its URL")
    func upload() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "tmp", "force": true, "video_callable": false])
            _ = try await Self.runEpisodes(api, id, episodes: 1)
            _ = try await api.post("/v1/envs/\(id)/monitor/close/")

            expectError(try await api.post("/v1/upload/", ["api_key": "k"]), "A required request parameter 'training_dir' was not provided")
            expectError(try await api.post("/v1/upload/", ["training_dir": "tmp", "api_key": ""]), "A required request parameter 'api_key' was not provided")
            expectErrorContaining(try await api.post("/v1/upload/", ["training_dir": "../etc", "api_key": "k"]), [".."])
            expectErrorContaining(try await api.post("/v1/upload/", ["training_dir": "missing", "api_key": "k"]), ["missing"])

            let answer = try await api.post("/v1/upload/", ["training_dir": "tmp", "api_key": "k", "algorithm_id": "mine"])
            #expect(answer.status == .ok, "\(answer.json)")
            #expect(answer.json["path"] == "uploads/tmp.zip")
            #expect(answer.json["url"]?.stringValue?.hasSuffix(":8000/uploads/tmp.zip") == true)
            let zip = try Data(contentsOf: harness.monitorRoot.appendingPathComponent("uploads/tmp.zip"))
            #expect(zip.starts(with: [0x50, 0x4B, 0x03, 0x04]))

            let own = try await api.post("/v1/envs/\(id)/upload/", [:])
            #expect(own.status == .ok, "\(own.json)")
            #expect(own.json["path"] == "uploads/tmp.zip")  // the instance's latest monitor directory
        }
    }
}
