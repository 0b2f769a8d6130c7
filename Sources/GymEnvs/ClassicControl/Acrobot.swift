import Foundation
import GymCore

/// The acrobot of Sutton and Barto's book, as Gymnasium's `AcrobotEnv`
/// (gymnasium/envs/classic_control/acrobot.py, Gymnasium 1.4.0).
///
/// ## Description
///
/// Two links connected linearly to form a chain, with one end of the chain fixed. The joint
/// between the two links is actuated. The goal is to apply torques on the actuated joint to
/// swing the free end of the linear chain above a given height while starting from the initial
/// state of hanging downwards.
///
/// ## Action Space
///
/// `Discrete(3)`: the torque applied on the actuated joint between the two links.
///
/// | Num | Action                                | Unit         |
/// |-----|---------------------------------------|--------------|
/// | 0   | apply -1 torque to the actuated joint | torque (N m) |
/// | 1   | apply 0 torque to the actuated joint  | torque (N m) |
/// | 2   | apply 1 torque to the actuated joint  | torque (N m) |
///
/// ## Observation Space
///
/// A float32 `Box` of shape `(6,)`, from the two rotational joint angles `theta1` (of the first
/// link, 0 pointing down) and `theta2` (relative to the first link) and their velocities:
///
/// | Num | Observation                  | Min                 | Max               |
/// |-----|------------------------------|---------------------|-------------------|
/// | 0   | Cosine of `theta1`           | -1                  | 1                 |
/// | 1   | Sine of `theta1`             | -1                  | 1                 |
/// | 2   | Cosine of `theta2`           | -1                  | 1                 |
/// | 3   | Sine of `theta2`             | -1                  | 1                 |
/// | 4   | Angular velocity of `theta1` | ~ -12.567 (-4 * pi) | ~ 12.567 (4 * pi) |
/// | 5   | Angular velocity of `theta2` | ~ -28.274 (-9 * pi) | ~ 28.274 (9 * pi) |
///
/// The dynamics are integrated with one fourth-order Runge-Kutta step of 0.2 s; the angles are
/// then wrapped into `[-pi, pi]` and the velocities bounded.
///
/// ## Rewards
///
/// `-1` for each step that does not reach the goal, `0` for the step that does.
///
/// ## Starting State
///
/// Each of `theta1`, `theta2` and the two angular velocities uniformly random in `[-0.1, 0.1]`
/// (the `low` and `high` reset options change these bounds), rounded to float32.
///
/// ## Episode End
///
/// 1. Termination: the free end reaches the target height, `-cos(theta1) - cos(theta2 + theta1) > 1.0`.
/// 2. Truncation: the episode length is 500, by the registry's time limit.
///
/// ## Arguments
///
/// `gymnasium.make` takes no arguments besides `render_mode`. Reset options: `low` and `high`
/// (numbers, `low <= high`), the bounds of the initial state. The class attributes
/// `book_or_nips` and `torque_noise_max` are `bookOrNips` and `torqueNoiseMax` of `init`.
///
/// Precision, as numpy computes it: the state is float32 after a reset and float64 after a
/// step; the observation's cosines and sines of a float32 state are numpy's float32 `cos`/`sin`
/// (`NumpyMath.cos`, `NumpyMath.sin`), those of a float64 state libm's.
///
/// ## Version History
///
/// * v1: Maximum number of steps increased from 200 to 500. The observation space for v0
///   provided direct readings of `theta1` and `theta2` in radians, having a range of `[-pi, pi]`.
///   The v1 observation space as described here provides the sine and cosine of each angle instead.
/// * v0: Initial versions release.
public struct AcrobotEnv: Environment {
    /// Which equation of motion for the second link: the NIPS paper's or the book's (and the
    /// Java implementation's).
    public enum Dynamics: String, Sendable {
        case book, nips
    }

    /// The two joint angles and their angular velocities.
    public struct State: Sendable, Equatable {
        public var theta1: Double
        public var theta2: Double
        public var dtheta1: Double
        public var dtheta2: Double
    }

