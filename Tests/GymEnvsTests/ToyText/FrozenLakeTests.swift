import GymCore
import GymEnvs
import Testing

@Suite struct FrozenLakeTests {
    @Test func spaces() throws {
        let registry = ToyTextTesting.registry()
        let env = try registry.make("FrozenLake-v1")
        #expect(env.actionSpace.description == "Discrete(4)")
        #expect(env.observationSpace.description == "Discrete(16)")
        #expect(env.observationSpace.info == ["name": "Discrete", "n": 16])
        #expect(env.actionSpace.info == ["name": "Discrete", "n": 4])
        #expect(try registry.make("FrozenLake8x8-v1").observationSpace.description == "Discrete(64)")
        #expect(try registry.make("FrozenLake-v1", kwargs: ["map_name": "8x8"]).observationSpace == .discrete(n: 64))
        #expect(try registry.make("FrozenLake8x8-v1", kwargs: ["map_name": "4x4"]).observationSpace == .discrete(n: 16))
        #expect(env.env.renderFPS == 4)
    }

    @Test func renderModeIsAccepted() throws {
        // gymnasium.make takes render_mode for every id; frames are drawn on request whatever it says.
        for id in ["FrozenLake-v1", "FrozenLake8x8-v1", "Taxi-v4", "CliffWalking-v1", "Blackjack-v1"] {
            _ = try ToyTextTesting.registry().make(id, kwargs: ["render_mode": "ansi"])
        }
    }

    @Test func readableState() throws {
        var env = try ToyTextTesting.registry().make("FrozenLake-v1", kwargs: ["is_slippery": false])
        let (observation, info) = try env.reset(seed: 3)
        #expect(observation == .int(0))
        #expect(info == ["prob": .int(1)])
        var lake = try #require(env.env as? FrozenLakeEnv)
        #expect(lake.desc == ["SFFF", "FHFH", "FFFH", "HFFG"])
        #expect(lake.position == 0 && lake.lastAction == nil)
        #expect(lake.tile(row: 1, col: 1) == "H")
        let result = try env.step(json: 1)  // down, on ice that does not slip
        #expect(result.observation == .int(4))
        #expect(result.info == ["prob": .double(1.0)])
        lake = try #require(env.env as? FrozenLakeEnv)
        #expect(lake.position == 4 && lake.row == 1 && lake.col == 0 && lake.lastAction == 1)
        #expect(!lake.isSlippery)
    }

    @Test func notSlipperyReachesGoal() throws {
        var env = try ToyTextTesting.registry().make("FrozenLake-v1", kwargs: ["is_slippery": false])
        _ = try env.reset(seed: 0)
        var last: StepResult?
        for action: JSON in [1, 1, 2, 2, 1, 2] {
            last = try env.step(json: action)
        }
        #expect(last?.observation == .int(15))
        #expect(last?.reward == 1)
        #expect(last?.terminated == true)
    }

    @Test func customDescAndRewardSchedule() throws {
        // A hole to the right of the start, a goal below it.
        var env = try ToyTextTesting.registry().make(
            "FrozenLake-v1",
            kwargs: ["desc": ["SHF", "GFF"], "is_slippery": false, "reward_schedule": [5, -2, 0.5]])
        #expect(env.observationSpace == .discrete(n: 6))
        _ = try env.reset(seed: 1)
        let hole = try env.step(json: 2)
        #expect(hole.observation == .int(1) && hole.reward == -2 && hole.terminated)
        let after = try env.step(json: 0)  // stepping on from a hole: a self-loop with reward 0
        #expect(after.observation == .int(1) && after.reward == 0 && after.terminated)
        _ = try env.reset()
        let goal = try env.step(json: 1)
        #expect(goal.observation == .int(3) && goal.reward == 5 && goal.terminated)
        // Lists of letters are read as np.asarray reads them.
        let letters = try ToyTextTesting.registry().make("FrozenLake-v1", kwargs: ["desc": [["S", "F"], ["F", "G"]]])
        #expect(letters.observationSpace == .discrete(n: 4))
    }

    @Test func severalStartTilesAsGymnasium() throws {
        // gym.make('FrozenLake-v1', desc=['SFS','FHG']).reset(seed=s)[0] for s in 0...5
        let expected = [2, 2, 0, 0, 2, 2]
        var env = try ToyTextTesting.registry().make("FrozenLake-v1", kwargs: ["desc": ["SFS", "FHG"]])
        for (seed, state) in expected.enumerated() {
            #expect(try env.reset(seed: UInt64(seed)).observation == .int(state))
        }
    }

