import GymRender

/// The frame of Taxi, laid out as Gymnasium 1.4.0's `TaxiEnv.render()` lays it out: a 536x456
/// frame holding the 5x5 town (88x56-pixel cells from (48, 128)) inside a dark border, with the
/// walls of the map, the four coloured stands R, G, Y and B, a house over the top right corner,
/// a dark frame round the destination stand, the waiting passenger, and the taxi (carrying the
/// passenger once picked up). The pixel art is our own.
///
/// Map:
///
///     +---------+
///     |R: | : :G|
///     | : | : : |
///     | : : : : |
///     | | : | : |
///     |Y| : |B: |
///     +---------+
public enum TaxiScene {
    /// Frame width in pixels.
    public static let width = 536
    /// Frame height in pixels.
    public static let height = 456

    /// Top-left corner of the grid's first cell.
    static let gridOrigin = (x: 48, y: 128)
    /// One cell of the grid.
    static let cellSize = (width: 88, height: 56)
    /// Where the house stands (top-left corner).
    static let housePosition = (x: 403, y: 36)
    /// The passenger's and the taxi's offsets within a cell.
    static let passengerOffset = (x: 35, y: 19)
    static let taxiVerticalOffset = (x: 25, y: 0)
    static let taxiHorizontalOffset = (x: 15, y: 9)

    /// The four stands, `(row, column)`: R, G, Y, B (the indices of `passengerLocation` and
    /// `destination`).
    public static let stands = [(row: 0, column: 0), (row: 0, column: 4), (row: 4, column: 0), (row: 4, column: 3)]
    static let standLetters: [Character] = ["R", "G", "Y", "B"]
    static let standColors = [
        RGBColor(202, 102, 92), RGBColor(152, 184, 110), RGBColor(232, 196, 88), RGBColor(116, 150, 198),
    ]

    /// Walls on the right side of a cell, `(row, column)`, from the map's `|`.
    static let walls = [(row: 0, column: 1), (row: 1, column: 1), (row: 3, column: 0), (row: 3, column: 2), (row: 4, column: 0), (row: 4, column: 2)]

    static let road = RGBColor(233, 231, 225)
    static let laneLine = RGBColor(212, 210, 202)

    /// The direction the taxi faces, in the order of Taxi's move actions.
    public enum Heading: Int, Sendable, CaseIterable {
        case south = 0
        case north = 1
        case east = 2
        case west = 3

        /// The heading after `action` when the taxi faced `previous`: a move (0...3) turns the taxi
        /// that way, pickup and dropoff (4, 5) leave it as it was. Gymnasium keeps this in
        /// `taxi_orientation`, resets it to south, and updates it when a frame is drawn.
        public static func after(action: Int?, previous: Heading) -> Heading {
            guard let action, let heading = Heading(rawValue: action) else { return previous }
            return heading
        }
    }

