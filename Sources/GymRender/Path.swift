#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the ends of an open stroke are finished.
public enum LineCap: Sendable {
    /// The stroke stops at the end point.
    case butt
    /// The stroke goes on half its width past the end point.
    case square
    /// A half disc of the stroke's width is added at the end point.
    case round
}

/// How the corners of a stroked polyline are finished.
public enum LineJoin: Sendable {
    /// A disc of the stroke's width at every corner.
    case round
    /// The outer corners are cut straight across.
    case bevel
    /// Nothing added: each segment is drawn on its own.
    case none
}

/// A shape to fill: closed contours, filled by the non-zero rule.
///
/// Contours added with `addPolygon` (and every shape method) are stored with positive
/// orientation, so overlapping shapes merge into their union; `addHole` stores the reverse
/// orientation, so a hole cuts the contours it lies in (a ring is a circle plus a smaller hole).
/// Coordinates are in whatever space the caller likes; `Canvas.fill(_:color:transform:)` maps them
/// to the canvas.
public struct Path: Sendable {
    /// The contours, each an implicitly closed list of vertices.
    public private(set) var contours: [[Point]] = []

    /// An empty path.
    public init() {}

    /// A path of one polygon.
    public init(polygon: [Point]) {
        addPolygon(polygon)
    }

    /// Whether there is nothing to fill.
    public var isEmpty: Bool { contours.isEmpty }

    /// Adds a simple polygon (convex or not), whatever the order of its vertices.
    public mutating func addPolygon(_ points: [Point]) {
        guard points.count >= 3 else { return }
        contours.append(signedArea(of: points) < 0 ? points.reversed() : points)
    }

    /// Adds a polygon that cuts the shapes it overlaps.
    public mutating func addHole(_ points: [Point]) {
        guard points.count >= 3 else { return }
        contours.append(signedArea(of: points) > 0 ? points.reversed() : points)
    }

    /// Adds an axis-aligned rectangle.
    public mutating func addRect(_ rect: Rect) {
        addPolygon(rect.corners)
    }

    /// Adds a disc. `tolerance` is the largest distance (in path units) between the true circle
    /// and the polygon that stands for it.
    public mutating func addCircle(center: Point, radius: Double, tolerance: Double = 0.05) {
        guard radius > 0 else { return }
        addPolygon(Path.circlePoints(center: center, radius: radius, tolerance: tolerance))
    }

    /// Adds a ring: a disc of radius `radius + lineWidth / 2` less one of `radius - lineWidth / 2`.
    public mutating func addRing(center: Point, radius: Double, lineWidth: Double, tolerance: Double = 0.05) {
        let outer = radius + lineWidth / 2
        let inner = radius - lineWidth / 2
        guard outer > 0, lineWidth > 0 else { return }
        let outerPoints = Path.circlePoints(center: center, radius: outer, tolerance: tolerance)
        addPolygon(outerPoints)
        if inner > 0 {
            // Same vertex count keeps the ring's width even all round.
            let inner = Path.circlePoints(center: center, radius: inner, segments: outerPoints.count)
            addHole(inner)
        }
    }

    /// Adds the stroke of one segment, `lineWidth` wide.
    public mutating func addLine(from start: Point, to end: Point, lineWidth: Double, cap: LineCap = .butt) {
        addPolyline([start, end], lineWidth: lineWidth, cap: cap, join: .none)
    }

