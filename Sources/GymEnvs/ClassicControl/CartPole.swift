import Foundation
import GymCore

/// The cart-pole problem of Barto, Sutton and Anderson, as Gymnasium's `CartPoleEnv`
/// (gymnasium/envs/classic_control/cartpole.py, Gymnasium 1.4.0).
///
/// ## Description
///
/// A pole is attached by an un-actuated joint to a cart, which moves along a frictionless track.
/// The pendulum is placed upright on the cart and the goal is to balance the pole by applying
/// forces in the left and right direction on the cart.
///
/// ## Action Space
///
/// `Discrete(2)`: the direction of the fixed force the cart is pushed with.
///
/// | Num | Action                 |
/// |-----|------------------------|
/// | 0   | Push cart to the left  |
/// | 1   | Push cart to the right |
///
/// ## Observation Space
///
/// A float32 `Box` of shape `(4,)`:
///
/// | Num | Observation           | Min                 | Max               |
/// |-----|-----------------------|---------------------|-------------------|
/// | 0   | Cart Position         | -4.8                | 4.8               |
/// | 1   | Cart Velocity         | -Inf                | Inf               |
/// | 2   | Pole Angle            | ~ -0.418 rad (-24°) | ~ 0.418 rad (24°) |
/// | 3   | Pole Angular Velocity | -Inf                | Inf               |
///
/// The episode terminates well inside these bounds: when the cart leaves `(-2.4, 2.4)` or the
/// pole angle leaves `(-.2095, .2095)` (±12°).
///
/// ## Rewards
///
/// `+1` for every step taken, including the termination step (0 for steps after it). With
/// `sutton_barto_reward`, `0` for every non-terminating step and `-1` from the terminating step on.
///
/// ## Starting State
///
/// All observations are assigned a uniformly random value in `(-0.05, 0.05)`; the `low` and
/// `high` reset options change these bounds.
///
/// ## Episode End
///
/// 1. Termination: Pole Angle is greater than ±12°.
/// 2. Termination: Cart Position is greater than ±2.4.
/// 3. Truncation: Episode length is greater than 500 (200 for v0), by the registry's time limit.
///
/// ## Arguments
///
/// | Parameter             | Type     | Default | Description                                             |
/// |-----------------------|----------|---------|---------------------------------------------------------|
/// | `sutton_barto_reward` | **bool** | `False` | The reward of the original Sutton and Barto implementation |
///
/// Reset options: `low` and `high` (numbers, `low <= high`), the bounds of the initial state.
/// The state is kept in float64, as Gymnasium keeps it; observations are its float32 cast.
///
/// ## Version History
///
/// * v1: `max_time_steps` raised to 500; `sutton_barto_reward` added in Gymnasium 1.0.0a2.
/// * v0: Initial versions release.
public struct CartPoleEnv: Environment {
    /// How the state is advanced: Gymnasium's `kinematics_integrator` attribute.
    public enum KinematicsIntegrator: String, Sendable {
        case euler
        case semiImplicitEuler = "semi-implicit euler"
    }

    /// The cart's position and velocity, the pole's angle (0 is upright) and angular velocity.
    public struct State: Sendable, Equatable {
        public var x: Double
        public var xDot: Double
        public var theta: Double
        public var thetaDot: Double
    }

    static let gravity = 9.8
    static let masscart = 1.0
    static let masspole = 0.1
    static let totalMass = masspole + masscart
    /// Actually half the pole's length.
    static let length = 0.5
    static let polemassLength = masspole * length
    static let forceMag = 10.0
    /// Seconds between state updates.
    static let tau = 0.02
    /// Angle at which to fail the episode.
    static let thetaThresholdRadians = 12 * 2 * Double.pi / 360
    static let xThreshold = 2.4
    static let defaultResetLow = -0.05
    static let defaultResetHigh = 0.05

    public let suttonBartoReward: Bool
    public let kinematicsIntegrator: KinematicsIntegrator
    public let actionSpace: Space = .discrete(n: 2)
    public let observationSpace: Space
    public var renderFPS: Int { 50 }

    /// The float64 state, `nil` before the first reset.
    public private(set) var state: State?
    private var stepsBeyondTerminated: Int?
    private var random = ClassicControlRandom()

    public init(suttonBartoReward: Bool = false, kinematicsIntegrator: KinematicsIntegrator = .euler) {
        self.suttonBartoReward = suttonBartoReward
        self.kinematicsIntegrator = kinematicsIntegrator
        // The angle limit is twice the threshold, so that a failing observation is still inside.
        let high = [Self.xThreshold * 2, .infinity, Self.thetaThresholdRadians * 2, .infinity]
        observationSpace = .box(Box(low: high.map { -$0 }, high: high, dtype: .float32))
    }

    /// The cart's position, for drawing.
    public var cartPosition: Double? { state?.x }
    /// The pole's angle from upright in radians, for drawing.
    public var poleAngle: Double? { state?.theta }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        let (low, high) = try ResetBounds.parse(options, defaultLow: Self.defaultResetLow, defaultHigh: Self.defaultResetHigh)
        let s = try random.uniform(low: low, high: high, count: 4)
        state = State(x: s[0], xDot: s[1], theta: s[2], thetaDot: s[3])
        stepsBeyondTerminated = nil
        return (observation, [:])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        guard var s = state else { preconditionFailure("Call reset before using step method.") }
        let force = action.intValue == 1 ? Self.forceMag : -Self.forceMag
        let costheta = cos(s.theta)
        let sintheta = sin(s.theta)

        // For the interested reader: https://coneural.org/florian/papers/05_cart_pole.pdf
        let temp = (force + Self.polemassLength * (s.thetaDot * s.thetaDot) * sintheta) / Self.totalMass
        let thetaacc = (Self.gravity * sintheta - costheta * temp)
            / (Self.length * (4.0 / 3.0 - Self.masspole * (costheta * costheta) / Self.totalMass))
        let xacc = temp - Self.polemassLength * thetaacc * costheta / Self.totalMass

        switch kinematicsIntegrator {
        case .euler:
            s.x = s.x + Self.tau * s.xDot
            s.xDot = s.xDot + Self.tau * xacc
            s.theta = s.theta + Self.tau * s.thetaDot
            s.thetaDot = s.thetaDot + Self.tau * thetaacc
        case .semiImplicitEuler:
            s.xDot = s.xDot + Self.tau * xacc
            s.x = s.x + Self.tau * s.xDot
            s.thetaDot = s.thetaDot + Self.tau * thetaacc
            s.theta = s.theta + Self.tau * s.thetaDot
        }
        state = s

        let terminated = s.x < -Self.xThreshold || s.x > Self.xThreshold
            || s.theta < -Self.thetaThresholdRadians || s.theta > Self.thetaThresholdRadians

        let reward: Double
        if !terminated {
            reward = suttonBartoReward ? 0.0 : 1.0
        } else if let beyond = stepsBeyondTerminated {
            // Stepping after termination: undefined behaviour in Gymnasium, which warns.
            stepsBeyondTerminated = beyond + 1
            reward = suttonBartoReward ? -1.0 : 0.0
        } else {
            // The pole just fell.
            stepsBeyondTerminated = 0
            reward = suttonBartoReward ? -1.0 : 1.0
        }
        return StepResult(observation: observation, reward: reward, terminated: terminated)
    }

    private var observation: SpaceValue {
        guard let s = state else { return .floats([]) }
        return .floats([s.x, s.xDot, s.theta, s.thetaDot].map { Double(Float($0)) })
    }
}
