import GymCore
import GymEnvs
import Testing

/// A vector of at least `VectorEnvironment.parallelWidth` sub-environments may step them on all
/// cores; its answers must be those of the same vector stepped one sub-environment after the other
/// (the path the SyncVectorEnv fixtures pin), infos batched in index order. `.always` forces the
/// parallel path, which `.automatic` takes only for costly sub-environments.
@Suite("Wide vectors: stepped on all cores, the same answers as one by one")
struct WideVectorTests {
    @Test("every autoreset mode: observations, rewards, flags, infos, final_obs and finished episodes", arguments: [
        ("CartPole-v1", [String: JSON]()), ("FrozenLake-v1", ["max_episode_steps": 7] as [String: JSON]),
        ("Pendulum-v1", ["max_episode_steps": 5]), ("Blackjack-v1", [:]),
    ])
    func wide(_ envID: String, _ kwargs: [String: JSON]) throws {
        let n = VectorEnvironment.parallelWidth + 37
        for mode in AutoresetMode.allCases {
            let envs = try (0..<n).map { _ in try Registry.gym.make(envID, kwargs: kwargs) }
            var parallel = VectorEnvironment(envs: envs, mode: mode)
            parallel.parallelism = .always
            var sequential = VectorEnvironment(envs: envs, mode: mode)
            sequential.parallelism = .never
            let resets = [try parallel.reset(seeds: .base(100), options: nil), try sequential.reset(seeds: .base(100), options: nil)]
            #expect(resets[0].observations == resets[1].observations)
            var generator = RandomGenerator(seed: 7)
            var finished = 0
            for t in 0..<30 {
                let actions = (0..<n).map { _ in parallel.singleActionSpace.sample(using: &generator) }
                let a = try parallel.step(actions)
                let b = try sequential.step(actions)
                let at = "\(envID) \(mode) step \(t)"
                #expect(a.observations == b.observations, "\(at)")
                #expect(a.rewards == b.rewards && a.terminated == b.terminated && a.truncated == b.truncated, "\(at)")
                #expect(a.info.json == b.info.json, "\(at) info")
                #expect(a.finished == b.finished, "\(at)")
                finished += a.finished.count
                let done = zip(a.terminated, a.truncated).map { JSON.bool($0 || $1) }
                if mode == .disabled, done.contains(true) {
                    let masked = [try parallel.reset(seeds: .none, options: ["reset_mask": .array(done)]),
                                  try sequential.reset(seeds: .none, options: ["reset_mask": .array(done)])]
                    #expect(masked[0].observations == masked[1].observations)
                }
            }
            #expect(finished > 0, "\(envID) \(mode): no episode ended, so autoresets were not compared")
        }
    }
}
