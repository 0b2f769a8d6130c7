import GymCore
import GymServer
import Hummingbird
import Testing

@Suite("The gym HTTP API on /v1")
struct EnvironmentRoutesTests {
    @Test("create, list and close instances")
    func createListClose() async throws {
        try await APIHarness().run { api in
            let cartpole = try await api.create("CartPole-v0")
            #expect(cartpole.count == 8 && cartpole.allSatisfy { "0123456789abcdef".contains($0) })
            let created = try await api.post("/v1/envs/create/", ["environment": "FrozenLake-v0"])
            #expect(created.status == .created)
            let lake = try #require(created.json["instance_id"]?.stringValue)

            let list = try await api.get("/v1/envs/")
            #expect(list.json == ["all_envs": .object([cartpole: "CartPole-v0", lake: "FrozenLake-v0"])])

            let closed = try await api.post("/v1/envs/\(cartpole)/close/")
            #expect(closed.status == .ok)
            #expect(try await api.get("/v1/envs/").json == ["all_envs": .object([lake: "FrozenLake-v0"])])
            expectError(try await api.post("/v1/envs/\(cartpole)/close/"), "Instance_id \(cartpole) unknown")
        }
    }

    @Test("reset and step answer observation, reward, done, info, terminated, truncated")
    func resetAndStep() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v1")
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 42])
            #expect(reset.status == .ok)
            let observation = try #require(reset.json["observation"]?.arrayValue)
            #expect(observation.count == 4)
            #expect(reset.json["info"] == .object([:]))
            // Gymnasium 1.4: gymnasium.make("CartPole-v1").reset(seed=42)[0].tolist()
            #expect(observation.compactMap(\.doubleValue) == [0.02739560417830944, -0.006112155970185995, 0.03585979342460632, 0.019736802205443382])

            let step = try await api.post("/v1/envs/\(id)/step/", ["action": 1])
            #expect(step.status == .ok)
            #expect(step.json["reward"] == 1.0)
            #expect(step.json["done"] == false)
            #expect(step.json["terminated"] == false)
            #expect(step.json["truncated"] == false)
            #expect(step.json["info"] == .object([:]))
            #expect(step.json["observation"]?.arrayValue?.count == 4)
        }
    }

    @Test("reset without a body, and with an empty object, both work")
    func resetWithoutBody() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("FrozenLake-v1")
            let bare = try await api.request(.post, "/v1/envs/\(id)/reset/")
            #expect(bare.status == .ok)
            #expect(bare.json["observation"] == 0)
            #expect(bare.json["info"] == ["prob": 1])  // Gymnasium returns an int here
            let empty = try await api.post("/v1/envs/\(id)/reset/", [:])
            #expect(empty.status == .ok)
        }
    }

    @Test("a seed given at create applies to the first reset only")
    func seedAtCreate() async throws {
        try await APIHarness().run { api in
            let a = try await api.create("CartPole-v1", seed: 7)
            let b = try await api.create("CartPole-v1")
            let first = try await api.post("/v1/envs/\(a)/reset/")
            let seeded = try await api.post("/v1/envs/\(b)/reset/", ["seed": 7])
            #expect(first.json["observation"] == seeded.json["observation"])
            let second = try await api.post("/v1/envs/\(a)/reset/")
            #expect(second.json["observation"] != first.json["observation"])
        }
    }

    @Test("the time limit truncates and sets TimeLimit.truncated as old gym did")
    func timeLimit() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v1", kwargs: ["max_episode_steps": 3])
            _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 0])
            for step in 1...3 {
                let answer = try await api.post("/v1/envs/\(id)/step/", ["action": .int(step % 2)])
                if step < 3 {
                    #expect(answer.json["done"] == false)
                    #expect(answer.json["info"]?["TimeLimit.truncated"] == nil)
                } else {
                    #expect(answer.json["done"] == true)
                    #expect(answer.json["truncated"] == true)
                    #expect(answer.json["terminated"] == false)
                    #expect(answer.json["info"]?["TimeLimit.truncated"] == true)
                }
            }
        }
    }

    @Test("action space: info, sample, contains")
    func actionSpace() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v0")
            #expect(try await api.get("/v1/envs/\(id)/action_space/").json == ["info": ["name": "Discrete", "n": 2]])
            for _ in 0..<20 {
                let sample = try await api.get("/v1/envs/\(id)/action_space/sample")
                let action = try #require(sample.json["action"]?.intValue)
                #expect(action == 0 || action == 1)
            }
            #expect(try await api.get("/v1/envs/\(id)/action_space/contains/1").json == ["member": true])
            #expect(try await api.get("/v1/envs/\(id)/action_space/contains/2").json == ["member": false])
            #expect(try await api.get("/v1/envs/\(id)/action_space/contains/-1").json == ["member": false])
            expectErrorContaining(try await api.get("/v1/envs/\(id)/action_space/contains/abc"), ["abc"])

            let pendulum = try await api.create("Pendulum-v1")
            let info = try await api.get("/v1/envs/\(pendulum)/action_space/")
            #expect(info.json["info"]?["name"] == "Box")
            #expect(info.json["info"]?["shape"] == [1])
            #expect(info.json["info"]?["low"] == [-2.0])
            #expect(info.json["info"]?["high"] == [2.0])
            let sample = try await api.get("/v1/envs/\(pendulum)/action_space/sample")
            let value = try #require(sample.json["action"]?.arrayValue?.first?.doubleValue)
            #expect(value >= -2 && value <= 2 && Double(Float(value)) == value)
            #expect(try await api.get("/v1/envs/\(pendulum)/action_space/contains/%5B0.5%5D").json == ["member": true])
            #expect(try await api.get("/v1/envs/\(pendulum)/action_space/contains/%5B2.5%5D").json == ["member": false])
        }
    }

    @Test("observation space: info and contains")
    func observationSpace() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v0")
            let info = try await api.get("/v1/envs/\(id)/observation_space/")
            let space = try #require(info.json["info"])
            #expect(space["name"] == "Box")
            #expect(space["shape"] == [4])
            // float32 bounds written as the float64 of the float32 value
            #expect(space["high"]?.arrayValue?.compactMap(\.doubleValue) == [4.800000190734863, 1e100, 0.41887903213500977, 1e100])
            #expect(try await api.post("/v1/envs/\(id)/observation_space/contains", ["name": "Box"]).json == ["member": true])
            #expect(try await api.post("/v1/envs/\(id)/observation_space/contains", ["name": "Discrete"]).json == ["member": false])
            #expect(try await api.post("/v1/envs/\(id)/observation_space/contains", ["name": "Box", "shape": [4]]).json == ["member": true])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/observation_space/contains", ["colour": "red"]), ["colour"])

            let lake = try await api.create("FrozenLake-v0")
            #expect(try await api.get("/v1/envs/\(lake)/observation_space/").json == ["info": ["name": "Discrete", "n": 16]])
            #expect(try await api.post("/v1/envs/\(lake)/observation_space/contains", ["name": "Discrete", "n": 16]).json == ["member": true])
        }
    }

    @Test("info in flaviotruzzi's form")
    func info() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v0")
            let info = try await api.get("/v1/envs/\(id)/info")
            #expect(info.json["action_space"] == "Discrete(2)")
            #expect(info.json["observation_space"]?["shape"] == [4])
            #expect(info.json["observation_space"]?["low"]?.arrayValue?.count == 4)
            let pendulum = try await api.create("Pendulum-v1")
            #expect(try await api.get("/v1/envs/\(pendulum)/info").json["action_space"] == "Box(-2.0, 2.0, (1,), float32)")
        }
    }

    @Test("help lists every route with its methods and documentation")
    func help() async throws {
        try await APIHarness().run { api in
            let help = try await api.get("/v1/help")
            let routes = try #require(help.json["v1"]?.objectValue)
            for (path, method) in [
                ("/v1/envs/", "POST"), ("/v1/envs/create/", "POST"), ("/v1/envs/<instance_id>/reset/", "POST"),
                ("/v1/envs/<instance_id>/step/", "POST"), ("/v1/envs/<instance_id>/info", "GET"),
                ("/v1/envs/<instance_id>/action_space/contains/<x>", "GET"), ("/v1/help", "GET"),
                ("/v1/shutdown/", "POST"), ("/v1/envs/<instance_id>/close/", "POST"),
            ] {
                let entry = try #require(routes[path], "help lacks \(path)")
                #expect(entry["methods"]?.stringValue?.contains(method) == true)
                #expect((entry["doc"]?.stringValue ?? "").count > 10)
            }
            #expect(routes["/v1/envs/"]?["methods"] == "POST,GET")
        }
    }

    @Test("shutdown is refused with 403 unless allowed")
    func shutdownRefused() async throws {
        try await APIHarness().run { api in
            expectErrorContaining(try await api.post("/v1/shutdown/"), ["--allow-shutdown"], status: .forbidden)
        }
    }

    @Test("shutdown triggers when allowed")
    func shutdownAllowed() async throws {
        let harness = APIHarness(allowShutdown: true)
        let fired = Fired()
        harness.shutdown.onTrigger { fired.fire() }
        try await harness.run { api in
            let answer = try await api.post("/v1/shutdown/")
            #expect(answer.status == .ok)
        }
        #expect(fired.value)
    }
}

final class Fired: @unchecked Sendable {
    private var fired = false
    func fire() { fired = true }
    var value: Bool { fired }
}
