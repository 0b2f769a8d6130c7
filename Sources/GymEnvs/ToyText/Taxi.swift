import GymCore

/// The Taxi Problem involves navigating to passengers in a grid world, picking them up and
/// dropping them off at one of four locations. (Gymnasium's `TaxiEnv`, v4.)
///
/// ## Description
/// There are four designated pick-up and drop-off locations (Red, Green, Yellow and Blue) in the
/// 5x5 grid world. The taxi starts off at a random square and the passenger at one of the
/// designated locations. The goal is to move the taxi to the passenger's location, pick up the
/// passenger, move to the passenger's desired destination, and drop off the passenger. Once the
/// passenger is dropped off, the episode ends.
///
///     +---------+
///     |R: | : :G|
///     | : | : : |
///     | : : : : |
///     | | : | : |
///     |Y| : |B: |
///     +---------+
///
/// From "Hierarchical Reinforcement Learning with the MAXQ Value Function Decomposition" by Tom
/// Dietterich.
///
/// ## Action Space
/// `Discrete(6)`:
///
/// | Num | Action                 |
/// |-----|------------------------|
/// | 0   | Move south (down)      |
/// | 1   | Move north (up)        |
/// | 2   | Move east (right)      |
/// | 3   | Move west (left)       |
/// | 4   | Pickup passenger       |
/// | 5   | Drop off passenger     |
///
/// ## Observation Space
/// `Discrete(500)`: `((taxi_row * 5 + taxi_col) * 5 + passenger_location) * 4 + destination`.
///
/// | Value | Passenger location | Destination |
/// |-------|--------------------|-------------|
/// | 0     | Red                | Red         |
/// | 1     | Green              | Green       |
/// | 2     | Yellow             | Yellow      |
/// | 3     | Blue               | Blue        |
/// | 4     | In taxi            |             |
///
/// ## Rewards
/// - -1 per step unless another reward is triggered.
/// - +20 delivering passenger.
/// - -10 executing "pickup" and "drop-off" actions illegally.
///
/// ## Starting State
/// Uniform over the 300 states where the passenger is neither at their destination nor in the
/// taxi.
///
/// ## Episode End
/// - Termination: the taxi drops off the passenger at the destination.
/// - Truncation (the registry's time limit): 200 steps.
///
/// The info of `reset` and `step` is `{"prob": p, "action_mask": [six 0/1]}`: the probability of
/// the transition taken and which actions change the state.
///
/// ## Arguments
/// - `is_rainy` (default false): the cab moves in the intended direction with probability
///   `rainy_probability`, else in a lateral direction with equal probability. Pickup and dropoff
///   stay deterministic.
/// - `rainy_probability` (default 0.8).
/// - `fickle_passenger` (default false): with probability `fickle_probability`, the passenger
///   changes destination when the cab has moved one square away from the pick-up location (first
///   pickup only).
/// - `fickle_probability` (default 0.3).
///
/// ## Version History
/// - v4: In v1.3.0, fix `is_rainy=True` and `fickle_passenger=True` implementations; add
///   `rainy_probability` and `fickle_probability`.
/// - v3: Map Correction + Cleaner Domain Description; v0.25.0 action masking added to the reset
///   and step information; v1.2.0 added `is_rainy` and `fickle_passenger`.
/// - v2: Disallow Taxi start location = goal location, Update Taxi observations in the rollout,
///   Update Taxi reward threshold.
/// - v1: Remove (3,2) from locs, add passidx<4 check
/// - v0: Initial version release
public struct TaxiEnv: Environment {
    // MARK: constants

    public static let south = 0
    public static let north = 1
    public static let east = 2
    public static let west = 3
    public static let pickup = 4
    public static let dropoff = 5
    /// The names the `ansi` render prints after an action.
    public static let actionNames = ["South", "North", "East", "West", "Pickup", "Dropoff"]

    /// The map: walls are `|`, passable borders `:`.
    public static let map = [
        "+---------+",
        "|R: | : :G|",
        "| : | : : |",
        "| : : : : |",
        "| | : | : |",
        "|Y| : |B: |",
        "+---------+",
    ]
    /// The four pick-up/drop-off locations (row, col): Red, Green, Yellow, Blue.
    public static let locs = [(row: 0, col: 0), (row: 0, col: 4), (row: 4, col: 0), (row: 4, col: 3)]
    /// Their colours (RGB), as Gymnasium's `locs_colors`.
    public static let locsColors = [(255, 0, 0), (0, 255, 0), (255, 255, 0), (0, 0, 255)]
    public static let numRows = 5
    public static let numColumns = 5
    public static let maxRow = numRows - 1
    public static let maxCol = numColumns - 1
    public static let numStates = 500
    /// The passenger location meaning "in the taxi".
    public static let inTaxi = 4
    public static let defaultRainyProbability = 0.8
    public static let defaultFickleProbability = 0.3

