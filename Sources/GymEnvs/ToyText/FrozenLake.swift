import GymCore

/// Frozen lake involves crossing a frozen lake from start to goal without falling into any holes
/// by walking over the frozen lake. The player may not always move in the intended direction due
/// to the slippery nature of the frozen lake. (Gymnasium's `FrozenLakeEnv`, v1.)
///
/// ## Description
/// The game starts with the player at location `[0, 0]` of the frozen lake grid world with the
/// goal located at the far extent of the world, e.g. `[3, 3]` for the 4x4 environment. Holes in
/// the ice are in set locations (a predefined map or a map given as `desc`). The player makes
/// moves until they reach the goal or fall in a hole. The lake is slippery (unless disabled), so
/// the player may move perpendicular to the intended direction sometimes.
///
/// ## Action Space
/// `Discrete(4)`:
///
/// | Num | Action     |
/// |-----|------------|
/// | 0   | Move left  |
/// | 1   | Move down  |
/// | 2   | Move right |
/// | 3   | Move up    |
///
/// ## Observation Space
/// `Discrete(nrow * ncol)`: the player's position as `current_row * ncol + current_col`, e.g. the
/// goal of the 4x4 map is `3 * 4 + 3 = 15`.
///
/// ## Rewards
/// With the default `reward_schedule` `(1, 0, 0)`: reach goal +1, reach hole 0, reach frozen 0.
/// A step from a hole or the goal (after the episode ended) gives 0.
///
/// ## Starting State
/// The player starts on the start tile `S` (`[0]` for the predefined maps); with several `S`
/// tiles, on one of them uniformly.
///
/// ## Episode End
/// - Termination: the player moves into a hole, or reaches the goal.
/// - Truncation (the registry's time limit): 100 steps for FrozenLake-v1, 200 for
///   FrozenLake8x8-v1.
///
/// The info of `reset` is `{"prob": 1}`, of `step` `{"prob": p}` with the probability of the
/// transition taken.
///
/// ## Arguments
/// - `desc` (list of strings, default none): a custom map, rows of `S` (start), `F` (frozen),
///   `H` (hole), `G` (goal); rectangular, with at least one `S`. Overrides `map_name`.
/// - `map_name` (`"4x4"` or `"8x8"`, default `"4x4"`): a predefined map.
/// - `is_slippery` (default true): the player moves in the intended direction with probability
///   `success_rate`, else in either perpendicular direction with equal probability.
/// - `success_rate` (default 1/3): the probability of moving as intended on slippery ice.
/// - `reward_schedule` (three numbers, default `(1, 0, 0)`): the rewards for reaching the goal, a
///   hole, and a frozen tile (start included).
///
/// Gymnasium generates a random 8x8 map when both `desc` and `map_name` are `None`; here a null
/// `map_name` means the default `"4x4"`.
///
/// ## Version History
/// - v1: Bug fixes to rewards (v1.3, added reward customization)
/// - v0: Initial version release
public struct FrozenLakeEnv: Environment {
    // MARK: constants

    public static let left = 0
    public static let down = 1
    public static let right = 2
    public static let up = 3
    /// The names the `ansi` render prints after an action.
    public static let actionNames = ["Left", "Down", "Right", "Up"]

    /// The predefined maps, by `map_name`.
    public static let maps: [String: [String]] = [
        "4x4": ["SFFF", "FHFH", "FFFH", "HFFG"],
        "8x8": [
            "SFFFFFFF",
            "FFFFFFFF",
            "FFFHFFFF",
            "FFFFFHFF",
            "FFFHFFFF",
            "FHHFFFHF",
            "FHFFHFHF",
            "FFFHFFFG",
        ],
    ]
    public static let defaultSuccessRate = 1.0 / 3.0
    /// Rewards for reaching the goal, a hole, a frozen tile.
    public static let defaultRewardSchedule = [1.0, 0.0, 0.0]
    /// The largest number of rows or columns a custom `desc` may have.
    public static let maxSide = 1024

    private static let start = UInt8(ascii: "S")
    private static let frozen = UInt8(ascii: "F")
    private static let hole = UInt8(ascii: "H")
    private static let goal = UInt8(ascii: "G")

    // MARK: configuration

    /// The map, one string per row.
    public let desc: [String]
    public let nrow: Int
    public let ncol: Int
    public let isSlippery: Bool
    public let successRate: Double
    /// Rewards for reaching the goal, a hole, a frozen tile.
    public let rewardSchedule: [Double]
    public let actionSpace: Space = .discrete(n: 4)
    public let observationSpace: Space
    public let renderFPS = 4

