import GymCore
import GymEnvs
import Testing

/// Replays Gymnasium 1.4.0's rollouts (Fixtures/rollouts, made by scripts/fixtures/gen_env_fixtures.py)
/// through the classic-control environments made by the registry: every observation, reward,
/// termination, truncation and info must be Gymnasium's, float32 values bit for bit.
@Suite struct ClassicControlRolloutTests {
    static let registry: Registry = {
        var registry = Registry()
        registry.registerClassicControl()
        return registry
    }()

    @Test(arguments: [
        ("CartPole-v0", "CartPole-v0"),
        ("CartPole-v1", "CartPole-v1"),
        ("CartPole-v1-sutton_barto", "CartPole-v1"),
        ("MountainCar-v0", "MountainCar-v0"),
        ("MountainCarContinuous-v0", "MountainCarContinuous-v0"),
        ("Pendulum-v1", "Pendulum-v1"),
        ("Pendulum-v1-g9.81", "Pendulum-v1"),
        // Actions past the bounds, clipped by the environment as Gymnasium's clips them.
        ("Pendulum-v1-out_of_bounds", "Pendulum-v1"),
        ("MountainCarContinuous-v0-out_of_bounds", "MountainCarContinuous-v0"),
        ("Acrobot-v1", "Acrobot-v1"),
    ])
    func replaysGymnasium(fixture: String, id: String) throws {
        let (mismatches, steps) = try RolloutReplay.replay(fixture, float32ULPs: 0) { kwargs in
            try Self.registry.make(id, kwargs: kwargs)
        }
        print("\(fixture): \(steps) steps compared, \(mismatches.count) mismatches")
        for mismatch in mismatches.prefix(5) { print("  \(mismatch)") }
        #expect(steps > 0)
        #expect(mismatches.isEmpty, "\(fixture): first mismatch \(mismatches.first.map(String.init(describing:)) ?? "")")
    }
}
