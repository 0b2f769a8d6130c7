import GymRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Draws on a `Canvas` with the geometry of the pygame calls Gymnasium's classic-control
/// renderers make, so our frames line up with theirs pixel for pixel (up to anti-aliasing).
///
/// Those renderers draw with y pointing up on a surface of `height` rows and flip it at the
/// end; here the flip is folded into the coordinates. pygame addresses pixels by integer
/// coordinates at their centres: pixel `i` is the unit interval around `i`, i.e. `[i, i + 1)`
/// in canvas space, so a pygame point `(x, y)` becomes the canvas point
/// `(x + 0.5, height - (y + 0.5))` once flipped.
///
/// - `gfxdraw.filled_polygon` + `gfxdraw.aapolygon` take integer vertices (Python `int()`,
///   i.e. truncation toward zero, then a 16-bit wrap), fill the pixels whose centres are inside
///   and add a one-pixel anti-aliased outline centred on the edges: together, the polygon through
///   the vertex pixel centres grown by half a pixel.
/// - `gfxdraw.filled_circle` + `gfxdraw.aacircle` at integer centre and radius `r`: the disc of
///   radius `r + 0.5` about the centre pixel's centre.
/// - `gfxdraw.hline` / `vline`: whole pixels, both ends included.
/// - `draw.aalines` and `draw.line` (width 1): one-pixel lines between pixel centres.
struct PygameSurface {
    /// Height of the surface in pixels (the flip axis).
    let height: Int

    /// The canvas point for pygame point `(x, y)` on the flipped surface.
    @inline(__always)
    func point(_ x: Double, _ y: Double) -> Point {
        Point(x + 0.5, Double(height) - (y + 0.5))
    }

    /// Python's `int(v)` followed by gfxdraw's cast to `Sint16`; nil when `v` is not finite or
    /// too large for Python to convert to a C long (where pygame would raise instead of drawing).
    static func gfxCoordinate(_ v: Double) -> Int? {
        guard v.isFinite, abs(v) < 9.0e18 else { return nil }
        return Int(Int16(truncatingIfNeeded: Int(v.rounded(.towardZero))))
    }

    /// Python's `int(v)`; nil when `v` is not finite.
    static func int(_ v: Double) -> Int? {
        guard v.isFinite, abs(v) < 9.0e18 else { return nil }
        return Int(v.rounded(.towardZero))
    }

    /// pygame's `Vector2(x, y).rotate_rad(angle)`, including its exact quarter turns.
    static func rotate(_ x: Double, _ y: Double, by angle: Double) -> (x: Double, y: Double) {
        let twoPi = 2 * Double.pi
        let halfPi = Double.pi / 2
        let epsilon = 1e-6
        var a = fmod(angle, twoPi)
        if a < 0 { a += twoPi }
        if fmod(a + epsilon, halfPi) < 2 * epsilon {
            switch Int((a + epsilon) / halfPi) {
            case 1: return (-y, x)
            case 2: return (-x, -y)
            case 3: return (y, -x)
            default: return (x, y)
            }
        }
        let s = sin(a)
        let c = cos(a)
        return (c * x - s * y, s * x + c * y)
    }

    /// `gfxdraw.aapolygon` then `gfxdraw.filled_polygon` with the same points and colour.
    func polygon(_ vertices: [(x: Double, y: Double)], color: RGBColor, on canvas: inout Canvas) {
        var points: [Point] = []
        points.reserveCapacity(vertices.count)
        for vertex in vertices {
            guard let x = PygameSurface.gfxCoordinate(vertex.x), let y = PygameSurface.gfxCoordinate(vertex.y) else {
                return
            }
            let p = point(Double(x), Double(y))
            if points.last != p { points.append(p) }
        }
        while points.count > 1, points.first == points.last { points.removeLast() }
        guard points.count >= 3, abs(signedArea(of: points)) > 1e-9 else {
            // Degenerate: all that shows is the outline, a one-pixel line through the points.
            if points.count >= 2 {
                canvas.strokePolyline(points, lineWidth: 1, color: color, closed: true, cap: .square)
            } else if let p = points.first {
                canvas.fillRect(Rect(x: p.x - 0.5, y: p.y - 0.5, width: 1, height: 1), color: color)
            }
            return
        }
        canvas.fillPolygon(PygameSurface.outset(points, by: 0.5), color: color)
    }

