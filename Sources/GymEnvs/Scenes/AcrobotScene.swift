import GymRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The frame of Acrobot-v1, as Gymnasium 1.4.0's `AcrobotEnv.render()` draws it: a 500x500
/// white frame, a black line at the height the tip must reach, two cyan links hanging from the
/// centre, and yellow discs at the two joints.
///
/// Only the joint angles show: `theta1` of the first link from straight down, `theta2` of the
/// second link relative to the first (radians).
public enum AcrobotScene {
    /// Frame width in pixels.
    public static let width = 500
    /// Frame height in pixels.
    public static let height = 500

    static let linkLength1 = 1.0
    static let linkLength2 = 1.0
    static let targetLineColor = RGBColor(0, 0, 0)
    static let linkColor = RGBColor(0, 204, 204)
    static let jointColor = RGBColor(204, 204, 0)

    /// A new frame with the links at `theta1` and `theta2`.
    public static func render(theta1: Double, theta2: Double) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(theta1: theta1, theta2: theta2, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`), background included.
    public static func draw(theta1: Double, theta2: Double, into canvas: inout Canvas) {
        canvas.fill(.white)
        let surface = PygameSurface(height: canvas.height)
        let bound = linkLength1 + linkLength2 + 0.2
        let scale = Double(width) / (bound * 2)
        let offset = Double(width) / 2

        // Joint positions with x and y swapped, as Gymnasium's `xys[:, ::-1]` does.
        let p1 = (x: -linkLength1 * cos(theta1) * scale, y: linkLength1 * sin(theta1) * scale)
        let joints = [(x: 0.0, y: 0.0), (x: p1.y, y: p1.x)]
        let angles = [theta1 - Double.pi / 2, theta1 + theta2 - Double.pi / 2]
        let lengths = [linkLength1 * scale, linkLength2 * scale]

        surface.line(
            from: (x: -2.2 * scale + offset, y: 1 * scale + offset), to: (x: 2.2 * scale + offset, y: 1 * scale + offset),
            color: targetLineColor, on: &canvas)

        for i in 0..<2 {
            let x = joints[i].x + offset
            let y = joints[i].y + offset
            let (l, r, t, b) = (0.0, lengths[i], 0.1 * scale, -0.1 * scale)
            let link = [(l, b), (l, t), (r, t), (r, b)].map { corner in
                let turned = PygameSurface.rotate(corner.0, corner.1, by: angles[i])
                return (x: turned.x + x, y: turned.y + y)
            }
            surface.polygon(link, color: linkColor, on: &canvas)
            guard let jointX = PygameSurface.int(x), let jointY = PygameSurface.int(y) else { continue }
            surface.circle(
                x: Double(jointX), y: Double(jointY), radius: (0.1 * scale).rounded(.towardZero), color: jointColor,
                on: &canvas)
        }
    }
}