    /// Adds the stroke of a polyline, `lineWidth` wide; `closed` joins the last point to the first.
    public mutating func addPolyline(
        _ points: [Point], lineWidth: Double, closed: Bool = false, cap: LineCap = .butt, join: LineJoin = .round
    ) {
        guard lineWidth > 0, let first = points.first else { return }
        let half = lineWidth / 2
        // Drop repeated points: a zero-length segment has no direction.
        var vertices: [Point] = [first]
        vertices.reserveCapacity(points.count)
        for point in points.dropFirst() where point != vertices[vertices.count - 1] {
            vertices.append(point)
        }
        if closed, vertices.count > 2, vertices[0] == vertices[vertices.count - 1] {
            vertices.removeLast()
        }
        if vertices.count == 1 {
            // A dot: what the caps make of a zero-length stroke.
            switch cap {
            case .butt: break
            case .square: addRect(Rect(x: first.x - half, y: first.y - half, width: lineWidth, height: lineWidth))
            case .round: addCircle(center: first, radius: half)
            }
            return
        }
        let segmentCount = closed && vertices.count > 2 ? vertices.count : vertices.count - 1
        for i in 0..<segmentCount {
            var start = vertices[i]
            var end = vertices[(i + 1) % vertices.count]
            let direction = end - start
            let length = direction.length
            guard length > 0, length.isFinite else { continue }
            let unit = direction * (1 / length)
            let normal = Point(-unit.y * half, unit.x * half)
            if !closed && cap == .square {
                if i == 0 { start = start - unit * half }
                if i == segmentCount - 1 { end = end + unit * half }
            }
            // This order has positive orientation whatever the direction (see `addPolygon`).
            contours.append([start - normal, end - normal, end + normal, start + normal])
        }
        if !closed && cap == .round {
            addCircle(center: vertices[0], radius: half)
            addCircle(center: vertices[vertices.count - 1], radius: half)
        }
        guard vertices.count > 2, join != .none else { return }
        let corners = closed ? Array(0..<vertices.count) : Array(1..<(vertices.count - 1))
        for i in corners {
            let corner = vertices[i]
            let before = vertices[(i + vertices.count - 1) % vertices.count]
            let after = vertices[(i + 1) % vertices.count]
            switch join {
            case .round:
                addCircle(center: corner, radius: half)
            case .bevel:
                let inward = corner - before
                let outward = after - corner
                let l1 = inward.length
                let l2 = outward.length
                guard l1 > 0, l2 > 0 else { continue }
                let n1 = Point(-inward.y / l1 * half, inward.x / l1 * half)
                let n2 = Point(-outward.y / l2 * half, outward.x / l2 * half)
                // The outer side is the one the path turns away from.
                let turn = inward.x * outward.y - inward.y * outward.x
                if turn > 0 {
                    addPolygon([corner, corner - n1, corner - n2])
                } else {
                    addPolygon([corner, corner + n1, corner + n2])
                }
            case .none:
                break
            }
        }
    }

    /// Appends every contour of `other`.
    public mutating func append(_ other: Path) {
        contours.append(contentsOf: other.contours)
    }

    /// The vertices of a regular polygon close to the circle, within `tolerance`.
    public static func circlePoints(center: Point, radius: Double, tolerance: Double = 0.05) -> [Point] {
        circlePoints(center: center, radius: radius, segments: circleSegments(radius: radius, tolerance: tolerance))
    }

    /// The vertices of a regular `segments`-gon centred on the circle, sized to have the circle's
    /// area (so its coverage matches the true disc's on average).
    public static func circlePoints(center: Point, radius: Double, segments: Int) -> [Point] {
        let n = max(3, segments)
        let step = 2 * Double.pi / Double(n)
        let equalArea = radius * (2 * Double.pi / (Double(n) * sin(step))).squareRoot()
        // Turn a radius vector step by step (exact enough for a few thousand steps, and no
        // trigonometry per vertex).
        let (c, s) = (cos(step), sin(step))
        var (dx, dy) = (equalArea, 0.0)
        var points: [Point] = []
        points.reserveCapacity(n)
        for _ in 0..<n {
            points.append(Point(center.x + dx, center.y + dy))
            (dx, dy) = (dx * c - dy * s, dx * s + dy * c)
        }
        return points
    }

    /// How many segments keep a flattened circle within `tolerance` of the true one.
    public static func circleSegments(radius: Double, tolerance: Double) -> Int {
        guard radius.isFinite, radius > 0 else { return 3 }
        let t = max(tolerance, 1e-3)
        guard radius > t else { return 8 }
        let n = Double.pi / acos(1 - t / radius)
        return Int(min(max(n.rounded(.up), 8), 4096))
    }
}
