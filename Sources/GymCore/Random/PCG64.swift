// numpy's PCG64 bit generator (numpy/random/_pcg64.pyx, src/pcg64/pcg64.h): a 128-bit LCG with
// the XSL-RR output function, and numpy's one-word buffer that splits a 64-bit draw into two
// 32-bit draws.

/// The bit generator behind `np.random.default_rng()` and Gymnasium's `np_random`.
///
/// The stored properties are numpy's `bit_generator.state`: `state`, `inc` (here `increment`),
/// `has_uint32` and `uinteger`. Copying the value copies the whole stream, as assigning
/// `bit_generator.state` does in Python.
public struct PCG64: RandomNumberGenerator, Sendable, Hashable {
    /// `PCG_DEFAULT_MULTIPLIER_128`.
    @inlinable public static var multiplier: UInt128 { 0x2360_ed05_1fc6_5da4_4385_df64_9fcc_f645 }

    /// The LCG state.
    public var state: UInt128
    /// The LCG increment; always odd.
    public var increment: UInt128
    /// Whether the high half of the last 64-bit draw is waiting to be returned by `nextUInt32`.
    public var hasUInt32: Bool
    /// The waiting high half (meaningful only when `hasUInt32`).
    public var bufferedUInt32: UInt32

    /// A generator in exactly this state, as setting numpy's `bit_generator.state`.
    public init(state: UInt128, increment: UInt128, hasUInt32: Bool = false, bufferedUInt32: UInt32 = 0) {
        self.state = state
        self.increment = increment
        self.hasUInt32 = hasUInt32
        self.bufferedUInt32 = bufferedUInt32
    }

    /// `pcg64_set_seed`: the stream selected by `sequence`, started from `seed`.
    public init(seed: UInt128, sequence: UInt128) {
        self.init(state: 0, increment: sequence << 1 | 1)
        step()
        state &+= seed
        step()
    }

    /// Seeded as numpy's `PCG64(seed_sequence)`: `generate_state(4, uint64)` gives the words
    /// `[seed.high, seed.low, sequence.high, sequence.low]`.
    public init(_ seedSequence: SeedSequence) {
        let words = seedSequence.generateState64(count: 4)
        self.init(
            seed: UInt128(words[0]) << 64 | UInt128(words[1]),
            sequence: UInt128(words[2]) << 64 | UInt128(words[3]))
    }

    /// `PCG64(seed)` for a non-negative seed, through `SeedSequence(seed)`.
    public init(seed: UInt64) {
        self.init(SeedSequence(seed: seed))
    }

    @usableFromInline @inline(__always)
    mutating func step() {
        state = state &* PCG64.multiplier &+ increment
    }

    /// The next 64 random bits (`next_uint64`; `bit_generator.random_raw()`). Leaves the
    /// 32-bit buffer alone, as numpy does.
    @inlinable @inline(__always)
    public mutating func nextUInt64() -> UInt64 {
        step()
        let high = UInt64(truncatingIfNeeded: state >> 64)
        let low = UInt64(truncatingIfNeeded: state)
        return (high ^ low).pcgRotateRight(by: Int(truncatingIfNeeded: high >> 58))
    }

    /// The next 32 random bits (`next_uint32`): the low half of a fresh 64-bit draw, then its
    /// high half on the following call.
    @inlinable @inline(__always)
    public mutating func nextUInt32() -> UInt32 {
        if hasUInt32 {
            hasUInt32 = false
            return bufferedUInt32
        }
        let next = nextUInt64()
        hasUInt32 = true
        bufferedUInt32 = UInt32(truncatingIfNeeded: next >> 32)
        return UInt32(truncatingIfNeeded: next)
    }

    /// A double in [0, 1) from the top 53 bits of a 64-bit draw (`next_double`).
    @inlinable @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(nextUInt64() >> 11) * 0x1p-53
    }

    /// `RandomNumberGenerator`: the same as `nextUInt64()`. The standard library's
    /// `Int.random(in:using:)` and friends do not draw as numpy does; use `RandomGenerator`
    /// to reproduce numpy's streams.
    @inlinable
    public mutating func next() -> UInt64 { nextUInt64() }
}

extension UInt64 {
    @usableFromInline @inline(__always)
    func pcgRotateRight(by amount: Int) -> UInt64 {
        (self >> UInt64(amount & 63)) | (self << UInt64((64 &- amount) & 63))
    }
}
