import Foundation
import GymCore
import Testing

@testable import GymEnvs

/// make() arguments, reset options, spaces, time limits and the state the renderer reads, for
/// each classic-control environment. Expected values come from Gymnasium 1.4.0 (numpy 2.4).
@Suite struct ClassicControlEnvTests {
    var registry: Registry { ClassicControlRolloutTests.registry }

    /// The float32 values of an observation, to compare with numpy's shortest float32 strings.
    static func float32s(_ observation: SpaceValue) -> [Float] {
        (observation.floatsValue ?? []).map { Float($0) }
    }

    /// The GymError `body` throws (nil when it throws nothing, or something else).
    static func gymError(_ body: () throws -> Void) -> GymError? {
        do { try body() } catch { return error as? GymError }
        return nil
    }

    // MARK: - Registry

    @Test func registersGymnasiumsIDs() throws {
        let expected: [(String, Int, Double?)] = [
            ("CartPole-v0", 200, 195.0), ("CartPole-v1", 500, 475.0), ("MountainCar-v0", 200, -110.0),
            ("MountainCarContinuous-v0", 999, 90.0), ("Pendulum-v1", 200, nil), ("Pendulum-v0", 200, nil),
            ("Acrobot-v1", 500, -100.0),
        ]
        for (id, steps, threshold) in expected {
            let spec = try registry.spec(for: id)
            #expect(spec.maxEpisodeSteps == steps, "\(id)")
            #expect(spec.rewardThreshold == threshold, "\(id)")
        }
        #expect(try registry.spec(for: "Pendulum-v0").id == "Pendulum-v1")
        #expect(Set(registry.ids) == Set(expected.map(\.0)))
    }

    @Test func renderFPSIsGymnasiumsMetadata() throws {
        let fps = ["CartPole-v1": 50, "MountainCar-v0": 30, "MountainCarContinuous-v0": 30, "Pendulum-v1": 30, "Acrobot-v1": 15]
        for (id, value) in fps {
            #expect(try registry.make(id).env.renderFPS == value, "\(id)")
        }
    }

    // MARK: - Spaces

    @Test func actionSpaces() throws {
        let expected: [(String, String, JSON)] = [
            ("CartPole-v1", "Discrete(2)", ["name": "Discrete", "n": 2]),
            ("MountainCar-v0", "Discrete(3)", ["name": "Discrete", "n": 3]),
            ("Acrobot-v1", "Discrete(3)", ["name": "Discrete", "n": 3]),
            ("MountainCarContinuous-v0", "Box(-1.0, 1.0, (1,), float32)",
             ["name": "Box", "shape": [1], "low": [-1.0], "high": [1.0], "dtype": "float32"]),
            ("Pendulum-v1", "Box(-2.0, 2.0, (1,), float32)",
             ["name": "Box", "shape": [1], "low": [-2.0], "high": [2.0], "dtype": "float32"]),
        ]
        for (id, description, info) in expected {
            let env = try registry.make(id)
            #expect(env.actionSpace.description == description, "\(id)")
            #expect(env.actionSpace.info.numericallyEquals(info), "\(id): \(JSONWriter.string(env.actionSpace.info))")
        }
    }

