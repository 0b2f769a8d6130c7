import Testing

@testable import GymRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Coverage of black ink on a white canvas at one pixel (0 untouched, 1 fully black).
func ink(_ canvas: Canvas, _ x: Int, _ y: Int) -> Double {
    1 - Double(canvas[x, y].red) / 255
}

/// Total ink on a white canvas, in pixels: the area that was painted black.
func totalInk(_ canvas: Canvas) -> Double {
    var sum = 0.0
    for y in 0..<canvas.height {
        for x in 0..<canvas.width {
            sum += ink(canvas, x, y)
        }
    }
    return sum
}

/// Whether every pixel is still white.
func isBlank(_ canvas: Canvas) -> Bool {
    canvas.pixels.allSatisfy { $0 == 255 }
}

@Suite("Coverage rasteriser")
struct RasterizerTests {
    @Test func pixelAlignedSquareFillsExactlyItsPixels() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.fillPolygon([Point(2, 3), Point(6, 3), Point(6, 5), Point(2, 5)], color: .black)
        for y in 0..<10 {
            for x in 0..<10 {
                let inside = (2..<6).contains(x) && (3..<5).contains(y)
                #expect(canvas[x, y] == (inside ? RGBColor.black : .white), "pixel \(x),\(y)")
            }
        }
    }

    @Test func halfCoveredPixelIsHalfBlended() {
        var canvas = Canvas(width: 4, height: 4)
        // Covers the left half of pixel column 1 and all of column 0.
        canvas.fillRect(Rect(x: 0, y: 0, width: 1.5, height: 4), color: .black)
        for y in 0..<4 {
            #expect(canvas[0, y] == .black)
            #expect(abs(ink(canvas, 1, y) - 0.5) <= 1.0 / 255)
            #expect(canvas[2, y] == .white)
        }
        // A quarter of a pixel (half in x, half in y).
        var quarter = Canvas(width: 3, height: 3)
        quarter.fillRect(Rect(x: 1.5, y: 1.5, width: 5, height: 5), color: .black)
        #expect(abs(ink(quarter, 1, 1) - 0.25) <= 1.0 / 255)
        #expect(abs(ink(quarter, 2, 1) - 0.5) <= 1.0 / 255)
        #expect(quarter[2, 2] == .black)
    }

    @Test func colouredBlendAtHalfCoverage() {
        var canvas = Canvas(width: 2, height: 1, background: RGBColor(0, 0, 200))
        canvas.fillRect(Rect(x: 0, y: 0, width: 0.5, height: 1), color: RGBColor(200, 100, 0))
        let p = canvas[0, 0]
        #expect(abs(Int(p.red) - 100) <= 1)
        #expect(abs(Int(p.green) - 50) <= 1)
        #expect(abs(Int(p.blue) - 100) <= 1)
    }

    @Test func diagonalEdgeCoversHalfOfEachPixelOnIt() {
        var canvas = Canvas(width: 8, height: 8)
        // Triangle below the diagonal y = x.
        canvas.fillPolygon([Point(0, 0), Point(8, 8), Point(0, 8)], color: .black)
        for i in 0..<8 {
            #expect(abs(ink(canvas, i, i) - 0.5) <= 1.0 / 255, "diagonal pixel \(i)")
        }
        #expect(canvas[0, 7] == .black)
        #expect(canvas[7, 0] == .white)
        #expect(abs(totalInk(canvas) - 32) < 0.05)
    }

    @Test(arguments: [0.0, 0.3, 1.1, 2.7])
    func triangleInkEqualsItsArea(rotation: Double) {
        var canvas = Canvas(width: 64, height: 64)
        let points = [Point(-20, -10), Point(18, -14), Point(3, 21)]
        let transform = Transform.rotation(rotation).then(.translation(31.3, 30.7))
        canvas.fillPolygon(points, color: .black, transform: transform)
        let area = abs(signedArea(of: points))
        #expect(abs(totalInk(canvas) - area) < area * 0.002 + 0.5)
    }

    @Test func nonConvexPolygonIsFilledExactly() {
        // An L shape: 6x6 square less its 3x3 top-right quarter.
        var canvas = Canvas(width: 10, height: 10)
        let shape = [Point(1, 1), Point(4, 1), Point(4, 4), Point(7, 4), Point(7, 7), Point(1, 7)]
        canvas.fillPolygon(shape, color: .black)
        #expect(abs(totalInk(canvas) - 27) < 1e-6)
        #expect(canvas[5, 2] == .white)
        #expect(canvas[2, 2] == .black)
        #expect(canvas[5, 5] == .black)
        // A star (self-touching spikes, non-convex): ink equals its area.
        var star = Canvas(width: 100, height: 100)
        let points = (0..<10).map { i -> Point in
            let radius = i % 2 == 0 ? 40.0 : 15.0
            let angle = Double(i) * Double.pi / 5
            return Point(50.2 + radius * sin(angle), 49.6 - radius * cos(angle))
        }
        star.fillPolygon(points, color: .black)
        let area = abs(signedArea(of: points))
        #expect(abs(totalInk(star) - area) < area * 0.002)
    }

    @Test func orientationDoesNotMatter() {
        var clockwise = Canvas(width: 20, height: 20)
        var anticlockwise = Canvas(width: 20, height: 20)
        let points = [Point(2.3, 3.1), Point(15.7, 4.4), Point(9.2, 17.9)]
        clockwise.fillPolygon(points, color: .black)
        anticlockwise.fillPolygon(points.reversed(), color: .black)
        #expect(clockwise == anticlockwise)
    }

    @Test func overlappingContoursArePaintedOnce() {
        var path = Path()
        path.addRect(Rect(x: 0, y: 0, width: 6, height: 4))
        path.addRect(Rect(x: 3, y: 0, width: 6, height: 4))
        var canvas = Canvas(width: 10, height: 4)
        canvas.fill(path, color: .black, opacity: 0.5)
        // The overlap (columns 3...5) is no darker than the rest.
        #expect(canvas[4, 1] == canvas[1, 1])
        #expect(canvas[4, 1] == canvas[7, 1])
        #expect(canvas[9, 1] == .white)
    }

    @Test func holesCutTheShapesTheyLieIn() {
        var path = Path()
        path.addRect(Rect(x: 0, y: 0, width: 10, height: 10))
        path.addHole(Rect(x: 3, y: 3, width: 4, height: 4).corners)
        var canvas = Canvas(width: 10, height: 10)
        canvas.fill(path, color: .black)
        #expect(canvas[5, 5] == .white)
        #expect(canvas[1, 1] == .black)
        #expect(abs(totalInk(canvas) - 84) < 1e-6)
    }

    @Test func shapesPartlyOutsideAreClipped() {
        // A square hanging over every border: only the part inside is painted.
        var canvas = Canvas(width: 10, height: 8)
        canvas.fillRect(Rect(x: -5.5, y: -3.25, width: 30, height: 30), color: .black)
        #expect(canvas.pixels.allSatisfy { $0 == 0 })
        // Over the left and top edges: the inside part matches the clipped area.
        var corner = Canvas(width: 10, height: 10)
        corner.fillPolygon([Point(-6, -6), Point(4.5, -6), Point(4.5, 3.5), Point(-6, 3.5)], color: .black)
        #expect(abs(totalInk(corner) - 4.5 * 3.5) < 0.02)  // 8-bit rounding of the partial pixels
        // A triangle crossing the right border: ink equals the part of its area inside.
        var right = Canvas(width: 10, height: 10)
        right.fillPolygon([Point(5, 0), Point(15, 5), Point(5, 10)], color: .black)
        // Inside x < 10: the trapezoid between x = 5 (height 10) and x = 10 (height 5).
        #expect(abs(totalInk(right) - 37.5) < 0.01)
        // Crossing the bottom border.
        var bottom = Canvas(width: 10, height: 10)
        bottom.fillPolygon([Point(0, 5), Point(10, 5), Point(5, 15)], color: .black)
        #expect(abs(totalInk(bottom) - 37.5) < 0.01)
    }

    @Test func nothingWrapsAroundTheFrameEdges() {
        // A write past the end of a row would land at the start of the next one: shapes hanging
        // over the right border must leave the left columns alone, and vice versa.
        var right = Canvas(width: 16, height: 12)
        right.fillPolygon([Point(10.3, 2.2), Point(60, -20), Point(90, 30), Point(12.7, 9.6)], color: .black)
        right.fillCircle(center: Point(17, 6), radius: 4.3, color: .black)
        right.strokeLine(from: Point(8, 3.5), to: Point(400, 3.5), lineWidth: 2, color: .black)
        for y in 0..<12 {
            for x in 0..<6 {
                #expect(right[x, y] == .white, "pixel \(x),\(y)")
            }
        }
        var left = Canvas(width: 16, height: 12)
        left.fillPolygon([Point(5.7, 2.2), Point(-60, -20), Point(-90, 30), Point(3.3, 9.6)], color: .black)
        left.fillCircle(center: Point(-1, 6), radius: 4.3, color: .black)
        for y in 0..<12 {
            for x in 10..<16 {
                #expect(left[x, y] == .white, "pixel \(x),\(y)")
            }
        }
        // Hanging over the bottom and top: rows outside are simply not there; rows inside are right.
        var bottom = Canvas(width: 16, height: 12)
        bottom.fillRect(Rect(x: 2, y: 10, width: 5, height: 100), color: .black)
        bottom.fillRect(Rect(x: 9, y: -100, width: 5, height: 101), color: .black)
        #expect(abs(totalInk(bottom) - 15) < 1e-6)
    }

    @Test func shapesWhollyOutsideChangeNothing() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.fillRect(Rect(x: 10, y: 0, width: 5, height: 5), color: .black)
        canvas.fillRect(Rect(x: -5, y: 0, width: 5, height: 5), color: .black)
        canvas.fillRect(Rect(x: 0, y: -5, width: 5, height: 5), color: .black)
        canvas.fillRect(Rect(x: 0, y: 10, width: 5, height: 5), color: .black)
        canvas.fillCircle(center: Point(-100, -100), radius: 50, color: .black)
        canvas.strokeLine(from: Point(-5, 20), to: Point(20, 40), lineWidth: 3, color: .black)
        #expect(isBlank(canvas))
    }

    @Test func absurdCoordinatesNeitherTrapNorPaintWrongly() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.fillPolygon([Point(.nan, 0), Point(5, 5), Point(0, 5)], color: .black)
        canvas.fillPolygon([Point(.infinity, 0), Point(5, 5), Point(0, 5)], color: .black)
        canvas.fillCircle(center: Point(5, 5), radius: .nan, color: .black)
        canvas.fillCircle(center: Point(5, 5), radius: -3, color: .black)
        canvas.strokeLine(from: Point(0, 0), to: Point(.nan, 3), color: .black)
        #expect(isBlank(canvas))
        // Huge but finite: a half-plane through the middle of the frame.
        canvas.fillPolygon([Point(-1e300, -1e300), Point(5, -1e300), Point(5, 1e300), Point(-1e300, 1e300)], color: .black)
        #expect(canvas[4, 5] == .black)
        #expect(canvas[5, 5] == .white)
        // Far-away vertices keep their edges' slopes: the edge from (0, 0) through (5, 10) and on
        // to (1e300, 2e300) passes through the frame on y = 2x.
        var steep = Canvas(width: 10, height: 10)
        steep.fillPolygon([Point(0, 0), Point(1e300, 2e300), Point(0, 2e300)], color: .black)
        // The shape is x <= y / 2: three quarters of the pixel from (2, 5) to (3, 6), and a
        // quarter of the frame.
        #expect(abs(ink(steep, 2, 5) - 0.75) <= 1.0 / 255)
        #expect(abs(totalInk(steep) - 25) < 0.02)
        // Degenerate shapes draw nothing.
        var empty = Canvas(width: 10, height: 10)
        empty.fillPolygon([Point(1, 1), Point(5, 5), Point(9, 9)], color: .black)
        empty.fillPolygon([Point(1, 1), Point(5, 5)], color: .black)
        empty.fill(Path(), color: .black)
        #expect(isBlank(empty))
        // Empty canvases accept drawing.
        var nothing = Canvas(width: 0, height: 0)
        nothing.fillCircle(center: .zero, radius: 5, color: .black)
        nothing.fill(.black)
        #expect(nothing.pixels.isEmpty)
    }

    @Test func wideShapesFillTheirInterior() {
        // Interior chunks of the accumulation buffer see no edge; they must still be painted.
        var canvas = Canvas(width: 256, height: 64)
        canvas.fillRect(Rect(x: 3.5, y: 2.5, width: 200, height: 48), color: .black, opacity: 0.5)
        let interior = canvas[100, 20]
        #expect(abs(ink(canvas, 100, 20) - 0.5) <= 1.0 / 255)
        for x in 4..<203 {
            #expect(canvas[x, 3] == interior && canvas[x, 49] == interior, "column \(x)")
        }
        #expect(canvas[210, 20] == .white)
        #expect(abs(totalInk(canvas) - 200 * 48 * 128 / 255) < 2)  // opacity 0.5 is alpha 128
        // A frame-wide shape with a hole in the middle of a long row.
        var ring = Canvas(width: 600, height: 20)
        var path = Path()
        path.addRect(Rect(x: -10, y: 0, width: 620, height: 20))
        path.addHole(Rect(x: 100.25, y: 5, width: 400, height: 10).corners)
        ring.fill(path, color: .black)
        #expect(ring[50, 10] == .black)
        #expect(ring[300, 10] == .white)
        #expect(ring[550, 10] == .black)
        #expect(abs(ink(ring, 100, 10) - 0.25) <= 1.0 / 255)
    }

    /// Coverage of pixel (x, y) by `polygon` (non-zero rule), estimated on an n x n grid of samples.
    static func sampledCoverage(_ polygon: [Point], x: Int, y: Int, samples n: Int) -> Double {
        var inside = 0
        for i in 0..<n {
            for j in 0..<n {
                let px = Double(x) + (Double(i) + 0.5) / Double(n)
                let py = Double(y) + (Double(j) + 0.5) / Double(n)
                var winding = 0
                var previous = polygon[polygon.count - 1]
                for point in polygon {
                    if (previous.y <= py) != (point.y <= py) {
                        let t = (py - previous.y) / (point.y - previous.y)
                        if previous.x + t * (point.x - previous.x) > px { winding += point.y > previous.y ? 1 : -1 }
                    }
                    previous = point
                }
                if winding != 0 { inside += 1 }
            }
        }
        return Double(inside) / Double(n * n)
    }

    @Test func everyPixelMatchesASupersampledReference() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ range: ClosedRange<Double>) -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return range.lowerBound + Double(seed >> 11) / Double(1 << 53) * (range.upperBound - range.lowerBound)
        }
        for shape in 0..<6 {
            // Random simple shapes: star-shaped polygons around a centre, some crossing the borders.
            let count = 3 + shape * 2
            let center = Point(random(5...35), random(5...35))
            let polygon = (0..<count).map { i -> Point in
                let angle = Double(i) / Double(count) * 2 * Double.pi
                let radius = random(4...26)
                return Point(center.x + radius * cos(angle), center.y + radius * sin(angle))
            }
            var canvas = Canvas(width: 40, height: 40)
            canvas.fillPolygon(polygon, color: .black)
            var worst = 0.0
            for y in 0..<40 {
                for x in 0..<40 {
                    let expected = Self.sampledCoverage(polygon, x: x, y: y, samples: 24)
                    worst = max(worst, abs(ink(canvas, x, y) - expected))
                }
            }
            #expect(worst <= 0.05, "shape \(shape): worst pixel off by \(worst)")
        }
    }

    @Test func opacityScalesCoverage() {
        var canvas = Canvas(width: 4, height: 4)
        canvas.fillRect(Rect(x: 0, y: 0, width: 4, height: 4), color: .black, opacity: 0.25)
        #expect(abs(ink(canvas, 2, 2) - 0.25) <= 1.0 / 255)
        canvas.fillRect(Rect(x: 0, y: 0, width: 4, height: 4), color: .black, opacity: 0)
        #expect(abs(ink(canvas, 2, 2) - 0.25) <= 1.0 / 255)
    }
}