    private static let mapBytes: [[UInt8]] = map.map { Array($0.utf8) }
    private static let passable = UInt8(ascii: ":")
    /// The states an episode may start in, in order (passenger not in the taxi, not at the
    /// destination), each with probability 1/300.
    private static let initialStates: [Int] = (0..<numStates).filter { state in
        let (_, _, passenger, destination) = decode(state)
        return passenger < 4 && passenger != destination
    }

    // MARK: configuration

    public let isRainy: Bool
    public let ficklePassenger: Bool
    public let rainyProbability: Double
    public let fickleProbability: Double
    public let actionSpace: Space = .discrete(n: 6)
    public let observationSpace: Space = .discrete(n: numStates)
    public let renderFPS = 4
    private let rainyLateralProbability: Double

    // MARK: state

    /// The encoded state (Gymnasium's `s`).
    public private(set) var state = 0
    /// The action of the last step, nil after a reset (Gymnasium's `lastaction`).
    public private(set) var lastAction: Int?
    /// The last movement action (0-3) since the reset, 0 after it: the way the taxi faces in
    /// Gymnasium's pixel render (`taxi_orientation`, updated there when a frame is drawn).
    public private(set) var taxiOrientation = 0
    /// Whether the passenger will change destination on the first move after pickup.
    public private(set) var fickleStep = false
    private var random = ToyTextRandom()

    public var taxiRow: Int { Self.decode(state).taxiRow }
    public var taxiCol: Int { Self.decode(state).taxiCol }
    /// 0-3: waiting at `locs[passengerLocation]`; 4: in the taxi.
    public var passengerLocation: Int { Self.decode(state).passengerLocation }
    /// An index into `locs`.
    public var destination: Int { Self.decode(state).destination }

    // MARK: making

    /// `TaxiEnv(is_rainy=, fickle_passenger=, rainy_probability=, fickle_probability=)`.
    public init(
        isRainy: Bool = false, ficklePassenger: Bool = false,
        rainyProbability: Double = TaxiEnv.defaultRainyProbability,
        fickleProbability: Double = TaxiEnv.defaultFickleProbability
    ) {
        self.isRainy = isRainy
        self.ficklePassenger = ficklePassenger
        self.rainyProbability = rainyProbability
        self.rainyLateralProbability = (1.0 - rainyProbability) / 2.0
        self.fickleProbability = fickleProbability
    }

    /// The environment from `gymnasium.make` keyword arguments.
    public init(kwargs: inout Kwargs) throws(GymError) {
        self.init(
            isRainy: try kwargs.bool("is_rainy", default: false),
            ficklePassenger: try kwargs.bool("fickle_passenger", default: false),
            rainyProbability: try ToyText.probability(
                &kwargs, "rainy_probability", default: Self.defaultRainyProbability),
            fickleProbability: try ToyText.probability(
                &kwargs, "fickle_probability", default: Self.defaultFickleProbability))
    }

    // MARK: encoding

    public static func encode(taxiRow: Int, taxiCol: Int, passengerLocation: Int, destination: Int) -> Int {
        ((taxiRow * 5 + taxiCol) * 5 + passengerLocation) * 4 + destination
    }

    public static func decode(_ state: Int) -> (taxiRow: Int, taxiCol: Int, passengerLocation: Int, destination: Int) {
        (state / 100, (state / 20) % 5, (state / 4) % 5, state % 4)
    }

    private static func locationIndex(row: Int, col: Int) -> Int? {
        locs.firstIndex { $0.row == row && $0.col == col }
    }

    /// The map character at a map row and column.
    private static func mapCell(_ row: Int, _ col: Int) -> UInt8 { mapBytes[row][col] }

    // MARK: dynamics

    /// The new passenger location and reward of a pickup (`_pickup`).
    private static func pickup(row: Int, col: Int, passenger: Int, reward: Double) -> (passenger: Int, reward: Double) {
        if passenger < 4 && locs[passenger] == (row, col) { return (inTaxi, reward) }
        return (passenger, -10)
    }

