import Foundation
import Testing

@testable import GymRender

/// The fast PNG path (`FastDeflate` + `PNGEncoder(compression: .fastDeflate)`): its streams are
/// checked by libpng (decoding the PNG) and by an independent strict inflater below (structure,
/// Huffman codes complete, Adler-32), on synthetic images built to reach every branch.
/// The scenes' frames are round-tripped in GymEnvsTests (`ScenePNGRoundTrip`).
@Suite("FastDeflate")
struct FastDeflateTests {
    // MARK: - Helpers

    /// A small deterministic generator (SplitMix64).
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next() >> 32) }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
        mutating func color() -> RGBColor { RGBColor(byte(), byte(), byte()) }
    }

    static func noise(width: Int, height: Int, seed: UInt64) -> Canvas {
        var generator = Generator(state: seed)
        let pixels = (0..<(width * height * 3)).map { _ in generator.byte() }
        return Canvas(width: width, height: height, pixels: pixels) ?? Canvas(width: 0, height: 0)
    }

    /// Flat rectangles, a few noisy pixels and duplicated rows: what frames look like, at random.
    static func structured(width: Int, height: Int, seed: UInt64) -> Canvas {
        var generator = Generator(state: seed)
        var canvas = Canvas(width: width, height: height, background: generator.color())
        for _ in 0..<generator.below(6) {
            canvas.fillPixels(
                x: generator.below(width) - 2, y: generator.below(height) - 2, width: generator.below(width + 1),
                height: generator.below(height + 1), color: generator.color())
        }
        for _ in 0..<generator.below(width * height / 8 + 1) {
            canvas[generator.below(width), generator.below(height)] = generator.color()
        }
        if height > 2 {
            // Copy a row over a later one, so identical-row runs start mid-image.
            let from = generator.below(height - 1)
            let to = from + 1 + generator.below(height - from - 1)
            for x in 0..<width { canvas[x, to] = canvas[x, from] }
        }
        if width > 8 && generator.below(2) == 0 {
            canvas.fillCircle(
                center: Point(Double(generator.below(width)), Double(generator.below(height))),
                radius: Double(1 + generator.below(width)), color: generator.color())
        }
        return canvas
    }

    /// The PNG image data (filter byte 0 + row, per row) of `canvas`.
    static func scanlines(_ canvas: Canvas) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(canvas.height * (canvas.bytesPerRow + 1))
        for y in 0..<canvas.height {
            out.append(0)
            out.append(contentsOf: canvas.pixels[(y * canvas.bytesPerRow)..<((y + 1) * canvas.bytesPerRow)])
        }
        return out
    }

    static func compress(_ canvas: Canvas, _ options: FastDeflate.Options = .init()) -> [UInt8] {
        canvas.withUnsafeBytes { raw in
            guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
            return FastDeflate.compressScanlines(
                base, rowBytes: canvas.bytesPerRow, stride: canvas.bytesPerRow, height: canvas.height,
                options: options)
        }
    }

    static func referenceAdler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in bytes {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        return b << 16 | a
    }

    /// Checks both decoders on `canvas` compressed with `options`: the strict inflater must give the
    /// scanlines back, and the PNG written from the stream must decode through libpng to `canvas`.
    static func expectRoundTrip(
        _ canvas: Canvas, _ options: FastDeflate.Options = .init(), sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let stream = compress(canvas, options)
        let inflated = try StrictInflater.zlibDecompress(stream)
        #expect(inflated == scanlines(canvas), "inflated scanlines differ", sourceLocation: sourceLocation)
        if options == .init() {
            let png = try PNGEncoder().encode(canvas)
            #expect(try PNGDecoder.decode(png) == canvas, "libpng decodes other pixels", sourceLocation: sourceLocation)
        }
    }

    // MARK: - Round trips

    @Test func singlePixel() throws {
        var canvas = Canvas(width: 1, height: 1)
        canvas[0, 0] = RGBColor(1, 2, 3)
        try Self.expectRoundTrip(canvas)
        try Self.expectRoundTrip(Canvas(width: 1, height: 1, background: .black))
    }

    @Test(arguments: [(1, 1), (1, 50), (2, 2), (3, 7), (600, 400), (256, 1), (7, 300)])
    func singleColour(width: Int, height: Int) throws {
        for color in [RGBColor.white, .black, RGBColor(12, 200, 77), RGBColor(0, 0, 1)] {
            try Self.expectRoundTrip(Canvas(width: width, height: height, background: color))
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 9, 13, 31, 85, 86, 87, 101, 257, 599])
    func oddWidths(width: Int) throws {
        for seed in 0..<3 {
            try Self.expectRoundTrip(Self.structured(width: width, height: 1 + (width * 7 + seed * 5) % 23, seed: UInt64(seed)))
        }
        try Self.expectRoundTrip(Self.noise(width: width, height: 3, seed: UInt64(width)))
    }

    @Test func randomNoise() throws {
        // Incompressible: the encoder must fall back to stored blocks (and more than one of them).
        let canvas = Self.noise(width: 200, height: 150, seed: 42)
        let stream = Self.compress(canvas)
        #expect(stream.count <= 2 + canvas.height * (canvas.bytesPerRow + 1) + 5 * 2 + 4)
        try Self.expectRoundTrip(canvas)
    }

    @Test func randomStructuredImages() throws {
        var generator = Generator(state: 7)
        for seed in 0..<150 {
            let width = 1 + generator.below(90)
            let height = 1 + generator.below(40)
            try Self.expectRoundTrip(Self.structured(width: width, height: height, seed: UInt64(seed)))
        }
    }

    @Test func identicalRows() throws {
        // Long runs of identical rows, textured (so only matches against the row above fit), then a
        // change, then identical again; a first row that is all literals.
        var generator = Generator(state: 3)
        let width = 97
        var pattern = (0..<(width * 3)).map { _ in generator.byte() }
        var pixels: [UInt8] = []
        for y in 0..<60 {
            if y == 20 || y == 21 || y == 40 { pattern[generator.below(pattern.count)] ^= 0x55 }
            pixels += pattern
        }
        let canvas = try #require(Canvas(width: width, height: 60, pixels: pixels))
        try Self.expectRoundTrip(canvas)
        // Far smaller than the 17 KB of pixels: the repeated rows cost a few bytes each.
        #expect(Self.compress(canvas).count < 2 * 3 * width + 60 * 16)
    }

    @Test func runsCrossingRowBoundaries() throws {
        // One colour everywhere except a pixel at the start or end of some rows: runs that would
        // continue across the filter byte, matches ending exactly at the row end.
        var canvas = Canvas(width: 50, height: 30, background: RGBColor(9, 8, 7))
        for y in stride(from: 0, to: 30, by: 3) { canvas[49, y] = .white }
        for y in stride(from: 1, to: 30, by: 4) { canvas[0, y] = .black }
        canvas[1, 5] = .black
        canvas[48, 7] = .black
        try Self.expectRoundTrip(canvas)
        // Rows of 86 pixels (258 bytes, one longest match) and 87 (259 + filter byte).
        for width in [86, 87, 172] {
            var wide = Canvas(width: width, height: 9, background: .white)
            wide[width - 1, 4] = .black
            wide[0, 6] = .black
            try Self.expectRoundTrip(wide)
        }
    }

    @Test func rowsLongerThanTheWindowFallBack() throws {
        // 11,000 pixels: 33,001-byte scanlines are beyond deflate's 32 KB distance.
        let width = 11_000
        var canvas = Canvas(width: width, height: 4, background: .white)
        canvas.fillPixels(x: 100, y: 0, width: 5000, height: 4, color: RGBColor(200, 30, 30))
        var generator = Generator(state: 9)
        for x in 0..<300 { canvas[7000 + x, 1] = generator.color() }
        for x in 0..<300 { canvas[7000 + x, 2] = canvas[7000 + x, 1] }  // row 2 = row 1
        try Self.expectRoundTrip(canvas)
        // 10,922 pixels: 32,767-byte scanlines, just inside the window.
        var edge = Canvas(width: 10_922, height: 3, background: .black)
        for x in stride(from: 0, to: 10_922, by: 7) { edge[x, 0] = RGBColor(UInt8(x % 251), 3, 4) }
        for x in stride(from: 0, to: 10_922, by: 7) { edge[x, 1] = edge[x, 0] }
        for x in stride(from: 0, to: 10_922, by: 7) { edge[x, 2] = edge[x, 0] }
        try Self.expectRoundTrip(edge)
        let stream = Self.compress(edge)
        #expect(stream.count < 32_768 / 2)  // rows 1 and 2 are matches against the row above
    }

    @Test(arguments: FastDeflate.BlockType.allCases)
    func everyBlockType(_ blockType: FastDeflate.BlockType) throws {
        var generator = Generator(state: 11)
        for seed in 0..<20 {
            let canvas = Self.structured(width: 1 + generator.below(70), height: 1 + generator.below(30), seed: UInt64(seed))
            try Self.expectRoundTrip(canvas, .init(blockType: blockType))
            try Self.expectRoundTrip(canvas, .init(blockType: blockType, rowMatches: false))
            try Self.expectRoundTrip(canvas, .init(blockType: blockType, minimumRowMatch: 3))
        }
        try Self.expectRoundTrip(Self.noise(width: 120, height: 200, seed: 5), .init(blockType: blockType))
    }

    @Test func automaticPicksTheSmallest() {
        for seed in 0..<30 {
            let canvas = Self.structured(width: 40, height: 20, seed: UInt64(seed))
            let sizes = [FastDeflate.BlockType.stored, .fixed, .dynamic].map { Self.compress(canvas, .init(blockType: $0)).count }
            #expect(Self.compress(canvas).count == sizes.min())
        }
    }

    // MARK: - PNG container

    @Test func pngChunksAreWellFormed() throws {
        let canvas = Self.structured(width: 64, height: 48, seed: 1)
        let fast = try PNGEncoder().encode(canvas)
        let zlib = try PNGEncoder(compression: .zlib()).encode(canvas)
        let fastChunks = try Self.chunks(fast)
        let zlibChunks = try Self.chunks(zlib)
        #expect(fastChunks.map(\.type) == ["IHDR", "IDAT", "IEND"])
        // Same header as libpng's own path.
        #expect(fastChunks.first?.data == zlibChunks.first?.data)
        #expect(fastChunks.last?.data == [])
        #expect(fastChunks[1].data == Self.compress(canvas))
        #expect(try PNGDecoder.decode(fast) == PNGDecoder.decode(zlib))
    }

    /// The chunks of a PNG, checking signature, lengths and CRCs.
    static func chunks(_ png: [UInt8]) throws -> [(type: String, data: [UInt8])] {
        struct Malformed: Error {}
        guard png.count >= 8, Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            throw Malformed()
        }
        var result: [(String, [UInt8])] = []
        var i = 8
        while i < png.count {
            guard i + 12 <= png.count else { throw Malformed() }
            let length = png[i..<(i + 4)].reduce(0) { $0 << 8 | Int($1) }
            guard i + 12 + length <= png.count else { throw Malformed() }
            let typeAndData = Array(png[(i + 4)..<(i + 8 + length)])
            let crc = png[(i + 8 + length)..<(i + 12 + length)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard crc == crc32(typeAndData) else { throw Malformed() }
            result.append((String(decoding: typeAndData[0..<4], as: UTF8.self), Array(typeAndData[4...])))
            i += 12 + length
        }
        return result
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func encoderAPI() throws {
        #expect(PNGEncoder().compression == .fastDeflate)
        #expect(PNGEncoder(compressionLevel: 6).compression == .zlib(level: 6, filter: .none, strategy: .default, memoryLevel: 4))
        let canvas = Self.structured(width: 30, height: 30, seed: 2)
        #expect(try canvas.pngData() == PNGEncoder().encode(canvas))
        for level in [-3, 0, 1, 9, 12] {
            let bytes = try PNGEncoder(compression: .zlib(level: level, memoryLevel: level)).encode(canvas)
            #expect(try PNGDecoder.decode(bytes) == canvas)
        }
    }

    // MARK: - Adler-32

    @Test func blockSumsMatchAReferenceAdler32() {
        var generator = Generator(state: 77)
        let lengths = [0, 1, 2, 3, 15, 16, 17, 31, 32, 33, 351, 352, 353, 1000, 4095, 4096, 4097, 5552, 5553, 20_000, 100_003]
        for length in lengths {
            let bytes: [UInt8] = (0..<length).map { _ in length % 3 == 0 ? 255 : generator.byte() }
            let (s, w) = bytes.withUnsafeBufferPointer { buffer in
                FastDeflate.blockSums(buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!, count: length)
            }
            // Appending to a stream at (1, 0): (1 + s, count + w).
            let a = (1 + s) % 65521
            let b = UInt32((UInt64(length) % 65521 + UInt64(w)) % 65521)
            #expect(b << 16 | a == Self.referenceAdler32(bytes), "length \(length)")
            #expect(bytes.withUnsafeBytes { FastDeflate.referenceAdler32($0) } == Self.referenceAdler32(bytes))
        }
    }

    @Test func periodicSumsMatchDirectSums() {
        for n in 3...300 {
            let c: [UInt8] = [UInt8(n % 256), 255, UInt8((n * 7) % 256)]
            let (s, w) = FastDeflate.periodicSums(c[0], c[1], c[2], count: n)
            var directS: UInt64 = 0
            var directW: UInt64 = 0
            for i in 0..<n {
                directS += UInt64(c[i % 3])
                directW += UInt64(n - i) * UInt64(c[i % 3])
            }
            #expect(s == directS && w == directW, "n \(n)")
        }
    }

    @Test func adlerOfWholeImagesMatchesTheReference() throws {
        // The trailer is checked by the strict inflater too; here against the plain definition,
        // for images mixing fresh and repeated rows.
        for seed in 0..<20 {
            let canvas = Self.structured(width: 3 + seed * 11, height: 2 + seed, seed: UInt64(seed) + 100)
            let stream = Self.compress(canvas)
            let trailer = stream.suffix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            #expect(trailer == Self.referenceAdler32(Self.scanlines(canvas)))
        }
    }

    // MARK: - Huffman code lengths

    @Test func codeLengthsAreLimitedAndComplete() {
        // Fibonacci frequencies make an unlimited Huffman code ~30 deep.
        var freqs = [Int](repeating: 0, count: 286)
        var (a, b) = (1, 1)
        for i in 0..<30 {
            freqs[i * 9] = a
            (a, b) = (b, a + b)
        }
        freqs[256] = 1
        for maxLength in [7, 9, 15] {
            var lengths = [UInt8](repeating: 0, count: 286)
            freqs.withUnsafeBufferPointer { f in
                lengths.withUnsafeMutableBufferPointer { l in
                    FastDeflate.buildCodeLengths(f.baseAddress!, count: 286, maxLength: maxLength, into: l.baseAddress!)
                }
            }
            #expect(lengths.allSatisfy { Int($0) <= maxLength })
            #expect(zip(freqs, lengths).allSatisfy { ($0.0 > 0) == ($0.1 > 0) })
            let kraft = lengths.reduce(0) { $1 == 0 ? $0 : $0 + (1 << (maxLength - Int($1))) }
            #expect(kraft == 1 << maxLength)
        }
        // Zero or one used symbol: still two codes of one bit.
        for used in [[Int](), [5]] {
            var f = [Int](repeating: 0, count: 30)
            for s in used { f[s] = 3 }
            var lengths = [UInt8](repeating: 9, count: 30)
            f.withUnsafeBufferPointer { fb in
                lengths.withUnsafeMutableBufferPointer { lb in
                    FastDeflate.buildCodeLengths(fb.baseAddress!, count: 30, maxLength: 15, into: lb.baseAddress!)
                }
            }
            #expect(lengths.filter { $0 == 1 }.count == 2 && lengths.filter { $0 > 1 }.isEmpty)
        }
    }

    // MARK: - Size

    @Test func sizeIsCloseToZlibLevelOne() throws {
        // A CartPole-like frame and a busier one; the scenes are compared in GymEnvsTests.
        var frame = Canvas(width: 600, height: 400)
        frame.fillPolygon([Point(262, 285), Point(312, 285), Point(312, 315), Point(262, 315)], color: .black)
        frame.fillRect(
            Rect(x: -5, y: -5, width: 10, height: 125), color: RGBColor(202, 152, 101),
            transform: Transform.rotation(0.2).then(.translation(287, 292)))
        frame.fillCircle(center: Point(287.5, 292.5), radius: 5.5, color: RGBColor(129, 132, 203))
        frame.fillPixels(x: 0, y: 299, width: 600, height: 1, color: .black)
        for canvas in [frame, Self.structured(width: 300, height: 200, seed: 5)] {
            let fast = try PNGEncoder().encode(canvas)
            let zlib = try PNGEncoder(compression: .zlib()).encode(canvas)
            print("fast-deflate size: \(canvas.width)x\(canvas.height) fast=\(fast.count) zlib-1=\(zlib.count)")
            #expect(fast.count <= 2 * zlib.count)
            #expect(try PNGDecoder.decode(fast) == canvas)
        }
    }
}