@Suite("Shapes")
struct ShapeTests {
    @Test(arguments: [1.5, 4.0, 10.3, 37.0])
    func circleInkEqualsItsArea(radius: Double) {
        var canvas = Canvas(width: 100, height: 100)
        canvas.fillCircle(center: Point(50.3, 49.8), radius: radius, color: .black)
        let area = Double.pi * radius * radius
        #expect(abs(totalInk(canvas) - area) < max(0.01 * area, 0.3))
    }

    @Test func circleIsSymmetricAndSolid() {
        var canvas = Canvas(width: 21, height: 21)
        canvas.fillCircle(center: Point(10.5, 10.5), radius: 8, color: .black)
        #expect(canvas[10, 10] == .black)
        #expect(canvas[10, 4] == .black)
        #expect(canvas[0, 0] == .white)
        #expect(canvas[10, 19] == .white)
        for (x, y) in [(3, 10), (10, 3), (6, 6)] {
            // Mirror images of the same pixel get the same coverage.
            #expect(abs(ink(canvas, x, y) - ink(canvas, 20 - x, y)) <= 2.0 / 255)
            #expect(abs(ink(canvas, x, y) - ink(canvas, x, 20 - y)) <= 2.0 / 255)
        }
    }

    @Test func ringLeavesItsMiddleAlone() {
        var canvas = Canvas(width: 40, height: 40)
        canvas.strokeCircle(center: Point(20, 20), radius: 12, lineWidth: 2, color: .black)
        #expect(canvas[20, 20] == .white)
        #expect(ink(canvas, 20, 7) > 0.9)  // on the ring: y from 7 to 9
        #expect(ink(canvas, 32, 20) > 0.4)
        let area = Double.pi * (13 * 13 - 11 * 11)
        #expect(abs(totalInk(canvas) - area) < 0.02 * area)
    }

