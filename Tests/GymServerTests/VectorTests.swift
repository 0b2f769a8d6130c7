import Foundation
import GymCore
import GymRender
import GymServer
import Hummingbird
import HummingbirdTesting
import Testing

/// The fixtures of scripts/fixtures/gen_vector_fixtures.py: what Gymnasium 1.4.0's SyncVectorEnv answered.
enum VectorFixtures {
    static let directory: URL? = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
        .appendingPathComponent("vector", isDirectory: true)

    static let envIDs = [
        "CartPole-v0", "CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1", "Acrobot-v1",
        "FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v3", "CliffWalking-v1", "Blackjack-v1",
    ]

    static func load(_ name: String) throws -> JSON {
        let url = try #require(directory?.appendingPathComponent("\(name).json"), "no vector fixtures in the test bundle")
        return try JSONParser.parse(try Data(contentsOf: url))
    }
}

@Suite("Vector instances: Gymnasium's SyncVectorEnv over the API")
struct VectorTests {
    @Test("every env id, every autoreset mode: the same observations, rewards, flags and infos as SyncVectorEnv, step for step", arguments: VectorFixtures.envIDs)
    func replay(_ envID: String) async throws {
        let fixture = try VectorFixtures.load(envID)
        let n = try #require(fixture["num_envs"]?.intValue)
        let harness = APIHarness()
        try await harness.run { api in
            for run in fixture["runs"]?.arrayValue ?? [] {
                let mode = try #require(run["autoreset_mode"]?.stringValue)
                let created = try await api.post("/v1/envs/", [
                    "env_id": .string(envID), "num_envs": .int(n), "autoreset_mode": .string(mode), "kwargs": fixture["kwargs"] ?? [:],
                ])
                let id = try #require(created.json["instance_id"]?.stringValue, "\(created.json)")
                let spaces = try await api.get("/v1/envs/\(id)/info")
                #expect(spaces.json["action_space"]?.stringValue == fixture["action_space"]?.stringValue)
                for (number, event) in (run["events"]?.arrayValue ?? []).enumerated() {
                    let where_ = "\(envID) \(mode) event \(number)"
                    if event["call"] == "reset" {
                        var body: [String: JSON] = [:]
                        if let seed = event["seed"], !seed.isNull { body["seed"] = seed }
                        if let options = event["options"], !options.isNull { body["options"] = options }
                        let answer = try await api.post("/v1/envs/\(id)/reset/", .object(body))
                        #expect(answer.status == .ok, "\(where_): \(answer.json)")
                        #expect(answer.json["observation"] == event["observation"], "\(where_) observation")
                        #expect(answer.json["info"] == event["info"], "\(where_) info: \(answer.json["info"] ?? .null) != \(event["info"] ?? .null)")
                    } else {
                        let answer = try await api.post("/v1/envs/\(id)/step/", ["action": event["action"] ?? .null])
                        #expect(answer.status == .ok, "\(where_): \(answer.json)")
                        for field in ["observation", "reward", "terminated", "truncated", "info"] {
                            #expect(answer.json[field] == event[field], "\(where_) \(field): \(answer.json[field] ?? .null) != \(event[field] ?? .null)")
                        }
                        let done = zip(event["terminated"]?.arrayValue ?? [], event["truncated"]?.arrayValue ?? []).map {
                            JSON.bool($0 == true || $1 == true)
                        }
                        #expect(answer.json["done"] == .array(done))
                    }
                }
                _ = try await api.post("/v1/envs/\(id)/close/")
            }
        }
    }

