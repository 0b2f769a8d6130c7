import Foundation
import GymRender
import Testing

@testable import GymEnvs

/// The reference frames written by `scripts/fixtures/gen_render_fixtures.py` (Gymnasium 1.4.0).
struct SceneFrameIndex: Decodable {
    struct Frame: Decodable, Sendable, CustomStringConvertible {
        let env: String
        let file: String
        let state: [String: Double?]
        let width: Int
        let height: Int
        var description: String { file }

        func value(_ key: String) -> Double? { state[key] ?? nil }
    }

    struct Sample: Decodable, Sendable {
        let x: Int
        let y: Int
        let rgb: [UInt8]
        var color: RGBColor { RGBColor(rgb[0], rgb[1], rgb[2]) }
    }

    struct ToyText: Decodable, Sendable, CustomStringConvertible {
        let env: String
        let state: [String: Int]
        let width: Int
        let height: Int
        let samples: [Sample]
        var description: String { env }
    }

    let gymnasium: String
    let frames: [Frame]
    let toy_text: [ToyText]

    static let directory: URL? = Bundle.module.url(forResource: "Fixtures", withExtension: nil)?
        .appendingPathComponent("frames")

    static func load() throws -> SceneFrameIndex {
        guard let directory else { throw SceneFixtureError.missing("Fixtures/frames") }
        let data = try Data(contentsOf: directory.appendingPathComponent("index.json"))
        return try JSONDecoder().decode(SceneFrameIndex.self, from: data)
    }

    /// The index, or an empty one when it cannot be read (the tests then fail on `load()`).
    static let shared: SceneFrameIndex = (try? load()) ?? SceneFrameIndex(gymnasium: "", frames: [], toy_text: [])

    static func image(_ file: String) throws -> Canvas {
        guard let directory else { throw SceneFixtureError.missing(file) }
        return try PNGDecoder.decode([UInt8](Data(contentsOf: directory.appendingPathComponent(file))))
    }
}

enum SceneFixtureError: Error {
    case missing(String)
    case unknownEnvironment(String)
    case missingState(String)
}

/// Mean absolute difference per channel, averaged over every pixel and channel.
func sceneMeanAbsoluteDifference(_ a: Canvas, _ b: Canvas) -> Double {
    guard a.width == b.width, a.height == b.height, !a.pixels.isEmpty else { return .infinity }
    var total = 0
    for i in a.pixels.indices {
        total += abs(Int(a.pixels[i]) - Int(b.pixels[i]))
    }
    return Double(total) / Double(a.pixels.count)
}

/// The colours of the pixels of `canvas` in the given columns and rows.
func sceneColors(in canvas: Canvas, x columns: Range<Int>, y rows: Range<Int>) -> [RGBColor] {
    var result: [RGBColor] = []
    for y in rows {
        for x in columns {
            if let color = canvas.pixel(x: x, y: y) { result.append(color) }
        }
    }
    return result
}

/// Draws the classic-control `frame`'s state with our scene.
func renderClassicScene(for frame: SceneFrameIndex.Frame) throws -> Canvas {
    func state(_ key: String) throws -> Double {
        guard let value = frame.value(key) else { throw SceneFixtureError.missingState(key) }
        return value
    }
    switch frame.env {
    case "CartPole-v0", "CartPole-v1":
        return CartPoleScene.render(x: try state("x"), theta: try state("theta"))
    case "MountainCar-v0":
        return MountainCarScene.render(position: try state("position"), goalPosition: 0.5)
    case "MountainCarContinuous-v0":
        return MountainCarScene.render(position: try state("position"), goalPosition: 0.45)
    case "Pendulum-v1":
        return PendulumScene.render(theta: try state("theta"), lastTorque: frame.value("last_u"))
    case "Acrobot-v1":
        return AcrobotScene.render(theta1: try state("theta1"), theta2: try state("theta2"))
    default:
        throw SceneFixtureError.unknownEnvironment(frame.env)
    }
}

@Suite("Classic-control scenes against Gymnasium's frames")
struct ClassicControlSceneTests {
    @Test func indexCoversEveryClassicControlEnvironment() throws {
        let index = try SceneFrameIndex.load()
        #expect(index.gymnasium == "1.4.0")
        let envs = Set(index.frames.map(\.env))
        #expect(envs == ["CartPole-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1", "Acrobot-v1"])
    }