    /// The map's tiles, row-major.
    private let tiles: [UInt8]
    /// The start tiles, in state order; the initial state is drawn uniformly among them.
    private let startStates: [Int]
    private let failRate: Double

    // MARK: state

    /// The player's position, `row * ncol + col` (Gymnasium's `s`).
    public private(set) var position: Int
    /// The action of the last step, nil after a reset (Gymnasium's `lastaction`).
    public private(set) var lastAction: Int?
    private var random = ToyTextRandom()

    public var row: Int { position / ncol }
    public var col: Int { position % ncol }

    /// The tile letter (`S`, `F`, `H` or `G`) at a row and column.
    public func tile(row: Int, col: Int) -> Character {
        Character(Unicode.Scalar(tiles[row * ncol + col]))
    }

    // MARK: making

    /// `FrozenLakeEnv(desc=, map_name=, is_slippery=, success_rate=, reward_schedule=)`.
    public init(
        desc: [String]? = nil, mapName: String = "4x4", isSlippery: Bool = true,
        successRate: Double = defaultSuccessRate, rewardSchedule: [Double] = defaultRewardSchedule,
        envID: String = "FrozenLake-v1"
    ) throws(GymError) {
        let rows: [String]
        if let desc {
            rows = desc
        } else if let map = Self.maps[mapName] {
            rows = map
        } else {
            throw GymError("Argument 'map_name' of \(envID) must be \"4x4\" or \"8x8\", got \(JSONWriter.string(.string(mapName)))")
        }
        guard successRate.isFinite, (0...1).contains(successRate) else {
            throw GymError("Argument 'success_rate' of \(envID) must be a probability between 0 and 1, got \(pythonRepr(successRate))")
        }
        guard rewardSchedule.count == 3, rewardSchedule.allSatisfy(\.isFinite) else {
            throw GymError("Argument 'reward_schedule' of \(envID) must be a list of three numbers (goal, hole, frozen)")
        }
        let (tiles, nrow, ncol) = try Self.validate(rows, envID: envID)
        self.desc = rows
        self.tiles = tiles
        self.nrow = nrow
        self.ncol = ncol
        self.isSlippery = isSlippery
        self.successRate = successRate
        self.failRate = (1.0 - successRate) / 2.0
        self.rewardSchedule = rewardSchedule
        self.observationSpace = .discrete(n: nrow * ncol)
        self.startStates = tiles.indices.filter { tiles[$0] == Self.start }
        self.position = startStates.first ?? 0
    }

    /// The environment from `gymnasium.make` keyword arguments; `mapName` is the registered
    /// default (`"8x8"` for FrozenLake8x8-v1).
    public init(kwargs: inout Kwargs, mapName defaultMapName: String = "4x4") throws(GymError) {
        let envID = kwargs.envID
        var desc: [String]?
        if let json = kwargs.raw("desc") {
            desc = try Self.rows(of: json, envID: envID)
        }
        let mapName = try kwargs.string("map_name", default: defaultMapName) ?? defaultMapName
        let isSlippery = try kwargs.bool("is_slippery", default: true)
        let successRate = try ToyText.probability(&kwargs, "success_rate", default: Self.defaultSuccessRate)
        var rewardSchedule = Self.defaultRewardSchedule
        if let json = kwargs.raw("reward_schedule") {
            let numbers = json.arrayValue?.compactMap(\.doubleValue) ?? []
            guard json.arrayValue?.count == 3, numbers.count == 3, numbers.allSatisfy(\.isFinite) else {
                throw GymError("Argument 'reward_schedule' of \(envID) must be a list of three numbers (goal, hole, frozen), got \(JSONWriter.string(json))")
            }
            rewardSchedule = numbers
        }
        try self.init(
            desc: desc, mapName: mapName, isSlippery: isSlippery, successRate: successRate,
            rewardSchedule: rewardSchedule, envID: envID)
    }

    /// A client's `desc`: a list of strings, or a list of lists of one-letter strings (what
    /// `np.asarray(desc, dtype="c")` also reads).
    private static func rows(of json: JSON, envID: String) throws(GymError) -> [String] {
        let invalid = GymError("Argument 'desc' of \(envID) must be a list of strings such as [\"SFFF\", \"FHFH\", \"FFFH\", \"HFFG\"], got \(JSONWriter.string(json).prefix(200))")
        guard let list = json.arrayValue else { throw invalid }
        var rows: [String] = []
        rows.reserveCapacity(list.count)
        for element in list {
            if let s = element.stringValue {
                rows.append(s)
            } else if let letters = element.arrayValue {
                var row = ""
                for letter in letters {
                    guard let s = letter.stringValue, s.count == 1 else { throw invalid }
                    row += s
                }
                rows.append(row)
            } else {
                throw invalid
            }
        }
        return rows
    }

