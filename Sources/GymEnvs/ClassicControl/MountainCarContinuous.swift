import Foundation
import GymCore

/// The mountain car of Andrew Moore's PhD thesis, with a continuous action, as Gymnasium's
/// `Continuous_MountainCarEnv` (gymnasium/envs/classic_control/continuous_mountain_car.py,
/// Gymnasium 1.4.0).
///
/// ## Description
///
/// A car is placed stochastically at the bottom of a sinusoidal valley; the only possible
/// actions are the accelerations applied to it in either direction. The goal is to accelerate
/// the car strategically to reach the goal state on top of the right hill.
///
/// ## Action Space
///
/// A float32 `Box(-1.0, 1.0, (1,), float32)`: the directional force applied on the car, clipped
/// to `[-1, 1]` and multiplied by a power of 0.0015.
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
/// Transition: `velocity += force * power - 0.0025 * cos(3 * position)`, `position += velocity`,
/// both clipped to their ranges; a car hitting the left wall stops (velocity 0).
///
/// ## Rewards
///
/// `-0.1 * action²` every step, plus `+100` when the car reaches the goal.
///
/// ## Starting State
///
/// Position uniformly random in `[-0.6, -0.4]` (the `low` and `high` reset options change this
/// range); velocity 0.
///
/// ## Episode End
///
/// 1. Termination: the car's position is at least 0.45 (the goal on the right hill) and its
///    velocity at least `goal_velocity`.
/// 2. Truncation: the episode length is 999, by the registry's time limit.
///
/// ## Arguments
///
/// | Parameter       | Type      | Default | Description                                 |
/// |-----------------|-----------|---------|---------------------------------------------|
/// | `goal_velocity` | **float** | `0`     | The velocity the car must reach at the goal |
///
/// Reset options: `low` and `high` (numbers, `low <= high`), the range of the initial position.
///
/// Precision, as numpy 2 computes it: the state is float64 right after a reset and float32 after
/// every step (Gymnasium stores `np.array([position, velocity], dtype=np.float32)`); the float32
/// action makes `force * power` a float32 product, and `- 0.0025 * cos(...)` a float32
/// subtraction of a rounded Python float; Python floats met in comparisons with float32 values
/// are rounded to float32 first.
///
/// ## Version History
///
/// * v0: Initial versions release.
public struct MountainCarContinuousEnv: Environment {
    /// The car's position along the x-axis and its velocity.
    public struct State: Sendable, Equatable {
        public var position: Double
        public var velocity: Double
        /// Whether the state is numpy float32 (after a step) or float64 (after a reset).
        public var isFloat32: Bool
    }

    static let minAction = -1.0
    static let maxAction = 1.0
    static let minPosition = -1.2
    static let maxPosition = 0.6
    static let maxSpeed = 0.07
    /// 0.5 in the discrete version, 0.45 in Arnaud de Broissia's.
    static let goalPosition = 0.45
    static let power = 0.0015
    static let gravity = 0.0025
    static let defaultResetLow = -0.6
    static let defaultResetHigh = -0.4

    public let goalVelocity: Double
    public let actionSpace: Space = .box(Box(low: minAction, high: maxAction, shape: [1], dtype: .float32))
    public let observationSpace: Space = .box(
        Box(low: [minPosition, -maxSpeed], high: [maxPosition, maxSpeed], dtype: .float32))
    public var renderFPS: Int { 30 }

    /// The state, `nil` before the first reset.
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
        state = State(position: try random.uniform(low: low, high: high), velocity: 0, isFloat32: false)
        return (observation, [:])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        guard let s = state else { preconditionFailure("Call reset before using step method.") }
        let a = Float(action.floatsValue?.first ?? 0)
        // `min(max(action[0], -1.0), 1.0)`: Python's max and min keep the float32 action unless a
        // (Python float) bound compares past it.
        var force = Double(a)
        var forceIsBound = false
        if Float(Self.minAction) > a { (force, forceIsBound) = (Self.minAction, true) }
        if Float(Self.maxAction) < Float(force) { (force, forceIsBound) = (Self.maxAction, true) }

        // `force * power - 0.0025 * math.cos(3 * position)`
        let slope = Self.gravity * cos(s.isFloat32 ? Double(3 * Float(s.position)) : 3 * s.position)
        let acceleration: NumpyScalar = forceIsBound
            ? .python(force * Self.power - slope)
            : .float32(Float(force) * Float(Self.power) - Float(slope))

        var velocity: NumpyScalar = s.isFloat32 ? .float32(Float(s.velocity)) : .float64(s.velocity)
        var position: NumpyScalar = s.isFloat32 ? .float32(Float(s.position)) : .float64(s.position)
        velocity = velocity + acceleration
        if velocity > Self.maxSpeed { velocity = .python(Self.maxSpeed) }
        if velocity < -Self.maxSpeed { velocity = .python(-Self.maxSpeed) }
        position = position + velocity
        if position > Self.maxPosition { position = .python(Self.maxPosition) }
        if position < Self.minPosition { position = .python(Self.minPosition) }
        if position == Self.minPosition && velocity < 0 { velocity = .python(0) }

        let terminated = position >= Self.goalPosition && velocity >= goalVelocity
        var reward = terminated ? 100.0 : 0
        reward -= NumpyMath.pow(Double(a), 2) * 0.1

        state = State(position: Double(Float(position.value)), velocity: Double(Float(velocity.value)), isFloat32: true)
        return StepResult(observation: observation, reward: reward, terminated: terminated)
    }

    private var observation: SpaceValue {
        guard let s = state else { return .floats([]) }
        return .floats([Double(Float(s.position)), Double(Float(s.velocity))])
    }
}

/// A number as numpy 2 types it (NEP 50): a float32 or float64 scalar, or a Python float, which
/// takes the other operand's type (a Python float is rounded to float32 before meeting a float32).
private enum NumpyScalar {
    case float32(Float)
    case float64(Double)
    case python(Double)

    var value: Double {
        switch self {
        case .float32(let f): return Double(f)
        case .float64(let d), .python(let d): return d
        }
    }

    static func + (a: NumpyScalar, b: NumpyScalar) -> NumpyScalar {
        switch (a, b) {
        case (.float32(let x), .float32(let y)): return .float32(x + y)
        case (.float32(let x), .python(let y)), (.python(let y), .float32(let x)): return .float32(x + Float(y))
        case (.python(let x), .python(let y)): return .python(x + y)
        default: return .float64(a.value + b.value)
        }
    }

    /// The two sides of a comparison with a Python float, as numpy compares them: in float32
    /// against a float32 scalar, exactly otherwise.
    private func comparable(_ other: Double) -> (Double, Double) {
        if case .float32(let f) = self { return (Double(f), Double(Float(other))) }
        return (value, other)
    }

    static func > (a: NumpyScalar, b: Double) -> Bool {
        let (x, y) = a.comparable(b)
        return x > y
    }

    static func < (a: NumpyScalar, b: Double) -> Bool {
        let (x, y) = a.comparable(b)
        return x < y
    }

    static func >= (a: NumpyScalar, b: Double) -> Bool {
        let (x, y) = a.comparable(b)
        return x >= y
    }

    static func == (a: NumpyScalar, b: Double) -> Bool {
        let (x, y) = a.comparable(b)
        return x == y
    }
}