    @Test(arguments: SceneFrameIndex.shared.frames)
    func frameMatchesGymnasium(_ frame: SceneFrameIndex.Frame) throws {
        let reference = try SceneFrameIndex.image(frame.file)
        let ours = try renderClassicScene(for: frame)
        #expect(ours.width == reference.width)
        #expect(ours.height == reference.height)
        let difference = sceneMeanAbsoluteDifference(ours, reference)
        print(String(format: "scene %@ (%@): mean abs diff %.4f", frame.file, frame.env, difference))
        #expect(difference <= 1.0, "\(frame.file): mean absolute difference \(difference)")
    }

    @Test func framesAreTheDocumentedSizes() {
        #expect(CartPoleScene.render(x: 0, theta: 0).pixels.count == 600 * 400 * 3)
        #expect(MountainCarScene.render(position: -0.5, goalPosition: 0.5).width == 600)
        #expect(PendulumScene.render(theta: 0, lastTorque: nil).height == 500)
        #expect(AcrobotScene.render(theta1: 0, theta2: 0).width == 500)
    }

    @Test func absurdStatesDrawWithoutTrapping() {
        for value in [Double.nan, .infinity, -.infinity, 1e300, -1e18, 40_000] {
            _ = CartPoleScene.render(x: value, theta: value)
            _ = CartPoleScene.render(x: 0, theta: value)
            _ = MountainCarScene.render(position: value, goalPosition: value)
            _ = PendulumScene.render(theta: value, lastTorque: value)
            _ = AcrobotScene.render(theta1: value, theta2: value)
        }
        // A cart far off the track leaves only the track line.
        let offscreen = CartPoleScene.render(x: 1e6, theta: 0)
        #expect(offscreen[300, 299] == .black)
        #expect(offscreen[300, 250] == .white)
    }

    @Test func drawingIntoAReusedCanvasRepaintsEverything() {
        var canvas = CartPoleScene.render(x: 1, theta: 0.3)
        CartPoleScene.draw(x: -1, theta: -0.3, into: &canvas)
        #expect(canvas == CartPoleScene.render(x: -1, theta: -0.3))
    }

    @Test func pendulumArrowFollowsTheTorque() {
        let none = PendulumScene.render(theta: 0, lastTorque: nil)
        let zero = PendulumScene.render(theta: 0, lastTorque: 0)
        let clockwise = PendulumScene.render(theta: 0, lastTorque: -2)
        let counterClockwise = PendulumScene.render(theta: 0, lastTorque: 2)
        #expect(none == zero)
        #expect(clockwise != none)
        // The arrows mirror each other about the scaled image's centre line, x = 250.5 for a
        // 113-pixel image placed at 250 - 113 / 2.
        var mirrored = 0
        var total = 0
        for y in 190..<310 {
            for x in 190..<250 where clockwise[x, y] != none[x, y] {
                total += 1
                if counterClockwise[500 - x, y] != none[500 - x, y] { mirrored += 1 }
            }
        }
        #expect(total > 100)
        #expect(Double(mirrored) > 0.9 * Double(total))
    }
}

@Suite("Toy-text scenes")
struct ToyTextSceneTests {
    static let lake4: [[Character]] = ["SFFF", "FHFH", "FFFH", "HFFG"].map { Array($0) }
    static let lake8: [[Character]] = [
        "SFFFFFFF", "FFFFFFFF", "FFFHFFFF", "FFFFFHFF", "FFFHFFFF", "FHHFFFHF", "FHFFHFHF", "FFFHFFFG",
    ].map { Array($0) }

    /// Our frame for the toy-text reference's environment and state.
    static func render(_ reference: SceneFrameIndex.ToyText) throws -> Canvas {
        let s = reference.state
        switch reference.env {
        case "FrozenLake-v1": return FrozenLakeScene.render(desc: lake4, position: s["position"] ?? 0)
        case "FrozenLake8x8-v1": return FrozenLakeScene.render(desc: lake8, position: s["position"] ?? 0)
        case "Taxi-v3", "Taxi-v4":
            return TaxiScene.render(
                taxiRow: s["taxi_row"] ?? 0, taxiColumn: s["taxi_col"] ?? 0, passengerLocation: s["passenger"] ?? 0,
                destination: s["destination"] ?? 0)
        case "CliffWalking-v0", "CliffWalking-v1": return CliffWalkingScene.render(position: s["position"] ?? 36)
        case "Blackjack-v1":
            return BlackjackScene.render(
                playerSum: s["player_sum"] ?? 0, dealerCardValue: s["dealer_card"] ?? 0,
                usableAce: (s["usable_ace"] ?? 0) != 0, dealerCard: "KS")
        default: throw SceneFixtureError.unknownEnvironment(reference.env)
        }
    }

