/// An RGB8 frame buffer: `width` x `height` pixels, row-major from the top-left corner, three
/// bytes (red, green, blue) per pixel, rows packed without padding.
///
/// `Canvas` is a value type; copies share storage until one of them is written. Drawing
/// (polygons, circles, lines, text) lives in extensions; every drawing call clips to the frame,
/// so shapes partly or wholly outside it are fine.
public struct Canvas: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// The pixels, `width * height * 3` bytes.
    public private(set) var pixels: [UInt8]

    /// Bytes per row, `width * 3`.
    @inlinable public var bytesPerRow: Int { width * 3 }

    /// A canvas filled with `background`. Negative sizes are taken as zero.
    public init(width: Int, height: Int, background: RGBColor = .white) {
        self.width = max(0, width)
        self.height = max(0, height)
        let count = self.width * self.height * 3
        if background.red == background.green && background.green == background.blue {
            pixels = [UInt8](repeating: background.red, count: count)
        } else {
            pixels = [UInt8](repeating: 0, count: count)
            fill(background)
        }
    }

    /// A canvas over existing RGB8 bytes, or nil when `pixels.count != width * height * 3`.
    public init?(width: Int, height: Int, pixels: [UInt8]) {
        guard width >= 0, height >= 0, pixels.count == width * height * 3 else { return nil }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// Whether `(x, y)` names a pixel of the frame.
    @inlinable public func contains(x: Int, y: Int) -> Bool {
        x >= 0 && y >= 0 && x < width && y < height
    }

    /// The pixel at column `x`, row `y` (row 0 at the top). Reading or writing outside the frame is
    /// a programming error; use `pixel(x:y:)` for a checked read.
    public subscript(x: Int, y: Int) -> RGBColor {
        get {
            precondition(contains(x: x, y: y), "pixel (\(x), \(y)) outside a \(width)x\(height) canvas")
            let i = (y * width + x) * 3
            return RGBColor(pixels[i], pixels[i + 1], pixels[i + 2])
        }
        set {
            precondition(contains(x: x, y: y), "pixel (\(x), \(y)) outside a \(width)x\(height) canvas")
            let i = (y * width + x) * 3
            pixels[i] = newValue.red
            pixels[i + 1] = newValue.green
            pixels[i + 2] = newValue.blue
        }
    }

    /// The pixel at `(x, y)`, or nil outside the frame.
    public func pixel(x: Int, y: Int) -> RGBColor? {
        contains(x: x, y: y) ? self[x, y] : nil
    }

    /// Paints every pixel `color`.
    public mutating func fill(_ color: RGBColor) {
        fillPixels(x: 0, y: 0, width: width, height: height, color: color)
    }

    /// Paints the pixel-aligned rectangle of columns `x..<x+width` and rows `y..<y+height`
    /// `color`, without anti-aliasing; the part outside the frame is ignored.
    public mutating func fillPixels(x: Int, y: Int, width w: Int, height h: Int, color: RGBColor) {
        let x0 = max(0, x)
        let y0 = max(0, y)
        let (xEnd, xOverflow) = x.addingReportingOverflow(max(0, w))
        let (yEnd, yOverflow) = y.addingReportingOverflow(max(0, h))
        let x1 = xOverflow ? width : min(width, xEnd)
        let y1 = yOverflow ? height : min(height, yEnd)
        guard x0 < x1, y0 < y1 else { return }
        let stride = bytesPerRow
        let (r, g, b) = (color.red, color.green, color.blue)
        pixels.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            // Paint the first row, then copy it into the others.
            let first = base + y0 * stride + x0 * 3
            var p = first
            for _ in x0..<x1 {
                p[0] = r
                p[1] = g
                p[2] = b
                p += 3
            }
            let rowBytes = (x1 - x0) * 3
            var row = first + stride
            for _ in (y0 + 1)..<max(y0 + 1, y1) {
                row.update(from: first, count: rowBytes)
                row += stride
            }
        }
    }

    /// Lays `color` over the pixel at `(x, y)` with `coverage` (0...1); outside the frame, nothing.
    public mutating func blendPixel(x: Int, y: Int, color: RGBColor, coverage: Double) {
        guard contains(x: x, y: y), coverage > 0 else { return }
        let alpha = UInt32(min(coverage, 1) * 255 + 0.5)
        let i = (y * width + x) * 3
        pixels.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            Canvas.blend(base + i, color, alpha)
        }
    }

    /// Mirrors the frame top to bottom (what pygame's `transform.flip(surface, False, True)` does).
    public mutating func flipVertically() {
        let stride = bytesPerRow
        guard height > 1, stride > 0 else { return }
        pixels.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: stride) { scratch in
                guard let tmp = scratch.baseAddress else { return }
                var top = 0
                var bottom = height - 1
                while top < bottom {
                    let a = base + top * stride
                    let b = base + bottom * stride
                    tmp.update(from: a, count: stride)
                    a.update(from: b, count: stride)
                    b.update(from: tmp, count: stride)
                    top += 1
                    bottom -= 1
                }
            }
        }
    }

    /// Calls `body` with the raw RGB8 bytes (row-major, `bytesPerRow` bytes per row).
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try pixels.withUnsafeBytes(body)
    }

    /// Calls `body` with the raw RGB8 bytes, writable in place.
    public mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try pixels.withUnsafeMutableBytes(body)
    }

    /// `dst = dst + (color - dst) * alpha / 255`, rounded; `alpha` in 0...255.
    @inline(__always)
    static func blend(_ dst: UnsafeMutablePointer<UInt8>, _ color: RGBColor, _ alpha: UInt32) {
        let inverse = 255 - alpha
        dst[0] = div255(UInt32(dst[0]) * inverse + UInt32(color.red) * alpha)
        dst[1] = div255(UInt32(dst[1]) * inverse + UInt32(color.green) * alpha)
        dst[2] = div255(UInt32(dst[2]) * inverse + UInt32(color.blue) * alpha)
    }

    /// `value / 255` rounded to nearest, exact for `value` in 0...65025.
    @inline(__always)
    static func div255(_ value: UInt32) -> UInt8 {
        let v = value &+ 128
        return UInt8(truncatingIfNeeded: (v &+ (v >> 8)) >> 8)
    }
}
