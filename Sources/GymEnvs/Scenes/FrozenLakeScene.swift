import GymRender

/// The frame of FrozenLake-v1 and FrozenLake8x8-v1, laid out as Gymnasium 1.4.0's
/// `FrozenLakeEnv.render()` lays it out: one 64x64 cell per tile (the frame is
/// `min(64 * columns, 512)` by `min(64 * rows, 512)`: 256x256 for the 4x4 map, 512x512 for
/// 8x8), pale ice with the same deterministic scattering of cracks, dark-blue holes, an "S" on
/// the start, a red flag and a "G" on the goal, a light-blue grid line round every cell, and the
/// player (hidden once it has fallen into a hole). The pixel art is our own.
///
/// Gymnasium 1.4.0 draws one player sprite whatever the last action, so the last action does
/// not appear in the frame.
public enum FrozenLakeScene {
    /// Width and height of the frame for a map of `rows` x `columns` tiles.
    public static func frameSize(rows: Int, columns: Int) -> (width: Int, height: Int) {
        (min(64 * max(columns, 0), 512), min(64 * max(rows, 0), 512))
    }

    static let ice = RGBColor(198, 224, 242)
    static let iceShine = RGBColor(222, 238, 250)
    static let crack = RGBColor(164, 196, 224)
    static let water = RGBColor(92, 138, 190)
    static let waterDeep = RGBColor(70, 112, 164)
    static let ripple = RGBColor(140, 180, 214)
    static let gridLine = RGBColor(180, 200, 230)

    /// A new frame of the map `desc` (rows of "S", "F", "H", "G") with the player on tile
    /// `position` (row-major index, `row * columns + column`).
    public static func render(desc: [[Character]], position: Int) -> Canvas {
        let size = frameSize(rows: desc.count, columns: desc.map(\.count).max() ?? 0)
        var canvas = Canvas(width: size.width, height: size.height)
        draw(desc: desc, position: position, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `frameSize(rows:columns:)`).
    public static func draw(desc: [[Character]], position: Int, into canvas: inout Canvas) {
        canvas.fill(ice)
        let rows = desc.count
        let columns = desc.map(\.count).max() ?? 0
        guard rows > 0, columns > 0 else { return }
        let size = frameSize(rows: rows, columns: columns)
        let cellWidth = size.width / columns
        let cellHeight = size.height / rows
        guard cellWidth > 0, cellHeight > 0 else { return }
        // Sprites keep their proportions: art drawn for a 64-pixel cell, scaled to the smaller side.
        let pixelSize = max(1, ToyTextArt.pythonRound(Double(ToyTextArt.artPixel * min(cellWidth, cellHeight)) / 64))
        let margin = ToyTextArt.pythonRound(Double(cellWidth) * 0.06)

        for row in 0..<rows {
            for column in 0..<columns {
                let tile = column < desc[row].count ? desc[row][column] : "F"
                let x = column * cellWidth
                let y = row * cellHeight
                let cell = TileCell(x: x, y: y, width: cellWidth, height: cellHeight)
                if tile == "H" {
                    drawHole(cell, into: &canvas)
                } else {
                    drawIce(cell, into: &canvas)
                    switch tile {
                    case "F":
                        // The same deterministic scattering as Gymnasium's.
                        let variant = (column * 3 + row * 5) % 7
                        if variant < 2 { drawCrack(cell, variant: variant, into: &canvas) }
                    case "S":
                        ToyTextArt.drawLetter("S", x: x + margin, y: y + margin, pixelSize: pixelSize, into: &canvas)
                    case "G":
                        let flag = ToyTextArt.goalFlag
                        let flagX = x + (cellWidth - flag.width * pixelSize) / 2
                        let flagY =
                            y + cellHeight - flag.height * pixelSize - ToyTextArt.pythonRound(Double(cellHeight) * 0.12)
                        canvas.draw(flag, x: flagX, y: flagY, pixelSize: pixelSize)
                        ToyTextArt.drawLetter("G", x: x + margin, y: y + margin, pixelSize: pixelSize, into: &canvas)
                    default:
                        break
                    }
                }
                canvas.strokePixels(x: x, y: y, width: cellWidth, height: cellHeight, color: gridLine)
            }
        }

        // The player, unless it has fallen into a hole (the hole then fills the cell).
        let row = position / columns
        let column = position % columns
        guard position >= 0, row < rows, column < desc[row].count, desc[row][column] != "H" else { return }
        let elf = ToyTextArt.elf
        canvas.draw(
            elf, x: column * cellWidth + (cellWidth - elf.width * pixelSize) / 2,
            y: row * cellHeight + (cellHeight - elf.height * pixelSize) / 2, pixelSize: pixelSize)
    }

    /// Plain ice with a small glint in the corner.
    static func drawIce(_ cell: TileCell, into canvas: inout Canvas) {
        cell.fill(0, 0, 16, 16, ice, into: &canvas)
        cell.fill(11, 2, 2, 1, iceShine, into: &canvas)
        cell.fill(13, 3, 1, 1, iceShine, into: &canvas)
    }

    /// Thin cracks in the ice (two patterns).
    static func drawCrack(_ cell: TileCell, variant: Int, into canvas: inout Canvas) {
        let steps: [(Int, Int, Int)] =
            variant == 0
            ? [(3, 9, 2), (5, 10, 1), (6, 11, 2), (8, 12, 1), (9, 13, 2)]
            : [(9, 3, 2), (8, 4, 1), (6, 5, 2), (5, 6, 1), (10, 5, 1), (11, 6, 2)]
        for (x, y, length) in steps {
            cell.fill(x, y, length, 1, crack, into: &canvas)
        }
    }

    /// Open water: a rounded pool with a darker far bank and ripples.
    static func drawHole(_ cell: TileCell, into canvas: inout Canvas) {
        cell.fill(0, 0, 16, 16, ice, into: &canvas)
        cell.fill(3, 2, 10, 12, water, into: &canvas)
        cell.fill(2, 3, 12, 10, water, into: &canvas)
        cell.fill(3, 2, 10, 1, waterDeep, into: &canvas)
        cell.fill(2, 3, 1, 2, waterDeep, into: &canvas)
        cell.fill(13, 3, 1, 2, waterDeep, into: &canvas)
        cell.fill(5, 7, 2, 1, ripple, into: &canvas)
        cell.fill(7, 6, 2, 1, ripple, into: &canvas)
        cell.fill(8, 10, 2, 1, ripple, into: &canvas)
        cell.fill(10, 9, 2, 1, ripple, into: &canvas)
    }
}

/// A grid cell addressed in sixteenths of its width and height (art pixels at 64-pixel cells),
/// so tile art scales to any cell size.
struct TileCell {
    let x: Int
    let y: Int
    let width: Int
    let height: Int

    /// Fills art pixels `ax..<ax+aw` by `ay..<ay+ah` of the cell.
    func fill(_ ax: Int, _ ay: Int, _ aw: Int, _ ah: Int, _ color: RGBColor, into canvas: inout Canvas) {
        let x0 = x + ax * width / 16
        let x1 = x + (ax + aw) * width / 16
        let y0 = y + ay * height / 16
        let y1 = y + (ay + ah) * height / 16
        canvas.fillPixels(x: x0, y: y0, width: x1 - x0, height: y1 - y0, color: color)
    }
}
