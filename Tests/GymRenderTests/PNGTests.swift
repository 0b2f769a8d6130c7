import Testing

@testable import GymRender

@Suite("PNG")
struct PNGTests {
    /// A canvas with some of everything: flat areas, gradients, noise.
    static func sampleCanvas(width: Int = 37, height: Int = 23) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        var state: UInt32 = 12345
        for y in 0..<height {
            for x in 0..<width {
                state = state &* 1_103_515_245 &+ 12345
                let noise = UInt8(truncatingIfNeeded: state >> 16)
                canvas[x, y] = x < width / 3 ? RGBColor(200, 10, 30) : RGBColor(UInt8(x * 5 % 256), UInt8(y * 9 % 256), noise)
            }
        }
        return canvas
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    @Test(arguments: [
        PNGEncoder(), PNGEncoder(compressionLevel: 1, filter: .none, strategy: .default),
        PNGEncoder(compressionLevel: 9, filter: .adaptive, strategy: .filtered),
        PNGEncoder(compressionLevel: 0, filter: .up, strategy: .huffmanOnly),
        PNGEncoder(compressionLevel: 6, filter: .fastAdaptive, strategy: .runLength),
    ])
    func roundTripIsLossless(encoder: PNGEncoder) throws {
        let canvas = Self.sampleCanvas()
        let bytes = try encoder.encode(canvas)
        #expect(Array(bytes.prefix(8)) == Self.signature)
        let decoded = try PNGDecoder.decode(bytes)
        #expect(decoded == canvas)
    }

    @Test func frameSizedRoundTrip() throws {
        var canvas = Canvas(width: 600, height: 400)
        canvas.fillCircle(center: Point(300, 200), radius: 120, color: RGBColor(202, 152, 101))
        let bytes = try canvas.pngData()
        #expect(bytes.count < 20_000)  // flat frames compress well even at level 1
        #expect(try PNGDecoder.decode(bytes) == canvas)
    }

    @Test func singlePixelRoundTrip() throws {
        var canvas = Canvas(width: 1, height: 1)
        canvas[0, 0] = RGBColor(1, 2, 3)
        #expect(try PNGDecoder.decode(canvas.pngData()) == canvas)
    }

    @Test func encodingAnEmptyCanvasThrows() {
        #expect(throws: PNGError.emptyImage) { try Canvas(width: 0, height: 5).pngData() }
    }

    @Test func garbageIsRejected() {
        #expect(throws: PNGError.self) { try PNGDecoder.decode([]) }
        #expect(throws: PNGError.self) { try PNGDecoder.decode([1, 2, 3, 4, 5]) }
        #expect(throws: PNGError.self) { try PNGDecoder.decode(Array("not a png at all, just text".utf8)) }
        #expect(throws: PNGError.self) { try PNGDecoder.decode(Self.signature) }
    }

    @Test func truncatedAndCorruptedFilesAreRejected() throws {
        let bytes = try Self.sampleCanvas().pngData()
        for length in [9, 20, 33, bytes.count / 2, bytes.count - 13] {
            #expect(throws: PNGError.self) { try PNGDecoder.decode(Array(bytes.prefix(length))) }
        }
        var corrupted = bytes
        for i in stride(from: 60, to: corrupted.count - 20, by: 7) { corrupted[i] ^= 0x5A }
        #expect(throws: PNGError.self) { try PNGDecoder.decode(corrupted) }
        // Every error explains itself.
        do {
            _ = try PNGDecoder.decode(Array(bytes.prefix(40)))
        } catch {
            #expect(!error.description.isEmpty)
        }
    }

    @Test func oversizedImagesAreRefusedBeforeDecoding() throws {
        let bytes = try Self.sampleCanvas(width: 50, height: 40).pngData()
        #expect(throws: PNGError.tooLarge(width: 50, height: 40)) { try PNGDecoder.decode(bytes, maxPixels: 1999) }
        #expect(try PNGDecoder.decode(bytes, maxPixels: 2000).width == 50)
    }

    @Test func alphaIsCompositedOverTheBackground() throws {
        // A 2x1 RGBA image: opaque red, then fully transparent.
        let png = MinimalPNG.rgba(width: 2, height: 1, pixels: [255, 0, 0, 255, 0, 255, 0, 0])
        let onBlack = try PNGDecoder.decode(png)
        #expect(onBlack[0, 0] == RGBColor(255, 0, 0))
        #expect(onBlack[1, 0] == .black)
        let onBlue = try PNGDecoder.decode(png, background: RGBColor(0, 0, 255))
        #expect(onBlue[1, 0] == RGBColor(0, 0, 255))
    }

    @Test func grayImagesAreExpanded() throws {
        let png = MinimalPNG.image(width: 2, height: 1, colorType: 0, channels: 1, pixels: [0, 200])
        let decoded = try PNGDecoder.decode(png)
        #expect(decoded[0, 0] == .black)
        #expect(decoded[1, 0] == RGBColor(200, 200, 200))
    }
}

/// Builds tiny PNG files by hand (stored, uncompressed deflate), to feed the decoder formats our
/// encoder never writes.
enum MinimalPNG {
    static func rgba(width: Int, height: Int, pixels: [UInt8]) -> [UInt8] {
        image(width: width, height: height, colorType: 6, channels: 4, pixels: pixels)
    }

    static func image(width: Int, height: Int, colorType: UInt8, channels: Int, pixels: [UInt8]) -> [UInt8] {
        var raw: [UInt8] = []
        for y in 0..<height {
            raw.append(0)  // filter: none
            raw.append(contentsOf: pixels[(y * width * channels)..<((y + 1) * width * channels)])
        }
        // zlib stream with one stored block.
        var zlib: [UInt8] = [0x78, 0x01, 0x01]
        let length = UInt16(raw.count)
        zlib += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8(~length >> 8)]
        zlib += raw
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in raw {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        zlib += bigEndian((b << 16) | a)
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, colorType, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib)
            + chunk("IEND", [])
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc32(typeBytes + data))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 {
                crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
            }
        }
        return ~crc
    }
}
