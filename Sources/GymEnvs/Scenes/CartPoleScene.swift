import GymRender

/// The frame of CartPole (v0 and v1), as Gymnasium 1.4.0's `CartPoleEnv.render()` draws it:
/// a 600x400 white frame, a black cart on a black track line, a brown pole pivoting on a
/// blue-grey axle.
///
/// Only the cart position `x` and the pole angle `theta` (radians, 0 upright, positive leaning
/// right) show; velocities do not.
public enum CartPoleScene {
    /// Frame width in pixels.
    public static let width = 600
    /// Frame height in pixels.
    public static let height = 400

    /// Half the world's width: the cart's position limit, `x_threshold`.
    static let xThreshold = 2.4
    /// Half the pole's length, `length`.
    static let halfPoleLength = 0.5
    static let poleWidth = 10.0
    static let cartWidth = 50.0
    static let cartHeight = 30.0
    /// Height of the track (and the cart's centre line) above the bottom of the frame.
    static let trackY = 100.0

    static let cartColor = RGBColor(0, 0, 0)
    static let poleColor = RGBColor(202, 152, 101)
    static let axleColor = RGBColor(129, 132, 203)
    static let trackColor = RGBColor(0, 0, 0)

    /// A new frame showing the cart at `x` with the pole at `theta`.
    public static func render(x: Double, theta: Double) -> Canvas {
        var canvas = Canvas(width: width, height: height)
        draw(x: x, theta: theta, into: &canvas)
        return canvas
    }

    /// Paints the frame onto `canvas` (which should be `width` x `height`), background included.
    public static func draw(x: Double, theta: Double, into canvas: inout Canvas) {
        canvas.fill(.white)
        let surface = PygameSurface(height: canvas.height)
        let scale = Double(width) / (xThreshold * 2)
        let poleLength = scale * (2 * halfPoleLength)
        let axleOffset = cartHeight / 4

        let cartX = x * scale + Double(width) / 2
        let (l, r, t, b) = (-cartWidth / 2, cartWidth / 2, cartHeight / 2, -cartHeight / 2)
        let cart = [(l, b), (l, t), (r, t), (r, b)].map { (x: $0.0 + cartX, y: $0.1 + trackY) }
        surface.polygon(cart, color: cartColor, on: &canvas)

        let (pl, pr, pt, pb) = (-poleWidth / 2, poleWidth / 2, poleLength - poleWidth / 2, -poleWidth / 2)
        let pole = [(pl, pb), (pl, pt), (pr, pt), (pr, pb)].map { corner in
            let turned = PygameSurface.rotate(corner.0, corner.1, by: -theta)
            return (x: turned.x + cartX, y: turned.y + trackY + axleOffset)
        }
        surface.polygon(pole, color: poleColor, on: &canvas)

        if let axleX = PygameSurface.int(cartX), let axleY = PygameSurface.int(trackY + axleOffset) {
            surface.circle(
                x: Double(axleX), y: Double(axleY), radius: (poleWidth / 2).rounded(.towardZero), color: axleColor,
                on: &canvas)
        }
        surface.hline(x1: 0, x2: Double(width), y: trackY, color: trackColor, on: &canvas)
    }
}