    @Test("batched spaces as batch_space lays them out, their reprs as Gymnasium's, and the single space")
    func spaces() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            for envID in VectorFixtures.envIDs {
                let fixture = try VectorFixtures.load(envID)
                let id = try #require(try await api.post("/v1/envs/", ["env_id": .string(envID), "num_envs": 3]).json["instance_id"]?.stringValue)
                let info = try await api.get("/v1/envs/\(id)/info")
                #expect(info.json["action_space"]?.stringValue == fixture["action_space"]?.stringValue, "\(envID)")
                let action = try await api.get("/v1/envs/\(id)/action_space/")
                #expect(action.json["num_envs"] == 3)
                #expect(action.json["single"]?["name"] != nil)
                let sample = try await api.get("/v1/envs/\(id)/action_space/sample")
                #expect(sample.json["action"]?.arrayValue?.count == 3, "\(envID): \(sample.json)")
                _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 1])
                #expect(try await api.post("/v1/envs/\(id)/step/", ["action": sample.json["action"] ?? .null]).status == .ok)
            }
            // numpy's line wrapping of a long MultiDiscrete, and a 2-D Box of non-uniform bounds.
            let wide = try #require(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 40]).json["instance_id"]?.stringValue)
            let repr = try await api.get("/v1/envs/\(wide)/info").json["action_space"]?.stringValue ?? ""
            #expect(repr == "MultiDiscrete([" + Array(repeating: "2", count: 37).joined(separator: " ") + "\n 2 2 2])")
            let pendulum = try #require(try await api.post("/v1/envs/", ["env_id": "Pendulum-v1", "num_envs": 3]).json["instance_id"]?.stringValue)
            #expect(try await api.get("/v1/envs/\(pendulum)/info").json["action_space"] == "Box(-2.0, 2.0, (3, 1), float32)")
            let observation = try await api.get("/v1/envs/\(pendulum)/observation_space/")
            #expect(observation.json["info"]?["shape"] == [3, 3])
        }
    }

    @Test("bad vector requests are 400s that say what was wrong, and move nothing")
    func errors() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 0]), ["num_envs"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 100_000]), ["--max-num-envs"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 2, "autoreset_mode": "sometimes"]), ["autoreset_mode"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "autoreset_mode": "same_step"]), ["num_envs"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "numenvs": 2]), ["Unknown parameter 'numenvs'"])
            let id = try #require(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 3, "autoreset_mode": "disabled"]).json["instance_id"]?.stringValue)
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": [0, 1, 0]]), ["reset"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["options": ["reset_mask": [true, false, false]]]), ["whole vector"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["seed": [1, 2]]), ["length must match num_envs=3"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["seed": [1, -2, 3]]), ["non-negative"])
            let first = try await api.post("/v1/envs/\(id)/reset/", ["seed": 7])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["options": ["reset_mask": [false, false, false]]]), ["at least one True"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["options": ["reset_mask": [true, false]]]), ["shape `(3,)`"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["options": ["reset_mask": [1, 0, 0]]]), ["booleans"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": [0, 1]]), ["3 actions"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": [0, 5, 0]]), ["sub-environment 1"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": 1]), ["list of 3 actions"])
            // Nothing moved: the next step is the first after the reset.
            var stepped = try await api.post("/v1/envs/\(id)/step/", ["action": [1, 1, 1]])
            #expect(stepped.status == .ok)
            // Disabled: an ended sub-environment must be reset with reset_mask before it steps again.
            var ended: [Bool] = [false, false, false]
            while !ended.contains(true) {
                stepped = try await api.post("/v1/envs/\(id)/step/", ["action": [1, 1, 1]])
                ended = (stepped.json["done"]?.arrayValue ?? []).map { $0 == true }
            }
            let index = try #require(ended.firstIndex(of: true))
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": [1, 1, 1]]), ["Sub-environment \(index) ended", "reset_mask"])
            let mask = JSON.array(ended.map(JSON.bool))
            #expect(try await api.post("/v1/envs/\(id)/reset/", ["options": ["reset_mask": mask]]).status == .ok)
            #expect(try await api.post("/v1/envs/\(id)/step/", ["action": [1, 1, 1]]).status == .ok)
            #expect(first.json["observation"]?.arrayValue?.count == 3)
        }
    }

    @Test("the monitor records every finished sub-episode as RecordEpisodeStatistics counts it, and films sub-environment 0")
    func monitor() async throws {
        let fixture = try VectorFixtures.load("record_episode_statistics")
        let n = try #require(fixture["num_envs"]?.intValue)
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            for (number, run) in (fixture["runs"]?.arrayValue ?? []).enumerated() {
                let envID = try #require(run["env_id"]?.stringValue)
                let id = try #require(try await api.post("/v1/envs/", [
                    "env_id": .string(envID), "num_envs": .int(n), "autoreset_mode": run["autoreset_mode"] ?? .null, "kwargs": run["kwargs"] ?? [:],
                ]).json["instance_id"]?.stringValue)
                let directory = "vector-run-\(number)"
                #expect(try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": .string(directory), "video_callable": 1]).status == .ok)
                _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": run["reset_seed"] ?? .null])
                for action in run["actions"]?.arrayValue ?? [] {
                    let answer = try await api.post("/v1/envs/\(id)/step/", ["action": action])
                    #expect(answer.status == .ok, "\(answer.json)")
                }
                #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
                let folder = harness.monitorRoot.appendingPathComponent(directory)
                let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
                let stats = try JSONParser.parse(try Data(contentsOf: folder.appendingPathComponent(try #require(files.first { $0.hasSuffix(".stats.json") }))))
                let episodes = run["episodes"]?.arrayValue ?? []
                #expect(stats["episode_lengths"] == .array(episodes.map { $0["length"] ?? .null }), "\(envID) \(run["autoreset_mode"] ?? .null)")
                let rewards = stats["episode_rewards"]?.arrayValue?.compactMap(\.doubleValue) ?? []
                #expect(rewards == episodes.compactMap { $0["return"]?.doubleValue }, "\(envID) \(run["autoreset_mode"] ?? .null)")
                // Sub-environment 0 is filmed: one video per episode of its own (video_callable 1).
                let zeroEpisodes = episodes.filter { $0["index"] == 0 }.count
                #expect(files.filter { $0.hasSuffix(".mp4") }.count >= zeroEpisodes, "\(files)")
            }
        }
    }

    @Test("render: true and GET render show all sub-environments as one mosaic, sub-environment 0 at the top left")
    func mosaic() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try #require(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 4]).json["instance_id"]?.stringValue)
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 0, "render": true])
            #expect(reset.json["render"] == "successfully rendered: 0.png")
            let response = try await api.client.execute(uri: "/v1/envs/\(id)/render", method: .get)
            let frame = try PNGDecoder.decode(Array(buffer: response.body))
            #expect(frame.width == 1200 && frame.height == 800, "2 x 2 frames of 600 x 400: \(frame.width)x\(frame.height)")
            let big = try #require(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 100]).json["instance_id"]?.stringValue)
            _ = try await api.post("/v1/envs/\(big)/reset/")
            let bigFrame = try PNGDecoder.decode(Array(buffer: try await api.client.execute(uri: "/v1/envs/\(big)/render", method: .get).body))
            #expect(bigFrame.width <= 1600 && bigFrame.height <= 1600 && bigFrame.width >= 1000, "\(bigFrame.width)x\(bigFrame.height)")
        }
    }
}

