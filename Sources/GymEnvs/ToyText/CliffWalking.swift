import GymCore

/// Cliff walking involves crossing a gridworld from start to goal while avoiding falling off a
/// cliff. (Gymnasium's `CliffWalkingEnv`, v1.)
///
/// ## Description
/// The game starts with the player at location `[3, 0]` of the 4x12 grid world with the goal
/// located at `[3, 11]`. If the player reaches the goal the episode ends. A cliff runs along
/// `[3, 1..10]`. If the player moves to a cliff location it returns to the start location.
/// Adapted from Example 6.6 (page 132) of Reinforcement Learning: An Introduction by Sutton and
/// Barto. The cliff can be chosen to be slippery, so that the player may move perpendicular to
/// the intended direction sometimes.
///
/// ## Action Space
/// `Discrete(4)`:
///
/// | Num | Action     |
/// |-----|------------|
/// | 0   | Move up    |
/// | 1   | Move right |
/// | 2   | Move down  |
/// | 3   | Move left  |
///
/// ## Observation Space
/// `Discrete(48)`: the player's position as `current_row * 12 + current_col`; the start is
/// `3 * 12 + 0 = 36`.
///
/// ## Rewards
/// Each time step incurs -1 reward, unless the player stepped into the cliff, which incurs -100.
///
/// ## Starting State
/// The player starts in state `36` (location `[3, 0]`).
///
/// ## Episode End
/// - Termination: the player enters state `47` (location `[3, 11]`).
/// - No time limit is registered for CliffWalking-v1.
///
/// The info of `reset` is `{"prob": 1}`, of `step` `{"prob": p}`: 1.0, or 1/3 when slippery.
///
/// ## Arguments
/// - `is_slippery` (default false): the player moves in the intended direction or either
///   perpendicular direction, each with probability 1/3.
///
/// ## Version History
/// - v1: Add slippery version of cliffwalking
/// - v0: Initial version release
public struct CliffWalkingEnv: Environment {
    // MARK: constants

    public static let up = 0
    public static let right = 1
    public static let down = 2
    public static let left = 3
    /// `POSITION_MAPPING`: the (row, col) change of each action.
    public static let positionMapping = [(dr: -1, dc: 0), (dr: 0, dc: 1), (dr: 1, dc: 0), (dr: 0, dc: -1)]
    /// `shape`: rows and columns of the grid.
    public static let shape = (rows: 4, cols: 12)
    public static let startState = 3 * 12 + 0
    public static let terminalState = 3 * 12 + 11
    public static let numStates = 48
    public static let stepReward = -1.0
    public static let cliffReward = -100.0

    /// Whether a cell is part of the cliff: the bottom row but its first and last cells.
    public static func isCliff(row: Int, col: Int) -> Bool {
        row == shape.rows - 1 && col >= 1 && col <= shape.cols - 2
    }

    // MARK: configuration

    public let isSlippery: Bool
    public let actionSpace: Space = .discrete(n: 4)
    public let observationSpace: Space = .discrete(n: numStates)
    public let renderFPS = 4

    // MARK: state

    /// The player's position, `row * 12 + col` (Gymnasium's `s`).
    public private(set) var position = CliffWalkingEnv.startState
    /// The action of the last step, nil after a reset (Gymnasium's `lastaction`).
    public private(set) var lastAction: Int?
    private var random = ToyTextRandom()

    public var row: Int { position / Self.shape.cols }
    public var col: Int { position % Self.shape.cols }

    // MARK: making

    /// `CliffWalkingEnv(is_slippery=)`.
    public init(isSlippery: Bool = false) {
        self.isSlippery = isSlippery
    }

    /// The environment from `gymnasium.make` keyword arguments; `isSlippery` is the registered
    /// default (true for CliffWalkingSlippery-v1).
    public init(kwargs: inout Kwargs, isSlippery defaultSlippery: Bool = false) throws(GymError) {
        self.init(isSlippery: try kwargs.bool("is_slippery", default: defaultSlippery))
    }

    // MARK: dynamics

    /// The outcome of moving in one direction (`_calculate_transition_prob` for one delta).
    private static func outcome(from state: Int, direction: Int, probability: Double) -> ToyTextTransition {
        let delta = positionMapping[direction]
        let row = min(max(state / shape.cols + delta.dr, 0), shape.rows - 1)
        let col = min(max(state % shape.cols + delta.dc, 0), shape.cols - 1)
        if isCliff(row: row, col: col) {
            return ToyTextTransition(probability, startState, cliffReward, false)
        }
        let newState = row * shape.cols + col
        return ToyTextTransition(probability, newState, stepReward, newState == terminalState)
    }

    /// `P[s][a]`.
    func transitions(from state: Int, action: Int) -> ToyTextTransitions {
        guard isSlippery else {
            return ToyTextTransitions(Self.outcome(from: state, direction: action, probability: 1.0))
        }
        return .slippery(around: action) { Self.outcome(from: state, direction: $0, probability: 1.0 / 3.0) }
    }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        // categorical_sample(initial_state_distrib) over a one-hot distribution: the draw is
        // made, its value cannot change the outcome.
        _ = random.random()
        position = Self.startState
        lastAction = nil
        return (.int(position), ["prob": .int(1)])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        let a = action.intValue ?? 0
        return transitions(from: position, action: a).step(action: a, position: &position, lastAction: &lastAction, random: &random)
    }

    // MARK: rendering

    /// The `ansi` render: `x` the player, `T` the goal, `C` the cliff, `o` the rest.
    public func renderANSI() -> String? {
        var out = ""
        for state in 0..<Self.numStates {
            let row = state / Self.shape.cols
            let col = state % Self.shape.cols
            var cell: String
            if state == position {
                cell = " x "
            } else if state == Self.terminalState {
                cell = " T "
            } else if Self.isCliff(row: row, col: col) {
                cell = " C "
            } else {
                cell = " o "
            }
            if col == 0 { cell.removeFirst() }
            if col == Self.shape.cols - 1 {
                cell.removeLast()
                cell += "\n"
            }
            out += cell
        }
        return out + "\n"
    }
}