    /// Integration timestep, in seconds.
    static let dt = 0.2
    static let linkLength1 = 1.0
    static let linkLength2 = 1.0
    static let linkMass1 = 1.0
    static let linkMass2 = 1.0
    /// Position of the center of mass of link 1.
    static let linkCOMPos1 = 0.5
    /// Position of the center of mass of link 2.
    static let linkCOMPos2 = 0.5
    /// Moments of inertia for both links.
    static let linkMOI = 1.0
    static let maxVel1 = 4 * Double.pi
    static let maxVel2 = 9 * Double.pi
    static let availTorque: [Double] = [-1.0, 0.0, 1]
    static let gravity = 9.8
    static let defaultResetLow = -0.1
    static let defaultResetHigh = 0.1

    public let bookOrNips: Dynamics
    public let torqueNoiseMax: Double
    public let actionSpace: Space = .discrete(n: 3)
    public let observationSpace: Space = {
        let high = [1.0, 1.0, 1.0, 1.0, maxVel1, maxVel2]
        return .box(Box(low: high.map { -$0 }, high: high, dtype: .float32))
    }()
    public var renderFPS: Int { 15 }

    /// The state, `nil` before the first reset (its values are float32 after a reset).
    public private(set) var state: State?
    private var stateIsFloat32 = true
    private var random = ClassicControlRandom()

    public init(bookOrNips: Dynamics = .book, torqueNoiseMax: Double = 0) {
        self.bookOrNips = bookOrNips
        self.torqueNoiseMax = torqueNoiseMax
    }

    /// `theta1`, the first link's angle (0 pointing down), for drawing.
    public var theta1: Double? { state?.theta1 }
    /// `theta2`, the second link's angle relative to the first, for drawing.
    public var theta2: Double? { state?.theta2 }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        let (low, high) = try ResetBounds.parse(options, defaultLow: Self.defaultResetLow, defaultHigh: Self.defaultResetHigh)
        let s = try random.uniform(low: low, high: high, count: 4).map { Double(Float($0)) }
        state = State(theta1: s[0], theta2: s[1], dtheta1: s[2], dtheta2: s[3])
        stateIsFloat32 = true
        return (observation, [:])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        guard let s = state else { preconditionFailure("Call reset before using AcrobotEnv object.") }
        let index = action.intValue ?? 1
        var torque = Self.availTorque.indices.contains(index) ? Self.availTorque[index] : 0
        // Noise on the force action.
        if torqueNoiseMax > 0 {
            torque += random.uniformUnchecked(low: -torqueNoiseMax, high: torqueNoiseMax)
        }

        // The state augmented with the torque, integrated over [0, dt] by one Runge-Kutta step.
        let ns = rk4(SIMD4(s.theta1, s.theta2, s.dtheta1, s.dtheta2), torque: torque, t: (0, Self.dt))
        state = State(
            theta1: Self.wrap(ns[0], -.pi, .pi),
            theta2: Self.wrap(ns[1], -.pi, .pi),
            dtheta1: Self.bound(ns[2], -Self.maxVel1, Self.maxVel1),
            dtheta2: Self.bound(ns[3], -Self.maxVel2, Self.maxVel2))
        stateIsFloat32 = false