/// A strict, independent inflater for the tests (after Mark Adler's puff): zlib header, stored,
/// fixed and dynamic blocks, Huffman codes that must be complete (or a single one-bit code),
/// distances within the output, and the Adler-32 trailer.
enum StrictInflater {
    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    struct Huffman {
        var counts = [Int](repeating: 0, count: 16)
        var symbols: [Int] = []

        /// `incomplete`: only the fixed distance code (30 codes of 5 bits) may be.
        init(lengths: [Int], incomplete: Bool = false) throws {
            for length in lengths { counts[length] += 1 }
            var left = 1
            for length in 1..<16 {
                left = left * 2 - counts[length]
                if left < 0 { throw Failure("over-subscribed code") }
            }
            let used = lengths.count - counts[0]
            if left > 0 && !incomplete && !(used == 1 && counts[1] == 1) && used != 0 {
                throw Failure("incomplete code")
            }
            var offsets = [Int](repeating: 0, count: 16)
            for length in 1..<15 { offsets[length + 1] = offsets[length] + counts[length] }
            symbols = [Int](repeating: 0, count: lengths.count)
            for (symbol, length) in lengths.enumerated() where length != 0 {
                symbols[offsets[length]] = symbol
                offsets[length] += 1
            }
        }
    }

    struct Reader {
        let data: [UInt8]
        var position: Int
        var bitBuffer = 0
        var bitCount = 0