@Suite("Independent instances in one request: /v1/batch/step/ and /v1/batch/reset/")
struct BatchTests {
    @Test("results in the order of the items, an error in place of an item that failed, the rest stepped")
    func batch() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            var ids: [String] = []
            for _ in 0..<6 { ids.append(try await api.create("CartPole-v1")) }
            let vector = try #require(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 2]).json["instance_id"]?.stringValue)
            let twins = try await api.create("CartPole-v1")
            var resets: [JSON] = ids.enumerated().map { ["instance_id": .string($1), "seed": .int($0)] }
            resets.append(["instance_id": .string(vector), "seed": [5, 6]])
            resets.append(["instance_id": "nope1234"])
            let reset = try await api.request(.post, "/v1/batch/reset/", body: JSONWriter.string(.array(resets)))
            let answers = try #require(reset.json.arrayValue)
            #expect(answers.count == 8)
            #expect(answers[6]["observation"]?.arrayValue?.count == 2)
            #expect(answers[7]["status"] == 400 && answers[7]["message"]?.stringValue?.contains("Instance_id nope1234 unknown") == true)
            // The same as one request per instance: instance 3 against its twin with the same seed.
            let single = try await api.post("/v1/envs/\(twins)/reset/", ["seed": 3])
            #expect(answers[3]["observation"] == single.json["observation"])
            var steps: [JSON] = ids.map { ["instance_id": .string($0), "action": 1] }
            steps.insert(["instance_id": .string(ids[0]), "action": 7], at: 2)
            steps.append(["instance_id": .string(vector), "action": [0, 1]])
            steps.append("not an object")
            let stepped = try await api.request(.post, "/v1/batch/step/", body: JSONWriter.string(.array(steps)))
            let results = try #require(stepped.json.arrayValue)
            #expect(results.count == 9)
            #expect(results[2]["message"]?.stringValue?.contains("Action 7") == true)
            #expect(results[0]["reward"] == 1.0 && results[3]["reward"] == 1.0)
            #expect(results[7]["reward"] == [1.0, 1.0])
            #expect(results[8]["status"] == 400)
            let twinStep = try await api.post("/v1/envs/\(twins)/step/", ["action": 1])
            #expect(results[4]["observation"] == twinStep.json["observation"], "item 4 is instance 3")
            expectErrorContaining(try await api.request(.post, "/v1/batch/step/", body: "{\"instance_id\": \"x\"}"), ["list of items"])
            expectErrorContaining(try await api.request(.post, "/v1/batch/step/", body: "[1, 2"), ["not a valid json"])
        }
    }
}
