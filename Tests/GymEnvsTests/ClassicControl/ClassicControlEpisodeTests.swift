import Foundation
import GymCore
import Testing

@testable import GymEnvs

/// Replays the episodes of Fixtures/classic_control/episodes.json (made by
/// scripts/fixtures/gen_classic_control_extra.py from Gymnasium 1.4.0) through the bare environments:
/// goals, speed limits, walls, angle wrapping, steps past termination, out-of-range continuous
/// actions and reset options, which random rollouts seldom reach.
@Suite struct ClassicControlEpisodeTests {
    static func loadFixture(_ name: String) throws -> JSON {
        let url = try RolloutReplay.fixturesDirectory().appendingPathComponent("classic_control/\(name).json")
        return try JSONParser.parse(try Data(contentsOf: url))
    }

    static func caseNames() throws -> [String] {
        try loadFixture("episodes")["cases"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
    }

    @Test(arguments: try caseNames())
    func replaysGymnasiumEpisode(name: String) throws {
        let cases = try Self.loadFixture("episodes")["cases"]?.arrayValue ?? []
        let fixture = try #require(cases.first { $0["name"]?.stringValue == name })
        let id = try #require(fixture["env_id"]?.stringValue)
        var kwargs = Kwargs(fixture["kwargs"]?.objectValue ?? [:], envID: id)
        var env = try ClassicControlRolloutTests.registry.spec(for: id).make(&kwargs)
        try kwargs.finish()
        // Instance attributes Gymnasium's make() does not take: init parameters here.
        let attributes = fixture["attributes"]?.objectValue ?? [:]
        if let integrator = attributes["kinematics_integrator"]?.stringValue {
            env = CartPoleEnv(kinematicsIntegrator: integrator == "euler" ? .euler : .semiImplicitEuler)
        }
        if attributes["book_or_nips"] != nil || attributes["torque_noise_max"] != nil {
            env = AcrobotEnv(
                bookOrNips: attributes["book_or_nips"]?.stringValue == "nips" ? .nips : .book,
                torqueNoiseMax: attributes["torque_noise_max"]?.doubleValue ?? 0)
        }

        var mismatches: [String] = []
        var steps = 0
        for (index, event) in (fixture["events"]?.arrayValue ?? []).enumerated() {
            let fields = try #require(event.arrayValue)
            func compare(_ actual: JSON, _ expected: JSON, _ what: String) {
                if !RolloutReplay.matches(actual, expected, 0, 0) {
                    mismatches.append("event \(index): \(what) \(JSONWriter.string(actual)), expected \(JSONWriter.string(expected))")
                }
            }
            if fields.first == "reset" {
                let seed = fields[1].intValue.map { UInt64($0) }
                let (obs, info) = try env.reset(seed: seed, options: fields[2].objectValue)
                compare(env.observationSpace.json(obs), fields[3], "reset observation")
                compare(.object(info), fields[4], "reset info")
            } else {
                let action = try env.actionSpace.value(from: RolloutReplay.unfloat32(fields[0]))
                let result = try env.step(action)
                steps += 1
                compare(env.observationSpace.json(result.observation), fields[1], "observation")
                compare(.double(result.reward), fields[2], "reward")
                let flags = (result.terminated ? 1 : 0) + (result.truncated ? 2 : 0)
                if flags != fields[3].intValue { mismatches.append("event \(index): flags \(flags), expected \(fields[3])") }
                compare(.object(result.info), fields[4], "info")
            }
        }
        print("\(name): \(steps) steps compared, \(mismatches.count) mismatches")
        for mismatch in mismatches.prefix(5) { print("  \(mismatch)") }
        #expect(steps > 0)
        #expect(mismatches.isEmpty, "\(name): \(mismatches.first ?? "")")
    }

    /// Acrobot's `wrap` ends (Gymnasium's loops forever on huge or infinite angles) and, within its
    /// step limit, is Gymnasium's step-by-step loop.
    @Test func wrapTerminates() {
        #expect(AcrobotEnv.wrap(360, -180, 180) == 0)
        #expect(AcrobotEnv.wrap(-190, -180, 180) == 170)
        var x = 1000.3
        while x > .pi { x = x - 2 * .pi }
        #expect(AcrobotEnv.wrap(1000.3, -.pi, .pi) == x)
        for huge in [1e20, -1e20, 1e300, Double.infinity, -Double.infinity] {
            let wrapped = AcrobotEnv.wrap(huge, -.pi, .pi)
            #expect(wrapped.isNaN || (wrapped >= -.pi && wrapped <= .pi), "\(huge) -> \(wrapped)")
        }
        #expect(AcrobotEnv.wrap(.nan, -.pi, .pi).isNaN)
    }

    /// A reset to absurd bounds, then a step: answers rather than hanging as Gymnasium would.
    @Test func acrobotHugeStateSteps() throws {
        var env = AcrobotEnv()
        _ = try env.reset(seed: 0, options: ["low": -1e300, "high": 1e300])
        _ = env.step(.int(2))
        _ = try env.reset(seed: 0, options: ["low": 1e9, "high": 2e9])
        _ = env.step(.int(0))
    }

    /// numpy's float32 `np.sin`/`np.cos` (its own SIMD algorithm, not libm's), bit for bit.
    @Test func numpyFloat32SinCos() throws {
        let table = try Self.loadFixture("numpy_float32_trig")
        let xs = table["x"]?.arrayValue ?? []
        let sines = table["sin"]?.arrayValue ?? []
        let cosines = table["cos"]?.arrayValue ?? []
        #expect(xs.count > 20000 && xs.count == sines.count && xs.count == cosines.count)
        var mismatches: [String] = []
        for i in xs.indices {
            guard let xBits = xs[i].intValue, let sBits = sines[i].intValue, let cBits = cosines[i].intValue else { continue }
            let x = Float(bitPattern: UInt32(xBits))
            let s = NumpyMath.sin(x), c = NumpyMath.cos(x)
            let sinMatches = s.bitPattern == UInt32(sBits) || (s.isNaN && Float(bitPattern: UInt32(sBits)).isNaN)
            let cosMatches = c.bitPattern == UInt32(cBits) || (c.isNaN && Float(bitPattern: UInt32(cBits)).isNaN)
            if !sinMatches || !cosMatches {
                mismatches.append("x \(x): sin \(s) cos \(c), numpy \(Float(bitPattern: UInt32(sBits))) \(Float(bitPattern: UInt32(cBits)))")
            }
        }
        for mismatch in mismatches.prefix(5) { print("  \(mismatch)") }
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(xs.count) differ from numpy; first: \(mismatches.first ?? "")")
    }
}