    /// A new frame. `passengerLocation` is 0...3 for a waiting passenger (at stand R, G, Y, B)
    /// or 4 in the taxi; `destination` is 0...3.
    public static func render(
        taxiRow: Int, taxiColumn: Int, passengerLocation: Int, destination: Int, heading: Heading = .south
    ) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(
            taxiRow: taxiRow, taxiColumn: taxiColumn, passengerLocation: passengerLocation, destination: destination,
            heading: heading, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`).
    public static func draw(
        taxiRow: Int, taxiColumn: Int, passengerLocation: Int, destination: Int, heading: Heading = .south,
        into canvas: inout Canvas
    ) {
        canvas.fill(ToyTextArt.paper)
        drawTown(into: &canvas)
        canvas.draw(house, x: housePosition.x, y: housePosition.y, pixelSize: ToyTextArt.artPixel)

        if stands.indices.contains(destination) {
            let stand = stands[destination]
            let corner = cellCorner(row: stand.row, column: stand.column)
            canvas.strokePixels(
                x: corner.x, y: corner.y, width: cellSize.width, height: cellSize.height, thickness: 4,
                color: ToyTextArt.ink)
        }
        if stands.indices.contains(passengerLocation) {
            let stand = stands[passengerLocation]
            let corner = cellCorner(row: stand.row, column: stand.column)
            canvas.draw(
                passenger, x: corner.x + passengerOffset.x, y: corner.y + passengerOffset.y,
                pixelSize: ToyTextArt.artPixel)
        }

        let carrying = passengerLocation == 4
        let corner = cellCorner(row: taxiRow, column: taxiColumn)
        let sprite = taxiSprite(heading: heading, carrying: carrying)
        let offset = heading == .south || heading == .north ? taxiVerticalOffset : taxiHorizontalOffset
        canvas.draw(sprite, x: corner.x + offset.x, y: corner.y + offset.y, pixelSize: ToyTextArt.artPixel)
    }

    /// Paints the frame with the taxi facing Gymnasium's `taxi_orientation` (0 south, 1 north,
    /// 2 east, 3 west; anything else is taken as south).
    public static func draw(
        taxiRow: Int, taxiColumn: Int, passengerLocation: Int, destination: Int, orientation: Int,
        into canvas: inout Canvas
    ) {
        draw(
            taxiRow: taxiRow, taxiColumn: taxiColumn, passengerLocation: passengerLocation, destination: destination,
            heading: Heading(rawValue: orientation) ?? .south, into: &canvas)
    }

    /// Top-left pixel of the cell at `row`, `column`.
    static func cellCorner(row: Int, column: Int) -> (x: Int, y: Int) {
        (gridOrigin.x + column * cellSize.width, gridOrigin.y + row * cellSize.height)
    }

    /// The border, the roads with their lane lines, the stands and the walls.
    static func drawTown(into canvas: inout Canvas) {
        let gridWidth = 5 * cellSize.width
        let gridHeight = 5 * cellSize.height
        // Dark border, 8 pixels, 4 pixels clear of the roads.
        canvas.strokePixels(
            x: gridOrigin.x - 12, y: gridOrigin.y - 16, width: gridWidth + 16 + 8, height: gridHeight + 16 + 16,
            thickness: 8, color: ToyTextArt.ink)
        canvas.fillPixels(
            x: gridOrigin.x, y: gridOrigin.y - 4, width: gridWidth + 4, height: gridHeight + 8, color: road)
        // Lane lines on every cell's left and top, and closing the right and bottom.
        for column in 0...5 {
            canvas.fillPixels(
                x: gridOrigin.x + column * cellSize.width, y: gridOrigin.y - 4, width: 4, height: gridHeight + 8,
                color: laneLine)
        }
        for row in 0...5 {
            canvas.fillPixels(
                x: gridOrigin.x, y: gridOrigin.y - 4 + row * cellSize.height, width: gridWidth + 4, height: 4,
                color: laneLine)
        }
        for (index, stand) in stands.enumerated() {
            let corner = cellCorner(row: stand.row, column: stand.column)
            canvas.fillPixels(
                x: corner.x + 4, y: corner.y + 4, width: cellSize.width - 8, height: cellSize.height - 12,
                color: standColors[index])
            let letterX = corner.x + 4 + (cellSize.width - 8 - 12) / 2
            let letterY = corner.y + 4 + (cellSize.height - 12 - 20) / 2
            ToyTextArt.drawLetter(
                standLetters[index], x: letterX, y: letterY, pixelSize: ToyTextArt.artPixel, color: ToyTextArt.white,
                into: &canvas)
        }
        for wall in walls {
            let corner = cellCorner(row: wall.row, column: wall.column)
            let top = wall.row == 0 ? gridOrigin.y - 8 : corner.y - 4
            let bottom = wall.row == 4 ? gridOrigin.y + gridHeight + 8 : corner.y + cellSize.height
            canvas.fillPixels(
                x: corner.x + cellSize.width - 2, y: top, width: 8, height: bottom - top, color: ToyTextArt.ink)
        }
    }

    static let body = RGBColor(236, 192, 72)
    static let glass = RGBColor(190, 222, 240)
    static let roofLight = RGBColor(202, 96, 88)
    static let lamp = RGBColor(252, 244, 200)
    static let shirt = RGBColor(90, 130, 190)
    static let hair = RGBColor(96, 66, 48)

    /// The taxi from the side, facing east: 14x9 art pixels (56x36).
    static let taxiEast = PixelArt(
        [
            "......rr......",
            "....kkkkkk....",
            "...kggkgggk...",
            ".kkyyyyyyyykk.",
            "kyyyyyyyyyyyyk",
            "kykykykykykyyl",
            "kkkyyyyyyyykkk",
            "..kkk....kkk..",
            "...k......k...",
        ],
        palette: ["k": ToyTextArt.ink, "y": body, "g": glass, "r": roofLight, "l": lamp])

    /// The same with the passenger in the back seat.
    static let taxiEastFull = PixelArt(
        [
            "......rr......",
            "....kkkkkk....",
            "...khskgggk...",
            ".kkysyyyyyykk.",
            "kyyyyyyyyyyyyk",
            "kykykykykykyyl",
            "kkkyyyyyyyykkk",
            "..kkk....kkk..",
            "...k......k...",
        ],
        palette: ["k": ToyTextArt.ink, "y": body, "g": glass, "r": roofLight, "l": lamp, "h": hair, "s": skin])

    /// The taxi from above, facing north: 9x14 art pixels (36x56).
    static let taxiNorth = PixelArt(
        [
            "..kkkkk..",
            ".klyyylk.",
            ".kyyyyyk.",
            "kkgggggkk",
            ".kgggggk.",
            ".kyyyyyk.",
            ".kyyryyk.",
            ".kyyyyyk.",
            ".kyyyyyk.",
            ".kyyyyyk.",
            "kkgggggkk",
            ".kyyyyyk.",
            ".kyyyyyk.",
            "..kkkkk..",
        ],
        palette: ["k": ToyTextArt.ink, "y": body, "g": glass, "r": roofLight, "l": lamp])

    /// The same with the passenger's head showing through the rear window.
    static let taxiNorthFull = PixelArt(
        [
            "..kkkkk..",
            ".klyyylk.",
            ".kyyyyyk.",
            "kkgggggkk",
            ".kgggggk.",
            ".kyyyyyk.",
            ".kyyryyk.",
            ".kyyyyyk.",
            ".kyhhhyk.",
            ".kyhhhyk.",
            "kkgggggkk",
            ".kyyyyyk.",
            ".kyyyyyk.",
            "..kkkkk..",
        ],
        palette: ["k": ToyTextArt.ink, "y": body, "g": glass, "r": roofLight, "l": lamp, "h": hair])

    static let skin = ToyTextArt.skin

    /// The waiting passenger: 4x6 art pixels (16x24).
    static let passenger = PixelArt(
        [
            ".hh.",
            ".ss.",
            "sbbs",
            ".bb.",
            ".kk.",
            ".k.k",
        ],
        palette: ["h": hair, "s": ToyTextArt.skin, "b": shirt, "k": ToyTextArt.ink])

    /// The house over the top right corner: 20x24 art pixels (80x96).
    static let house = PixelArt(
        [
            "......kkkkkkkk......",
            ".....krrrrrrrrk.....",
            "....krrrrrrrrrrk....",
            "...krrrrrrrrrrrrk...",
            "..krrrrrrrrrrrrrrk..",
            ".krrrrrrrrrrrrrrrrk.",
            "kkRRRRRRRRRRRRRRRRkk",
            "kttttttttttttttttttk",
            "kTtttttttttttttttttk",
            "kTttkkkkttttkkkktttk",
            "kTttkggkttttkggktttk",
            "kTttkggkttttkggktttk",
            "kTttkkkkttttkkkktttk",
            "kTtttttttttttttttttk",
            "kTttkkkkttttkkkktttk",
            "kTttkggkttttkggktttk",
            "kTttkggkttttkggktttk",
            "kTttkkkkttttkkkktttk",
            "kTttttttkkkktttttttk",
            "kTttttttkddktttttttk",
            "kTttttttkddktttttttk",
            "kTttttttkddktttttttk",
            "kTttttttkddktttttttk",
            "kkkkkkkkkkkkkkkkkkkk",
        ],
        palette: [
            "k": ToyTextArt.ink, "r": RGBColor(202, 102, 92), "R": RGBColor(168, 84, 74), "t": RGBColor(205, 166, 94),
            "T": RGBColor(176, 138, 74), "g": glass, "d": RGBColor(122, 86, 58),
        ])

    /// The taxi sprite for `heading`, with or without the passenger aboard.
    static func taxiSprite(heading: Heading, carrying: Bool) -> PixelArt {
        switch heading {
        case .north: carrying ? taxiNorthFull : taxiNorth
        case .south: (carrying ? taxiNorthFull : taxiNorth).mirroredVertically()
        case .east: carrying ? taxiEastFull : taxiEast
        case .west: (carrying ? taxiEastFull : taxiEast).mirroredHorizontally()
        }
    }
}
