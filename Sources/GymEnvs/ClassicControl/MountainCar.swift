import Foundation
import GymCore

/// The mountain car of Andrew Moore's PhD thesis, with discrete actions, as Gymnasium's
/// `MountainCarEnv` (gymnasium/envs/classic_control/mountain_car.py, Gymnasium 1.4.0).
///
/// ## Description
///
/// A car is placed stochastically at the bottom of a sinusoidal valley; the only possible
/// actions are the accelerations applied to it in either direction. The goal is to accelerate
/// the car strategically to reach the goal state on top of the right hill.
///
/// ## Action Space
///
/// `Discrete(3)`:
///
/// | Num | Action                  |
/// |-----|-------------------------|
/// | 0   | Accelerate to the left  |
/// | 1   | Don't accelerate        |
/// | 2   | Accelerate to the right |
///
/// ## Observation Space
///
/// A float32 `Box` of shape `(2,)`:
///
/// | Num | Observation                          | Min   | Max  | Unit         |
/// |-----|--------------------------------------|-------|------|--------------|
/// | 0   | position of the car along the x-axis | -1.2  | 0.6  | position (m) |
/// | 1   | velocity of the car                  | -0.07 | 0.07 | velocity (v) |
///
/// Transition: `velocity += (action - 1) * force - cos(3 * position) * gravity`,
/// `position += velocity`, with `force = 0.001`, `gravity = 0.0025`, both clipped to their
/// ranges; a car hitting the left wall stops (velocity 0).
///
/// ## Rewards
///
/// `-1` for every step.
///
/// ## Starting State
///
/// Position uniformly random in `[-0.6, -0.4]` (the `low` and `high` reset options change this
/// range); velocity 0.
///
/// ## Episode End
///
/// 1. Termination: the car's position is at least 0.5 (the goal on the right hill) and its
///    velocity at least `goal_velocity`.
/// 2. Truncation: the episode length is 200, by the registry's time limit.
///
/// ## Arguments
///
/// | Parameter       | Type      | Default | Description                                 |
/// |-----------------|-----------|---------|---------------------------------------------|
/// | `goal_velocity` | **float** | `0`     | The velocity the car must reach at the goal |
///
/// Reset options: `low` and `high` (numbers, `low <= high`), the range of the initial position.
/// The state is kept in float64, as Gymnasium keeps it; observations are its float32 cast.
///
/// ## Version History
///
/// * v0: Initial versions release.
public struct MountainCarEnv: Environment {
    /// The car's position along the x-axis and its velocity.
    public struct State: Sendable, Equatable {
        public var position: Double
        public var velocity: Double
    }

    static let minPosition = -1.2
    static let maxPosition = 0.6
    static let maxSpeed = 0.07
    static let goalPosition = 0.5
    static let force = 0.001
    static let gravity = 0.0025
    static let defaultResetLow = -0.6
    static let defaultResetHigh = -0.4

    public let goalVelocity: Double
    public let actionSpace: Space = .discrete(n: 3)
    public let observationSpace: Space = .box(
        Box(low: [minPosition, -maxSpeed], high: [maxPosition, maxSpeed], dtype: .float32))
    public var renderFPS: Int { 30 }

    /// The float64 state, `nil` before the first reset.
    public private(set) var state: State?
    private var random = ClassicControlRandom()

    public init(goalVelocity: Double = 0) {
        self.goalVelocity = goalVelocity
    }

    /// The car's position, for drawing.
    public var carPosition: Double? { state?.position }
    /// Where the goal flag stands, for drawing.
    public var goalPosition: Double { Self.goalPosition }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        let (low, high) = try ResetBounds.parse(options, defaultLow: Self.defaultResetLow, defaultHigh: Self.defaultResetHigh)
        state = State(position: try random.uniform(low: low, high: high), velocity: 0)
        return (observation, [:])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        guard var s = state else { preconditionFailure("Call reset before using step method.") }
        let action = Double(action.intValue ?? 1)
        s.velocity += (action - 1) * Self.force + cos(3 * s.position) * (-Self.gravity)
        s.velocity = min(max(s.velocity, -Self.maxSpeed), Self.maxSpeed)
        s.position += s.velocity
        s.position = min(max(s.position, Self.minPosition), Self.maxPosition)
        if s.position == Self.minPosition && s.velocity < 0 { s.velocity = 0 }
        state = s

        let terminated = s.position >= Self.goalPosition && s.velocity >= goalVelocity
        return StepResult(observation: observation, reward: -1.0, terminated: terminated)
    }

    private var observation: SpaceValue {
        guard let s = state else { return .floats([]) }
        return .floats([Double(Float(s.position)), Double(Float(s.velocity))])
    }
}
