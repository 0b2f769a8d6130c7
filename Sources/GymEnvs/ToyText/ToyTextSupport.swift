import GymCore

// What the toy-text environments share, as gymnasium/envs/toy_text/utils.py and
// gymnasium/utils/colorize.py provide it: the environment's random stream with the draws
// Gymnasium makes from it, categorical sampling over a transition list, and ANSI colouring.

/// The environment's `np_random` as `gymnasium.Env` keeps it: reseeded by `reset(seed=)`, created
/// from OS entropy the first time it is used without a seed, continued otherwise.
struct ToyTextRandom: Sendable {
    private var generator: RandomGenerator?

    init() {}

    /// `super().reset(seed=seed)`.
    mutating func reseed(_ seed: UInt64?) {
        if let seed { generator = RandomGenerator(seed: seed) }
    }

    private mutating func withGenerator<T>(_ body: (inout RandomGenerator) -> T) -> T {
        var g = generator ?? RandomGenerator()
        let value = body(&g)
        generator = g
        return value
    }

    /// `np_random.random()`: a float64 in [0, 1).
    mutating func random() -> Double {
        withGenerator { $0.random() }
    }

    /// `np_random.choice(elements)` for a non-empty list (numpy draws `integers(0, len)`).
    mutating func choice<T>(_ elements: [T]) -> T {
        withGenerator { $0.choice(from: elements) }
    }
}

/// One entry of a transition list `P[s][a]`: `(prob, next_state, reward, terminated)`.
struct ToyTextTransition: Sendable, Equatable {
    var probability: Double
    var nextState: Int
    var reward: Double
    var terminated: Bool

    init(probability: Double, nextState: Int, reward: Double, terminated: Bool) {
        self.probability = probability
        self.nextState = nextState
        self.reward = reward
        self.terminated = terminated
    }

    /// The tuple as Gymnasium writes it: `(prob, next_state, reward, terminated)`.
    init(_ probability: Double, _ nextState: Int, _ reward: Double, _ terminated: Bool) {
        self.init(probability: probability, nextState: nextState, reward: reward, terminated: terminated)
    }
}

/// A transition list of at most three entries (what every toy-text environment builds), kept
/// inline so that a step allocates nothing.
struct ToyTextTransitions: Sendable {
    private(set) var count = 0
    private var first = ToyTextTransition(probability: 0, nextState: 0, reward: 0, terminated: false)
    private var second = ToyTextTransition(probability: 0, nextState: 0, reward: 0, terminated: false)
    private var third = ToyTextTransition(probability: 0, nextState: 0, reward: 0, terminated: false)

    init() {}

    init(_ only: ToyTextTransition) { append(only) }

    mutating func append(_ transition: ToyTextTransition) {
        switch count {
        case 0: first = transition
        case 1: second = transition
        case 2: third = transition
        default: preconditionFailure("a toy-text transition list has at most three entries")
        }
        count += 1
    }

    subscript(index: Int) -> ToyTextTransition {
        switch index {
        case 0: return first
        case 1: return second
        default: return third
        }
    }

    /// `categorical_sample([t[0] for t in transitions], np_random)`: draws `random()` once and
    /// picks the first entry whose cumulative probability exceeds it (the first entry when none
    /// does, as `np.argmax` of an all-false array).
    func sample(_ random: inout ToyTextRandom) -> ToyTextTransition {
        self[ToyText.categoricalIndex(cumulativeOf: (0..<count).lazy.map { self[$0].probability }, below: random.random())]
    }

    /// A slippery move (FrozenLake, CliffWalking): the outcomes of the directions to the left of,
    /// along and to the right of `action`, in Gymnasium's order `[(a - 1) % 4, a, (a + 1) % 4]`.
    static func slippery(around action: Int, _ outcome: (_ direction: Int) -> ToyTextTransition) -> ToyTextTransitions {
        var list = ToyTextTransitions()
        for direction in [(action + 3) % 4, action, (action + 1) % 4] { list.append(outcome(direction)) }
        return list
    }

    /// The step of a tabular environment (`P[s][a]`: FrozenLake, CliffWalking), as Gymnasium's
    /// `step` takes it: one transition drawn from this list, the position moved, and
    /// `info["prob"]` the transition's probability.
    func step(action: Int, position: inout Int, lastAction: inout Int?, random: inout ToyTextRandom) -> StepResult {
        let transition = sample(&random)
        position = transition.nextState
        lastAction = action
        return StepResult(
            observation: .int(position), reward: transition.reward, terminated: transition.terminated,
            info: ["prob": .double(transition.probability)])
    }
}

/// Helpers the toy-text environments share.
enum ToyText {
    /// `np.argmax(np.cumsum(probabilities) > r)`: the cumulative sum is accumulated left to right
    /// in float64, as numpy's `cumsum` does; 0 when no partial sum exceeds `r`.
    static func categoricalIndex<C: Sequence<Double>>(cumulativeOf probabilities: C, below r: Double) -> Int {
        var sum = 0.0
        for (index, p) in probabilities.enumerated() {
            sum += p
            if sum > r { return index }
        }
        return 0
    }

    /// ANSI colours as `gymnasium.utils.colorize` numbers them.
    enum Color: Int {
        case gray = 30, red, green, yellow, blue, magenta, cyan, white, crimson
    }

    /// `gymnasium.utils.colorize(string, color, bold, highlight)`.
    static func colorize(_ string: String, _ color: Color, bold: Bool = false, highlight: Bool = false) -> String {
        let number = color.rawValue + (highlight ? 10 : 0)
        let attributes = bold ? "\(number);1" : "\(number)"
        return "\u{1B}[\(attributes)m\(string)\u{1B}[0m"
    }

    /// A probability argument: a finite number in [0, 1].
    static func probability(_ kwargs: inout Kwargs, _ name: String, default value: Double) throws(GymError) -> Double {
        let p = try kwargs.double(name, default: value)
        guard (0...1).contains(p) else {
            throw GymError("Argument '\(name)' of \(kwargs.envID) must be a probability between 0 and 1, got \(pythonRepr(p))")
        }
        return p
    }
}