    @Test func horizontalLineCoversItsRow() {
        var canvas = Canvas(width: 12, height: 5)
        canvas.strokeLine(from: Point(2, 2.5), to: Point(9, 2.5), lineWidth: 1, color: .black)
        for x in 0..<12 {
            #expect(canvas[x, 2] == ((2..<9).contains(x) ? .black : .white))
            #expect(canvas[x, 1] == .white)
            #expect(canvas[x, 3] == .white)
        }
        // Square caps add half the width at both ends.
        var capped = Canvas(width: 12, height: 5)
        capped.strokeLine(from: Point(2.5, 2.5), to: Point(8.5, 2.5), lineWidth: 1, color: .black, cap: .square)
        #expect(capped[2, 2] == .black)
        #expect(capped[8, 2] == .black)
        #expect(capped[1, 2] == .white)
        #expect(capped[9, 2] == .white)
    }

    @Test func diagonalLineInkIsLengthTimesWidth() {
        var canvas = Canvas(width: 60, height: 60)
        let start = Point(5.2, 7.9)
        let end = Point(51.7, 40.3)
        canvas.strokeLine(from: start, to: end, lineWidth: 3, color: .black)
        let expected = start.distance(to: end) * 3
        #expect(abs(totalInk(canvas) - expected) < 0.01 * expected)
    }

