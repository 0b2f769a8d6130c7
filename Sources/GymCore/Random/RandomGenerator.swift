// numpy's `Generator` (numpy/random/_generator.pyx, _bounded_integers.pyx.in,
// src/distributions/distributions.c) over PCG64, for the calls Gymnasium makes. Every method
// draws exactly the bits numpy draws, in the same order, so a stream seeded like Gymnasium's
// `np_random` gives the same numbers.

/// numpy's `np.random.Generator(PCG64(...))`: what Gymnasium calls `np_random`.
///
/// A value: copying it forks the stream. Methods mirror numpy's, with `count:` for numpy's
/// `size=(count,)` (a multi-dimensional `size` is the same stream in C order, so pass the
/// product of the shape).
public struct RandomGenerator: Sendable, Hashable {
    /// The bit generator, with its 32-bit buffer.
    public var bitGenerator: PCG64

    /// A generator over this bit generator.
    public init(bitGenerator: PCG64) {
        self.bitGenerator = bitGenerator
    }

    /// `Generator(PCG64(seedSequence))`: Gymnasium's `seeding.np_random`.
    public init(_ seedSequence: SeedSequence) {
        self.init(bitGenerator: PCG64(seedSequence))
    }

    /// `seeding.np_random(seed)` for a non-negative seed.
    public init(seed: UInt64) {
        self.init(SeedSequence(seed: seed))
    }

    /// `seeding.np_random(None)`: seeded with fresh OS entropy. To know the entropy (Gymnasium's
    /// `np_random_seed`), build the `SeedSequence()` yourself and pass it to `init(_:)`.
    public static func fromEntropy() -> RandomGenerator {
        RandomGenerator(SeedSequence())
    }

    /// The same as `fromEntropy()`: `np.random.default_rng()`.
    public init() {
        self.init(SeedSequence())
    }

    // MARK: - Floats

    /// `random()`: a double in [0, 1).
    @inlinable
    public mutating func random() -> Double {
        bitGenerator.nextDouble()
    }

    /// `random(size=count)`.
    @inlinable
    public mutating func random(count: Int) -> [Double] {
        (0..<count).map { _ in bitGenerator.nextDouble() }
    }

    /// `uniform(low, high)`: `low + (high - low) * random()`, computed in that order.
    /// numpy refuses `high < low` and a non-finite `high - low`; check before calling if
    /// that matters.
    @inlinable
    public mutating func uniform(low: Double = 0, high: Double = 1) -> Double {
        let range = high - low
        return low + range * bitGenerator.nextDouble()
    }

    /// `uniform(low, high, size=count)`.
    @inlinable
    public mutating func uniform(low: Double, high: Double, count: Int) -> [Double] {
        let range = high - low
        return (0..<count).map { _ in low + range * bitGenerator.nextDouble() }
    }

    /// `uniform(low=lows, high=highs)` with arrays of the same length, element by element
    /// (as Box.sample and Pendulum's reset call it).
    public mutating func uniform(low: [Double], high: [Double]) -> [Double] {
        precondition(low.count == high.count, "uniform(low:high:) needs arrays of the same length")
        var out: [Double] = []
        out.reserveCapacity(low.count)
        for index in low.indices {
            let range = high[index] - low[index]
            out.append(low[index] + range * bitGenerator.nextDouble())
        }
        return out
    }

    // MARK: - Integers

    /// `integers(low, high, dtype=T)` for `range = low..<high` (numpy's default,
    /// `endpoint=False`). `T` picks numpy's dtype: `Int`/`Int64` is numpy's default `int64`,
    /// `Int8` is what `MultiBinary` samples with. A range of one value returns it without drawing.
    @inlinable
    public mutating func integers<T: NumpyInteger>(in range: Range<T>) -> T {
        precondition(!range.isEmpty, "integers(in:) needs low < high")
        var buffer = SmallDrawBuffer()
        return boundedDraw(
            low: range.lowerBound, span: RandomGenerator.span(range.lowerBound, range.upperBound &- 1),
            buffer: &buffer)
    }

    /// `integers(low, high, dtype=T, endpoint=True)` for `range = low...high`.
    @inlinable
    public mutating func integers<T: NumpyInteger>(in range: ClosedRange<T>) -> T {
        var buffer = SmallDrawBuffer()
        return boundedDraw(
            low: range.lowerBound, span: RandomGenerator.span(range.lowerBound, range.upperBound),
            buffer: &buffer)
    }

    /// `integers(low, high, dtype=T)`, numpy's positional form: the same as
    /// `integers(in: low..<high)`.
    @inlinable
    public mutating func integers<T: NumpyInteger>(_ low: T, _ high: T) -> T {
        integers(in: low..<high)
    }