    /// The new passenger location, reward and termination of a dropoff (`_dropoff`).
    private static func dropoff(row: Int, col: Int, passenger: Int, destination: Int, defaultReward: Double)
        -> (passenger: Int, reward: Double, terminated: Bool)
    {
        if locs[destination] == (row, col) && passenger == inTaxi { return (destination, 20, true) }
        if let here = locationIndex(row: row, col: col), passenger == inTaxi { return (here, defaultReward, false) }
        return (passenger, -10, false)
    }

    /// `P[s][a]` without rain (`_build_dry_transitions`).
    private static func dryTransitions(from state: Int, action: Int) -> ToyTextTransitions {
        let (row, col, passenger, destination) = decode(state)
        var newRow = row
        var newCol = col
        var newPassenger = passenger
        var reward = -1.0
        var terminated = false
        if action == south {
            newRow = min(row + 1, maxRow)
        } else if action == north {
            newRow = max(row - 1, 0)
        }
        if action == east && mapCell(1 + row, 2 * col + 2) == passable {
            newCol = min(col + 1, maxCol)
        } else if action == west && mapCell(1 + row, 2 * col) == passable {
            newCol = max(col - 1, 0)
        } else if action == pickup {
            (newPassenger, reward) = Self.pickup(row: row, col: col, passenger: newPassenger, reward: reward)
        } else if action == dropoff {
            (newPassenger, reward, terminated) = Self.dropoff(
                row: row, col: col, passenger: newPassenger, destination: destination, defaultReward: reward)
        }
        let newState = encode(taxiRow: newRow, taxiCol: newCol, passengerLocation: newPassenger, destination: destination)
        return ToyTextTransitions(ToyTextTransition(1.0, newState, reward, terminated))
    }

    /// A lateral drift in the rain: clamped to the grid, blocked by walls (`_calc_new_position`).
    private static func drifted(row: Int, col: Int, by movement: (dr: Int, dc: Int)) -> (row: Int, col: Int) {
        let newRow = max(0, min(row + movement.dr, maxRow))
        let newCol = max(0, min(col + movement.dc, maxCol))
        if movement.dc == 1 && mapCell(1 + newRow, 2 * newCol) != passable { return (row, col) }
        if movement.dc == -1 && mapCell(1 + newRow, 2 * newCol + 2) != passable { return (row, col) }
        return (newRow, newCol)
    }

    /// (forward, left, right) for each heading (`moves` in `_build_rainy_transitions`).
    private static let rainyMoves: [[(dr: Int, dc: Int)]] = [
        [(1, 0), (0, 1), (0, -1)],  // south: left = east, right = west
        [(-1, 0), (0, -1), (0, 1)],  // north: left = west, right = east
        [(0, 1), (-1, 0), (1, 0)],  // east: left = north, right = south
        [(0, -1), (1, 0), (-1, 0)],  // west: left = south, right = north
    ]

    /// `P[s][a]` in the rain (`_build_rainy_transitions`).
    private func rainyTransitions(from state: Int, action: Int) -> ToyTextTransitions {
        let (row, col, passenger, destination) = Self.decode(state)
        var left = (row: row, col: col)
        var right = (row: row, col: col)
        var newRow = row
        var newCol = col
        var newPassenger = passenger
        var reward = -1.0
        var terminated = false
        let canMove =
            (action == Self.south && row < Self.maxRow) || (action == Self.north && row > 0)
            || (action == Self.east && Self.mapCell(1 + row, 2 * col + 2) == Self.passable)
            || (action == Self.west && Self.mapCell(1 + row, 2 * col) == Self.passable)
        if canMove {
            let moves = Self.rainyMoves[action]
            newRow = max(0, min(row + moves[0].dr, Self.maxRow))
            newCol = max(0, min(col + moves[0].dc, Self.maxCol))
            left = Self.drifted(row: row, col: col, by: moves[1])
            right = Self.drifted(row: row, col: col, by: moves[2])
        } else if action == Self.pickup {
            (newPassenger, reward) = Self.pickup(row: row, col: col, passenger: newPassenger, reward: reward)
        } else if action == Self.dropoff {
            (newPassenger, reward, terminated) = Self.dropoff(
                row: row, col: col, passenger: newPassenger, destination: destination, defaultReward: reward)
        }
        func encoded(_ position: (row: Int, col: Int)) -> Int {
            Self.encode(taxiRow: position.row, taxiCol: position.col, passengerLocation: newPassenger, destination: destination)
        }
        let intended = encoded((newRow, newCol))
        guard action <= Self.west else {
            return ToyTextTransitions(ToyTextTransition(1.0, intended, reward, terminated))
        }
        var list = ToyTextTransitions()
        list.append(ToyTextTransition(rainyProbability, intended, -1, terminated))
        list.append(ToyTextTransition(rainyLateralProbability, encoded(left), -1, terminated))
        list.append(ToyTextTransition(rainyLateralProbability, encoded(right), -1, terminated))
        return list
    }

