import GymCore
import Testing

/// A deterministic environment for testing the registry and the wrapper.
struct CountingEnv: Environment {
    var actionSpace: Space { .discrete(n: 2) }
    var observationSpace: Space { .discrete(n: 100) }
    var renderFPS: Int { 4 }
    var count = 0
    let terminateAt: Int

    mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        count = 0
        return (.int(0), [:])
    }

    mutating func step(_ action: SpaceValue) -> StepResult {
        count += 1
        return StepResult(observation: .int(count), reward: 1, terminated: count >= terminateAt)
    }
}

@Suite("Registry and the made environment")
struct RegistryTests {
    var registry: Registry {
        var r = Registry()
        r.register(EnvSpec(id: "Counting-v1", maxEpisodeSteps: 5) { (kwargs: inout Kwargs) throws(GymError) in
            CountingEnv(terminateAt: Int(try kwargs.double("terminate_at", default: 100)))
        }, aliases: ["Counting-v0"])
        return r
    }

    @Test("well-formed ids", arguments: [
        ("CartPole-v0", true), ("ALE/Pong-v5", true), ("FrozenLake8x8-v1", true), ("bad string", false),
        ("CartPole", false), ("CartPole-v", false), ("-v1", false), ("CartPole-vx", false), ("", false),
    ])
    func wellFormed(_ id: String, _ expected: Bool) {
        #expect(Registry.isWellFormed(id) == expected)
    }

    @Test("malformed, unregistered, aliases")
    func lookups() throws {
        #expect(throws: GymError("Attempted to look up malformed environment ID 'bad string'")) { try registry.spec(for: "bad string") }
        #expect(throws: GymError("Environment 'Counting-v2' is not registered. Registered environments: Counting-v0, Counting-v1")) {
            try registry.spec(for: "Counting-v2")
        }
        #expect(try registry.make("Counting-v0").id == "Counting-v0")
    }

    @Test("kwargs: unknown and ill-typed ones are named")
    func kwargs() throws {
        #expect(throws: GymError("Unknown argument 'x' for Counting-v1")) { try registry.make("Counting-v1", kwargs: ["x": 1]) }
        #expect(throws: GymError("Argument 'terminate_at' of Counting-v1 must be a finite number, got \"3\"")) {
            try registry.make("Counting-v1", kwargs: ["terminate_at": "3"])
        }
        #expect(throws: GymError.self) { try registry.make("Counting-v1", kwargs: ["max_episode_steps": -1]) }
    }

    @Test("time limit, TimeLimit.truncated, order enforcing")
    func wrapper() throws {
        var env = try registry.make("Counting-v1", kwargs: ["terminate_at": 5])
        #expect(throws: GymError.self) { try env.step(.int(0)) }
        _ = try env.reset()
        for _ in 0..<4 { #expect(try env.step(.int(0)).done == false) }
        let last = try env.step(.int(1))
        // terminated and truncated together: old gym's TimeLimit wrote `not done` = false
        #expect(last.terminated && last.truncated)
        #expect(last.info["TimeLimit.truncated"] == false)
        #expect(env.elapsedSteps == 5 && env.episodeReward == 5)

        var long = try registry.make("Counting-v1", kwargs: ["max_episode_steps": 3])
        _ = try long.reset()
        _ = try long.step(.int(0))
        _ = try long.step(.int(0))
        let cut = try long.step(.int(0))
        #expect(cut.truncated && !cut.terminated && cut.info["TimeLimit.truncated"] == true)
        #expect(throws: GymError.self) { try long.step(.int(2)) }
    }
}