    /// Bounds as float32 values (written as their float64), infinities as ±1e100.
    @Test func observationSpaceInfo() throws {
        let theta = Double(Float(12 * 2 * Double.pi / 360 * 2))
        let cartPoleHigh: JSON = [.double(Double(Float(4.8))), 1e100, .double(theta), 1e100]
        let cartPoleLow: JSON = [.double(-Double(Float(4.8))), -1e100, .double(-theta), -1e100]
        let carLow: JSON = [.double(Double(Float(-1.2))), .double(Double(Float(-0.07)))]
        let carHigh: JSON = [.double(Double(Float(0.6))), .double(Double(Float(0.07)))]
        let acrobotHigh: [Double] = [1, 1, 1, 1, Double(Float(4 * Double.pi)), Double(Float(9 * Double.pi))]
        let expected: [(String, [Int], JSON, JSON)] = [
            ("CartPole-v0", [4], cartPoleLow, cartPoleHigh),
            ("MountainCar-v0", [2], carLow, carHigh),
            ("MountainCarContinuous-v0", [2], carLow, carHigh),
            ("Pendulum-v1", [3], [-1.0, -1.0, -8.0], [1.0, 1.0, 8.0]),
            ("Acrobot-v1", [6], .array(acrobotHigh.map { .double(-$0) }), .array(acrobotHigh.map(JSON.double))),
        ]
        for (id, shape, low, high) in expected {
            let info = try registry.make(id).observationSpace.info
            let wanted: JSON = ["name": "Box", "shape": .array(shape.map(JSON.int)), "low": low, "high": high, "dtype": "float32"]
            #expect(info.numericallyEquals(wanted), "\(id): \(JSONWriter.string(info))")
        }
        #expect(Double(Float(4 * Double.pi)) == 12.566370964050293)
    }

    /// Gymnasium's `repr` of the observation spaces: numpy's `str` of the bound arrays.
    @Test func observationSpaceDescriptions() throws {
        let expected = [
            ("CartPole-v1", "Box([-4.8               -inf -0.41887903        -inf], [4.8               inf 0.41887903        inf], (4,), float32)"),
            ("MountainCar-v0", "Box([-1.2  -0.07], [0.6  0.07], (2,), float32)"),
            ("MountainCarContinuous-v0", "Box([-1.2  -0.07], [0.6  0.07], (2,), float32)"),
            ("Pendulum-v1", "Box([-1. -1. -8.], [1. 1. 8.], (3,), float32)"),
            ("Acrobot-v1", "Box([ -1.        -1.        -1.        -1.       -12.566371 -28.274334], [ 1.        1.        1.        1.       12.566371 28.274334], (6,), float32)"),
        ]
        for (id, description) in expected {
            let space = try registry.make(id).observationSpace
            #expect(space.description == description, "\(id)")
        }
    }

    // MARK: - make() arguments

    @Test func cartPoleArguments() throws {
        var env = try registry.make("CartPole-v1", kwargs: ["sutton_barto_reward": true])
        #expect((env.env as? CartPoleEnv)?.suttonBartoReward == true)
        _ = try env.reset(seed: 0)
        #expect(try env.step(.int(1)).reward == 0.0)
        #expect((try registry.make("CartPole-v0").env as? CartPoleEnv)?.suttonBartoReward == false)
        #expect((try registry.make("CartPole-v1", kwargs: ["render_mode": "rgb_array"]).env as? CartPoleEnv) != nil)

        let wrongType = Self.gymError { _ = try registry.make("CartPole-v1", kwargs: ["sutton_barto_reward": "yes"]) }
        #expect(wrongType?.message.contains("'sutton_barto_reward'") == true)
        #expect(wrongType?.message.contains("boolean") == true)
        let unknown = Self.gymError { _ = try registry.make("CartPole-v1", kwargs: ["g": 9.81]) }
        #expect(unknown?.message == "Unknown argument 'g' for CartPole-v1")
        let renderMode = Self.gymError { _ = try registry.make("CartPole-v1", kwargs: ["render_mode": 3]) }
        #expect(renderMode?.message.contains("'render_mode'") == true)
    }

    @Test func pendulumArguments() throws {
        #expect((try registry.make("Pendulum-v1").env as? PendulumEnv)?.g == 10.0)
        #expect((try registry.make("Pendulum-v1", kwargs: ["g": 9.81]).env as? PendulumEnv)?.g == 9.81)
        #expect((try registry.make("Pendulum-v0", kwargs: ["g": 9]).env as? PendulumEnv)?.g == 9.0)
        let wrongType = Self.gymError { _ = try registry.make("Pendulum-v1", kwargs: ["g": "9.81"]) }
        #expect(wrongType?.message.contains("'g'") == true)
        let unknown = Self.gymError { _ = try registry.make("Pendulum-v1", kwargs: ["sutton_barto_reward": true]) }
        #expect(unknown?.message == "Unknown argument 'sutton_barto_reward' for Pendulum-v1")
    }

