import GymCore
import GymServer
import Hummingbird
import Testing

@Suite("Every client mistake is a 400 with {message, error}")
struct APIErrorTests {
    @Test("unknown instance, on every route that takes one")
    func unknownInstance() async throws {
        try await APIHarness().run { api in
            let routes: [(HTTPRequest.Method, String)] = [
                (.post, "reset/"), (.post, "step/"), (.get, "action_space/"), (.get, "action_space/sample"),
                (.get, "action_space/contains/1"), (.get, "observation_space/"), (.get, "info"), (.post, "close/"),
            ]
            for (method, route) in routes {
                let answer = try await api.request(method, "/v1/envs/deadbeef/\(route)", body: method == .post ? #"{"action": 0}"# : nil)
                expectError(answer, "Instance_id deadbeef unknown")
            }
            expectError(try await api.post("/v1/envs/deadbeef/observation_space/contains", ["name": "Box"]), "Instance_id deadbeef unknown")
        }
    }

    @Test("missing or empty required parameters")
    func missingParameters() async throws {
        try await APIHarness().run { api in
            expectError(try await api.post("/v1/envs/", [:]), "A required request parameter 'env_id' was not provided")
            expectError(try await api.post("/v1/envs/", ["env_id": ""]), "A required request parameter 'env_id' was not provided")
            expectError(try await api.post("/v1/envs/", ["env_id": nil]), "A required request parameter 'env_id' was not provided")
            expectError(try await api.post("/v1/envs/create/", ["env_id": "CartPole-v0"]), "A required request parameter 'environment' was not provided")
            let id = try await api.create("CartPole-v0")
            _ = try await api.post("/v1/envs/\(id)/reset/")
            expectError(try await api.post("/v1/envs/\(id)/step/", [:]), "A required request parameter 'action' was not provided")
            expectError(try await api.post("/v1/envs/\(id)/step/", ["action": []]), "A required request parameter 'action' was not provided")
            expectError(try await api.post("/v1/envs/\(id)/step/", ["render": true]), "A required request parameter 'action' was not provided")
        }
    }

    @Test("bodies that are not JSON")
    func notJSON() async throws {
        try await APIHarness().run { api in
            expectError(try await api.request(.post, "/v1/envs/"), "Request is not a valid json")
            expectErrorContaining(try await api.request(.post, "/v1/envs/", body: "env_id=CartPole-v0"), ["Request is not a valid json"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/", body: #"{"env_id": "CartPole-v0""#), ["Request is not a valid json"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/", body: "[1, 2]"), ["Request is not a valid json"])
            let id = try await api.create("CartPole-v0")
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/reset/", body: "{nope"), ["Request is not a valid json"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/step/", body: "\u{01}"), ["Request is not a valid json"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/step/", body: String(repeating: "[", count: 100_000)), ["Request is not a valid json"])
        }
    }

    @Test("malformed and unregistered environment ids")
    func environmentIDs() async throws {
        try await APIHarness().run { api in
            expectError(try await api.post("/v1/envs/", ["env_id": "bad string"]), "Attempted to look up malformed environment ID 'bad string'")
            expectError(try await api.post("/v1/envs/create/", ["environment": "CartPole"]), "Attempted to look up malformed environment ID 'CartPole'")
            expectError(try await api.post("/v1/envs/", ["env_id": 12]), "Attempted to look up malformed environment ID '12'")
            let unregistered = try await api.post("/v1/envs/", ["env_id": "Nonexistent-v3"])
            expectErrorContaining(unregistered, ["Nonexistent-v3", "not registered", "CartPole-v0", "FrozenLake-v1"])
        }
    }

    @Test("actions outside the action space name the action and the space")
    func badActions() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v0")
            _ = try await api.post("/v1/envs/\(id)/reset/")
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": 2]), ["Action 2", "Discrete(2)"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": -1]), ["Action -1", "Discrete(2)"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": "left"]), ["Action \"left\"", "Discrete(2)"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": 0.5]), ["Action 0.5", "Discrete(2)"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": [1, 0]]), ["Discrete(2)"])

            let pendulum = try await api.create("Pendulum-v1")
            _ = try await api.post("/v1/envs/\(pendulum)/reset/")
            // Past the bounds is stepped (the environment clips it, as Gymnasium's does); not finite is refused.
            #expect(try await api.post("/v1/envs/\(pendulum)/step/", ["action": [3.0]]).status == .ok)
            expectErrorContaining(
                try await api.request(.post, "/v1/envs/\(pendulum)/step/", body: #"{"action": [1e400]}"#),
                ["Action [", "Box(-2.0, 2.0, (1,), float32)", "finite"])
            expectErrorContaining(try await api.post("/v1/envs/\(pendulum)/step/", ["action": [1.0, 1.0]]), ["Box(-2.0, 2.0, (1,), float32)"])
            expectErrorContaining(try await api.post("/v1/envs/\(pendulum)/step/", ["action": ["x"]]), ["Box(-2.0, 2.0, (1,), float32)"])
            expectErrorContaining(try await api.post("/v1/envs/\(pendulum)/step/", ["action": .array([.double(.nan)])]), ["Box(-2.0, 2.0, (1,), float32)"])
            #expect(try await api.post("/v1/envs/\(pendulum)/step/", ["action": [1.5]]).status == .ok)
        }
    }

    @Test("step before reset says to reset first")
    func stepBeforeReset() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v0")
            expectErrorContaining(try await api.post("/v1/envs/\(id)/step/", ["action": 0]), ["reset"])
        }
    }

    @Test("bad seeds, options and kwargs")
    func badArguments() async throws {
        try await APIHarness().run { api in
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v0", "seed": -1]), ["seed"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v0", "seed": "x"]), ["seed"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v0", "kwargs": ["colour": 1]]), ["colour"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v0", "kwargs": 3]), ["kwargs"])
            expectErrorContaining(try await api.post("/v1/envs/", ["env_id": "CartPole-v0", "kwargs": ["max_episode_steps": 0]]), ["max_episode_steps"])
            let id = try await api.create("CartPole-v0")
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["seed": 1.5]), ["seed"])
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["options": "x"]), ["options"])
        }
    }

    @Test("unknown routes are a JSON 404, not a crash")
    func unknownRoute() async throws {
        try await APIHarness().run { api in
            let answer = try await api.get("/v1/nothing/here")
            #expect(answer.status == .notFound)
            #expect(answer.message != nil)
        }
    }
}
