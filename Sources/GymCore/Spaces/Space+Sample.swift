extension Space {
    /// A random element, drawn as Gymnasium 1.x's `space.sample()` draws it from the space's
    /// generator: `Discrete` with `integers(n)`, a bounded `Box` with `uniform(low, high)` (normal
    /// and exponential draws for unbounded sides), `MultiBinary` with int8 `integers(0, 2)`,
    /// `MultiDiscrete` with `random() * nvec`. Tuple and Dict draw their parts in order from the
    /// same generator (Gymnasium gives each part a generator of its own).
    public func sample(using generator: inout RandomGenerator) -> SpaceValue {
        switch self {
        case .discrete(let n, let start):
            return .int(start + Int(generator.integers(in: Int64(0)..<Int64(n))))
        case .box(let box):
            return box.sample(using: &generator)
        case .multiBinary(let shape):
            let bits: [Int8] = generator.integers(in: Int8(0)..<Int8(2), count: shape.reduce(1, *))
            return .ints(bits.map(Int.init))
        case .multiDiscrete(let nvec, let start):
            let uniforms = generator.random(count: nvec.count)
            return .ints(nvec.indices.map { Int((uniforms[$0] * Double(nvec[$0])).rounded(.towardZero)) + start[$0] })
        case .tuple(let spaces):
            return .tuple(spaces.map { $0.sample(using: &generator) })
        case .dict(let spaces):
            var values: [String: SpaceValue] = [:]
            for (key, space) in spaces { values[key] = space.sample(using: &generator) }
            return .dict(values)
        }
    }
}

extension Box {
    func sample(using generator: inout RandomGenerator) -> SpaceValue {
        let isFloat = dtype.isFloatingPoint
        // Integer boxes sample [low, high + 1) and floor, as Gymnasium does.
        let high = isFloat ? self.high : self.high.map { $0 + 1 }
        var sample = [Double](repeating: 0, count: count)
        let unbounded = indices { low[$0] == -.infinity && self.high[$0] == .infinity }
        let lowBounded = indices { low[$0] != -.infinity && self.high[$0] == .infinity }
        let highBounded = indices { low[$0] == -.infinity && self.high[$0] != .infinity }
        let bounded = indices { low[$0] != -.infinity && self.high[$0] != .infinity }
        for (i, v) in zip(unbounded, generator.normal(count: unbounded.count)) { sample[i] = v }
        for (i, v) in zip(lowBounded, generator.standardExponential(count: lowBounded.count)) { sample[i] = v + low[i] }
        for (i, v) in zip(highBounded, generator.standardExponential(count: highBounded.count)) { sample[i] = -v + high[i] }
        let draws = generator.uniform(low: bounded.map { low[$0] }, high: bounded.map { high[$0] })
        for (i, v) in zip(bounded, draws) { sample[i] = v }
        if isFloat { return .floats(sample.map(dtype.cast)) }
        return .ints(sample.map { Int(exactly: $0.rounded(.down)) ?? ($0 < 0 ? Int.min : Int.max) })
    }

    private func indices(_ predicate: (Int) -> Bool) -> [Int] {
        (0..<count).filter(predicate)
    }
}