        mutating func bits(_ n: Int) throws -> Int {
            var value = bitBuffer
            while bitCount < n {
                guard position < data.count else { throw Failure("out of input") }
                value |= Int(data[position]) << bitCount
                position += 1
                bitCount += 8
            }
            bitBuffer = value >> n
            bitCount -= n
            return value & ((1 << n) - 1)
        }

        mutating func decode(_ h: Huffman) throws -> Int {
            var code = 0
            var first = 0
            var index = 0
            for length in 1..<16 {
                code |= try bits(1)
                let count = h.counts[length]
                if code - count < first { return h.symbols[index + (code - first)] }
                index += count
                first += count
                first <<= 1
                code <<= 1
            }
            throw Failure("invalid code")
        }
    }

    static let lengthBase = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097,
        6145, 8193, 12289, 16385, 24577,
    ]
    static let distanceExtra = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]

    static func zlibDecompress(_ data: [UInt8]) throws -> [UInt8] {
        guard data.count >= 6 else { throw Failure("too short") }
        guard data[0] & 0x0F == 8, data[0] >> 4 <= 7, (Int(data[0]) << 8 | Int(data[1])) % 31 == 0, data[1] & 0x20 == 0
        else { throw Failure("bad zlib header") }
        var reader = Reader(data: data, position: 2)
        var out: [UInt8] = []
        var final = 0
        repeat {
            final = try reader.bits(1)
            switch try reader.bits(2) {
            case 0:
                reader.bitBuffer = 0
                reader.bitCount = 0
                guard reader.position + 4 <= data.count else { throw Failure("out of input") }
                let length = Int(data[reader.position]) | Int(data[reader.position + 1]) << 8
                let complement = Int(data[reader.position + 2]) | Int(data[reader.position + 3]) << 8
                guard length == ~complement & 0xFFFF else { throw Failure("stored length check") }
                reader.position += 4
                guard reader.position + length <= data.count else { throw Failure("out of input") }
                out += data[reader.position..<(reader.position + length)]
                reader.position += length
            case 1:
                let literal = try Huffman(lengths: (0..<288).map { $0 < 144 ? 8 : $0 < 256 ? 9 : $0 < 280 ? 7 : 8 })
                let distance = try Huffman(lengths: [Int](repeating: 5, count: 30), incomplete: true)
                try codes(&reader, &out, literal, distance)
            case 2:
                let literalCount = try reader.bits(5) + 257
                let distanceCount = try reader.bits(5) + 1
                let codeLengthCount = try reader.bits(4) + 4
                guard literalCount <= 286, distanceCount <= 30 else { throw Failure("bad counts") }
                let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
                var codeLengthLengths = [Int](repeating: 0, count: 19)
                for i in 0..<codeLengthCount { codeLengthLengths[order[i]] = try reader.bits(3) }
                let codeLengthCode = try Huffman(lengths: codeLengthLengths)
                var lengths: [Int] = []
                while lengths.count < literalCount + distanceCount {
                    let symbol = try reader.decode(codeLengthCode)
                    switch symbol {
                    case 0..<16: lengths.append(symbol)
                    case 16:
                        guard let last = lengths.last else { throw Failure("repeat with no length") }
                        lengths += [Int](repeating: last, count: 3 + (try reader.bits(2)))
                    case 17: lengths += [Int](repeating: 0, count: 3 + (try reader.bits(3)))
                    default: lengths += [Int](repeating: 0, count: 11 + (try reader.bits(7)))
                    }
                }
                guard lengths.count == literalCount + distanceCount else { throw Failure("too many lengths") }
                guard lengths[256] != 0 else { throw Failure("no end-of-block code") }
                let literal = try Huffman(lengths: Array(lengths[0..<literalCount]))
                let distance = try Huffman(lengths: Array(lengths[literalCount...]))
                try codes(&reader, &out, literal, distance)
            default:
                throw Failure("invalid block type")
            }
        } while final == 0
        let position = reader.position
        guard position + 4 == data.count else { throw Failure("\(data.count - position - 4) bytes after the stream") }
        let trailer = data[position..<(position + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in out {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        guard trailer == b << 16 | a else { throw Failure("Adler-32 mismatch") }
        return out
    }

    static func codes(_ reader: inout Reader, _ out: inout [UInt8], _ literal: Huffman, _ distance: Huffman) throws {
        while true {
            let symbol = try reader.decode(literal)
            if symbol < 256 {
                out.append(UInt8(symbol))
            } else if symbol == 256 {
                return
            } else {
                let index = symbol - 257
                guard index < 29 else { throw Failure("bad length symbol") }
                let length = lengthBase[index] + (try reader.bits(lengthExtra[index]))
                let code = try reader.decode(distance)
                guard code < 30 else { throw Failure("bad distance symbol") }
                let dist = distanceBase[code] + (try reader.bits(distanceExtra[code]))
                guard dist <= out.count, dist <= 32768 else { throw Failure("distance too far back") }
                let start = out.count - dist
                for i in 0..<length { out.append(out[start + i]) }
            }
        }
    }
}
