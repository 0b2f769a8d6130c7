import GymCore

/// Blackjack is a card game where the goal is to beat the dealer by obtaining cards that sum to
/// closer to 21 (without going over 21) than the dealer's cards. (Gymnasium's `BlackjackEnv`, v1.)
///
/// ## Description
/// The game starts with the dealer having one face up and one face down card, while the player
/// has two face up cards. All cards are drawn from an infinite deck (with replacement). Face cards
/// (Jack, Queen, King) have a point value of 10; aces count as 11 (a "usable ace") or 1; number
/// cards (2-10) their number. The player can request additional cards (hit) until they decide to
/// stop (stick) or exceed 21 (bust, immediate loss). After the player sticks, the dealer reveals
/// their facedown card and draws cards until their sum is 17 or greater. If the dealer goes bust,
/// the player wins; otherwise whose sum is closer to 21 wins. This is Example 5.1 of Reinforcement
/// Learning: An Introduction by Sutton and Barto.
///
/// ## Action Space
/// `Discrete(2)`:
///
/// | Num | Action |
/// |-----|--------|
/// | 0   | Stick  |
/// | 1   | Hit    |
///
/// ## Observation Space
/// `Tuple(Discrete(32), Discrete(11), Discrete(2))`:
///
/// | Num | Observation               | Min | Max |
/// |-----|---------------------------|-----|-----|
/// | 0   | Player current sum        | 4   | 31  |
/// | 1   | Dealer showing card value | 1   | 10  |
/// | 2   | Usable ace                | 0   | 1   |
///
/// ## Rewards
/// - win game: +1
/// - lose game: -1
/// - draw game: 0
/// - win game with natural blackjack: +1.5 if `natural` is true (and `sab` false), else +1
///
/// ## Starting State
/// Player sum 4-21, dealer showing card 1-10, usable ace 0 or 1, from two cards each.
///
/// ## Episode End
/// - Termination: the player hits and the sum of the hand exceeds 21, or the player sticks.
/// - No time limit is registered for Blackjack-v1.
///
/// The info of `reset` and `step` is `{}`.
///
/// ## Arguments
/// - `natural` (class default false): an additional reward for starting with a natural blackjack
///   (an ace and a ten).
/// - `sab` (class default false; true for the registered Blackjack-v1): follow the exact rules of
///   Sutton and Barto, overriding `natural`: a natural wins +1 unless the dealer has one too
///   (a draw).
///
/// ## Version History
/// - v1: Fix the natural handling in Blackjack
/// - v0: Initial version release
public struct BlackjackEnv: Environment {
    // MARK: constants

    public static let stick = 0
    public static let hit = 1
    /// 1 = Ace, 2-10 = number cards, Jack/Queen/King = 10.
    public static let deck = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10]
    public static let suits = ["C", "D", "H", "S"]
    /// The faces drawn to show a 10-valued dealer card.
    public static let tenFaces = ["J", "Q", "K"]
    /// The dealer draws until their sum reaches this.
    public static let dealerStandsAt = 17
    public static let blackjack = 21

    // MARK: rules

    /// Whether a hand has an ace that can count as 11 without busting.
    public static func usableAce(_ hand: [Int]) -> Bool {
        hand.contains(1) && hand.reduce(0, +) + 10 <= blackjack
    }

    /// The hand's total, a usable ace counted as 11.
    public static func sumHand(_ hand: [Int]) -> Int {
        hand.reduce(0, +) + (usableAce(hand) ? 10 : 0)
    }

    public static func isBust(_ hand: [Int]) -> Bool { sumHand(hand) > blackjack }

    /// The hand's score: 0 when bust.
    public static func score(_ hand: [Int]) -> Int { isBust(hand) ? 0 : sumHand(hand) }

    /// An ace and a ten.
    public static func isNatural(_ hand: [Int]) -> Bool { hand.sorted() == [1, 10] }

    // MARK: configuration

    public let natural: Bool
    public let sab: Bool
    public let actionSpace: Space = .discrete(n: 2)
    public let observationSpace: Space = .tuple([.discrete(n: 32), .discrete(n: 11), .discrete(n: 2)])
    public let renderFPS = 4

    // MARK: state

    public private(set) var playerHand: [Int] = []
    public private(set) var dealerHand: [Int] = []
    /// The suit of the dealer's face-up card, drawn at reset for rendering ("C", "D", "H", "S").
    public private(set) var dealerTopCardSuit = ""
    /// The face of the dealer's face-up card: "A", "2"..."10" or, for a ten, "J", "Q" or "K".
    public private(set) var dealerTopCardValue = ""
    private var random = ToyTextRandom()

    public var playerSum: Int { Self.sumHand(playerHand) }
    /// The dealer's showing card value (1 for an ace); 0 before the first reset.
    public var dealerCard: Int { dealerHand.first ?? 0 }
    public var usableAce: Bool { Self.usableAce(playerHand) }
    /// The dealer's face-up card as Gymnasium's render names it, e.g. "KS".
    public var dealerTopCard: String { dealerTopCardValue + dealerTopCardSuit }

    // MARK: making

    /// `BlackjackEnv(natural=, sab=)`.
    public init(natural: Bool = false, sab: Bool = false) {
        self.natural = natural
        self.sab = sab
    }

    /// The environment from `gymnasium.make` keyword arguments, with the registered defaults
    /// (Blackjack-v1 registers `sab=True, natural=False`).
    public init(kwargs: inout Kwargs, natural defaultNatural: Bool = false, sab defaultSab: Bool = true) throws(GymError) {
        self.init(
            natural: try kwargs.bool("natural", default: defaultNatural),
            sab: try kwargs.bool("sab", default: defaultSab))
    }

    // MARK: dynamics

    /// `draw_card`: `int(np_random.choice(deck))`.
    private mutating func drawCard() -> Int { random.choice(Self.deck) }

    private var observation: SpaceValue {
        .tuple([.int(playerSum), .int(dealerCard), .int(usableAce ? 1 : 0)])
    }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        random.reseed(seed)
        dealerHand = [drawCard(), drawCard()]
        playerHand = [drawCard(), drawCard()]
        // Gymnasium draws the face-up card's look for its render on every reset, which advances
        // the stream whether or not anything is rendered.
        dealerTopCardSuit = random.choice(Self.suits)
        switch dealerCard {
        case 1: dealerTopCardValue = "A"
        case 10: dealerTopCardValue = random.choice(Self.tenFaces)
        default: dealerTopCardValue = String(dealerCard)
        }
        return (observation, [:])
    }

    public mutating func step(_ action: SpaceValue) -> StepResult {
        let reward: Double
        let terminated: Bool
        if action.intValue == Self.hit {
            playerHand.append(drawCard())
            terminated = Self.isBust(playerHand)
            reward = terminated ? -1.0 : 0.0
        } else {
            terminated = true
            while Self.sumHand(dealerHand) < Self.dealerStandsAt {
                dealerHand.append(drawCard())
            }
            let player = Self.score(playerHand)
            let dealer = Self.score(dealerHand)
            var outcome: Double = player > dealer ? 1.0 : (player < dealer ? -1.0 : 0.0)
            if sab && Self.isNatural(playerHand) && !Self.isNatural(dealerHand) {
                outcome = 1.0  // player automatically wins, as Sutton and Barto rule
            } else if !sab && natural && Self.isNatural(playerHand) && outcome == 1.0 {
                outcome = 1.5  // a natural pays more but does not win by itself
            }
            reward = outcome
        }
        return StepResult(observation: observation, reward: reward, terminated: terminated, info: [:])
    }
}
