import GymRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The frame of Pendulum-v1, as Gymnasium 1.4.0's `PendulumEnv.render()` draws it: a 500x500
/// white frame, a red rod with rounded ends swinging about a black axle at the centre, and,
/// once a torque has been applied, a black circular arrow behind the axle whose size grows
/// with the torque's magnitude and whose direction follows its sign (clockwise on screen for a
/// negative torque).
///
/// Gymnasium draws the arrow from an image (`assets/clockwise.png`); here it is drawn as a
/// vector shape of the same geometry (an arc of radius 151.26 and width 9.78 from -90.9 deg to
/// 192.4 deg about (173.12, 155.99) in a 329x312 box, plus a notched head), scaled the way
/// pygame's `smoothscale` scales the image.
public enum PendulumScene {
    /// Frame width in pixels.
    public static let width = 500
    /// Frame height in pixels.
    public static let height = 500

    static let rodColor = RGBColor(204, 77, 77)
    static let axleColor = RGBColor(0, 0, 0)
    static let arrowColor = RGBColor(0, 0, 0)

    /// A new frame with the rod at `theta` (radians, 0 pointing up) and the arrow for
    /// `lastTorque` (nil before the first step, when Gymnasium draws no arrow).
    public static func render(theta: Double, lastTorque: Double?) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(theta: theta, lastTorque: lastTorque, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`), background included.
    /// `lastTorque` is the clipped torque of the last step (`last_u`), nil after a reset.
    public static func draw(theta: Double, lastTorque: Double?, into canvas: inout Canvas) {
        canvas.fill(.white)
        let surface = PygameSurface(height: canvas.height)
        let bound = 2.2
        let scale = Double(width) / (bound * 2)
        let offset = Double(width / 2)

        let rodLength = 1 * scale
        let rodWidth = 0.2 * scale
        let (l, r, t, b) = (0.0, rodLength, rodWidth / 2, -rodWidth / 2)
        let rod = [(l, b), (l, t), (r, t), (r, b)].map { corner in
            let turned = PygameSurface.rotate(corner.0, corner.1, by: theta + Double.pi / 2)
            return (x: turned.x + offset, y: turned.y + offset)
        }
        surface.polygon(rod, color: rodColor, on: &canvas)
        let capRadius = (rodWidth / 2).rounded(.towardZero)
        surface.circle(x: offset, y: offset, radius: capRadius, color: rodColor, on: &canvas)
        let end = PygameSurface.rotate(rodLength, 0, by: theta + Double.pi / 2)
        if let endX = PygameSurface.int(end.x + offset), let endY = PygameSurface.int(end.y + offset) {
            surface.circle(x: Double(endX), y: Double(endY), radius: capRadius, color: rodColor, on: &canvas)
        }

        if let torque = lastTorque {
            drawArrow(torque: torque, scale: scale, center: width / 2, into: &canvas)
        }

        surface.circle(x: offset, y: offset, radius: (0.05 * scale).rounded(.towardZero), color: axleColor, on: &canvas)
    }

    // The arrow, in the coordinates of Gymnasium's 329x312 arrow image (y down).
    static let arrowBox = (width: 329.0, height: 312.0)
    static let arcCenter = Point(173.118, 155.988)
    static let arcRadius = 151.26
    static let arcWidth = 9.781
    static let arcStart = -1.587  // radians, y down: just left of the top
    static let arcEnd = 3.357  // radians, y down: lower left, under the head
    static let arrowHead = [
        Point(21.25, 110.75), Point(45.0, 170.0), Point(27.5, 157.0), Point(17.0, 157.0), Point(0.0, 169.5),
    ]

    /// The arrow's outline in image coordinates: the arc's band and the head.
    static let arrowPath: Path = {
        var path = Path()
        let segments = 180
        let outer = (0...segments).map { i -> Point in
            let angle = arcStart + (arcEnd - arcStart) * Double(i) / Double(segments)
            return Point(
                arcCenter.x + (arcRadius + arcWidth / 2) * cos(angle),
                arcCenter.y + (arcRadius + arcWidth / 2) * sin(angle))
        }
        let inner = (0...segments).reversed().map { i -> Point in
            let angle = arcStart + (arcEnd - arcStart) * Double(i) / Double(segments)
            return Point(
                arcCenter.x + (arcRadius - arcWidth / 2) * cos(angle),
                arcCenter.y + (arcRadius - arcWidth / 2) * sin(angle))
        }
        path.addPolygon(outer + inner)
        path.addPolygon(arrowHead)
        return path
    }()

    /// The arrow for `torque`: pygame scales the image to `int(scale * |u| / 2)` pixels square,
    /// mirrors it left-right for a positive torque, and centres it on the axle. Gymnasium's
    /// `last_u` is a float32, so numpy does that product in float32; so do we.
    static func drawArrow(torque: Double, scale: Double, center: Int, into canvas: inout Canvas) {
        let product = Float(scale) * abs(Float(torque)) / 2
        guard let side = PygameSurface.int(Double(product)), side > 0 else { return }
        let size = Double(side)
        // Top-left corner of the scaled image in the final (flipped) frame.
        let left = Double(center - side / 2)
        let top = Double(center + side / 2 - side)
        let sx = size / arrowBox.width
        let sy = size / arrowBox.height
        let placement: Transform =
            torque > 0
            ? Transform.scale(-sx, sy).then(.translation(left + size, top))
            : Transform.scale(sx, sy).then(.translation(left, top))
        canvas.fill(arrowPath, color: arrowColor, transform: placement)
    }
}
