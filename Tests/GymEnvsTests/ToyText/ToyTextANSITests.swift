import Foundation
import GymCore
import GymEnvs
import Testing

/// Compares `renderANSI()` with the text Gymnasium's `ansi` render mode returns
/// (scripts/fixtures/gen_ansi_fixtures.py), after every reset and step of a few rollouts.
@Suite struct ToyTextANSITests {
    static let fixtures = [
        "FrozenLake-v1", "FrozenLake8x8-v1", "FrozenLake-v1-desc", "Taxi-v4", "Taxi-v4-rainy_fickle",
        "CliffWalking-v1", "CliffWalking-v1-slippery",
    ]

    @Test(arguments: fixtures)
    func ansiRenderMatchesGymnasium(fixture: String) throws {
        let url = try RolloutReplay.fixturesDirectory().appendingPathComponent("ansi/\(fixture).json")
        let data = try JSONParser.parse(try Data(contentsOf: url))
        let id = try #require(data["env_id"]?.stringValue)
        let kwargs = data["kwargs"]?.objectValue ?? [:]
        let registry = ToyTextTesting.registry()
        var compared = 0
        var mismatches: [String] = []
        for rollout in data["rollouts"]?.arrayValue ?? [] {
            var env = try registry.make(id, kwargs: kwargs)
            for (index, event) in (rollout["events"]?.arrayValue ?? []).enumerated() {
                let fields = try #require(event.arrayValue)
                let expected: String?
                if fields.first == "reset" {
                    _ = try env.reset(seed: fields[1].intValue.map { UInt64($0) })
                    expected = fields[2].stringValue
                } else {
                    _ = try env.step(json: fields[0])
                    expected = fields[1].stringValue
                }
                compared += 1
                let actual = env.renderANSI()
                if actual != expected {
                    mismatches.append("seed \(rollout["seed"] ?? nil) event \(index): \(String(reflecting: actual)) expected \(String(reflecting: expected))")
                }
            }
        }
        #expect(compared > 100)
        #expect(mismatches.isEmpty, "\(fixture): \(mismatches.prefix(2))")
    }

    @Test func blackjackHasNoANSIRender() throws {
        var env = try ToyTextTesting.registry().make("Blackjack-v1")
        _ = try env.reset(seed: 0)
        #expect(env.renderANSI() == nil)
    }
}
