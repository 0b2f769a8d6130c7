import GymCore
import GymEnvs
import Testing

@Suite struct TaxiTests {
    @Test func spaces() throws {
        let env = try ToyTextTesting.registry().make("Taxi-v4")
        #expect(env.actionSpace.description == "Discrete(6)")
        #expect(env.observationSpace.description == "Discrete(500)")
        #expect(env.observationSpace.info == ["name": "Discrete", "n": 500])
        #expect(env.env.renderFPS == 4)
    }

    @Test func encodeDecode() {
        for state in 0..<TaxiEnv.numStates {
            let d = TaxiEnv.decode(state)
            #expect(TaxiEnv.encode(taxiRow: d.taxiRow, taxiCol: d.taxiCol, passengerLocation: d.passengerLocation, destination: d.destination) == state)
            #expect((0..<5).contains(d.taxiRow) && (0..<5).contains(d.taxiCol) && (0..<5).contains(d.passengerLocation) && (0..<4).contains(d.destination))
        }
    }

    @Test func resetAndStepAsGymnasium() throws {
        // gym.make('Taxi-v4'): reset(seed=3) -> 42, then step(0) -> 142, -1
        var env = try ToyTextTesting.registry().make("Taxi-v4")
        let (observation, info) = try env.reset(seed: 3)
        #expect(observation == .int(42))
        #expect(info == ["prob": .double(1.0), "action_mask": [1, 0, 1, 0, 0, 0]])
        var taxi = try #require(env.env as? TaxiEnv)
        #expect(taxi.state == 42 && taxi.lastAction == nil && taxi.taxiOrientation == 0)
        #expect(taxi.taxiRow == 0 && taxi.taxiCol == 2 && taxi.passengerLocation == 0 && taxi.destination == 2)
        let result = try env.step(json: 0)
        #expect(result.observation == .int(142) && result.reward == -1 && !result.terminated)
        #expect(result.info == ["prob": .double(1.0), "action_mask": [1, 1, 1, 0, 0, 0]])
        taxi = try #require(env.env as? TaxiEnv)
        #expect(taxi.taxiRow == 1 && taxi.lastAction == 0)
    }

    @Test func taxiV3IsTaxiV4() throws {
        let registry = ToyTextTesting.registry()
        var v3 = try registry.make("Taxi-v3")
        var v4 = try registry.make("Taxi-v4")
        #expect(try v3.reset(seed: 11).observation == v4.reset(seed: 11).observation)
        for action in [0, 1, 2, 3, 4, 5, 2, 2, 0] as [JSON] {
            #expect(try v3.step(json: action) == v4.step(json: action))
        }
        #expect(try registry.spec(for: "Taxi-v3").maxEpisodeSteps == 200)
    }

    @Test func arguments() throws {
        let env = try ToyTextTesting.registry().make(
            "Taxi-v4",
            kwargs: ["is_rainy": true, "fickle_passenger": true, "rainy_probability": 0.9, "fickle_probability": 1.0])
        let taxi = try #require(env.env as? TaxiEnv)
        #expect(taxi.isRainy && taxi.ficklePassenger && taxi.rainyProbability == 0.9 && taxi.fickleProbability == 1.0)
        #expect(ToyTextTesting.makeError("Taxi-v4", ["is_rainy": "true"]).contains("'is_rainy'"))
        #expect(ToyTextTesting.makeError("Taxi-v4", ["fickle_passenger": 1]).contains("'fickle_passenger'"))
        #expect(ToyTextTesting.makeError("Taxi-v4", ["rainy_probability": 1.5]).contains("'rainy_probability'"))
        #expect(ToyTextTesting.makeError("Taxi-v4", ["fickle_probability": [0.3]]).contains("'fickle_probability'"))
        #expect(ToyTextTesting.makeError("Taxi-v3", ["rain": true]).contains("Unknown argument 'rain'"))
    }

    @Test func ficklePassengerChangesDestinationOnce() throws {
        // With fickle_probability 1 the destination changes on the first move after pickup.
        var env = try ToyTextTesting.registry().make("Taxi-v4", kwargs: ["fickle_passenger": true, "fickle_probability": 1.0])
        for seed in 0..<50 as Range<UInt64> {
            _ = try env.reset(seed: seed)
            var taxi = try #require(env.env as? TaxiEnv)
            #expect(taxi.fickleStep)
            // Drive to the passenger through the wall-free middle row, pick up, move once.
            let target = TaxiEnv.locs[taxi.passengerLocation]
            while taxi.taxiRow != 2 { _ = try env.step(json: taxi.taxiRow < 2 ? 0 : 1); taxi = try #require(env.env as? TaxiEnv) }
            while taxi.taxiCol != target.col { _ = try env.step(json: taxi.taxiCol < target.col ? 2 : 3); taxi = try #require(env.env as? TaxiEnv) }
            while taxi.taxiRow != target.row { _ = try env.step(json: taxi.taxiRow < target.row ? 0 : 1); taxi = try #require(env.env as? TaxiEnv) }
            _ = try env.step(json: 4)
            taxi = try #require(env.env as? TaxiEnv)
            #expect(taxi.passengerLocation == TaxiEnv.inTaxi)
            let destination = taxi.destination
            _ = try env.step(json: target.row == 0 ? 0 : 1)
            taxi = try #require(env.env as? TaxiEnv)
            #expect(taxi.destination != destination && !taxi.fickleStep)
        }
    }

    @Test func timeLimit() throws {
        let registry = ToyTextTesting.registry()
        #expect(try registry.spec(for: "Taxi-v4").rewardThreshold == 8)
        for id in ["Taxi-v4", "Taxi-v3"] {
            var env = try registry.make(id)
            _ = try env.reset(seed: 0)
            // Pickups never end an episode.
            let (steps, last) = try ToyTextTesting.stepUntilDone(&env, action: 4, limit: 1000)
            #expect(steps == 200 && last?.truncated == true && last?.terminated == false)
        }
    }
}
