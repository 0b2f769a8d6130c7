import GymRender

/// The frame of Blackjack-v1, laid out as Gymnasium 1.4.0's `draw_table` lays it out: a 384x376
/// green felt frame with "DEALER: n" over the dealer's face-up card and a face-down card, and
/// "PLAYER" over the player's sum in large digits, plus "USABLE ACE" when the player holds one.
/// Text uses the built-in `PixelFont` and the cards are our own pixel art.
public enum BlackjackScene {
    /// Frame width in pixels.
    public static let width = 384
    /// Frame height in pixels.
    public static let height = 376

    // Gymnasium's layout (pixels; everything on the 4-pixel art grid).
    static let dealerLabelPosition = (x: 40, y: 32)
    static let dealerCardPosition = (x: 96, y: 72)
    static let hiddenCardPosition = (x: 208, y: 72)
    static let playerLabelPosition = (x: 40, y: 208)
    static let playerSumTop = 248
    static let usableAceTop = 328
    static let labelDigitGap = 12
    /// Font pixels of the large player sum (36x60 digits).
    static let bigPixel = 12

    static let felt = RGBColor(196, 216, 158)
    static let cardEdge = RGBColor(150, 152, 160)
    static let cardFace = RGBColor(252, 252, 250)
    static let redSuit = RGBColor(200, 82, 76)
    static let cardBack = RGBColor(200, 112, 104)
    static let cardBackPattern = RGBColor(176, 88, 82)

    /// A card's suit, by the letter Gymnasium uses.
    public enum Suit: Character, Sendable, CaseIterable {
        case clubs = "C"
        case diamonds = "D"
        case hearts = "H"
        case spades = "S"
    }

    /// A new frame. `dealerCard` names the dealer's face-up card as Gymnasium does, rank then
    /// suit letter: "AH", "7D", "KS" (a ten-valued card is always shown as J, Q or K).
    public static func render(playerSum: Int, dealerCardValue: Int, usableAce: Bool, dealerCard: String) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(playerSum: playerSum, dealerCardValue: dealerCardValue, usableAce: usableAce, dealerCard: dealerCard, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`).
    public static func draw(
        playerSum: Int, dealerCardValue: Int, usableAce: Bool, dealerCard: String, into canvas: inout Canvas
    ) {
        let art = ToyTextArt.artPixel
        canvas.fill(felt)

        let dealerLabelEnd = canvas.drawText(
            "DEALER:", x: dealerLabelPosition.x, y: dealerLabelPosition.y, pixelSize: art, color: ToyTextArt.ink)
        canvas.drawText(
            String(dealerCardValue), x: dealerLabelEnd + labelDigitGap, y: dealerLabelPosition.y, pixelSize: art,
            color: ToyTextArt.ink)
        drawCardFace(dealerCard, x: dealerCardPosition.x, y: dealerCardPosition.y, into: &canvas)
        canvas.draw(cardBackArt, x: hiddenCardPosition.x, y: hiddenCardPosition.y, pixelSize: art)

        canvas.drawText("PLAYER", x: playerLabelPosition.x, y: playerLabelPosition.y, pixelSize: art, color: ToyTextArt.ink)
        let sum = String(playerSum)
        canvas.drawText(
            sum, x: centredX(PixelFont.width(of: sum, pixelSize: bigPixel)), y: playerSumTop, pixelSize: bigPixel,
            color: ToyTextArt.ink)
        if usableAce {
            let label = "USABLE ACE"
            canvas.drawText(
                label, x: centredX(PixelFont.width(of: label, pixelSize: art)), y: usableAceTop, pixelSize: art,
                color: ToyTextArt.ink)
        }
    }

    /// Left edge that centres something `width` wide, snapped to the art grid (Gymnasium's `centred_x`).
    static func centredX(_ contentWidth: Int) -> Int {
        let left = (width - contentWidth) / 2
        let floored = left >= 0 ? left : (left - (ToyTextArt.artPixel - 1))
        return floored / ToyTextArt.artPixel * ToyTextArt.artPixel
    }

    /// The blank card: 20x28 art pixels (80x112), grey edge with rounded corners.
    static let blankCard = PixelArt(
        [".gggggggggggggggggg."]
            + Array(repeating: "gwwwwwwwwwwwwwwwwwwg", count: 26)
            + [".gggggggggggggggggg."],
        palette: ["g": cardEdge, "w": cardFace])

    /// The face-down card: the same outline, a red back with a darker inset frame.
    static let cardBackArt = PixelArt(
        [".gggggggggggggggggg."]
            + ["gbbbbbbbbbbbbbbbbbbg", "gbbbbbbbbbbbbbbbbbbg"]
            + ["gbbppppppppppppppbbg"]
            + Array(repeating: "gbbpbbbbbbbbbbbbpbbg", count: 20)
            + ["gbbppppppppppppppbbg"]
            + ["gbbbbbbbbbbbbbbbbbbg", "gbbbbbbbbbbbbbbbbbbg"]
            + [".gggggggggggggggggg."],
        palette: ["g": cardEdge, "b": cardBack, "p": cardBackPattern])

    /// Suit symbols, 7x7 art pixels.
    static let suitShapes: [Suit: [String]] = [
        .clubs: ["..###..", "..###..", "##.#.##", "#######", "##.#.##", "...#...", "..###.."],
        .spades: ["...#...", "..###..", ".#####.", "#######", "##.#.##", "...#...", "..###.."],
        .hearts: [".##.##.", "#######", "#######", ".#####.", "..###..", "...#...", "......."],
        .diamonds: ["...#...", "..###..", ".#####.", "#######", ".#####.", "..###..", "...#..."],
    ]

    /// The suit symbols in their colours.
    static let suitArt: [Suit: PixelArt] = suitShapes.reduce(into: [:]) { art, entry in
        let color = entry.key == .hearts || entry.key == .diamonds ? redSuit : ToyTextArt.ink
        art[entry.key] = PixelArt(entry.value, palette: ["#": color])
    }

    /// Draws the face-up card named `name` ("KS", "AH", "7D"); an unreadable name gives a blank card.
    static func drawCardFace(_ name: String, x: Int, y: Int, into canvas: inout Canvas) {
        let art = ToyTextArt.artPixel
        canvas.draw(blankCard, x: x, y: y, pixelSize: art)
        guard let suitLetter = name.last, let suit = Suit(rawValue: suitLetter) else { return }
        let rank = String(name.dropLast())
        let color = suit == .hearts || suit == .diamonds ? redSuit : ToyTextArt.ink
        canvas.drawText(rank, x: x + 2 * art, y: y + 2 * art, pixelSize: art, color: color)
        let rankWidth = PixelFont.width(of: rank, pixelSize: art)
        canvas.drawText(rank, x: x + 18 * art - rankWidth, y: y + 21 * art, pixelSize: art, color: color)
        if let symbol = suitArt[suit] {
            canvas.draw(symbol, x: x + 6 * art, y: y + 10 * art, pixelSize: art)
        }
    }
}