    @Test func polylineJointsArePaintedOnce() {
        var canvas = Canvas(width: 40, height: 40)
        canvas.strokePolyline(
            [Point(5, 5), Point(30, 5), Point(30, 30)], lineWidth: 4, color: .black, join: .round, opacity: 0.5)
        // The corner, covered by two segments and a join disc, is no darker than a plain stretch.
        #expect(canvas[30, 5] == canvas[15, 5])
        #expect(abs(ink(canvas, 15, 5) - 0.5) <= 1.0 / 255)
        // Closed polylines join the ends.
        var closed = Canvas(width: 40, height: 40)
        closed.strokePolyline([Point(5, 5), Point(30, 5), Point(30, 30)], lineWidth: 2, color: .black, closed: true)
        #expect(ink(closed, 17, 17) > 0.9)  // on the closing diagonal
    }

    @Test func rectOutline() {
        var canvas = Canvas(width: 20, height: 20)
        canvas.strokeRect(Rect(x: 4, y: 4, width: 10, height: 10), lineWidth: 2, color: .black)
        #expect(canvas[4, 4] == .black)
        #expect(canvas[3, 9] == .black)
        #expect(canvas[9, 9] == .white)
        #expect(canvas[1, 1] == .white)
        #expect(abs(totalInk(canvas) - (12 * 12 - 8 * 8)) < 1e-6)
    }

