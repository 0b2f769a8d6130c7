import Foundation
import GymCore
import Testing

/// Replays the Gymnasium rollouts in `Fixtures/rollouts/<name>.json` (made by
/// `scripts/fixtures/gen_env_fixtures.py`) through an environment made by `make`, and records every
/// difference: observations, rewards, terminations, truncations and infos must equal
/// Gymnasium's, float32 observations exactly or within `float32ULPs` ulps.
struct RolloutReplay {
    struct Mismatch: CustomStringConvertible {
        let seed: Int
        let event: Int
        let what: String
        var description: String { "seed \(seed), event \(event): \(what)" }
    }

    static func fixturesDirectory() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw GymError("Fixtures folder missing from the test bundle")
        }
        return url
    }

    static func load(_ name: String) throws -> JSON {
        let url = try fixturesDirectory().appendingPathComponent("rollouts/\(name).json")
        return try JSONParser.parse(try Data(contentsOf: url))
    }

    /// Replays every rollout of a fixture; returns the mismatches (empty when all match) and the
    /// number of steps compared.
    static func replay(
        _ name: String, float32ULPs: Int = 0, float64Tolerance: Double = 0,
        make: ([String: JSON]) throws -> WrappedEnvironment
    ) throws -> (mismatches: [Mismatch], steps: Int) {
        let fixture = try load(name)
        let kwargs = fixture["kwargs"]?.objectValue ?? [:]
        var mismatches: [Mismatch] = []
        var steps = 0
        for rollout in fixture["rollouts"]?.arrayValue ?? [] {
            let seed = rollout["seed"]?.intValue ?? -1
            var env = try make(kwargs)
            for (index, event) in (rollout["events"]?.arrayValue ?? []).enumerated() {
                guard let fields = event.arrayValue else { continue }
                func note(_ what: String) {
                    mismatches.append(Mismatch(seed: seed, event: index, what: what))
                }
                if fields.first == "reset" {
                    let resetSeed = fields[1].intValue.map { UInt64($0) }
                    let (obs, info) = try env.reset(seed: resetSeed)
                    compare(env.observationSpace.json(obs), fields[2], "reset observation", float32ULPs, float64Tolerance, note)
                    compare(.object(info), fields[3], "reset info", float32ULPs, float64Tolerance, note)
                } else {
                    let result = try env.step(json: unfloat32(fields[0]))
                    steps += 1
                    compare(env.observationSpace.json(result.observation), fields[1], "observation", float32ULPs, float64Tolerance, note)
                    compare(.double(result.reward), fields[2], "reward", float32ULPs, float64Tolerance, note)
                    let flags = (result.terminated ? 1 : 0) + (result.truncated ? 2 : 0)
                    if flags != fields[3].intValue { note("terminated+2*truncated \(flags), expected \(fields[3])") }
                    var info = result.info
                    info.removeValue(forKey: "TimeLimit.truncated")
                    compare(.object(info), fields[4], "info", float32ULPs, float64Tolerance, note)
                }
                if mismatches.count > 20 { return (mismatches, steps) }
            }
        }
        return (mismatches, steps)
    }

    /// Actions in fixtures carry float32 values as "f:..." strings; clients send plain numbers.
    static func unfloat32(_ json: JSON) -> JSON {
        switch json {
        case .string(let s) where s.hasPrefix("f:"):
            return .double(Double(Float(s.dropFirst(2)) ?? .nan))
        case .array(let a): return .array(a.map(unfloat32))
        case .object(let o): return .object(o.mapValues(unfloat32))
        default: return json
        }
    }

    static func compare(
        _ actual: JSON, _ expected: JSON, _ what: String, _ ulps: Int, _ tolerance: Double,
        _ note: (String) -> Void
    ) {
        if !matches(actual, expected, ulps, tolerance) {
            note("\(what) \(JSONWriter.string(actual)), expected \(JSONWriter.string(expected))")
        }
    }

    static func matches(_ actual: JSON, _ expected: JSON, _ ulps: Int, _ tolerance: Double) -> Bool {
        switch (actual, expected) {
        case (_, .string(let s)) where s.hasPrefix("f:"):
            guard let e = Float(s.dropFirst(2)), let a = actual.doubleValue else { return false }
            let af = Float(a)
            guard Double(af) == a else { return false }  // not a float32 value at all
            if af == e || (af.isNaN && e.isNaN) { return true }
            var x = e
            for _ in 0..<ulps {
                x = x.nextUp
                if x == af { return true }
            }
            x = e
            for _ in 0..<ulps {
                x = x.nextDown
                if x == af { return true }
            }
            return false
        case (.double(let a), .double(let e)):
            return a == e || abs(a - e) <= tolerance * max(1, abs(e)) || (a.isNaN && e.isNaN)
        case (.array(let a), .array(let e)):
            return a.count == e.count && zip(a, e).allSatisfy { matches($0, $1, ulps, tolerance) }
        case (.object(let a), .object(let e)):
            return a.count == e.count && a.allSatisfy { k, v in e[k].map { matches(v, $0, ulps, tolerance) } ?? false }
        default:
            return actual.numericallyEquals(expected)
        }
    }
}