        let terminated = isTerminal
        return StepResult(observation: observation, reward: terminated ? 0.0 : -1.0, terminated: terminated)
    }

    private var observation: SpaceValue {
        guard let s = state else { return .floats([]) }
        if stateIsFloat32 {
            let t1 = Float(s.theta1), t2 = Float(s.theta2)
            return .floats([
                Double(NumpyMath.cos(t1)), Double(NumpyMath.sin(t1)),
                Double(NumpyMath.cos(t2)), Double(NumpyMath.sin(t2)),
                s.dtheta1, s.dtheta2,
            ])
        }
        return .floats([cos(s.theta1), sin(s.theta1), cos(s.theta2), sin(s.theta2), s.dtheta1, s.dtheta2].map { Double(Float($0)) })
    }

    private var isTerminal: Bool {
        guard let s = state else { return false }
        return -cos(s.theta1) - cos(s.theta2 + s.theta1) > 1.0
    }

    /// The time derivative of the state `[theta1, theta2, dtheta1, dtheta2]` under the torque `a`
    /// (Gymnasium's `_dsdt` of the state augmented with the torque, whose derivative is 0).
    private func dsdt(_ s: SIMD4<Double>, _ a: Double) -> SIMD4<Double> {
        let m1 = Self.linkMass1, m2 = Self.linkMass2
        let l1 = Self.linkLength1
        let lc1 = Self.linkCOMPos1, lc2 = Self.linkCOMPos2
        let I1 = Self.linkMOI, I2 = Self.linkMOI
        let g = Self.gravity
        // numpy's `**` on float64 scalars is libm's `pow`; squares of constants are exact.
        let theta1 = s[0], theta2 = s[1]
        let dtheta1 = s[2], dtheta2 = s[3]

        let d1 = m1 * (lc1 * lc1) + m2 * (l1 * l1 + lc2 * lc2 + 2 * l1 * lc2 * cos(theta2)) + I1 + I2
        let d2 = m2 * (lc2 * lc2 + l1 * lc2 * cos(theta2)) + I2
        let phi2 = m2 * lc2 * g * cos(theta1 + theta2 - .pi / 2.0)
        let phi1 = -m2 * l1 * lc2 * NumpyMath.pow(dtheta2, 2) * sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * cos(theta1 - .pi / 2)
            + phi2
        let ddtheta2: Double
        switch bookOrNips {
        case .nips:
            // As described in the paper.
            ddtheta2 = (a + d2 / d1 * phi1 - phi2) / (m2 * (lc2 * lc2) + I2 - NumpyMath.pow(d2, 2) / d1)
        case .book:
            // As the book and the Java implementation have it.
            ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * NumpyMath.pow(dtheta1, 2) * sin(theta2) - phi2)
                / (m2 * (lc2 * lc2) + I2 - NumpyMath.pow(d2, 2) / d1)
        }
        let ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return SIMD4(dtheta1, dtheta2, ddtheta1, ddtheta2)
    }

    /// Gymnasium's `rk4` from `t.0` to `t.1`: one fourth-order Runge-Kutta step, element by
    /// element as numpy computes it (the torque, the augmented state's fifth element, is constant).
    private func rk4(_ y0: SIMD4<Double>, torque: Double, t: (Double, Double)) -> SIMD4<Double> {
        let dt = t.1 - t.0
        let dt2 = dt / 2.0
        let k1 = dsdt(y0, torque)
        let k2 = dsdt(y0 + dt2 * k1, torque)
        let k3 = dsdt(y0 + dt2 * k2, torque)
        let k4 = dsdt(y0 + dt * k3, torque)
        return y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    }

    /// Wraps `x` around into `[m, M]` (unlike `bound`, which truncates): for m = -180, M = 180
    /// (degrees), x = 360 becomes 0. Gymnasium adds or subtracts `M - m` one step at a time, which
    /// never ends for an infinite `x` or one so large that the step is lost in rounding; past
    /// `wrapStepLimit` steps (|x| beyond about 6.5e6 for angles) the rest is one `fmod`.
    static func wrap(_ x: Double, _ m: Double, _ M: Double) -> Double {
        let diff = M - m
        var x = x
        var steps = 0
        while x > M {
            guard steps < wrapStepLimit else { return m + fmod(x - m, diff) }
            x = x - diff
            steps += 1
        }
        while x < m {
            guard steps < wrapStepLimit else { return M - fmod(M - x, diff) }
            x = x + diff
            steps += 1
        }
        return x
    }

    /// How many single steps `wrap` takes before finishing with `fmod`.
    static let wrapStepLimit = 1 << 20

    /// `x` bounded to `[m, M]`, as Python's `min(max(x, m), M)`.
    static func bound(_ x: Double, _ m: Double, _ M: Double) -> Double {
        let lower = m > x ? m : x
        return M < lower ? M : lower
    }
}