    @Test func mountainCarArguments() throws {
        #expect((try registry.make("MountainCar-v0").env as? MountainCarEnv)?.goalVelocity == 0)
        #expect((try registry.make("MountainCar-v0", kwargs: ["goal_velocity": 0.02]).env as? MountainCarEnv)?.goalVelocity == 0.02)
        let continuous = try registry.make("MountainCarContinuous-v0", kwargs: ["goal_velocity": 0.03])
        #expect((continuous.env as? MountainCarContinuousEnv)?.goalVelocity == 0.03)
        let wrongType = Self.gymError { _ = try registry.make("MountainCarContinuous-v0", kwargs: ["goal_velocity": [0.1]]) }
        #expect(wrongType?.message.contains("'goal_velocity'") == true)
        let unknown = Self.gymError { _ = try registry.make("MountainCar-v0", kwargs: ["force": 0.002]) }
        #expect(unknown?.message == "Unknown argument 'force' for MountainCar-v0")
    }

    @Test func acrobotArguments() throws {
        #expect((try registry.make("Acrobot-v1", kwargs: ["render_mode": "rgb_array"]).env as? AcrobotEnv) != nil)
        let unknown = Self.gymError { _ = try registry.make("Acrobot-v1", kwargs: ["book_or_nips": "nips", "dt": 0.1]) }
        #expect(unknown?.message == "Unknown arguments 'book_or_nips', 'dt' for Acrobot-v1")
    }

    // MARK: - Reset options

    /// Option values are read as Python's `float()` reads them (Gymnasium's `verify_number_and_cast`).
    @Test func optionNumbersAsPythonFloat() throws {
        let accepted: [(String, Double)] = [
            ("0.1", 0.1), (" -2 ", -2), ("1_000.5", 1000.5), (".5", 0.5), ("5.", 5), ("+1e-3", 0.001),
            ("1E5", 1e5), ("1_0e1_0", 10e10), ("inf", .infinity), ("-Infinity", -.infinity), ("\t3\n", 3),
        ]
        for (text, value) in accepted { #expect(ResetBounds.pythonFloat(text) == value, "\(text)") }
        #expect(ResetBounds.pythonFloat("nan")?.isNaN == true)
        for text in ["", ".", "1__0", "_1", "1_", "1e", "1e_5", "0x10", "1.2.3", "abc", "1 2", "e5", "--1"] {
            #expect(ResetBounds.pythonFloat(text) == nil, "\(text)")
        }
        #expect(try ResetBounds.number(true, option: "low") == 1)
        #expect(try ResetBounds.number(3, option: "low") == 3)
    }

    @Test func resetBoundsAreApplied() throws {
        func reset(_ id: String, _ options: [String: JSON]?) throws -> [Float] {
            var env = try registry.make(id)
            return Self.float32s(try env.reset(seed: 123, options: options).observation)
        }
        // Gymnasium's own example: env.reset(seed=123, options={"low": -0.1, "high": 0.1}).
        #expect(try reset("CartPole-v1", ["low": -0.1, "high": 0.1]) == [0.036470372, -0.0892358, -0.055928025, -0.06312564])
        #expect(try reset("CartPole-v1", nil) == [0.018235186, -0.0446179, -0.027964013, -0.03156282])
        // The other examples of Gymnasium's docstrings.
        #expect(try reset("MountainCar-v0", ["low": -0.7, "high": 0.5]) == [0.11882224, 0])
        #expect(try reset("MountainCarContinuous-v0", ["low": -0.7, "high": -0.5]) == [-0.5635296, 0])
        #expect(try reset("Pendulum-v1", ["x_init": .double(Double.pi / 2), "y_init": 0.5]) == [0.8403459, 0.54205054, -0.44617897])
        #expect(try reset("Acrobot-v1", ["low": -0.2, "high": 0.2])
            == [0.997341, 0.07287608, 0.9841162, -0.17752565, -0.11185605, -0.12625128])
        // Whatever Python's float() takes, and keys nobody reads are ignored.
        #expect(try reset("CartPole-v1", ["low": " 1_0e-2 ", "high": "0.5", "other": [1]]) == [0.37294075, 0.12152841, 0.18814395, 0.17374873])
        #expect(try reset("CartPole-v1", ["other": "x"]) == reset("CartPole-v1", nil))
        #expect(try reset("MountainCar-v0", ["low": -0.5, "high": -0.5]) == [-0.5, 0])
        #expect(try reset("MountainCar-v0", [:]) == [-0.46352962, 0])
        #expect(try reset("MountainCarContinuous-v0", ["low": 0.1, "high": 0.2]) == [0.16823518, 0])
        #expect(try reset("Pendulum-v1", ["x_init": 0.5]) == [0.9834199, 0.18134294, -0.89235795])
        #expect(try reset("Pendulum-v1", ["x_init": 0.5, "y_init": 0.1, "low": 5]) == [0.9834199, 0.18134294, -0.0892358])
        #expect(try reset("Pendulum-v1", nil) == [0.4123625, 0.91101986, -0.89235795])
        #expect(try reset("Acrobot-v1", ["low": -0.3, "high": 0.3])
            == [0.9940206, 0.10919296, 0.9643799, -0.26452118, -0.16778408, -0.18937692])

