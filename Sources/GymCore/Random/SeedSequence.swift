// numpy's `SeedSequence` (numpy/random/bit_generator.pyx), word for word: the same entropy gives
// the same pool and the same `generate_state` words, so a PCG64 seeded from it starts where
// numpy's does. Only what Gymnasium needs: no spawn keys, the default pool of four words.

/// Turns a seed (a non-negative integer of any size) into well-mixed words for seeding a bit
/// generator, exactly as numpy's `np.random.SeedSequence(seed)` does.
///
/// Gymnasium's `seeding.np_random(seed)` is `Generator(PCG64(SeedSequence(seed)))`; its
/// `np_random_seed` is this sequence's entropy.
public struct SeedSequence: Sendable, Hashable {
    /// Words in the entropy pool (numpy's `DEFAULT_POOL_SIZE`): 128 bits.
    public static let poolSize = 4

    /// The entropy as numpy's `_coerce_to_uint32_array` makes it: 32-bit words, least
    /// significant first. A Python int becomes as many words as it needs (at least one).
    public let entropy: [UInt32]

    /// The mixed entropy pool, `poolSize` words.
    public let pool: [UInt32]

    /// A sequence from a non-negative seed that fits in 64 bits (every seed Gymnasium is
    /// normally given).
    public init(seed: UInt64) {
        self.init(entropy: SeedSequence.words(of: seed))
    }

    /// A sequence from any integer seed; `nil` if the seed is negative (numpy raises
    /// "expected non-negative integer").
    public init?<Seed: BinaryInteger>(exactly seed: Seed) {
        guard seed >= 0 else { return nil }
        self.init(entropy: SeedSequence.words(of: seed))
    }

    /// A sequence from entropy given as 32-bit words, least significant first, taken as they
    /// are (numpy's behaviour for a `uint32` array). A seed of any size, say one parsed from a
    /// decimal string, is its little-endian words with no leading (high) zero words.
    public init(entropy words: [UInt32]) {
        entropy = words
        pool = SeedSequence.mixEntropy(words)
    }

    /// A sequence from a seed written in decimal digits, of any size (a Python int from a
    /// client, too large for `UInt64`); `nil` unless `text` is one or more ASCII digits.
    public init?(decimalSeed text: some StringProtocol) {
        guard !text.isEmpty else { return nil }
        var words: [UInt32] = [0]
        for character in text.utf8 {
            guard character >= UInt8(ascii: "0"), character <= UInt8(ascii: "9") else { return nil }
            var carry = UInt64(character - UInt8(ascii: "0"))
            for index in words.indices {
                let product = UInt64(words[index]) * 10 + carry
                words[index] = UInt32(truncatingIfNeeded: product)
                carry = product >> 32
            }
            if carry != 0 { words.append(UInt32(carry)) }
        }
        self.init(entropy: words)
    }

    /// A sequence seeded with 128 fresh bits from the operating system, as
    /// `SeedSequence()` (entropy `None`) is.
    public init() {
        var system = SystemRandomNumberGenerator()
        self.init(entropyFrom: &system)
    }

    /// A sequence seeded with 128 bits drawn from `generator`, as numpy's `randbits(128)` entropy.
    public init<G: RandomNumberGenerator>(entropyFrom generator: inout G) {
        let bits = UInt128(generator.next()) << 64 | UInt128(generator.next())
        self.init(entropy: SeedSequence.words(of: bits))
    }

    /// The entropy written as a decimal integer: what Gymnasium reports as `np_random_seed`.
    public var entropyDescription: String {
        var magnitude = entropy
        while magnitude.count > 1, magnitude.last == 0 { magnitude.removeLast() }
        if magnitude == [0] || magnitude.isEmpty { return "0" }
        // Repeated division by 10^9 over the little-endian words.
        var chunks: [UInt32] = []
        while !(magnitude.count == 1 && magnitude[0] == 0) {
            var remainder: UInt64 = 0
            for index in magnitude.indices.reversed() {
                let dividend = remainder << 32 | UInt64(magnitude[index])
                magnitude[index] = UInt32(dividend / 1_000_000_000)
                remainder = dividend % 1_000_000_000
            }
            chunks.append(UInt32(remainder))
            while magnitude.count > 1, magnitude.last == 0 { magnitude.removeLast() }
        }
        var text = String(chunks.removeLast())
        for chunk in chunks.reversed() {
            let digits = String(chunk)
            text += String(repeating: "0", count: 9 - digits.count) + digits
        }
        return text
    }

    /// `generate_state(count, np.uint32)`.
    public func generateState32(count: Int) -> [UInt32] {
        var hashConstant = SeedSequence.initB
        var state: [UInt32] = []
        state.reserveCapacity(max(count, 0))
        for index in 0..<max(count, 0) {
            var value = pool[index % pool.count]
            value ^= hashConstant
            hashConstant &*= SeedSequence.multB
            value &*= hashConstant
            value ^= value >> SeedSequence.xshift
            state.append(value)
        }
        return state
    }

    /// `generate_state(count, np.uint64)`: twice as many 32-bit words, paired little-endian
    /// (the first word of each pair is the low half).
    public func generateState64(count: Int) -> [UInt64] {
        let words = generateState32(count: 2 * max(count, 0))
        return (0..<max(count, 0)).map { UInt64(words[2 * $0 + 1]) << 32 | UInt64(words[2 * $0]) }
    }

    // MARK: - numpy's mixing

    static let initA: UInt32 = 0x43b0_d7e5
    static let multA: UInt32 = 0x931e_8875
    static let initB: UInt32 = 0x8b51_f9dd
    static let multB: UInt32 = 0x58f3_8ded
    static let mixMultL: UInt32 = 0xca01_f9dd
    static let mixMultR: UInt32 = 0x4973_f715
    static let xshift: UInt32 = 16  // half the bits of a uint32

    /// The little-endian 32-bit words of a non-negative integer, as `_int_to_uint32_array`.
    static func words<Seed: BinaryInteger>(of seed: Seed) -> [UInt32] {
        var words: [UInt32] = []
        var rest = seed.magnitude
        repeat {
            words.append(UInt32(truncatingIfNeeded: rest))
            rest >>= 32
        } while rest != 0
        return words
    }

    private static func hashMix(_ value: UInt32, _ hashConstant: inout UInt32) -> UInt32 {
        var value = value ^ hashConstant
        hashConstant &*= multA
        value &*= hashConstant
        return value ^ (value >> xshift)
    }

    private static func mix(_ x: UInt32, _ y: UInt32) -> UInt32 {
        let result = mixMultL &* x &- mixMultR &* y
        return result ^ (result >> xshift)
    }

    private static func mixEntropy(_ entropy: [UInt32]) -> [UInt32] {
        var hashConstant = initA
        var mixer = [UInt32](repeating: 0, count: poolSize)
        for index in 0..<poolSize {
            mixer[index] = hashMix(index < entropy.count ? entropy[index] : 0, &hashConstant)
        }
        for source in 0..<poolSize {
            for destination in 0..<poolSize where source != destination {
                mixer[destination] = mix(mixer[destination], hashMix(mixer[source], &hashConstant))
            }
        }
        for source in poolSize..<max(poolSize, entropy.count) {
            for destination in 0..<poolSize {
                mixer[destination] = mix(mixer[destination], hashMix(entropy[source], &hashConstant))
            }
        }
        return mixer
    }
}
