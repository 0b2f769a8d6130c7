import GymCore

/// An environment's `np_random`, as Gymnasium's `Env` keeps it: `reset(seed=)` replaces it with
/// `RandomGenerator(seed:)` (SeedSequence + PCG64); without a seed the stream continues, created
/// from OS entropy on first use. The draws are numpy's `Generator.uniform`, with the checks numpy
/// makes on its bounds before drawing.
struct ClassicControlRandom: Sendable {
    private var generator: RandomGenerator?

    /// Gymnasium's `super().reset(seed=seed)`.
    mutating func reseed(_ seed: UInt64?) {
        if let seed { generator = RandomGenerator(seed: seed) }
    }

    /// Runs `body` on the generator, made from OS entropy the first time it is needed.
    private mutating func draw<T>(_ body: (inout RandomGenerator) -> T) -> T {
        var g = generator ?? RandomGenerator()
        defer { generator = g }
        return body(&g)
    }

    /// `np_random.uniform(low, high)` where the bounds are known to be good.
    mutating func uniformUnchecked(low: Double, high: Double) -> Double {
        draw { $0.uniform(low: low, high: high) }
    }

    /// `np_random.uniform(low, high)` for scalar bounds: one draw.
    mutating func uniform(low: Double, high: Double) throws(GymError) -> Double {
        try ResetBounds.checkUniformRange(low: low, high: high)
        return draw { $0.uniform(low: low, high: high) }
    }

    /// `np_random.uniform(low, high, size=(count,))` for scalar bounds: `count` draws in order.
    mutating func uniform(low: Double, high: Double, count: Int) throws(GymError) -> [Double] {
        try ResetBounds.checkUniformRange(low: low, high: high)
        return draw { $0.uniform(low: low, high: high, count: count) }
    }

    /// `np_random.uniform(low, high)` for arrays of bounds: one draw per element, in order.
    mutating func uniform(low: [Double], high: [Double]) throws(GymError) -> [Double] {
        let range = zip(high, low).map { $0 - $1 }
        func list(_ values: [Double]) -> String { "[" + values.map(pythonRepr).joined(separator: ", ") + "]" }
        guard range.allSatisfy(\.isFinite) else {
            throw GymError("Range exceeds valid bounds (low \(list(low)), high \(list(high)))")
        }
        if range.contains(where: { $0.sign == .minus }) {
            throw GymError("high - low < 0 (low \(list(low)), high \(list(high)))")
        }
        return draw { $0.uniform(low: low, high: high) }
    }
}
