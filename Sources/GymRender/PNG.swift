import CPNG

/// What went wrong encoding or decoding a PNG.
public enum PNGError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A canvas with no pixels cannot be written as a PNG.
    case emptyImage
    /// The bytes are not a PNG libpng can read; the message is libpng's.
    case invalidData(String)
    /// The image is larger than the decoder was allowed to allocate.
    case tooLarge(width: Int, height: Int)
    /// Memory ran out.
    case outOfMemory
    /// libpng refused to write the image (should not happen for a valid canvas).
    case encodingFailed

    public var description: String {
        switch self {
        case .emptyImage: "cannot encode an empty (0-pixel) image as PNG"
        case .invalidData(let message): "not a readable PNG: \(message)"
        case .tooLarge(let width, let height): "PNG of \(width)x\(height) pixels is larger than allowed"
        case .outOfMemory: "out of memory while processing a PNG"
        case .encodingFailed: "libpng failed to encode the image"
        }
    }
}

/// Writes a `Canvas` as an 8-bit RGB PNG through libpng.
///
/// Two ways to compress the image data:
///
/// - `.fastDeflate` (the default): our deflate encoder for rendered frames (`FastDeflate.swift`),
///   filter None, matches only against the previous pixel and the pixel above, identical rows
///   found with `memcmp` and coded once, a dynamic Huffman block; libpng writes the chunks.
///   Our environment frames take 0.03 to 0.1 ms of CPU each (600x400: 0.05 to 0.1 ms) and come
///   out 20 to 65% smaller than with zlib level 1.
/// - `.zlib(...)`: libpng's own filtering and zlib compression (level, filter, strategy and memory
///   level as given): 0.2 to 0.9 ms per frame at level 1, 8 to 17 times slower.
///
/// Both write the same IHDR (8-bit RGB, no interlace) and decode to the same pixels.
public struct PNGEncoder: Sendable, Hashable {
    /// The per-row prediction filter (PNG filter type; one for the whole image).
    public enum Filter: Sendable, Hashable {
        /// No prediction: fastest, larger output.
        case none
        /// Each byte predicted from the pixel to its left: nearly as fast, much smaller.
        case sub
        /// Each byte predicted from the pixel above.
        case up
        /// libpng picks per row among none, sub and up.
        case fastAdaptive
        /// libpng picks per row among all five filters (slowest, smallest).
        case adaptive

        var libpngMask: Int32 {
            switch self {
            case .none: Int32(PNG_FILTER_NONE)
            case .sub: Int32(PNG_FILTER_SUB)
            case .up: Int32(PNG_FILTER_UP)
            case .fastAdaptive: Int32(PNG_FILTER_NONE) | Int32(PNG_FILTER_SUB) | Int32(PNG_FILTER_UP)
            case .adaptive: 0xF8  // PNG_ALL_FILTERS
            }
        }
    }

    /// zlib's strategy for the compressed stream.
    public enum Strategy: Sendable, Hashable {
        /// zlib's default matching.
        case `default`
        /// Runs only (matches at distance one): very fast on flat synthetic frames.
        case runLength
        /// Tuned for filtered data.
        case filtered
        /// No matching at all, Huffman coding only.
        case huffmanOnly

        var zlibValue: Int32 {
            switch self {
            case .default: 0  // Z_DEFAULT_STRATEGY
            case .filtered: 1  // Z_FILTERED
            case .huffmanOnly: 2  // Z_HUFFMAN_ONLY
            case .runLength: 3  // Z_RLE
            }
        }
    }

    /// How the image data is compressed.
    public enum Compression: Sendable, Hashable {
        /// Our encoder for rendered frames (see the type's documentation): the default.
        case fastDeflate
        /// libpng's filtering and zlib: `level` 0 (store) ... 9 (smallest), the row `filter`,
        /// zlib's `strategy` and `memoryLevel` (1...9; zlib slides its hash table every 32 KB of
        /// input, so on a large flat frame a smaller table, 4: 2K entries instead of 8: 32K, saves
        /// about a fifth of the time at the same size). Out-of-range numbers are clamped.
        /// The defaults were the fastest zlib settings measured on our frames: the Sub filter costs
        /// more in libpng than it saves in zlib, and run-length matching leaves coloured flat areas
        /// (the toy-text grids) uncompressed and is five times slower there.
        case zlib(level: Int = 1, filter: Filter = .none, strategy: Strategy = .default, memoryLevel: Int = 4)
    }

    /// How the image data is compressed.
    public var compression: Compression

    /// An encoder; the default, `.fastDeflate`, is what the server uses for every frame.
    public init(compression: Compression = .fastDeflate) {
        self.compression = compression
    }

    /// A libpng + zlib encoder: `PNGEncoder(compression: .zlib(level:filter:strategy:memoryLevel:))`.
    public init(compressionLevel: Int, filter: Filter = .none, strategy: Strategy = .default, memoryLevel: Int = 4) {
        self.compression = .zlib(level: compressionLevel, filter: filter, strategy: strategy, memoryLevel: memoryLevel)
    }

