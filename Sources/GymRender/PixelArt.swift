/// A small picture defined in source as rows of characters, each character naming a palette
/// colour; characters missing from the palette (by convention `.`) are transparent. Drawn with
/// each art pixel as a square block of canvas pixels, it gives the crisp "pixel art" look of
/// Gymnasium's toy-text environments without shipping any image file.
public struct PixelArt: Sendable, Equatable {
    /// Width in art pixels.
    public let width: Int
    /// Height in art pixels.
    public let height: Int
    /// Palette index per art pixel, row-major; `nil` is transparent.
    let cells: [UInt8?]
    /// The colours the cells refer to.
    let colors: [RGBColor]

    /// Art from `rows` (top first). Rows shorter than the longest are padded with transparency.
    public init(_ rows: [String], palette: [Character: RGBColor]) {
        var colors: [RGBColor] = []
        var indexOf: [Character: UInt8] = [:]
        for (key, color) in palette.sorted(by: { $0.key < $1.key }) where colors.count < 255 {
            indexOf[key] = UInt8(colors.count)
            colors.append(color)
        }
        let width = rows.map(\.count).max() ?? 0
        var cells: [UInt8?] = []
        cells.reserveCapacity(width * rows.count)
        for row in rows {
            var count = 0
            for character in row {
                cells.append(indexOf[character])
                count += 1
            }
            cells.append(contentsOf: repeatElement(nil, count: width - count))
        }
        self.width = width
        self.height = rows.count
        self.cells = cells
        self.colors = colors
    }

    init(width: Int, height: Int, cells: [UInt8?], colors: [RGBColor]) {
        self.width = width
        self.height = height
        self.cells = cells
        self.colors = colors
    }

    /// The colour of art pixel `(x, y)`, or nil where transparent or outside.
    public func color(x: Int, y: Int) -> RGBColor? {
        guard x >= 0, y >= 0, x < width, y < height, let index = cells[y * width + x] else { return nil }
        return colors[Int(index)]
    }

    /// The same art mirrored left to right.
    public func mirroredHorizontally() -> PixelArt {
        remapped(width: width, height: height) { x, y in (width - 1 - x, y) }
    }

    /// The same art mirrored top to bottom.
    public func mirroredVertically() -> PixelArt {
        remapped(width: width, height: height) { x, y in (x, height - 1 - y) }
    }

    /// The same art turned a quarter turn clockwise (on screen).
    public func rotatedClockwise() -> PixelArt {
        remapped(width: height, height: width) { x, y in (y, height - 1 - x) }
    }

    /// A new picture of the given size whose pixel `(x, y)` is this one's `source(x, y)`.
    private func remapped(width newWidth: Int, height newHeight: Int, source: (Int, Int) -> (Int, Int)) -> PixelArt {
        var newCells: [UInt8?] = []
        newCells.reserveCapacity(newWidth * newHeight)
        for y in 0..<newHeight {
            for x in 0..<newWidth {
                let (sx, sy) = source(x, y)
                newCells.append(cells[sy * width + sx])
            }
        }
        return PixelArt(width: newWidth, height: newHeight, cells: newCells, colors: colors)
    }
}

extension Canvas {
    /// Draws `art` with its top-left corner at pixel `(x, y)`, each art pixel a
    /// `pixelSize`-square block; transparent pixels leave the canvas as it was.
    public mutating func draw(_ art: PixelArt, x: Int, y: Int, pixelSize: Int) {
        let size = max(1, pixelSize)
        for row in 0..<art.height {
            var column = 0
            while column < art.width {
                // Paint runs of one colour as one block.
                guard let index = art.cells[row * art.width + column] else {
                    column += 1
                    continue
                }
                var end = column + 1
                while end < art.width, art.cells[row * art.width + end] == index { end += 1 }
                fillPixels(
                    x: x + column * size, y: y + row * size, width: (end - column) * size, height: size,
                    color: art.colors[Int(index)])
                column = end
            }
        }
    }
}