    /// Whether two colours differ by at most `tolerance` levels in every channel.
    static func close(_ a: RGBColor, _ b: RGBColor, tolerance: Int = 12) -> Bool {
        abs(Int(a.red) - Int(b.red)) <= tolerance && abs(Int(a.green) - Int(b.green)) <= tolerance
            && abs(Int(a.blue) - Int(b.blue)) <= tolerance
    }

    @Test(arguments: SceneFrameIndex.shared.toy_text)
    func sizeAndTileColoursMatchGymnasium(_ reference: SceneFrameIndex.ToyText) throws {
        let ours = try Self.render(reference)
        #expect(ours.width == reference.width, "\(reference.env) width")
        #expect(ours.height == reference.height, "\(reference.env) height")
        for sample in reference.samples {
            let color = ours.pixel(x: sample.x, y: sample.y)
            #expect(
                color.map { Self.close($0, sample.color) } == true,
                "\(reference.env) at (\(sample.x), \(sample.y)): ours \(String(describing: color)), Gymnasium \(sample.color)")
        }
    }

    @Test func frozenLakeSizesFollowTheMap() {
        #expect(FrozenLakeScene.frameSize(rows: 4, columns: 4) == (256, 256))
        #expect(FrozenLakeScene.frameSize(rows: 8, columns: 8) == (512, 512))
        #expect(FrozenLakeScene.frameSize(rows: 10, columns: 3) == (192, 512))
        let custom = FrozenLakeScene.render(desc: ["SFH", "FFG"].map { Array($0) }, position: 4)
        #expect(custom.width == 192 && custom.height == 128)
        _ = FrozenLakeScene.render(desc: [], position: 0)
        _ = FrozenLakeScene.render(desc: Self.lake4, position: -5)
        _ = FrozenLakeScene.render(desc: Self.lake4, position: 99)
    }

    @Test func frozenLakeTiles() {
        let frame = FrozenLakeScene.render(desc: Self.lake4, position: 0)
        // Cell centres: ice at (row 0, col 2), water at the holes, the player on the start.
        #expect(frame[2 * 64 + 20, 40] == FrozenLakeScene.ice)
        for (row, column) in [(1, 1), (1, 3), (2, 3), (3, 0)] {
            #expect(frame[column * 64 + 20, row * 64 + 36] == FrozenLakeScene.water, "hole \(row),\(column)")
        }
        #expect(frame[64, 100] == FrozenLakeScene.gridLine)
        let playerPixels = sceneColors(in: frame, x: 12..<52, y: 14..<50)
        #expect(playerPixels.contains(ToyTextArt.hatGreen))
        // The goal carries its flag; the player moved onto a hole disappears.
        let goalPixels = sceneColors(in: frame, x: 3 * 64..<256, y: 3 * 64..<256)
        #expect(goalPixels.contains(ToyTextArt.flagRed))
        let fallen = FrozenLakeScene.render(desc: Self.lake4, position: 5)
        let holePixels = sceneColors(in: fallen, x: 64..<128, y: 64..<128)
        #expect(!holePixels.contains(ToyTextArt.hatGreen))
    }

    @Test func taxiLayout() {
        let frame = TaxiScene.render(taxiRow: 2, taxiColumn: 2, passengerLocation: 1, destination: 2, heading: .east)
        #expect(frame.width == 536 && frame.height == 456)
        // The stands' colours near their bottom-left corners, clear of letters and sprites.
        for (index, stand) in TaxiScene.stands.enumerated() {
            let corner = TaxiScene.cellCorner(row: stand.row, column: stand.column)
            #expect(frame[corner.x + 10, corner.y + 40] == TaxiScene.standColors[index], "stand \(index)")
        }
        // A road cell, a wall, the destination's frame, the taxi's body.
        let road = TaxiScene.cellCorner(row: 2, column: 0)
        #expect(frame[road.x + 40, road.y + 28] == TaxiScene.road)
        let wall = TaxiScene.cellCorner(row: 0, column: 1)
        #expect(frame[wall.x + 88, wall.y + 28] == ToyTextArt.ink)
        let destination = TaxiScene.cellCorner(row: 4, column: 0)
        #expect(frame[destination.x + 1, destination.y + 28] == ToyTextArt.ink)
        let taxi = TaxiScene.cellCorner(row: 2, column: 2)
        let taxiPixels = sceneColors(in: frame, x: taxi.x..<taxi.x + 88, y: taxi.y..<taxi.y + 56)
        #expect(taxiPixels.contains(TaxiScene.body))
        // Passenger aboard: no passenger at any stand.
        let aboard = TaxiScene.render(taxiRow: 0, taxiColumn: 0, passengerLocation: 4, destination: 1)
        let green = TaxiScene.cellCorner(row: 0, column: 4)
        let greenPixels = sceneColors(in: aboard, x: green.x..<green.x + 88, y: green.y..<green.y + 56)
        #expect(!greenPixels.contains(TaxiScene.shirt))
        // Every heading draws; bad indices draw no stand marks but do not trap.
        for heading in TaxiScene.Heading.allCases {
            _ = TaxiScene.render(taxiRow: 4, taxiColumn: 4, passengerLocation: 4, destination: 3, heading: heading)
        }
        _ = TaxiScene.render(taxiRow: 9, taxiColumn: -3, passengerLocation: 7, destination: -1)
        #expect(TaxiScene.Heading.after(action: 4, previous: .west) == .west)
        #expect(TaxiScene.Heading.after(action: 2, previous: .west) == .east)
        #expect(TaxiScene.Heading.after(action: nil, previous: .north) == .north)
    }

    @Test func cliffWalkingLayout() {
        let frame = CliffWalkingScene.render(position: 36)
        #expect(frame.width == 768 && frame.height == 256)
        #expect(frame[5 * 64 + 40, 64 + 40] == CliffWalkingScene.grass)
        for column in 1...10 {
            #expect(frame[column * 64 + 40, 3 * 64 + 20] == CliffWalkingScene.earth, "cliff \(column)")
        }
        #expect(frame[40, 3 * 64 + 10] != CliffWalkingScene.earth)
        let startPixels = sceneColors(in: frame, x: 20..<60, y: 3 * 64 + 20..<256)
        #expect(startPixels.contains(ToyTextArt.hatGreen))
        let moved = CliffWalkingScene.render(position: 13)
        let cellPixels = sceneColors(in: moved, x: 64 + 20..<64 + 60, y: 64 + 20..<64 + 56)
        #expect(cellPixels.contains(ToyTextArt.hatGreen))
        #expect(CliffWalkingScene.isCliff(row: 3, column: 5))
        #expect(!CliffWalkingScene.isCliff(row: 3, column: 11))
    }

    @Test func blackjackLayout() {
        let frame = BlackjackScene.render(playerSum: 21, dealerCardValue: 1, usableAce: true, dealerCard: "AH")
        #expect(frame.width == 384 && frame.height == 376)
        #expect(frame[5, 5] == BlackjackScene.felt)
        // Card faces and backs where Gymnasium puts them.
        #expect(frame[96 + 40, 72 + 90] == BlackjackScene.cardFace)
        #expect(frame[208 + 40, 72 + 6] == BlackjackScene.cardBack)
        // Red ink on a heart card; dark ink in the labels and the big sum.
        let card = sceneColors(in: frame, x: 96..<176, y: 72..<184)
        #expect(card.contains(BlackjackScene.redSuit))
        let label = sceneColors(in: frame, x: 40..<148, y: 32..<52)
        #expect(label.contains(ToyTextArt.ink))
        let sum = sceneColors(in: frame, x: 0..<384, y: 248..<308)
        #expect(sum.contains(ToyTextArt.ink))
        let ace = sceneColors(in: frame, x: 0..<384, y: 328..<348)
        #expect(ace.contains(ToyTextArt.ink))
        let noAce = BlackjackScene.render(playerSum: 12, dealerCardValue: 10, usableAce: false, dealerCard: "QS")
        let noAceRow = sceneColors(in: noAce, x: 0..<384, y: 328..<348)
        #expect(!noAceRow.contains(ToyTextArt.ink))
        // An unreadable card name gives a blank card rather than a crash.
        _ = BlackjackScene.render(playerSum: -3, dealerCardValue: 99, usableAce: false, dealerCard: "")
        _ = BlackjackScene.render(playerSum: 5, dealerCardValue: 5, usableAce: false, dealerCard: "5X")
        // The sum is centred as Gymnasium centres it.
        #expect(BlackjackScene.centredX(36) == 172)
        #expect(BlackjackScene.centredX(84) == 148)
        #expect(BlackjackScene.centredX(156) == 112)
    }
}
