#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in canvas space: `x` to the right, `y` down, one unit per pixel. Pixel `(i, j)` is the
/// unit square from `(i, j)` to `(i + 1, j + 1)`, so its centre is `(i + 0.5, j + 0.5)`.
public struct Point: Hashable, Sendable, CustomStringConvertible {
    public var x: Double
    public var y: Double

    public init(x: Double, y: Double) {
        self.x = x
        self.y = y
    }

    public init(_ x: Double, _ y: Double) {
        self.x = x
        self.y = y
    }

    public static let zero = Point(0, 0)

    /// Whether both coordinates are finite.
    public var isFinite: Bool { x.isFinite && y.isFinite }

    public static func + (a: Point, b: Point) -> Point { Point(a.x + b.x, a.y + b.y) }
    public static func - (a: Point, b: Point) -> Point { Point(a.x - b.x, a.y - b.y) }
    public static func * (a: Point, s: Double) -> Point { Point(a.x * s, a.y * s) }

    /// Distance to `other`.
    public func distance(to other: Point) -> Double { (self - other).length }

    /// Length of the vector from the origin.
    public var length: Double { (x * x + y * y).squareRoot() }

    /// This vector turned by `angle` radians, counter-clockwise in a y-up frame (pygame's
    /// `Vector2.rotate_rad`): `(x cos a - y sin a, x sin a + y cos a)`.
    public func rotated(by angle: Double) -> Point {
        let c = cos(angle)
        let s = sin(angle)
        return Point(x * c - y * s, x * s + y * c)
    }

    public var description: String { "(\(x), \(y))" }
}

/// An axis-aligned rectangle in canvas space.
public struct Rect: Hashable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }

    /// The four corners, clockwise on screen from the top-left.
    public var corners: [Point] {
        [Point(x, y), Point(x + width, y), Point(x + width, y + height), Point(x, y + height)]
    }
}

/// An affine map of the plane, `(x, y) -> (a x + c y + tx, b x + d y + ty)`.
///
/// Compose with `then`: `Transform.rotation(θ).then(.translation(dx, dy))` rotates first.
/// Scenes drawn with y up (as pygame's envs are, before they flip the surface) use
/// `flipVertical(height:)` as their last step.
public struct Transform: Hashable, Sendable {
    public var a: Double
    public var b: Double
    public var c: Double
    public var d: Double
    public var tx: Double
    public var ty: Double

    public init(a: Double, b: Double, c: Double, d: Double, tx: Double, ty: Double) {
        self.a = a
        self.b = b
        self.c = c
        self.d = d
        self.tx = tx
        self.ty = ty
    }

    /// The map that changes nothing.
    public static let identity = Transform(a: 1, b: 0, c: 0, d: 1, tx: 0, ty: 0)

    /// A shift by `(dx, dy)`.
    public static func translation(_ dx: Double, _ dy: Double) -> Transform {
        Transform(a: 1, b: 0, c: 0, d: 1, tx: dx, ty: dy)
    }

    /// A turn by `angle` radians about the origin, with the same formula as `Point.rotated(by:)`
    /// (counter-clockwise when y points up, clockwise on screen when y points down).
    public static func rotation(_ angle: Double) -> Transform {
        let cosine = cos(angle)
        let sine = sin(angle)
        return Transform(a: cosine, b: sine, c: -sine, d: cosine, tx: 0, ty: 0)
    }

    /// A stretch by `sx` along x and `sy` along y.
    public static func scale(_ sx: Double, _ sy: Double) -> Transform {
        Transform(a: sx, b: 0, c: 0, d: sy, tx: 0, ty: 0)
    }

    /// `y -> height - y`: turns a y-up drawing of a frame `height` tall into canvas space
    /// (the same picture pygame gets by drawing and then flipping the surface vertically).
    public static func flipVertical(height: Double) -> Transform {
        Transform(a: 1, b: 0, c: 0, d: -1, tx: 0, ty: height)
    }

    /// `x -> width - x`.
    public static func flipHorizontal(width: Double) -> Transform {
        Transform(a: -1, b: 0, c: 0, d: 1, tx: width, ty: 0)
    }

    /// This map followed by `next`.
    public func then(_ next: Transform) -> Transform {
        Transform(
            a: next.a * a + next.c * b,
            b: next.b * a + next.d * b,
            c: next.a * c + next.c * d,
            d: next.b * c + next.d * d,
            tx: next.a * tx + next.c * ty + next.tx,
            ty: next.b * tx + next.d * ty + next.ty)
    }

    /// Where `point` goes.
    @inlinable
    public func apply(_ point: Point) -> Point {
        Point(a * point.x + c * point.y + tx, b * point.x + d * point.y + ty)
    }

    /// Whether the map is the identity.
    public var isIdentity: Bool { self == .identity }

    /// The factor by which lengths grow, on average over directions (the square root of the
    /// determinant's magnitude); used to pick how finely curves are flattened.
    public var meanScale: Double { abs(a * d - b * c).squareRoot() }
}

/// The signed area of a closed polygon (positive when it runs clockwise on screen, y down).
public func signedArea(of points: [Point]) -> Double {
    guard points.count >= 3 else { return 0 }
    var sum = 0.0
    var previous = points[points.count - 1]
    for point in points {
        sum += previous.x * point.y - point.x * previous.y
        previous = point
    }
    return sum / 2
}
