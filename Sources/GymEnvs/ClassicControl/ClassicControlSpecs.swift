import GymCore

extension Registry {
    /// Registers Gymnasium's classic-control ids (gymnasium/envs/__init__.py, Gymnasium 1.4.0),
    /// with the keyword arguments each environment's `__init__` takes. Every factory also takes
    /// `render_mode` (a string, as `gymnasium.make` does for every id; frames are drawn on request
    /// whatever it says); the registry rejects any other argument.
    public mutating func registerClassicControl() {
        register(EnvSpec(id: "CartPole-v0", maxEpisodeSteps: 200, rewardThreshold: 195.0, make: Self.makeCartPole))
        register(EnvSpec(id: "CartPole-v1", maxEpisodeSteps: 500, rewardThreshold: 475.0, make: Self.makeCartPole))
        register(EnvSpec(id: "MountainCar-v0", maxEpisodeSteps: 200, rewardThreshold: -110.0) { kwargs throws(GymError) in
            try Self.readRenderMode(&kwargs)
            return MountainCarEnv(goalVelocity: try kwargs.double("goal_velocity", default: 0))
        })
        register(EnvSpec(id: "MountainCarContinuous-v0", maxEpisodeSteps: 999, rewardThreshold: 90.0) { kwargs throws(GymError) in
            try Self.readRenderMode(&kwargs)
            return MountainCarContinuousEnv(goalVelocity: try kwargs.double("goal_velocity", default: 0))
        })
        register(
            EnvSpec(id: "Pendulum-v1", maxEpisodeSteps: 200) { kwargs throws(GymError) in
                try Self.readRenderMode(&kwargs)
                return PendulumEnv(g: try kwargs.double("g", default: 10.0))
            },
            aliases: ["Pendulum-v0"])
        register(EnvSpec(id: "Acrobot-v1", maxEpisodeSteps: 500, rewardThreshold: -100.0) { kwargs throws(GymError) in
            try Self.readRenderMode(&kwargs)
            return AcrobotEnv()
        })
    }

    @Sendable
    private static func makeCartPole(_ kwargs: inout Kwargs) throws(GymError) -> any Environment {
        try readRenderMode(&kwargs)
        return CartPoleEnv(suttonBartoReward: try kwargs.bool("sutton_barto_reward", default: false))
    }

    /// `render_mode`, which `gymnasium.make` accepts for every environment.
    private static func readRenderMode(_ kwargs: inout Kwargs) throws(GymError) {
        _ = try kwargs.string("render_mode", default: nil)
    }
}