        // Every initial CartPole value within the bounds, over many resets.
        var env = try registry.make("CartPole-v1")
        _ = try env.reset(seed: 7, options: ["low": 0.25, "high": 0.5])
        for _ in 0..<200 {
            let state = try #require((env.env as? CartPoleEnv)?.state)
            for value in [state.x, state.xDot, state.theta, state.thetaDot] { #expect(value >= 0.25 && value < 0.5) }
            _ = try env.reset(options: ["low": 0.25, "high": 0.5])
        }
    }

    static let badOptions: [(id: String, options: [String: JSON], message: String)] = [
        ("CartPole-v1", ["low": 0.1, "high": -0.1], "Lower bound (0.1) must be lower than higher bound (-0.1)."),
        ("MountainCar-v0", ["low": -0.3], "Lower bound (-0.3) must be lower than higher bound (-0.4)."),
        ("Acrobot-v1", ["high": -0.2], "Lower bound (-0.1) must be lower than higher bound (-0.2)."),
        ("CartPole-v1", ["low": "abc"], "An option (\"abc\") could not be converted to a float"),
        ("MountainCarContinuous-v0", ["low": nil], "An option (null) could not be converted to a float"),
        ("Acrobot-v1", ["low": [0.1]], "An option ([0.1]) could not be converted to a float"),
        ("CartPole-v1", ["low": "1e-2x"], "could not be converted to a float"),
        ("CartPole-v1", ["low": -1e308, "high": 1e308], "high - low range exceeds valid bounds"),
        ("CartPole-v1", ["low": 0.0, "high": -0.0], "high - low < 0"),
        ("Pendulum-v1", ["x_init": -1], "high - low < 0"),
        ("Pendulum-v1", ["y_init": "nan"], "Range exceeds valid bounds"),
        ("Pendulum-v1", ["x_init": true, "y_init": ["a": 1]], "could not be converted to a float: option 'y_init'"),
    ]

    @Test(arguments: badOptions)
    func badResetOptionsAreErrors(id: String, options: [String: JSON], message: String) throws {
        var env = try registry.make(id)
        let error = Self.gymError { _ = try env.reset(seed: 1, options: options) }
        #expect(error?.message.contains(message) == true, "\(error?.message ?? "no error")")
        // The environment stays usable, as Gymnasium's does.
        _ = try env.reset(seed: 1)
        let action: JSON = env.actionSpace.shape == [] ? 1 : [0.5]
        _ = try env.step(json: action)
    }

    // MARK: - Time limits

