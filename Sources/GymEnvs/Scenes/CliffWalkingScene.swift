import GymRender

/// The frame of CliffWalking (v0 and v1, slippery or not), laid out as Gymnasium 1.4.0's
/// `CliffWalkingEnv.render()` lays it out: a 768x256 frame of 4x12 grassy 64x64 cells, the
/// cliff along the bottom row between start and goal, an "S" on the start (bottom left), a "G"
/// and a red flag on the goal (bottom right), and the player. The pixel art is our own.
///
/// Gymnasium 1.4.0 draws one player sprite whatever the last action, so the last action does
/// not appear in the frame.
public enum CliffWalkingScene {
    /// Grid rows.
    public static let rows = 4
    /// Grid columns.
    public static let columns = 12
    /// Cell side in pixels.
    public static let cellSize = 64
    /// Frame width in pixels.
    public static let width = columns * cellSize
    /// Frame height in pixels.
    public static let height = rows * cellSize

    /// Index of the start cell (bottom left).
    public static let startPosition = (rows - 1) * columns
    /// Index of the goal cell (bottom right).
    public static let goalPosition = rows * columns - 1

    // Placements within a cell, in pixels at 64-pixel cells (Gymnasium's offsets).
    static let letterOffset = (x: 8, y: 8)
    static let flagOffset = (x: 28, y: 16)
    static let playerOffset = (x: 20, y: 20)

    static let grass = RGBColor(196, 216, 158)
    static let grassEdge = RGBColor(172, 196, 130)
    static let earth = RGBColor(166, 122, 80)
    static let earthDark = RGBColor(122, 86, 58)
    static let earthLight = RGBColor(198, 152, 106)
    static let chasm = RGBColor(72, 70, 80)

    /// Whether the cell at `row`, `column` is part of the cliff.
    public static func isCliff(row: Int, column: Int) -> Bool {
        row == rows - 1 && column > 0 && column < columns - 1
    }

    /// A new frame with the player on cell `position` (row-major index, 0...47).
    public static func render(position: Int) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(position: position, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`).
    public static func draw(position: Int, into canvas: inout Canvas) {
        canvas.fill(grass)
        let pixelSize = ToyTextArt.artPixel
        for state in 0..<(rows * columns) {
            let row = state / columns
            let column = state % columns
            let x = column * cellSize
            let y = row * cellSize
            let cell = TileCell(x: x, y: y, width: cellSize, height: cellSize)
            drawGrass(cell, into: &canvas)
            if isCliff(row: row, column: column) {
                drawCliff(cell, column: column, into: &canvas)
            }
            if state == startPosition {
                ToyTextArt.drawLetter(
                    "S", x: x + letterOffset.x, y: y + letterOffset.y, pixelSize: pixelSize, into: &canvas)
            }
            if state == goalPosition {
                ToyTextArt.drawLetter(
                    "G", x: x + letterOffset.x, y: y + letterOffset.y, pixelSize: pixelSize, into: &canvas)
                canvas.draw(ToyTextArt.goalFlag, x: x + flagOffset.x, y: y + flagOffset.y, pixelSize: pixelSize)
            }
            if state == position {
                canvas.draw(ToyTextArt.elf, x: x + playerOffset.x, y: y + playerOffset.y, pixelSize: pixelSize)
            }
        }
    }

    /// Grass with a darker seam along its top and left sides, so the cells read as a grid.
    static func drawGrass(_ cell: TileCell, into canvas: inout Canvas) {
        cell.fill(0, 0, 16, 16, grass, into: &canvas)
        cell.fill(0, 0, 16, 1, grassEdge, into: &canvas)
        cell.fill(0, 1, 1, 15, grassEdge, into: &canvas)
    }

    /// A stretch of the cliff: a dark lip, layered earth, and the drop below; the end pieces
    /// get a rock wall on their outer side.
    static func drawCliff(_ cell: TileCell, column: Int, into canvas: inout Canvas) {
        cell.fill(0, 0, 16, 16, earth, into: &canvas)
        cell.fill(0, 0, 16, 1, ToyTextArt.ink, into: &canvas)
        // Pebbles under the lip, offset on alternate cells so the band does not repeat exactly.
        let shift = column % 2 == 0 ? 0 : 2
        for pebble in stride(from: 1 + shift, to: 16, by: 4) {
            cell.fill(pebble, 1, 2, 1, earthDark, into: &canvas)
        }
        // Strata.
        cell.fill(3 + shift, 5, 1, 3, earthDark, into: &canvas)
        cell.fill(9 - shift, 4, 1, 4, earthDark, into: &canvas)
        cell.fill(12, 7, 1, 2, earthDark, into: &canvas)
        cell.fill(0, 11, 16, 2, earthDark, into: &canvas)
        cell.fill(0, 13, 16, 3, chasm, into: &canvas)
        if column == 1 {
            cell.fill(0, 0, 1, 16, ToyTextArt.ink, into: &canvas)
            cell.fill(1, 0, 2, 16, earthLight, into: &canvas)
            cell.fill(1, 0, 2, 1, ToyTextArt.ink, into: &canvas)
        }
        if column == columns - 2 {
            cell.fill(15, 0, 1, 16, ToyTextArt.ink, into: &canvas)
            cell.fill(13, 0, 2, 16, earthLight, into: &canvas)
            cell.fill(13, 0, 2, 1, ToyTextArt.ink, into: &canvas)
        }
    }
}
