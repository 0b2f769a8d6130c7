import GymCore
import GymEnvs
import Testing

@Suite struct CliffWalkingTests {
    @Test func spaces() throws {
        let env = try ToyTextTesting.registry().make("CliffWalking-v1")
        #expect(env.actionSpace.description == "Discrete(4)")
        #expect(env.observationSpace.description == "Discrete(48)")
        #expect(env.observationSpace.info == ["name": "Discrete", "n": 48])
        #expect(env.env.renderFPS == 4)
    }

    @Test func cliffAndGoal() throws {
        var env = try ToyTextTesting.registry().make("CliffWalking-v1")
        let (observation, info) = try env.reset(seed: 0)
        #expect(observation == .int(36) && info == ["prob": .int(1)])
        let fall = try env.step(json: 1)  // right, into the cliff: back to the start
        #expect(fall.observation == .int(36) && fall.reward == -100 && !fall.terminated)
        #expect(fall.info == ["prob": .double(1.0)])
        _ = try env.step(json: 0)  // up
        for _ in 0..<11 { _ = try env.step(json: 1) }
        let goal = try env.step(json: 2)
        #expect(goal.observation == .int(47) && goal.reward == -1 && goal.terminated)
        let walker = try #require(env.env as? CliffWalkingEnv)
        #expect(walker.position == 47 && walker.row == 3 && walker.col == 11 && walker.lastAction == 2)
    }

    @Test func slippery() throws {
        let registry = ToyTextTesting.registry()
        var env = try registry.make("CliffWalking-v1", kwargs: ["is_slippery": true])
        _ = try env.reset(seed: 0)
        #expect(try env.step(json: 0).info == ["prob": .double(1.0 / 3.0)])
        let named = try #require(try registry.make("CliffWalkingSlippery-v1").env as? CliffWalkingEnv)
        #expect(named.isSlippery)
        #expect(ToyTextTesting.makeError("CliffWalking-v1", ["is_slippery": "no"]).contains("'is_slippery'"))
        #expect(ToyTextTesting.makeError("CliffWalking-v0", ["slippery": true]).contains("Unknown argument 'slippery'"))
    }

    @Test func noTimeLimit() throws {
        let registry = ToyTextTesting.registry()
        #expect(try registry.spec(for: "CliffWalking-v1").maxEpisodeSteps == nil)
        for id in ["CliffWalking-v1", "CliffWalking-v0"] {
            var env = try registry.make(id)
            _ = try env.reset(seed: 0)
            let (steps, last) = try ToyTextTesting.stepUntilDone(&env, action: 0, limit: 1000)
            #expect(steps == 1000 && last?.done == false)
        }
    }
}
