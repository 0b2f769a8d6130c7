// Replays numpy's random streams (Fixtures/numpy_streams.json, written by
// scripts/fixtures/gen_numpy_fixtures.py) and requires every value to match exactly: integers by value,
// doubles bit for bit.

import Foundation
import Testing

@testable import GymCore

// MARK: - The fixture

struct NumpyStreamsFixture: Decodable, Sendable {
    struct SeedEntry: Decodable, Sendable, CustomTestStringConvertible {
        let seed: String
        let entropy_words: [String]
        let pool: [String]
        let state64: [String]
        let state32: [String]
        let pcg_state: String
        let pcg_inc: String
        let raw: [String]
        var testDescription: String { "seed \(seed)" }
    }

    struct Operation: Decodable, Sendable {
        let op: String
        let count: Int?
        let low: String?
        let high: String?
        let dtype: String?
        let endpoint: Bool?
        let lows: [String]?
        let highs: [String]?
        let population: [String]?
        let probabilities: [String]?
        let loc: String?
        let scale: String?
        let result: [String]
    }

    struct FinalState: Decodable, Sendable {
        let state: String
        let inc: String
        let has_uint32: String
        let uinteger: String
    }

    struct Stream: Decodable, Sendable, CustomTestStringConvertible {
        let name: String
        let seed: String
        let ops: [Operation]
        let final_state: FinalState
        var testDescription: String { name }
    }

    let numpy_version: String
    let seeds: [SeedEntry]
    let streams: [Stream]

    static func load() throws -> NumpyStreamsFixture {
        guard let folder = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw NumpyFixtureError.missing("Fixtures folder")
        }
        let data = try Data(contentsOf: folder.appendingPathComponent("numpy_streams.json"))
        return try JSONDecoder().decode(NumpyStreamsFixture.self, from: data)
    }
}

private enum NumpyFixtureError: Error {
    case missing(String)
    case malformed(String)
}

private func parse<T: LosslessStringConvertible>(_ text: String?, as _: T.Type = T.self) throws -> T {
    guard let text, let value = T(text) else { throw NumpyFixtureError.malformed(text ?? "nil") }
    return value
}

private func parseAll<T: LosslessStringConvertible>(_ texts: [String]?, as _: T.Type = T.self) throws -> [T] {
    try (texts ?? []).map { try parse($0, as: T.self) }
}

/// Bit patterns, so that doubles compare exactly (and -0.0 differs from 0.0).
private func bitPatterns(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }
private func expectedBits(_ texts: [String]) throws -> [UInt64] {
    try texts.map { try parse($0, as: Double.self).bitPattern }
}

/// `sum(bits[i] * (2i + 1)) mod 2^64`, as the fixture script computes it.
private func weightedBitSum(_ bits: [UInt64]) -> UInt64 {
    var total: UInt64 = 0
    for (index, value) in bits.enumerated() {
        total &+= value &* (2 &* UInt64(index) &+ 1)
    }
    return total
}

private func seedSequence(_ text: String) throws -> SeedSequence {
    guard let sequence = SeedSequence(decimalSeed: text) else { throw NumpyFixtureError.malformed(text) }
    return sequence
}

// MARK: - Replaying one operation

private func integerResults<T: NumpyInteger>(
    _: T.Type, _ operation: NumpyStreamsFixture.Operation, _ rng: inout RandomGenerator
) throws -> [String] {
    let low = try parse(operation.low, as: T.self)
    let high = try parse(operation.high, as: T.self)
    let values: [T]
    if operation.endpoint == true {
        values = operation.count.map { rng.integers(in: low...high, count: $0) } ?? [rng.integers(in: low...high)]
    } else {
        values = operation.count.map { rng.integers(in: low..<high, count: $0) } ?? [rng.integers(in: low..<high)]
    }
    return values.map { String($0) }
}

private func integerResults(
    _ operation: NumpyStreamsFixture.Operation, _ rng: inout RandomGenerator
) throws -> [String] {
    switch operation.dtype {
    case "int64": return try integerResults(Int64.self, operation, &rng)
    case "int32": return try integerResults(Int32.self, operation, &rng)
    case "int16": return try integerResults(Int16.self, operation, &rng)
    case "int8": return try integerResults(Int8.self, operation, &rng)
    case "uint64": return try integerResults(UInt64.self, operation, &rng)
    case "uint32": return try integerResults(UInt32.self, operation, &rng)
    case "uint16": return try integerResults(UInt16.self, operation, &rng)
    case "uint8": return try integerResults(UInt8.self, operation, &rng)
    default: throw NumpyFixtureError.malformed("dtype \(operation.dtype ?? "nil")")
    }
}

