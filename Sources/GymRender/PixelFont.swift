/// A built-in 3x5 pixel font (digits, capital letters, a little punctuation), so text needs no
/// font installed on the machine. Each glyph pixel is drawn as a `pixelSize`-square block, so
/// the text stays crisp at any integer scale; glyphs are separated by `spacing` glyph pixels.
public enum PixelFont {
    /// Glyph width in font pixels.
    public static let glyphWidth = 3
    /// Glyph height in font pixels.
    public static let glyphHeight = 5

    /// The rows of each glyph, top first, `#` for ink. Lower-case letters are drawn as capitals;
    /// characters without a glyph are drawn as blanks.
    static let glyphs: [Character: [String]] = [
        "0": ["###", "#.#", "#.#", "#.#", "###"],
        "1": [".#.", "##.", ".#.", ".#.", "###"],
        "2": ["###", "..#", "###", "#..", "###"],
        "3": ["###", "..#", ".##", "..#", "###"],
        "4": ["#.#", "#.#", "###", "..#", "..#"],
        "5": ["###", "#..", "###", "..#", "###"],
        "6": ["###", "#..", "###", "#.#", "###"],
        "7": ["###", "..#", ".#.", ".#.", ".#."],
        "8": ["###", "#.#", "###", "#.#", "###"],
        "9": ["###", "#.#", "###", "..#", "###"],
        "A": [".#.", "#.#", "###", "#.#", "#.#"],
        "B": ["##.", "#.#", "##.", "#.#", "##."],
        "C": [".##", "#..", "#..", "#..", ".##"],
        "D": ["##.", "#.#", "#.#", "#.#", "##."],
        "E": ["###", "#..", "##.", "#..", "###"],
        "F": ["###", "#..", "##.", "#..", "#.."],
        "G": [".##", "#..", "#.#", "#.#", ".##"],
        "H": ["#.#", "#.#", "###", "#.#", "#.#"],
        "I": ["###", ".#.", ".#.", ".#.", "###"],
        "J": ["..#", "..#", "..#", "#.#", ".#."],
        "K": ["#.#", "#.#", "##.", "#.#", "#.#"],
        "L": ["#..", "#..", "#..", "#..", "###"],
        "M": ["#.#", "###", "###", "#.#", "#.#"],
        "N": ["##.", "#.#", "#.#", "#.#", "#.#"],
        "O": [".#.", "#.#", "#.#", "#.#", ".#."],
        "P": ["##.", "#.#", "##.", "#..", "#.."],
        "Q": [".#.", "#.#", "#.#", "##.", ".##"],
        "R": ["##.", "#.#", "##.", "#.#", "#.#"],
        "S": ["###", "#..", "###", "..#", "###"],
        "T": ["###", ".#.", ".#.", ".#.", ".#."],
        "U": ["#.#", "#.#", "#.#", "#.#", "###"],
        "V": ["#.#", "#.#", "#.#", "#.#", ".#."],
        "W": ["#.#", "#.#", "###", "###", "#.#"],
        "X": ["#.#", "#.#", ".#.", "#.#", "#.#"],
        "Y": ["#.#", "#.#", ".#.", ".#.", ".#."],
        "Z": ["###", "..#", ".#.", "#..", "###"],
        ":": ["...", ".#.", "...", ".#.", "..."],
        ".": ["...", "...", "...", "...", ".#."],
        "-": ["...", "...", "###", "...", "..."],
        "+": ["...", ".#.", "###", ".#.", "..."],
        "/": ["..#", "..#", ".#.", "#..", "#.."],
        "!": [".#.", ".#.", ".#.", "...", ".#."],
        "?": ["##.", "..#", ".#.", "...", ".#."],
        " ": ["...", "...", "...", "...", "..."],
    ]

    /// Ink bitmask of each glyph: bit `row * 3 + column` set where the glyph has ink.
    static let masks: [Character: UInt16] = glyphs.mapValues { rows in
        var mask: UInt16 = 0
        for (r, row) in rows.enumerated() {
            for (c, ink) in row.enumerated() where ink == "#" {
                mask |= 1 << UInt16(r * glyphWidth + c)
            }
        }
        return mask
    }

    /// Whether `character` has a glyph (lower case counts as upper case).
    public static func hasGlyph(_ character: Character) -> Bool {
        masks[Character(character.uppercased())] != nil
    }

    /// Width in canvas pixels of `text` drawn at `pixelSize` with `spacing` font pixels between glyphs.
    public static func width(of text: String, pixelSize: Int, spacing: Int = 1) -> Int {
        let count = text.count
        guard count > 0 else { return 0 }
        return (count * glyphWidth + (count - 1) * spacing) * pixelSize
    }

    /// Height in canvas pixels of a line of text at `pixelSize`.
    public static func height(pixelSize: Int) -> Int { glyphHeight * pixelSize }
}

extension Canvas {
    /// Draws `text` with the built-in `PixelFont`, its top-left corner at pixel `(x, y)`, each
    /// font pixel a `pixelSize`-square block. Returns the x just past the last glyph drawn.
    @discardableResult
    public mutating func drawText(
        _ text: String, x: Int, y: Int, pixelSize: Int, color: RGBColor, spacing: Int = 1
    ) -> Int {
        let size = max(1, pixelSize)
        var penX = x
        for character in text {
            let mask = PixelFont.masks[Character(character.uppercased())] ?? 0
            for row in 0..<PixelFont.glyphHeight {
                for column in 0..<PixelFont.glyphWidth where mask & (1 << UInt16(row * PixelFont.glyphWidth + column)) != 0 {
                    fillPixels(x: penX + column * size, y: y + row * size, width: size, height: size, color: color)
                }
            }
            penX += (PixelFont.glyphWidth + spacing) * size
        }
        return penX - spacing * size
    }
}
