import GymCore
import GymEnvs
import Testing

@Suite struct BlackjackTests {
    @Test func spaces() throws {
        let env = try ToyTextTesting.registry().make("Blackjack-v1")
        #expect(env.actionSpace.description == "Discrete(2)")
        #expect(env.observationSpace.description == "Tuple(Discrete(32), Discrete(11), Discrete(2))")
        #expect(
            env.observationSpace.info
                == ["name": "Tuple", "spaces": [["name": "Discrete", "n": 32], ["name": "Discrete", "n": 11], ["name": "Discrete", "n": 2]]])
        #expect(env.env.renderFPS == 4)
    }

    @Test func rules() {
        #expect(BlackjackEnv.sumHand([1, 5]) == 16 && BlackjackEnv.usableAce([1, 5]))
        #expect(BlackjackEnv.sumHand([1, 5, 10]) == 16 && !BlackjackEnv.usableAce([1, 5, 10]))
        #expect(BlackjackEnv.isNatural([10, 1]) && !BlackjackEnv.isNatural([10, 1, 10]))
        #expect(BlackjackEnv.isBust([10, 10, 2]) && BlackjackEnv.score([10, 10, 2]) == 0)
    }

    /// Gymnasium 1.4: `gym.make('Blackjack-v1').reset(seed=s)`, and the unwrapped env's dealer,
    /// player, `dealer_top_card_suit`, `dealer_top_card_value_str`.
    static let gymnasiumResets: [(seed: UInt64, dealer: [Int], player: [Int], suit: String, face: String)] = [
        (0, [10, 9], [7, 4], "D", "J"), (1, [7, 7], [10, 10], "C", "7"), (2, [10, 4], [2, 4], "D", "K"),
        (3, [10, 2], [3, 4], "C", "K"), (4, [10, 10], [10, 7], "S", "K"), (5, [9, 10], [1, 10], "D", "9"),
        (6, [6, 7], [7, 5], "S", "6"), (7, [10, 9], [9, 10], "H", "K"),
    ]

    @Test func resetsAsGymnasium() throws {
        var env = try ToyTextTesting.registry().make("Blackjack-v1")
        for expected in Self.gymnasiumResets {
            let (observation, info) = try env.reset(seed: expected.seed)
            let game = try #require(env.env as? BlackjackEnv)
            #expect(game.dealerHand == expected.dealer && game.playerHand == expected.player)
            #expect(game.dealerTopCardSuit == expected.suit && game.dealerTopCardValue == expected.face)
            #expect(game.dealerTopCard == expected.face + expected.suit)
            #expect(observation == .tuple([.int(game.playerSum), .int(game.dealerCard), .int(game.usableAce ? 1 : 0)]))
            #expect(info.isEmpty)
        }
    }

    @Test func registeredDefaults() throws {
        let registry = ToyTextTesting.registry()
        let v1 = try #require(try registry.make("Blackjack-v1").env as? BlackjackEnv)
        #expect(v1.sab && !v1.natural)
        let v0 = try #require(try registry.make("Blackjack-v0").env as? BlackjackEnv)
        #expect(v0.sab && !v0.natural)
        let natural = try #require(try registry.make("Blackjack-v1", kwargs: ["natural": true, "sab": false]).env as? BlackjackEnv)
        #expect(natural.natural && !natural.sab)
        let plain = BlackjackEnv()
        #expect(!plain.sab && !plain.natural)
        #expect(try registry.spec(for: "Blackjack-v1").maxEpisodeSteps == nil)
    }

    @Test func argumentErrors() {
        #expect(ToyTextTesting.makeError("Blackjack-v1", ["natural": "yes"]).contains("'natural'"))
        #expect(ToyTextTesting.makeError("Blackjack-v1", ["sab": 0]).contains("'sab'"))
        #expect(ToyTextTesting.makeError("Blackjack-v1", ["decks": 6]).contains("Unknown argument 'decks'"))
    }

    @Test func unseededResetsDrawFromEntropy() throws {
        let registry = ToyTextTesting.registry()
        var firsts: Set<SpaceValue> = []
        for _ in 0..<20 {
            var env = try registry.make("Blackjack-v1")
            let (observation, _) = try env.reset()
            #expect(env.observationSpace.contains(observation))
            firsts.insert(observation)
        }
        #expect(firsts.count > 1)
    }

    @Test func episodesEndWithinBounds() throws {
        var env = try ToyTextTesting.registry().make("Blackjack-v1")
        _ = try env.reset(seed: 9)
        var steps = 0
        while true {
            let result = try env.step(json: 1)
            steps += 1
            #expect(env.observationSpace.contains(result.observation))
            if result.done {
                #expect(result.reward == -1 && result.terminated)
                break
            }
            #expect(result.reward == 0)
        }
        #expect(steps < 21)
    }
}