    @Test func zeroWidthStrokesDrawNothing() {
        var canvas = Canvas(width: 10, height: 10)
        canvas.strokeLine(from: Point(1, 1), to: Point(8, 8), lineWidth: 0, color: .black)
        canvas.strokePolyline([Point(5, 5)], lineWidth: 2, color: .black)
        canvas.strokeCircle(center: Point(5, 5), radius: 3, lineWidth: 0, color: .black)
        #expect(isBlank(canvas))
        var dot = Canvas(width: 10, height: 10)
        dot.strokePolyline([Point(5, 5), Point(5, 5)], lineWidth: 2, color: .black, cap: .round)
        #expect(dot[4, 4] != .white)
    }
}

@Suite("Transforms")
struct TransformTests {
    @Test func rotationTurnsCounterClockwiseInAYUpFrame() {
        let p = Transform.rotation(Double.pi / 2).apply(Point(1, 0))
        #expect(abs(p.x) < 1e-12 && abs(p.y - 1) < 1e-12)
        let q = Point(1, 0).rotated(by: Double.pi / 2)
        #expect(abs(q.x - p.x) < 1e-12 && abs(q.y - p.y) < 1e-12)
    }

    @Test func compositionAppliesInOrder() {
        let t = Transform.rotation(Double.pi).then(.translation(10, 0))
        let p = t.apply(Point(1, 2))
        #expect(abs(p.x - 9) < 1e-12 && abs(p.y + 2) < 1e-12)
        let s = Transform.scale(2, 3).then(.translation(1, 1)).then(.flipVertical(height: 10))
        let r = s.apply(Point(1, 1))
        #expect(r == Point(3, 6))
        #expect(Transform.identity.isIdentity)
        #expect(Transform.flipHorizontal(width: 8).apply(Point(1, 5)) == Point(7, 5))
        #expect(abs(Transform.scale(2, 8).meanScale - 4) < 1e-12)
    }