    static let timeLimits: [(id: String, action: JSON, limit: Int, kwargs: [String: JSON])] = [
        ("CartPole-v1", .int(0), 3, ["max_episode_steps": 3]),
        ("MountainCar-v0", .int(1), 200, [:]),
        ("MountainCarContinuous-v0", [0.0], 999, [:]),
        ("Pendulum-v1", [0.0], 200, [:]),
        ("Pendulum-v0", [1.0], 200, ["g": 9.81]),
        ("Acrobot-v1", .int(1), 500, [:]),
    ]

    @Test(arguments: timeLimits)
    func timeLimitTruncates(id: String, action: JSON, limit: Int, kwargs: [String: JSON]) throws {
        var env = try registry.make(id, kwargs: kwargs)
        #expect(env.maxEpisodeSteps == limit)
        _ = try env.reset(seed: 3)
        for step in 1...limit {
            let result = try env.step(json: action)
            #expect(!result.terminated, "\(id) step \(step)")
            #expect(result.truncated == (step == limit), "\(id) step \(step)")
            if step == limit { #expect(result.info["TimeLimit.truncated"] == .bool(true)) }
        }
    }

    @Test func cartPoleTerminationBeforeTheLimit() throws {
        var env = try registry.make("CartPole-v0")
        _ = try env.reset(seed: 0)
        var steps = 0
        var result = try env.step(.int(1))
        while !result.done {
            steps += 1
            result = try env.step(.int(1))
        }
        #expect(result.terminated && !result.truncated && steps < 200)
        #expect(result.info["TimeLimit.truncated"] == nil)
        #expect(result.reward == 1.0)
        #expect(try env.step(.int(1)).reward == 0.0)  // past termination
    }

    // MARK: - Seeding and drawable state

    @Test func seedingRestartsTheStream() throws {
        var env = try registry.make("Acrobot-v1")
        let first = try env.reset(seed: 42).observation
        let next = try env.reset().observation
        #expect(first != next)
        #expect(try env.reset(seed: 42).observation == first)
        #expect(try env.reset().observation == next)

        // No seed ever: OS entropy, different each time.
        var a = try registry.make("CartPole-v1"), b = try registry.make("CartPole-v1")
        #expect(try a.reset().observation != b.reset().observation)
    }

    @Test func drawableState() throws {
        var cartPole = CartPoleEnv()
        #expect(cartPole.cartPosition == nil && cartPole.poleAngle == nil)
        _ = try cartPole.reset(seed: 123, options: nil)
        #expect(cartPole.cartPosition == 0.018235186324814343)
        #expect(cartPole.poleAngle == -0.027964012722738865)

        var car = MountainCarEnv()
        #expect(car.carPosition == nil)
        _ = try car.reset(seed: 123, options: nil)
        #expect(car.carPosition == -0.4635296273503713)
        #expect(car.goalPosition == 0.5)
        var continuous = MountainCarContinuousEnv()
        _ = try continuous.reset(seed: 123, options: nil)
        #expect(continuous.carPosition == -0.4635296273503713)
        #expect(continuous.goalPosition == 0.45)

        var pendulum = PendulumEnv()
        _ = try pendulum.reset(seed: 5, options: nil)
        #expect(pendulum.lastU == nil)
        #expect(pendulum.angle == 1.9163898891237885)
        let result = pendulum.step(.floats([1.5]))
        #expect(pendulum.lastU == 1.5)
        #expect(Self.float32s(result.observation) == [-0.41042534, 0.9118942, 1.5465375])
        #expect(result.reward == -3.7127312192652737)
        _ = try pendulum.reset(seed: nil, options: nil)
        #expect(pendulum.lastU == nil)

        var acrobot = AcrobotEnv()
        #expect(acrobot.theta1 == nil && acrobot.theta2 == nil)
        _ = try acrobot.reset(seed: 123, options: nil)
        // The float32 reset state, as Gymnasium's `state`.
        #expect(acrobot.theta1 == 0.03647037222981453)
        #expect(acrobot.theta2 == -0.08923579752445221)
    }
}