    /// `P[s][a]`.
    func transitions(from state: Int, action: Int) -> ToyTextTransitions {
        isRainy ? rainyTransitions(from: state, action: action) : Self.dryTransitions(from: state, action: action)
    }

    /// Which actions change the state (`action_mask`).
    public static func actionMask(_ state: Int) -> [Int] {
        let (row, col, passenger, destination) = decode(state)
        var mask = [0, 0, 0, 0, 0, 0]
        if row < 4 { mask[south] = 1 }
        if row > 0 { mask[north] = 1 }
        if col < 4 && mapCell(row + 1, 2 * col + 2) == passable { mask[east] = 1 }
        if col > 0 && mapCell(row + 1, 2 * col) == passable { mask[west] = 1 }
        if passenger < 4 && locs[passenger] == (row, col) { mask[pickup] = 1 }
        if passenger == inTaxi && (locs[destination] == (row, col) || locationIndex(row: row, col: col) != nil) {
            mask[dropoff] = 1
        }
        return mask
    }

    private static func info(probability: JSON, state: Int) -> [String: JSON] {
        ["prob": probability, "action_mask": .array(actionMask(state).map(JSON.int))]
    }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        // categorical_sample(initial_state_distrib): 1/300 for each possible start, 0 elsewhere.
        let r = random.random()
        let share = 1.0 / Double(Self.initialStates.count)
        var sum = 0.0
        state = 0
        for candidate in Self.initialStates {
            sum += share
            if sum > r {
                state = candidate
                break
            }
        }
        lastAction = nil
        fickleStep = ficklePassenger && random.random() < fickleProbability
        taxiOrientation = 0
        return (.int(state), Self.info(probability: .double(1.0), state: state))
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        let a = action.intValue ?? 0
        let transition = transitions(from: state, action: a).sample(&random)
        var next = transition.nextState
        lastAction = a
        if a <= Self.west { taxiOrientation = a }
        let before = Self.decode(state)
        let after = Self.decode(next)
        if ficklePassenger && fickleStep && before.passengerLocation == Self.inTaxi
            && (after.taxiRow != before.taxiRow || after.taxiCol != before.taxiCol)
        {
            fickleStep = false
            let possibleDestinations = (0..<Self.locs.count).filter { $0 != before.destination }
            let newDestination = random.choice(possibleDestinations)
            next = Self.encode(
                taxiRow: after.taxiRow, taxiCol: after.taxiCol, passengerLocation: after.passengerLocation,
                destination: newDestination)
        }
        state = next
        return StepResult(
            observation: .int(state), reward: transition.reward, terminated: transition.terminated,
            info: Self.info(probability: .double(transition.probability), state: state))
    }

    // MARK: rendering

    /// The `ansi` render: the map with the taxi (yellow, green when carrying the passenger), the
    /// passenger (blue) and the destination (magenta) coloured, then the last action.
    public func renderANSI() -> String? {
        var out = Self.map.map { $0.map(String.init) }
        let (row, col, passenger, destination) = Self.decode(state)
        if passenger < 4 {
            out[1 + row][2 * col + 1] = ToyText.colorize(out[1 + row][2 * col + 1], .yellow, highlight: true)
            let (pi, pj) = Self.locs[passenger]
            out[1 + pi][2 * pj + 1] = ToyText.colorize(out[1 + pi][2 * pj + 1], .blue, bold: true)
        } else {
            let cell = out[1 + row][2 * col + 1]
            out[1 + row][2 * col + 1] = ToyText.colorize(cell == " " ? "_" : cell, .green, highlight: true)
        }
        let (di, dj) = Self.locs[destination]
        out[1 + di][2 * dj + 1] = ToyText.colorize(out[1 + di][2 * dj + 1], .magenta)
        var text = out.map { $0.joined() }.joined(separator: "\n") + "\n"
        text += lastAction.map { "  (\(Self.actionNames[$0]))\n" } ?? "\n"
        return text
    }
}
