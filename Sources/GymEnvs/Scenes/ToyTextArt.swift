import GymRender

/// Palette and sprites shared by the toy-text scenes (FrozenLake, CliffWalking, Taxi, Blackjack).
///
/// Gymnasium 1.4.0 draws these environments as pixel art authored at 4x (one art pixel is a
/// 4x4 block); the scenes keep that look, with frame sizes, grid layout and placements taken
/// from Gymnasium's renderers and sprites of our own drawn in `PixelArt`.
enum ToyTextArt {
    /// Canvas pixels per art pixel at the native (64-pixel cell) size.
    static let artPixel = 4

    static let ink = RGBColor(56, 58, 70)
    static let paper = RGBColor(250, 250, 246)
    static let skin = RGBColor(236, 196, 160)
    static let flagRed = RGBColor(202, 96, 88)
    static let hatGreen = RGBColor(86, 150, 92)
    static let tunicRed = RGBColor(190, 80, 74)
    static let white = RGBColor(252, 252, 250)

    /// The player: a little elf with a pointed green hat, 10x9 art pixels (40x36 at 4x).
    static let elf = PixelArt(
        [
            "....kk....",
            "...kggk...",
            "..kggggk..",
            ".kkkkkkkk.",
            "..kswswk..",
            "..kssssk..",
            ".kkrrrrkk.",
            "..krrrrk..",
            "..kk..kk..",
        ],
        palette: ["k": ink, "g": hatGreen, "s": skin, "w": ink, "r": tunicRed])

    /// The goal flag on its pole, 6x8 art pixels (24x32 at 4x).
    static let goalFlag = PixelArt(
        [
            ".krrr.",
            ".krrrr",
            ".krrr.",
            ".k....",
            ".k....",
            ".k....",
            ".k....",
            "kkk...",
        ],
        palette: ["k": ink, "r": flagRed])

    /// Draws `letter` of the built-in pixel font with its top-left at `(x, y)`.
    static func drawLetter(_ letter: Character, x: Int, y: Int, pixelSize: Int, color: RGBColor = ink, into canvas: inout Canvas) {
        canvas.drawText(String(letter), x: x, y: y, pixelSize: pixelSize, color: color)
    }

    /// Python's `round()` (half to even) of a non-negative value, as Gymnasium uses for offsets.
    static func pythonRound(_ value: Double) -> Int {
        guard value.isFinite, abs(value) < 1e15 else { return 0 }
        return Int(value.rounded(.toNearestOrEven))
    }
}
