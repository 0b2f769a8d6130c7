import Testing

@testable import GymRender

@Suite("Pixel font and pixel art")
struct PixelArtTests {
    @Test func textWidthFollowsGlyphsAndSpacing() {
        #expect(PixelFont.width(of: "", pixelSize: 4) == 0)
        #expect(PixelFont.width(of: "7", pixelSize: 4) == 12)
        #expect(PixelFont.width(of: "DEALER:", pixelSize: 4) == 108)
        #expect(PixelFont.width(of: "21", pixelSize: 12) == 84)
        #expect(PixelFont.height(pixelSize: 4) == 20)
    }

    @Test func everyDigitAndCapitalHasAGlyph() {
        for character in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ:" {
            #expect(PixelFont.hasGlyph(character), "\(character)")
        }
        #expect(PixelFont.hasGlyph("a"))
        #expect(!PixelFont.hasGlyph("é"))
    }

    @Test func digitsAreDistinct() {
        let masks = "0123456789".compactMap { PixelFont.masks[$0] }
        #expect(Set(masks).count == 10)
    }

    @Test func drawTextPaintsBlocks() {
        var canvas = Canvas(width: 20, height: 10)
        let end = canvas.drawText("1", x: 2, y: 1, pixelSize: 2, color: .black)
        #expect(end == 2 + 3 * 2)
        // "1" is ".#." on its first row: the middle block only.
        #expect(canvas[2, 1] == .white)
        #expect(canvas[4, 1] == .black)
        #expect(canvas[5, 2] == .black)
        #expect(canvas[6, 1] == .white)
        // Bottom row "###".
        #expect(canvas[2, 9] == .black)
        #expect(canvas[7, 9] == .black)
        // Unknown characters are blank but still advance.
        var blank = Canvas(width: 20, height: 10)
        #expect(blank.drawText("é", x: 0, y: 0, pixelSize: 1, color: .black) == 3)
        #expect(isBlank(blank))
        // Text running off the frame is clipped.
        var clipped = Canvas(width: 5, height: 5)
        clipped.drawText("888", x: -4, y: 2, pixelSize: 3, color: .black)
        #expect(!isBlank(clipped))
    }

    @Test func artUsesItsPaletteAndTransparency() {
        let art = PixelArt(["ab.", "b"], palette: ["a": .black, "b": RGBColor(1, 2, 3)])
        #expect(art.width == 3)
        #expect(art.height == 2)
        #expect(art.color(x: 0, y: 0) == .black)
        #expect(art.color(x: 2, y: 0) == nil)
        #expect(art.color(x: 1, y: 1) == nil)  // padding
        #expect(art.color(x: 9, y: 9) == nil)
        var canvas = Canvas(width: 8, height: 8)
        canvas.draw(art, x: 1, y: 1, pixelSize: 2)
        #expect(canvas[1, 1] == .black)
        #expect(canvas[2, 2] == .black)
        #expect(canvas[3, 1] == RGBColor(1, 2, 3))
        #expect(canvas[5, 1] == .white)
        #expect(canvas[1, 3] == RGBColor(1, 2, 3))
    }

    @Test func artTransformations() {
        let art = PixelArt(["ab", "cd", "ef"], palette: ["a": RGBColor(1, 0, 0), "b": RGBColor(2, 0, 0), "c": RGBColor(3, 0, 0), "d": RGBColor(4, 0, 0), "e": RGBColor(5, 0, 0), "f": RGBColor(6, 0, 0)])
        let mirrored = art.mirroredHorizontally()
        #expect(mirrored.color(x: 0, y: 0) == RGBColor(2, 0, 0))
        let flipped = art.mirroredVertically()
        #expect(flipped.color(x: 0, y: 0) == RGBColor(5, 0, 0))
        let turned = art.rotatedClockwise()
        #expect(turned.width == 3 && turned.height == 2)
        // Turning clockwise puts the bottom-left corner at the top-left.
        #expect(turned.color(x: 0, y: 0) == RGBColor(5, 0, 0))
        #expect(turned.color(x: 2, y: 0) == RGBColor(1, 0, 0))
        #expect(turned.color(x: 2, y: 1) == RGBColor(2, 0, 0))
        #expect(turned.rotatedClockwise().rotatedClockwise().rotatedClockwise().rotatedClockwise() == turned)
    }
}
