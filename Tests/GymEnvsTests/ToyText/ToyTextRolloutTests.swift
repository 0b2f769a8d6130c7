import Foundation
import GymCore
import GymEnvs
import Testing

/// Replays Gymnasium 1.4.0's rollouts (scripts/fixtures/gen_env_fixtures.py) through the Swift
/// environments made by the registry: every observation, reward, flag and info must be equal.
@Suite struct ToyTextRolloutTests {
    /// Fixture name to the id it was made with.
    static let fixtures: [String: String] = [
        "FrozenLake-v1": "FrozenLake-v1",
        "FrozenLake-v1-not_slippery": "FrozenLake-v1",
        "FrozenLake8x8-v1": "FrozenLake8x8-v1",
        "Taxi-v4": "Taxi-v4",
        "Taxi-v4-rainy_fickle": "Taxi-v4",
        "CliffWalking-v1": "CliffWalking-v1",
        "CliffWalking-v1-slippery": "CliffWalking-v1",
        "Blackjack-v1": "Blackjack-v1",
        "Blackjack-v1-natural": "Blackjack-v1",
    ]

    @Test(arguments: fixtures.keys.sorted())
    func replay(fixture: String) throws {
        let id = try #require(Self.fixtures[fixture])
        let registry = ToyTextTesting.registry()
        let (mismatches, steps) = try RolloutReplay.replay(fixture) { kwargs in
            try registry.make(id, kwargs: kwargs)
        }
        print("\(fixture): \(steps) steps compared, \(mismatches.count) mismatches")
        for mismatch in mismatches.prefix(5) { print("  \(fixture): \(mismatch)") }
        #expect(steps >= 1000)
        #expect(mismatches.isEmpty, "\(fixture): \(mismatches.prefix(3))")
    }
}

/// Replays the extra Gymnasium rollouts of scripts/fixtures/gen_toytext_fixtures.py (Fixtures/toytext):
/// fickle passengers that are actually picked up, tuned probabilities and reward schedules,
/// custom maps, the other Blackjack rule sets.
@Suite struct ToyTextVariantRolloutTests {
    static let fixtures = [
        "Taxi-v4-fickle_always", "Taxi-v4-fickle", "Taxi-v4-rainy_fickle-driven", "Taxi-v4-rainy_0.6-driven",
        "Taxi-v4-driven", "FrozenLake-v1-tuned", "FrozenLake-v1-three_starts", "FrozenLake8x8-v1-4x4",
        "Blackjack-v1-natural_sab", "Blackjack-v1-plain",
    ]

    @Test(arguments: fixtures)
    func replay(fixture: String) throws {
        // RolloutReplay reads Fixtures/rollouts/<name>.json; these live next to that folder.
        let name = "../toytext/\(fixture)"
        let id = try #require(try RolloutReplay.load(name)["env_id"]?.stringValue)
        let registry = ToyTextTesting.registry()
        let (mismatches, steps) = try RolloutReplay.replay(name) { kwargs in
            try registry.make(id, kwargs: kwargs)
        }
        print("\(fixture): \(steps) steps compared, \(mismatches.count) mismatches")
        for mismatch in mismatches.prefix(5) { print("  \(fixture): \(mismatch)") }
        #expect(steps >= 1800)
        #expect(mismatches.isEmpty, "\(fixture): \(mismatches.prefix(3))")
    }
}
