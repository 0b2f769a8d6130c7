import Testing

@testable import GymRender

@Suite("Canvas")
struct CanvasTests {
    @Test func newCanvasHasTheBackgroundEverywhere() {
        let canvas = Canvas(width: 7, height: 5, background: RGBColor(1, 2, 3))
        #expect(canvas.width == 7)
        #expect(canvas.height == 5)
        #expect(canvas.pixels.count == 7 * 5 * 3)
        #expect(canvas.bytesPerRow == 21)
        for y in 0..<5 {
            for x in 0..<7 {
                #expect(canvas[x, y] == RGBColor(1, 2, 3))
            }
        }
    }

    @Test func negativeSizesBecomeEmpty() {
        let canvas = Canvas(width: -3, height: 4)
        #expect(canvas.width == 0)
        #expect(canvas.pixels.isEmpty)
    }

    @Test func initFromPixelsChecksTheCount() {
        #expect(Canvas(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12)) != nil)
        #expect(Canvas(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 11)) == nil)
        #expect(Canvas(width: -1, height: 2, pixels: []) == nil)
    }

    @Test func pixelsAreRowMajorRGB() {
        var canvas = Canvas(width: 4, height: 3, background: .black)
        canvas[2, 1] = RGBColor(10, 20, 30)
        let offset = (1 * 4 + 2) * 3
        #expect(Array(canvas.pixels[offset..<offset + 3]) == [10, 20, 30])
        #expect(canvas.pixel(x: 2, y: 1) == RGBColor(10, 20, 30))
        #expect(canvas.pixel(x: 4, y: 0) == nil)
        #expect(canvas.pixel(x: -1, y: 0) == nil)
    }

    @Test func fillPaintsEverything() {
        var canvas = Canvas(width: 3, height: 2)
        canvas.fill(RGBColor(9, 8, 7))
        #expect(canvas.pixels == Array(repeating: [9, 8, 7] as [UInt8], count: 6).flatMap { $0 })
    }

    @Test func fillPixelsClipsToTheFrame() {
        var canvas = Canvas(width: 10, height: 10, background: .white)
        canvas.fillPixels(x: -5, y: 8, width: 8, height: 10, color: .black)
        for y in 0..<10 {
            for x in 0..<10 {
                let inside = x < 3 && y >= 8
                #expect(canvas[x, y] == (inside ? .black : .white), "pixel \(x),\(y)")
            }
        }
        // Wholly outside, empty and absurd rectangles change nothing and do not trap.
        let before = canvas
        canvas.fillPixels(x: 20, y: 0, width: 5, height: 5, color: .black)
        canvas.fillPixels(x: 0, y: 0, width: 0, height: 5, color: .black)
        canvas.fillPixels(x: 0, y: 0, width: -4, height: 5, color: .black)
        canvas.fillPixels(x: Int.max - 1, y: Int.min, width: Int.max, height: Int.max, color: .black)
        #expect(canvas == before)
        canvas.fillPixels(x: Int.min, y: Int.min, width: Int.max, height: Int.max, color: .black)
        #expect(canvas == before)
        canvas.fillPixels(x: 5, y: 5, width: Int.max, height: Int.max, color: .black)
        #expect(canvas[9, 9] == .black)
        #expect(canvas[4, 9] == .white)
    }

    @Test func strokePixelsDrawsAnInsideOutline() {
        var canvas = Canvas(width: 6, height: 6)
        canvas.strokePixels(x: 1, y: 1, width: 4, height: 4, color: .black)
        #expect(canvas[1, 1] == .black)
        #expect(canvas[4, 4] == .black)
        #expect(canvas[1, 3] == .black)
        #expect(canvas[2, 2] == .white)
        #expect(canvas[0, 0] == .white)
        #expect(canvas[5, 5] == .white)
    }

    @Test func blendPixelMixesByCoverage() {
        var canvas = Canvas(width: 2, height: 1, background: .white)
        canvas.blendPixel(x: 0, y: 0, color: .black, coverage: 0.5)
        #expect(canvas[0, 0] == RGBColor(127, 127, 127) || canvas[0, 0] == RGBColor(128, 128, 128))
        canvas.blendPixel(x: 1, y: 0, color: .black, coverage: 1)
        #expect(canvas[1, 0] == .black)
        canvas.blendPixel(x: 5, y: 0, color: .black, coverage: 1)  // outside: ignored
    }

    @Test func blendMatchesExactRounding() {
        // The fast division by 255 must equal rounding of the exact blend for every input.
        for alpha in stride(from: 0, through: 255, by: 5) {
            for dst in stride(from: 0, through: 255, by: 3) {
                for src in [0, 77, 200, 255] {
                    var bytes: [UInt8] = [UInt8(dst), UInt8(dst), UInt8(dst)]
                    bytes.withUnsafeMutableBufferPointer { p in
                        guard let base = p.baseAddress else { return }
                        Canvas.blend(base, RGBColor(UInt8(src), UInt8(src), UInt8(src)), UInt32(alpha))
                    }
                    let exact = (Double(dst) * Double(255 - alpha) + Double(src) * Double(alpha)) / 255
                    #expect(abs(Double(bytes[0]) - exact) <= 0.5 + 1e-9)
                }
            }
        }
    }

    @Test func flipVerticallyMirrorsRows() {
        var canvas = Canvas(width: 2, height: 3, background: .white)
        canvas[0, 0] = .black
        canvas[1, 1] = RGBColor(1, 2, 3)
        canvas.flipVertically()
        #expect(canvas[0, 2] == .black)
        #expect(canvas[0, 0] == .white)
        #expect(canvas[1, 1] == RGBColor(1, 2, 3))
    }

    @Test func unsafeBytesExposeThePixels() {
        var canvas = Canvas(width: 3, height: 2, background: RGBColor(4, 5, 6))
        let count = canvas.withUnsafeBytes { $0.count }
        #expect(count == 18)
        canvas.withUnsafeMutableBytes { $0[0] = 99 }
        #expect(canvas[0, 0].red == 99)
    }

    @Test func copiesAreIndependent() {
        let original = Canvas(width: 2, height: 2)
        var copy = original
        copy[0, 0] = .black
        #expect(original[0, 0] == .white)
    }

    @Test func colorHelpers() {
        #expect(RGBColor(hex: 0x12_34_56) == RGBColor(0x12, 0x34, 0x56))
        #expect(RGBColor.black.blended(over: .white, coverage: 0.25) == RGBColor(191, 191, 191))
        #expect(RGBColor.black.blended(over: .white, coverage: .nan) == .white)
        #expect("\(RGBColor(1, 2, 3))" == "RGB(1, 2, 3)")
    }
}