private enum Outcome: Equatable {
    case integers([String])
    case doubles([UInt64])
}

/// Runs `operation` on `rng`; returns what Swift drew and what numpy drew.
private func replay(
    _ operation: NumpyStreamsFixture.Operation, _ rng: inout RandomGenerator
) throws -> (swift: Outcome, numpy: Outcome) {
    let count = operation.count
    func doubles(_ values: [Double]) throws -> (Outcome, Outcome) {
        (.doubles(bitPatterns(values)), .doubles(try expectedBits(operation.result)))
    }
    switch operation.op {
    case "raw":
        let values = (0..<(count ?? 1)).map { _ in rng.bitGenerator.nextUInt64() }
        return (.integers(values.map { String($0) }), .integers(operation.result))
    case "random":
        return try doubles(count.map { rng.random(count: $0) } ?? [rng.random()])
    case "uniform":
        let low = try parse(operation.low, as: Double.self)
        let high = try parse(operation.high, as: Double.self)
        return try doubles(
            count.map { rng.uniform(low: low, high: high, count: $0) } ?? [rng.uniform(low: low, high: high)])
    case "uniform_arrays":
        let lows = try parseAll(operation.lows, as: Double.self)
        let highs = try parseAll(operation.highs, as: Double.self)
        return try doubles(rng.uniform(low: lows, high: highs))
    case "integers":
        return (.integers(try integerResults(operation, &rng)), .integers(operation.result))
    case "choice":
        let population = try parseAll(operation.population, as: Int64.self)
        return (.integers([String(rng.choice(from: population))]), .integers(operation.result))
    case "choice_p":
        let probabilities = try parseAll(operation.probabilities, as: Double.self)
        let values =
            count.map { rng.choice(probabilities: probabilities, count: $0) }
            ?? [rng.choice(probabilities: probabilities)]
        return (.integers(values.map { String($0) }), .integers(operation.result))
    case "normal":
        let loc = try parse(operation.loc, as: Double.self)
        let scale = try parse(operation.scale, as: Double.self)
        return try doubles(
            count.map { rng.normal(loc: loc, scale: scale, count: $0) } ?? [rng.normal(loc: loc, scale: scale)])
    case "standard_normal":
        return try doubles(count.map { rng.standardNormal(count: $0) } ?? [rng.standardNormal()])
    case "exponential":
        let scale = try parse(operation.scale, as: Double.self)
        return try doubles(count.map { rng.exponential(scale: scale, count: $0) } ?? [rng.exponential(scale: scale)])
    case "standard_exponential":
        return try doubles(count.map { rng.standardExponential(count: $0) } ?? [rng.standardExponential()])
    case "normal_checksum", "exponential_checksum":
        let values =
            operation.op == "normal_checksum"
            ? rng.standardNormal(count: count ?? 0) : rng.standardExponential(count: count ?? 0)
        let bits = bitPatterns(values)
        let last = try parse(operation.result[1], as: Double.self).bitPattern
        return (
            .integers([String(weightedBitSum(bits)), String(bits.last ?? 0)]),
            .integers([operation.result[0], String(last)])
        )
    case "integers_checksum":
        let fullRange = NumpyStreamsFixture.Operation(
            op: "integers", count: count, low: operation.low, high: operation.high, dtype: operation.dtype,
            endpoint: false, lows: nil, highs: nil, population: nil, probabilities: nil, loc: nil, scale: nil,
            result: [])
        let values = try integerResults(fullRange, &rng)
        // Bit patterns of the values as int64, as the script sums them.
        let bits = try values.map { text -> UInt64 in
            if let signed = Int64(text) { return UInt64(bitPattern: signed) }
            return try parse(text, as: UInt64.self)
        }
        return (
            .integers([String(weightedBitSum(bits)), values.last ?? ""]),
            .integers(operation.result)
        )
    default:
        throw NumpyFixtureError.malformed("operation \(operation.op)")
    }
}

// MARK: - Tests

private let fixture = Result { try NumpyStreamsFixture.load() }

@Suite("numpy random streams")
struct RandomTests {
    @Test func fixtureLoads() throws {
        let loaded = try fixture.get()
        #expect(loaded.seeds.count >= 10)
        #expect(loaded.streams.count >= 20)
    }