    @Test func translatedDrawingEqualsDrawingAtTheOffset() {
        var moved = Canvas(width: 30, height: 30)
        var direct = Canvas(width: 30, height: 30)
        let triangle = [Point(0, 0), Point(10.5, 2), Point(4, 9.25)]
        moved.fillPolygon(triangle, color: .black, transform: .translation(7, 11))
        direct.fillPolygon(triangle.map { $0 + Point(7, 11) }, color: .black)
        #expect(moved == direct)
    }

    @Test func flipVerticalMatchesFlippingTheCanvas() {
        // Drawing with y up and flipping coordinates equals drawing with y down and flipping pixels.
        let shape = [Point(3, 2), Point(17, 5.5), Point(8, 14)]
        var flippedCoordinates = Canvas(width: 20, height: 16)
        flippedCoordinates.fillPolygon(shape, color: .black, transform: .flipVertical(height: 16))
        var flippedPixels = Canvas(width: 20, height: 16)
        flippedPixels.fillPolygon(shape, color: .black)
        flippedPixels.flipVertically()
        #expect(flippedCoordinates == flippedPixels)
    }

    @Test func quarterTurnOfASquareIsTheSameSquare() {
        var turned = Canvas(width: 20, height: 20)
        let square = Rect(x: -4, y: -4, width: 8, height: 8)
        turned.fillRect(square, color: .black, transform: Transform.rotation(Double.pi / 2).then(.translation(10, 10)))
        var plain = Canvas(width: 20, height: 20)
        plain.fillRect(Rect(x: 6, y: 6, width: 8, height: 8), color: .black)
        #expect(turned == plain)
    }

    @Test func signedAreaSign() {
        let clockwiseOnScreen = [Point(0, 0), Point(1, 0), Point(1, 1), Point(0, 1)]
        #expect(signedArea(of: clockwiseOnScreen) == 1)
        #expect(signedArea(of: clockwiseOnScreen.reversed()) == -1)
        #expect(signedArea(of: [Point(0, 0), Point(1, 1)]) == 0)
    }
}
