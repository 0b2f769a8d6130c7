import GymCore

extension Registry {
    /// Registers Gymnasium's toy-text ids (gymnasium/envs/__init__.py, Gymnasium 1.4.0) with the
    /// keyword arguments each environment's `__init__` takes, plus `render_mode` (a string, as
    /// `gymnasium.make` takes it for every id); the registry rejects any other argument.
    ///
    /// The older versions clients still ask for are aliases, though Gymnasium 1.4 no longer
    /// registers them: FrozenLake-v0, FrozenLake8x8-v0 and CliffWalking-v0 are their v1;
    /// Taxi-v3 is Taxi-v4, whose default dynamics are v3's (v4 changed only the `is_rainy` and
    /// `fickle_passenger` variants and added their probabilities); Blackjack-v0 is Blackjack-v1
    /// with its registered `sab=True`.
    public mutating func registerToyText() {
        register(
            EnvSpec(id: "FrozenLake-v1", maxEpisodeSteps: 100, rewardThreshold: 0.70) { kwargs throws(GymError) in
                try Self.makeFrozenLake(&kwargs, mapName: "4x4")
            },
            aliases: ["FrozenLake-v0"])
        register(
            EnvSpec(id: "FrozenLake8x8-v1", maxEpisodeSteps: 200, rewardThreshold: 0.85) { kwargs throws(GymError) in
                try Self.makeFrozenLake(&kwargs, mapName: "8x8")
            },
            aliases: ["FrozenLake8x8-v0"])
        register(
            EnvSpec(id: "CliffWalking-v1", maxEpisodeSteps: nil) { kwargs throws(GymError) in
                try Self.makeCliffWalking(&kwargs, isSlippery: false)
            },
            aliases: ["CliffWalking-v0"])
        register(
            EnvSpec(id: "CliffWalkingSlippery-v1", maxEpisodeSteps: nil) { kwargs throws(GymError) in
                try Self.makeCliffWalking(&kwargs, isSlippery: true)
            })
        register(
            EnvSpec(id: "Taxi-v4", maxEpisodeSteps: 200, rewardThreshold: 8, make: Self.makeTaxi),
            aliases: ["Taxi-v3"])
        register(
            EnvSpec(id: "Blackjack-v1", maxEpisodeSteps: nil, make: Self.makeBlackjack),
            aliases: ["Blackjack-v0"])
    }

    private static func makeFrozenLake(_ kwargs: inout Kwargs, mapName: String) throws(GymError) -> any Environment {
        try readRenderMode(&kwargs)
        return try FrozenLakeEnv(kwargs: &kwargs, mapName: mapName)
    }

    private static func makeCliffWalking(_ kwargs: inout Kwargs, isSlippery: Bool) throws(GymError) -> any Environment {
        try readRenderMode(&kwargs)
        return try CliffWalkingEnv(kwargs: &kwargs, isSlippery: isSlippery)
    }

    @Sendable
    private static func makeTaxi(_ kwargs: inout Kwargs) throws(GymError) -> any Environment {
        try readRenderMode(&kwargs)
        return try TaxiEnv(kwargs: &kwargs)
    }

    /// Blackjack-v1 registers `sab=True, natural=False`, unlike the class's defaults.
    @Sendable
    private static func makeBlackjack(_ kwargs: inout Kwargs) throws(GymError) -> any Environment {
        try readRenderMode(&kwargs)
        return try BlackjackEnv(kwargs: &kwargs, natural: false, sab: true)
    }

    /// `render_mode`, which `gymnasium.make` accepts for every environment (Gymnasium only warns
    /// about a mode the environment lacks).
    private static func readRenderMode(_ kwargs: inout Kwargs) throws(GymError) {
        _ = try kwargs.string("render_mode", default: nil)
    }
}