    /// `integers(high, dtype=T)`: the same as `integers(in: 0..<high)` (Discrete.sample).
    @inlinable
    public mutating func integers<T: NumpyInteger>(_ high: T) -> T {
        integers(in: 0..<high)
    }

    /// `integers(low, high, size=count, dtype=T)`.
    @inlinable
    public mutating func integers<T: NumpyInteger>(in range: Range<T>, count: Int) -> [T] {
        precondition(!range.isEmpty, "integers(in:count:) needs low < high")
        return boundedFill(
            low: range.lowerBound, span: RandomGenerator.span(range.lowerBound, range.upperBound &- 1),
            count: count)
    }

    /// `integers(low, high, size=count, dtype=T, endpoint=True)`.
    @inlinable
    public mutating func integers<T: NumpyInteger>(in range: ClosedRange<T>, count: Int) -> [T] {
        boundedFill(
            low: range.lowerBound, span: RandomGenerator.span(range.lowerBound, range.upperBound),
            count: count)
    }

    // MARK: - Choice

    /// `choice(populationSize)`: an index in `0..<populationSize`, drawn as numpy's
    /// `integers(0, populationSize, dtype=int64)`.
    @inlinable
    public mutating func choice(_ populationSize: Int) -> Int {
        precondition(populationSize > 0, "choice needs a non-empty population")
        return integers(in: 0..<populationSize)
    }

    /// `choice(population)` for a one-dimensional population with `replace=True` and no `p`
    /// (Blackjack's `np_random.choice(deck)`).
    @inlinable
    public mutating func choice<C: RandomAccessCollection>(from population: C) -> C.Element {
        let offset = choice(population.count)
        return population[population.index(population.startIndex, offsetBy: offset)]
    }

    /// `choice(len(p), p=probabilities)`: the index whose cumulative probability first exceeds
    /// one `random()` draw (numpy's `cdf.searchsorted(u, side='right')` on `cumsum(p) / sum`).
    /// numpy refuses negative, NaN or not-summing-to-one probabilities; check before calling.
    public mutating func choice(probabilities: [Double]) -> Int {
        let cdf = RandomGenerator.normalisedCumulativeSum(probabilities)
        return RandomGenerator.searchSortedRight(cdf, bitGenerator.nextDouble())
    }

    /// `choice(len(p), size=count, p=probabilities)`.
    public mutating func choice(probabilities: [Double], count: Int) -> [Int] {
        let cdf = RandomGenerator.normalisedCumulativeSum(probabilities)
        return random(count: count).map { RandomGenerator.searchSortedRight(cdf, $0) }
    }

    static func normalisedCumulativeSum(_ probabilities: [Double]) -> [Double] {
        precondition(!probabilities.isEmpty, "choice(probabilities:) needs a non-empty population")
        var cdf: [Double] = []
        cdf.reserveCapacity(probabilities.count)
        var total = 0.0
        for probability in probabilities {
            total += probability
            cdf.append(total)
        }
        let last = total
        return cdf.map { $0 / last }
    }

    /// The first index whose value is greater than `value` (numpy's `side='right'`).
    static func searchSortedRight(_ sorted: [Double], _ value: Double) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if value < sorted[middle] {
                high = middle
            } else {
                low = middle + 1
            }
        }
        return low
    }
}

// MARK: - Bounded integers (numpy's Lemire rejection, `random_bounded_*_fill`)

/// The integer types numpy's `integers` can produce, each standing for the numpy dtype of the
/// same width and signedness (`Int` is `int64`).
public protocol NumpyInteger: FixedWidthInteger, Sendable {}
extension Int: NumpyInteger {}
extension Int64: NumpyInteger {}
extension Int32: NumpyInteger {}
extension Int16: NumpyInteger {}
extension Int8: NumpyInteger {}
extension UInt: NumpyInteger {}
extension UInt64: NumpyInteger {}
extension UInt32: NumpyInteger {}
extension UInt16: NumpyInteger {}
extension UInt8: NumpyInteger {}

/// The 32-bit word that 8- and 16-bit draws are cut from. numpy keeps it local to one call of
/// `integers` (while PCG64's own 32-bit buffer persists across calls).
@usableFromInline
struct SmallDrawBuffer {
    @usableFromInline var remaining: Int = 0
    @usableFromInline var bits: UInt32 = 0

    @inlinable init() {}
}

extension RandomGenerator {
    /// `high - low` as an unsigned value of the same width (numpy's `rng`).
    @inlinable
    static func span<T: NumpyInteger>(_ low: T, _ high: T) -> UInt64 {
        UInt64(truncatingIfNeeded: T.Magnitude(truncatingIfNeeded: high &- low))
    }