    /// The PNG file bytes of `canvas`.
    public func encode(_ canvas: Canvas) throws(PNGError) -> [UInt8] {
        guard canvas.width > 0, canvas.height > 0 else { throw .emptyImage }
        // PNG dimensions are at most 2^31 - 1.
        guard canvas.width <= Int(Int32.max), canvas.height <= Int(Int32.max) else {
            throw .tooLarge(width: canvas.width, height: canvas.height)
        }
        switch compression {
        case .fastDeflate:
            let stream = canvas.withUnsafeBytes { raw -> [UInt8] in
                guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return [] }
                return FastDeflate.compressScanlines(
                    base, rowBytes: canvas.bytesPerRow, stride: canvas.bytesPerRow, height: canvas.height)
            }
            return try Self.file(zlibStream: stream, width: canvas.width, height: canvas.height)
        case .zlib(let level, let filter, let strategy, let memoryLevel):
            var output: UnsafeMutablePointer<UInt8>?
            var count = 0
            let status = canvas.withUnsafeBytes { raw -> Int32 in
                guard let base = raw.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
                    return GYM_PNG_BAD_ARGUMENT
                }
                return gym_png_encode_rgb8(
                    base, UInt32(canvas.width), UInt32(canvas.height), canvas.bytesPerRow, Int32(min(max(level, 0), 9)),
                    filter.libpngMask, strategy.zlibValue, Int32(min(max(memoryLevel, 1), 9)), &output, &count)
            }
            return try Self.take(status: status, output: output, count: count)
        }
    }

    /// The PNG file of a `width` x `height` 8-bit RGB image whose image data (filtered
    /// scanlines) is already compressed as the zlib stream `zlibStream`: libpng writes the
    /// signature, IHDR, the stream as IDAT chunks and IEND.
    static func file(zlibStream: [UInt8], width: Int, height: Int) throws(PNGError) -> [UInt8] {
        guard !zlibStream.isEmpty else { throw .encodingFailed }
        var output: UnsafeMutablePointer<UInt8>?
        var count = 0
        let status = zlibStream.withUnsafeBufferPointer { zdata in
            gym_png_write_rgb8_zlib(UInt32(width), UInt32(height), zdata.baseAddress, zdata.count, &output, &count)
        }
        return try take(status: status, output: output, count: count)
    }

    /// The bytes a CPNG helper returned with `status` (freeing its buffer), or the error.
    private static func take(
        status: Int32, output: UnsafeMutablePointer<UInt8>?, count: Int
    ) throws(PNGError) -> [UInt8] {
        defer { gym_png_free(output) }
        switch status {
        case GYM_PNG_OK:
            guard let output else { throw .encodingFailed }
            return [UInt8](UnsafeBufferPointer(start: output, count: count))
        case GYM_PNG_OUT_OF_MEMORY:
            throw .outOfMemory
        default:
            throw .encodingFailed
        }
    }
}

/// Reads PNG files into canvases (used by tests to load reference frames; any PNG libpng reads).
public enum PNGDecoder {
    /// The default ceiling on decoded size: 64 megapixels.
    public static let defaultMaxPixels = 1 << 26

    /// Decodes `bytes` into an RGB canvas. Gray and palette images are expanded, 16-bit samples
    /// reduced to 8 bits, and an alpha channel composited over `background`. Images with more
    /// than `maxPixels` pixels are refused before anything large is allocated.
    public static func decode(
        _ bytes: [UInt8], background: RGBColor = .black, maxPixels: Int = defaultMaxPixels
    ) throws(PNGError) -> Canvas {
        guard !bytes.isEmpty else { throw .invalidData("no data") }
        var output: UnsafeMutablePointer<UInt8>?
        var width: UInt32 = 0
        var height: UInt32 = 0
        var message = [CChar](repeating: 0, count: 128)
        let back: [UInt8] = [background.red, background.green, background.blue]
        let status = bytes.withUnsafeBufferPointer { input in
            back.withUnsafeBufferPointer { back in
                message.withUnsafeMutableBufferPointer { message in
                    gym_png_decode_rgb8(
                        input.baseAddress, input.count, UInt64(max(0, maxPixels)), back.baseAddress, &output, &width,
                        &height, message.baseAddress, message.count)
                }
            }
        }
        defer { gym_png_free(output) }
        switch status {
        case GYM_PNG_OK:
            let count = Int(width) * Int(height) * 3
            guard let output,
                let canvas = Canvas(
                    width: Int(width), height: Int(height),
                    pixels: [UInt8](UnsafeBufferPointer(start: output, count: count)))
            else { throw .invalidData("decoder returned no pixels") }
            return canvas
        case GYM_PNG_TOO_LARGE:
            throw .tooLarge(width: Int(width), height: Int(height))
        case GYM_PNG_OUT_OF_MEMORY:
            throw .outOfMemory
        default:
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw .invalidData(text.isEmpty ? "unreadable PNG" : text)
        }
    }
}

extension Canvas {
    /// This frame as PNG file bytes (`PNGEncoder()`'s fast path unless another encoder is given).
    public func pngData(encoder: PNGEncoder = PNGEncoder()) throws(PNGError) -> [UInt8] {
        try encoder.encode(self)
    }
}