    @Test func successRate() throws {
        var env = try ToyTextTesting.registry().make("FrozenLake-v1", kwargs: ["success_rate": 1.0])
        _ = try env.reset(seed: 5)
        let result = try env.step(json: 2)
        #expect(result.observation == .int(1))
        #expect(result.info["prob"] == .double(1.0))
        var slippery = try ToyTextTesting.registry().make("FrozenLake-v1")
        _ = try slippery.reset(seed: 5)
        let p = try slippery.step(json: 2).info["prob"]?.doubleValue
        #expect(p == 1.0 / 3.0 || p == (1.0 - 1.0 / 3.0) / 2.0)
    }

    @Test func argumentErrors() {
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["is_slippery": "yes"]).contains("'is_slippery'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["map_name": "5x5"]).contains("'map_name'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["map_name": 4]).contains("'map_name'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["success_rate": "half"]).contains("'success_rate'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["success_rate": 1.5]).contains("'success_rate'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["reward_schedule": [1, 0]]).contains("'reward_schedule'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["reward_schedule": [1, 0, "x"]]).contains("'reward_schedule'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["slippery": true]).contains("Unknown argument 'slippery'"))
        #expect(ToyTextTesting.makeError("FrozenLake8x8-v1", ["is_slippery": false, "size": 8]).contains("'size'"))
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["render_mode": 3]).contains("'render_mode'"))
    }

    @Test(arguments: [
        JSON.array([]), ["SFF", "SF"], ["SF", "", "FG"], ["SXF", "FFG"], ["sfff", "fffg"], ["FFF", "FFG"],
        "SFFF", 3, [1, 2], [["S", "FF"]], [""], .object([:]), ["SFÉ", "FFG"],
    ] as [JSON])
    func invalidDesc(desc: JSON) {
        let message = ToyTextTesting.makeError("FrozenLake-v1", ["desc": desc])
        #expect(message.contains("'desc'"), "\(message)")
    }

    @Test func descTooLarge() {
        let row = String(repeating: "F", count: FrozenLakeEnv.maxSide + 1)
        #expect(ToyTextTesting.makeError("FrozenLake-v1", ["desc": [.string("S" + row)]]).contains("'desc'"))
    }

    @Test func directInitValidates() {
        let message = ToyTextTesting.errorMessage { () throws(GymError) in _ = try FrozenLakeEnv(desc: ["SF", "F"]) }
        #expect(message?.contains("'desc'") == true)
        let map = ToyTextTesting.errorMessage { () throws(GymError) in _ = try FrozenLakeEnv(mapName: "16x16") }
        #expect(map?.contains("'map_name'") == true)
    }

    @Test func timeLimits() throws {
        let registry = ToyTextTesting.registry()
        #expect(try registry.spec(for: "FrozenLake-v1").maxEpisodeSteps == 100)
        #expect(try registry.spec(for: "FrozenLake-v1").rewardThreshold == 0.70)
        #expect(try registry.spec(for: "FrozenLake8x8-v1").maxEpisodeSteps == 200)
        #expect(try registry.spec(for: "FrozenLake8x8-v1").rewardThreshold == 0.85)
        for (id, limit) in [("FrozenLake-v1", 100), ("FrozenLake-v0", 100), ("FrozenLake8x8-v1", 200), ("FrozenLake8x8-v0", 200)] {
            var env = try registry.make(id, kwargs: ["is_slippery": false])
            _ = try env.reset(seed: 0)
            // Walking left at the start never ends an episode: only the time limit does.
            let (steps, last) = try ToyTextTesting.stepUntilDone(&env, action: 0, limit: 1000)
            #expect(steps == limit, "\(id)")
            #expect(last?.truncated == true && last?.terminated == false)
            #expect(last?.info["TimeLimit.truncated"] == .bool(true))
        }
        var short = try registry.make("FrozenLake-v1", kwargs: ["is_slippery": false, "max_episode_steps": 7])
        _ = try short.reset(seed: 0)
        #expect(try ToyTextTesting.stepUntilDone(&short, action: 0, limit: 1000).steps == 7)
    }
}