    @inlinable
    mutating func boundedFill<T: NumpyInteger>(low: T, span: UInt64, count: Int) -> [T] {
        var buffer = SmallDrawBuffer()
        var out: [T] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            out.append(boundedDraw(low: low, span: span, buffer: &buffer))
        }
        return out
    }

    /// One value in `low ... low + span` (wrapping in `T`'s width), as numpy's
    /// `random_bounded_uint{64,32,16,8}_fill` draws it.
    @inlinable
    mutating func boundedDraw<T: NumpyInteger>(low: T, span: UInt64, buffer: inout SmallDrawBuffer) -> T {
        let offset = UInt64(truncatingIfNeeded: T.Magnitude(truncatingIfNeeded: low))
        let value: UInt64
        switch T.bitWidth {
        case 64, 32:
            // The uint32 fill and the uint64 fill agree on every span that fits in 32 bits.
            if span == 0 {
                value = 0
            } else if span < 0xFFFF_FFFF {
                value = UInt64(lemire32(span: UInt32(span)))
            } else if span == 0xFFFF_FFFF {
                value = UInt64(bitGenerator.nextUInt32())
            } else if span == UInt64.max {
                value = bitGenerator.nextUInt64()
            } else {
                value = lemire64(span: span)
            }
        case 16:
            if span == 0 {
                value = 0
            } else if span == 0xFFFF {
                value = UInt64(bufferedSmallDraw(UInt16.self, &buffer))
            } else {
                value = UInt64(bufferedLemire(span: UInt16(span), &buffer))
            }
        case 8:
            if span == 0 {
                value = 0
            } else if span == 0xFF {
                value = UInt64(bufferedSmallDraw(UInt8.self, &buffer))
            } else {
                value = UInt64(bufferedLemire(span: UInt8(span), &buffer))
            }
        default:
            preconditionFailure("numpy has no \(T.bitWidth)-bit integer dtype")
        }
        return T(truncatingIfNeeded: offset &+ value)
    }

    /// `buffered_bounded_lemire_uint32`: a value in `0...span`, `span < 2^32 - 1`, from
    /// 32-bit draws (PCG64's buffered halves).
    @inlinable
    mutating func lemire32(span: UInt32) -> UInt32 {
        let exclusive = span &+ 1
        var product = bitGenerator.nextUInt32().multipliedFullWidth(by: exclusive)
        if product.low < exclusive {
            let threshold = (UInt32.max &- span) % exclusive
            while product.low < threshold {
                product = bitGenerator.nextUInt32().multipliedFullWidth(by: exclusive)
            }
        }
        return product.high
    }

    /// `bounded_lemire_uint64`: a value in `0...span`, `span < 2^64 - 1`.
    @inlinable
    mutating func lemire64(span: UInt64) -> UInt64 {
        let exclusive = span &+ 1
        var product = bitGenerator.nextUInt64().multipliedFullWidth(by: exclusive)
        if product.low < exclusive {
            let threshold = (UInt64.max &- span) % exclusive
            while product.low < threshold {
                product = bitGenerator.nextUInt64().multipliedFullWidth(by: exclusive)
            }
        }
        return product.high
    }

    /// `buffered_uint8` / `buffered_uint16`: the next 8 or 16 bits of the call's 32-bit word,
    /// low bits first, drawing a new word when it is used up.
    @inlinable
    mutating func bufferedSmallDraw<U: FixedWidthInteger & UnsignedInteger>(
        _: U.Type, _ buffer: inout SmallDrawBuffer
    ) -> U {
        if buffer.remaining == 0 {
            buffer.bits = bitGenerator.nextUInt32()
            buffer.remaining = 32 / U.bitWidth - 1
        } else {
            buffer.bits >>= UInt32(U.bitWidth)
            buffer.remaining -= 1
        }
        return U(truncatingIfNeeded: buffer.bits)
    }

    /// `buffered_bounded_lemire_uint8` / `_uint16`: a value in `0...span`, `span < U.max`.
    @inlinable
    mutating func bufferedLemire<U: FixedWidthInteger & UnsignedInteger>(
        span: U, _ buffer: inout SmallDrawBuffer
    ) -> U where U.Magnitude == U {
        let exclusive = span &+ 1
        var product = bufferedSmallDraw(U.self, &buffer).multipliedFullWidth(by: exclusive)
        if product.low < exclusive {
            let threshold = (U.max &- span) % exclusive
            while product.low < threshold {
                product = bufferedSmallDraw(U.self, &buffer).multipliedFullWidth(by: exclusive)
            }
        }
        return product.high
    }
}