    @Test("SeedSequence and PCG64 seeding", arguments: try fixture.get().seeds)
    func seeding(_ entry: NumpyStreamsFixture.SeedEntry) throws {
        let sequence = try seedSequence(entry.seed)
        #expect(sequence.entropy.map { String($0) } == entry.entropy_words)
        #expect(sequence.entropyDescription == entry.seed)
        #expect(sequence.pool.map { String($0) } == entry.pool)
        #expect(sequence.generateState64(count: 4).map { String($0) } == entry.state64)
        #expect(sequence.generateState32(count: 8).map { String($0) } == entry.state32)

        var bitGenerator = PCG64(sequence)
        #expect(String(bitGenerator.state) == entry.pcg_state)
        #expect(String(bitGenerator.increment) == entry.pcg_inc)
        #expect((0..<entry.raw.count).map { _ in String(bitGenerator.nextUInt64()) } == entry.raw)

        // The other ways in give the same sequence.
        if let small = UInt64(entry.seed) {
            #expect(SeedSequence(seed: small) == sequence)
            #expect(SeedSequence(exactly: small) == sequence)
            #expect(PCG64(seed: small) == PCG64(sequence))
            #expect(RandomGenerator(seed: small) == RandomGenerator(sequence))
        }
        if let big = UInt128(entry.seed) {
            #expect(SeedSequence(exactly: big) == sequence)
        }
        let words = try parseAll(entry.entropy_words, as: UInt32.self)
        #expect(SeedSequence(entropy: words) == sequence)
    }

    @Test("numpy Generator streams", arguments: try fixture.get().streams)
    func stream(_ stream: NumpyStreamsFixture.Stream) throws {
        var rng = RandomGenerator(try seedSequence(stream.seed))
        for (index, operation) in stream.ops.enumerated() {
            let (swift, numpy) = try replay(operation, &rng)
            #expect(swift == numpy, "operation \(index): \(operation.op) \(operation.dtype ?? "")")
            if swift != numpy { return }  // everything after is off too
        }
        let state = rng.bitGenerator
        #expect(String(state.state) == stream.final_state.state)
        #expect(String(state.increment) == stream.final_state.inc)
        #expect((state.hasUInt32 ? "1" : "0") == stream.final_state.has_uint32)
        #expect(String(state.bufferedUInt32) == stream.final_state.uinteger)
    }

    @Test func negativeSeedsAreRefused() {
        #expect(SeedSequence(exactly: -1) == nil)
        #expect(SeedSequence(exactly: Int.min) == nil)
        #expect(SeedSequence(exactly: 0) == SeedSequence(seed: 0))
        #expect(SeedSequence(decimalSeed: "-3") == nil)
        #expect(SeedSequence(decimalSeed: "") == nil)
        #expect(SeedSequence(decimalSeed: "12a") == nil)
        #expect(SeedSequence(decimalSeed: "0042") == SeedSequence(seed: 42))
    }

    @Test func entropyFromTheSystemDiffers() {
        let first = SeedSequence()
        let second = SeedSequence()
        #expect(first.pool.count == SeedSequence.poolSize)
        #expect(!first.entropy.isEmpty && first.entropy.count <= 4)
        #expect(first != second)
        // Seeding again from the reported entropy reproduces the stream, as numpy's
        // SeedSequence(sq.entropy) does.
        var fresh = RandomGenerator(first)
        var replayed = RandomGenerator(SeedSequence(decimalSeed: first.entropyDescription)!)
        #expect(fresh.random(count: 4) == replayed.random(count: 4))
        var unseeded = RandomGenerator.fromEntropy()
        #expect((0.0..<1.0).contains(unseeded.random()))
    }

    @Test func copiesForkTheStream() {
        var original = RandomGenerator(seed: 7)
        _ = original.integers(in: 0..<3)  // leaves half a 64-bit draw in the buffer
        var copy = original
        #expect(original.integers(in: 0..<1000, count: 5) == copy.integers(in: 0..<1000, count: 5))
        #expect(original.bitGenerator == copy.bitGenerator)
    }

    @Test func numpyPositionalFormsMatchRanges() {
        var positional = RandomGenerator(seed: 11)
        var ranged = positional
        #expect(positional.integers(13) == ranged.integers(in: 0..<13))
        #expect(positional.integers(-4, 9) == ranged.integers(in: -4..<9))
        #expect(positional.integers(Int8(0), Int8(2)) == ranged.integers(in: Int8(0)..<Int8(2)))
        let deck: ArraySlice<Int> = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10][1...]
        #expect(positional.choice(from: deck) == deck[deck.startIndex + ranged.choice(deck.count)])
        #expect(positional == ranged)
        var unseeded = RandomGenerator()
        #expect((0.0..<1.0).contains(unseeded.random()))
    }

    @Test func singleValueRangesDoNotDraw() {
        var rng = RandomGenerator(seed: 3)
        let before = rng.bitGenerator
        #expect(rng.integers(in: 5..<6) == 5)
        #expect(rng.integers(in: Int8(-4)...Int8(-4), count: 3) == [-4, -4, -4])
        #expect(rng.choice(1) == 0)
        #expect(rng.bitGenerator == before)
    }
}