    /// Checks a map: non-empty, rectangular, only `S`/`F`/`H`/`G`, at least one `S` (Gymnasium
    /// divides by the number of start tiles).
    private static func validate(_ rows: [String], envID: String) throws(GymError) -> (tiles: [UInt8], nrow: Int, ncol: Int) {
        func invalid(_ why: String) -> GymError {
            GymError("Argument 'desc' of \(envID) is not a valid map: \(why)")
        }
        guard let first = rows.first, !first.isEmpty else { throw invalid("it needs at least one row of at least one tile") }
        let ncol = first.utf8.count
        guard rows.count <= maxSide, ncol <= maxSide else {
            throw invalid("it may have at most \(maxSide) rows and \(maxSide) columns")
        }
        var tiles: [UInt8] = []
        tiles.reserveCapacity(rows.count * ncol)
        for (index, row) in rows.enumerated() {
            guard row.utf8.count == ncol else {
                throw invalid("row \(index) has \(row.utf8.count) tiles where row 0 has \(ncol); rows must have the same length")
            }
            for byte in row.utf8 {
                guard byte == Self.start || byte == Self.frozen || byte == Self.hole || byte == Self.goal else {
                    throw invalid("row \(index) has a tile other than S, F, H or G")
                }
                tiles.append(byte)
            }
        }
        guard tiles.contains(Self.start) else { throw invalid("it has no start tile S") }
        return (tiles, rows.count, ncol)
    }

    // MARK: dynamics

    /// Where a move from a cell leads, the grid's edges stopping it (Gymnasium's `inc`).
    private func moved(row: Int, col: Int, _ action: Int) -> (row: Int, col: Int) {
        switch action {
        case Self.left: return (row, max(col - 1, 0))
        case Self.down: return (min(row + 1, nrow - 1), col)
        case Self.right: return (row, min(col + 1, ncol - 1))
        default: return (max(row - 1, 0), col)
        }
    }

    /// `(next_state, reward, terminated)` of moving in a direction (`update_probability_matrix`).
    private func outcome(row: Int, col: Int, _ direction: Int, probability: Double) -> ToyTextTransition {
        let (newRow, newCol) = moved(row: row, col: col, direction)
        let newState = newRow * ncol + newCol
        let letter = tiles[newState]
        let reward: Double
        switch letter {
        case Self.goal: reward = rewardSchedule[0]
        case Self.hole: reward = rewardSchedule[1]
        default: reward = rewardSchedule[2]
        }
        return ToyTextTransition(
            probability: probability, nextState: newState, reward: reward,
            terminated: letter == Self.goal || letter == Self.hole)
    }

    /// `P[s][a]`.
    func transitions(from state: Int, action: Int) -> ToyTextTransitions {
        let letter = tiles[state]
        if letter == Self.goal || letter == Self.hole {
            return ToyTextTransitions(ToyTextTransition(probability: 1.0, nextState: state, reward: 0, terminated: true))
        }
        let row = state / ncol
        let col = state % ncol
        guard isSlippery else {
            return ToyTextTransitions(outcome(row: row, col: col, action, probability: 1.0))
        }
        return .slippery(around: action) { outcome(row: row, col: col, $0, probability: $0 == action ? successRate : failRate) }
    }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        // categorical_sample(initial_state_distrib): every start tile has probability 1/k, the
        // other tiles 0, which leave the cumulative sum unchanged. When no partial sum exceeds r,
        // numpy's argmax of the all-false array is state 0.
        let r = random.random()
        let share = 1.0 / Double(startStates.count)
        var sum = 0.0
        position = 0
        for state in startStates {
            sum += share
            if sum > r {
                position = state
                break
            }
        }
        lastAction = nil
        return (.int(position), ["prob": .int(1)])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        let a = action.intValue ?? 0
        return transitions(from: position, action: a).step(action: a, position: &position, lastAction: &lastAction, random: &random)
    }

    // MARK: rendering

    /// The `ansi` render: the last action, then the map with the player's tile highlighted.
    public func renderANSI() -> String? {
        var out = lastAction.map { "  (\(Self.actionNames[$0]))\n" } ?? "\n"
        for r in 0..<nrow {
            for c in 0..<ncol {
                let letter = String(tile(row: r, col: c))
                out += r * ncol + c == position ? ToyText.colorize(letter, .red, highlight: true) : letter
            }
            out += "\n"
        }
        return out
    }
}
