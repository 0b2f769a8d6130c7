import Foundation
import GymCore

/// The inverted pendulum swing-up problem, as Gymnasium's `PendulumEnv`
/// (gymnasium/envs/classic_control/pendulum.py, Gymnasium 1.4.0).
///
/// ## Description
///
/// A pendulum is attached at one end to a fixed point, the other end being free. It starts in a
/// random position and the goal is to apply torque on the free end to swing it into an upright
/// position, with its center of gravity right above the fixed point. `x-y` are the coordinates
/// of the pendulum's end in meters, `theta` its angle in radians (0 is upright), `tau` the
/// torque in N m (counter-clockwise positive).
///
/// ## Action Space
///
/// A float32 `Box(-2.0, 2.0, (1,), float32)`:
///
/// | Num | Action | Min  | Max |
/// |-----|--------|------|-----|
/// | 0   | Torque | -2.0 | 2.0 |
///
/// ## Observation Space
///
/// A float32 `Box` of shape `(3,)`, the free end's coordinates and the angular velocity:
///
/// | Num | Observation      | Min  | Max |
/// |-----|------------------|------|-----|
/// | 0   | x = cos(theta)   | -1.0 | 1.0 |
/// | 1   | y = sin(theta)   | -1.0 | 1.0 |
/// | 2   | Angular Velocity | -8.0 | 8.0 |
///
/// ## Rewards
///
/// `-(theta² + 0.1 * theta_dt² + 0.001 * torque²)`, with theta normalized into `[-pi, pi)`:
/// from about -16.27 (worst) to 0 (upright, still, no torque).
///
/// ## Starting State
///
/// A random angle in `[-pi, pi]` and a random angular velocity in `[-1, 1]`; the `x_init` and
/// `y_init` reset options replace pi and 1 (the ranges stay symmetric).
///
/// ## Episode End
///
/// Never terminates; truncation at 200 steps, by the registry's time limit.
///
/// ## Arguments
///
/// | Parameter | Type      | Default | Description                                        |
/// |-----------|-----------|---------|----------------------------------------------------|
/// | `g`       | **float** | `10.0`  | The acceleration of gravity, in m/s²               |
///
/// Reset options: `x_init` and `y_init` (numbers), the half-widths of the initial angle and
/// angular velocity ranges.
///
/// Precision, as numpy 2 computes it: the state is float64; the float32 torque makes
/// `0.001 * u**2` and `3.0 / (m * l**2) * u` float32 products, which then join float64 sums.
///
/// ## Version History
///
/// * v1: Simplify the math equations, no difference in behavior.
/// * v0: Initial versions release.
public struct PendulumEnv: Environment {
    /// The pendulum's angle (0 is upright) and angular velocity.
    public struct State: Sendable, Equatable {
        public var theta: Double
        public var thetaDot: Double
    }

    static let maxSpeed = 8.0
    static let maxTorque = 2.0
    static let dt = 0.05
    static let m = 1.0
    static let l = 1.0
    static let defaultXInit = Double.pi
    static let defaultYInit = 1.0

    /// The acceleration of gravity.
    public let g: Double
    public let actionSpace: Space = .box(Box(low: -maxTorque, high: maxTorque, shape: [1], dtype: .float32))
    public let observationSpace: Space = .box(
        Box(low: [-1.0, -1.0, -maxSpeed], high: [1.0, 1.0, maxSpeed], dtype: .float32))
    public var renderFPS: Int { 30 }

    /// The float64 state, `nil` before the first reset.
    public private(set) var state: State?
    /// The (clipped, float32) torque of the last step, `nil` until a step after a reset: Gymnasium's
    /// `last_u`, which the rendering draws as an arrow.
    public private(set) var lastU: Float?
    private var random = ClassicControlRandom()

    public init(g: Double = 10.0) {
        self.g = g
    }

    /// The pendulum's angle from upright in radians, for drawing.
    public var angle: Double? { state?.theta }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        var high = [Self.defaultXInit, Self.defaultYInit]
        if let options {
            // Missing keys take the defaults; other keys are ignored.
            if let x = options["x_init"] { high[0] = try ResetBounds.number(x, option: "x_init") }
            if let y = options["y_init"] { high[1] = try ResetBounds.number(y, option: "y_init") }
        }
        let low = high.map { -$0 }  // Symmetric limits.
        let s = try random.uniform(low: low, high: high)
        state = State(theta: s[0], thetaDot: s[1])
        lastU = nil
        return (observation, [:])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        guard let s = state else { preconditionFailure("Call reset before using step method.") }
        let th = s.theta
        let thdot = s.thetaDot
        let g = self.g, m = Self.m, l = Self.l, dt = Self.dt

        let u = min(max(Float(action.floatsValue?.first ?? 0), Float(-Self.maxTorque)), Float(Self.maxTorque))
        lastU = u

        let thNormalized = Self.angleNormalize(th)
        // numpy's `**` is libm's `pow` (`powf` for the float32 torque).
        let costs = NumpyMath.pow(thNormalized, 2) + 0.1 * NumpyMath.pow(thdot, 2) + Double(Float(0.001) * NumpyMath.pow(u, 2))

        let gravityTerm = 3 * g / (2 * l) * sin(th)
        let torqueTerm = Float(3.0 / (m * (l * l))) * u
        var newthdot = thdot + (gravityTerm + Double(torqueTerm)) * dt
        newthdot = min(max(newthdot, -Self.maxSpeed), Self.maxSpeed)
        let newth = th + newthdot * dt

        state = State(theta: newth, thetaDot: newthdot)
        return StepResult(observation: observation, reward: -costs, terminated: false)
    }

    private var observation: SpaceValue {
        guard let s = state else { return .floats([]) }
        return .floats([cos(s.theta), sin(s.theta), s.thetaDot].map { Double(Float($0)) })
    }

    /// `((x + pi) % (2 * pi)) - pi`, with numpy's float64 `%`: the angle in `[-pi, pi)`.
    static func angleNormalize(_ x: Double) -> Double {
        NumpyMath.remainder(x + .pi, 2 * .pi) - .pi
    }
}
