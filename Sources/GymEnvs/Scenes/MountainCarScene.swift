import GymRender

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The frame of MountainCar-v0 and MountainCarContinuous-v0 (their renderers are the same code),
/// as Gymnasium 1.4.0 draws it: a 600x400 white frame, the hill `y = 0.45 sin(3x) + 0.55` as a
/// black anti-aliased curve, a black car with two grey wheels tilted along the slope, and a
/// yellow flag on a black pole at the goal.
///
/// The goal differs between the two: 0.5 for MountainCar-v0, 0.45 for MountainCarContinuous-v0.
/// (MountainCarContinuous keeps its state in float32 after a step; Gymnasium then does the
/// drawing arithmetic in float32 too, which can move a wheel by a pixel now and then. Pass the
/// float32 position converted to Double.)
public enum MountainCarScene {
    /// Frame width in pixels.
    public static let width = 600
    /// Frame height in pixels.
    public static let height = 400

    /// Left end of the track, `min_position`.
    static let minPosition = -1.2
    /// Right end of the track, `max_position`.
    static let maxPosition = 0.6
    static let carWidth = 40.0
    static let carHeight = 20.0
    /// Gap between the track and the bottom of the car body.
    static let clearance = 10.0

    static let trackColor = RGBColor(0, 0, 0)
    static let carColor = RGBColor(0, 0, 0)
    static let wheelColor = RGBColor(128, 128, 128)
    static let flagPoleColor = RGBColor(0, 0, 0)
    static let flagColor = RGBColor(204, 204, 0)

    /// The hill's height at `position`, `_height(xs)`.
    static func hillHeight(_ position: Double) -> Double {
        sin(3 * position) * 0.45 + 0.55
    }

    /// A new frame with the car at `position` and the flag at `goalPosition`.
    public static func render(position: Double, goalPosition: Double) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(position: position, goalPosition: goalPosition, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`), background included.
    public static func draw(position: Double, goalPosition: Double, into canvas: inout Canvas) {
        canvas.fill(.white)
        let surface = PygameSurface(height: canvas.height)
        let scale = Double(width) / (maxPosition - minPosition)

        // np.linspace(min_position, max_position, 100)
        let samples = 100
        let step = (maxPosition - minPosition) / Double(samples - 1)
        let track = (0..<samples).map { i -> (x: Double, y: Double) in
            let x = i == samples - 1 ? maxPosition : Double(i) * step + minPosition
            return (x: (x - minPosition) * scale, y: hillHeight(x) * scale)
        }
        surface.aaLines(track, color: trackColor, on: &canvas)

        let tilt = cos(3 * position)
        let baseX = (position - minPosition) * scale
        let baseY = clearance + hillHeight(position) * scale
        let (l, r, t, b) = (-carWidth / 2, carWidth / 2, carHeight, 0.0)
        let body = [(l, b), (l, t), (r, t), (r, b)].map { corner in
            let turned = PygameSurface.rotate(corner.0, corner.1, by: tilt)
            return (x: turned.x + baseX, y: turned.y + baseY)
        }
        surface.polygon(body, color: carColor, on: &canvas)

        let wheelRadius = (carHeight / 2.5).rounded(.towardZero)
        for offset in [carWidth / 4, -carWidth / 4] {
            let turned = PygameSurface.rotate(offset, 0, by: tilt)
            guard let wheelX = PygameSurface.int(turned.x + baseX), let wheelY = PygameSurface.int(turned.y + baseY)
            else { continue }
            surface.circle(x: Double(wheelX), y: Double(wheelY), radius: wheelRadius, color: wheelColor, on: &canvas)
        }

        guard let flagX = PygameSurface.int((goalPosition - minPosition) * scale),
            let flagBottom = PygameSurface.int(hillHeight(goalPosition) * scale)
        else { return }
        let flagTop = flagBottom + 50
        let (fx, fy1, fy2) = (Double(flagX), Double(flagBottom), Double(flagTop))
        surface.vline(x: fx, y1: fy1, y2: fy2, color: flagPoleColor, on: &canvas)
        surface.polygon([(x: fx, y: fy2), (x: fx, y: fy2 - 10), (x: fx + 25, y: fy2 - 5)], color: flagColor, on: &canvas)
    }
}