    /// `gfxdraw.aacircle` then `gfxdraw.filled_circle` at `(x, y)` with radius `radius`.
    func circle(x: Double, y: Double, radius: Double, color: RGBColor, on canvas: inout Canvas) {
        guard let cx = PygameSurface.gfxCoordinate(x), let cy = PygameSurface.gfxCoordinate(y),
            let r = PygameSurface.gfxCoordinate(radius), r >= 0
        else { return }
        canvas.fillCircle(center: point(Double(cx), Double(cy)), radius: Double(r) + 0.5, color: color)
    }

    /// `gfxdraw.hline(x1, x2, y)`: pixels `x1...x2` of row `y`.
    func hline(x1: Double, x2: Double, y: Double, color: RGBColor, on canvas: inout Canvas) {
        guard let a = PygameSurface.gfxCoordinate(x1), let b = PygameSurface.gfxCoordinate(x2),
            let row = PygameSurface.gfxCoordinate(y)
        else { return }
        canvas.fillPixels(x: min(a, b), y: height - 1 - row, width: abs(b - a) + 1, height: 1, color: color)
    }

    /// `gfxdraw.vline(x, y1, y2)`: pixels `y1...y2` of column `x`.
    func vline(x: Double, y1: Double, y2: Double, color: RGBColor, on canvas: inout Canvas) {
        guard let column = PygameSurface.gfxCoordinate(x), let a = PygameSurface.gfxCoordinate(y1),
            let b = PygameSurface.gfxCoordinate(y2)
        else { return }
        canvas.fillPixels(x: column, y: height - 1 - max(a, b), width: 1, height: abs(b - a) + 1, color: color)
    }

    /// `draw.aalines(closed=False)`: an anti-aliased polyline through the points. pygame's
    /// (Wu-style) lines put one pixel's worth of ink in each column (or row, for steep lines),
    /// so a segment is as wide as its run along the major axis per unit length.
    func aaLines(_ vertices: [(x: Double, y: Double)], color: RGBColor, on canvas: inout Canvas) {
        let points = vertices.map { point($0.x, $0.y) }
        guard points.count >= 2, points.allSatisfy(\.isFinite) else { return }
        var path = Path()
        for (start, end) in zip(points, points.dropFirst()) {
            let delta = end - start
            let length = delta.length
            guard length > 0 else { continue }
            let width = max(abs(delta.x), abs(delta.y)) / length
            path.addLine(from: start, to: end, lineWidth: width)
        }
        canvas.fill(path, color: color)
    }

    /// `draw.line(start, end)` of width 1 (integer end points, both ends drawn).
    func line(from start: (x: Double, y: Double), to end: (x: Double, y: Double), color: RGBColor, on canvas: inout Canvas) {
        guard let x1 = PygameSurface.int(start.x), let y1 = PygameSurface.int(start.y),
            let x2 = PygameSurface.int(end.x), let y2 = PygameSurface.int(end.y)
        else { return }
        canvas.strokeLine(
            from: point(Double(x1), Double(y1)), to: point(Double(x2), Double(y2)), lineWidth: 1, color: color,
            cap: .square)
    }

    /// `points` (a simple polygon, either orientation) with every edge pushed `distance` outward,
    /// corners mitred (bevelled where the mitre would be longer than twice `distance`).
    static func outset(_ points: [Point], by distance: Double) -> [Point] {
        let n = points.count
        guard n >= 3 else { return points }
        // (-e.y, e.x) points inward along a clockwise-on-screen (positive area) outline.
        let sign: Double = signedArea(of: points) > 0 ? -1 : 1
        var result: [Point] = []
        result.reserveCapacity(n + 4)
        for i in 0..<n {
            let previous = points[(i + n - 1) % n]
            let current = points[i]
            let next = points[(i + 1) % n]
            let e1 = current - previous
            let e2 = next - current
            let l1 = e1.length
            let l2 = e2.length
            guard l1 > 0, l2 > 0 else { continue }
            // Outward unit normals of the two edges meeting here.
            let n1 = Point(-e1.y / l1 * sign, e1.x / l1 * sign)
            let n2 = Point(-e2.y / l2 * sign, e2.x / l2 * sign)
            let bisector = n1 + n2
            let cosine = n1.x * n2.x + n1.y * n2.y
            let miterScale = 1 + cosine  // |bisector|^2 / 2
            if miterScale > 0.5 {
                // Mitre length distance / cos(half angle) <= 2 * distance.
                result.append(current + bisector * (distance / miterScale))
            } else {
                result.append(current + n1 * distance)
                result.append(current + n2 * distance)
            }
        }
        return result
    }
}
