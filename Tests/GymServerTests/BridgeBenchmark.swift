import Foundation
import GymBridge
import GymCore
import GymServer
import Testing
import GymService

/// What the bridge adds to a step: CartPole-v1 stepped through an instance (no HTTP) natively
/// and through a Python worker, beside in-process Gymnasium measured in the same run. Run with
/// `GYM_BENCH=1 GYM_TEST_PYTHON=.venv/bridge/bin/python swift test -c release --filter BridgeBenchmark`
/// (`make bench` does). Issue 14's target: the bridge adds at most 100 µs per step.
@Suite(
    "BridgeBenchmark", .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["GYM_BENCH"] == "1" && BridgeTestPython.available, "set GYM_BENCH=1 and GYM_TEST_PYTHON to run"))
struct BridgeBenchmark {
    static let steps = 20_000

    /// Microseconds per step of an instance, resetting at every episode end.
    static func perStep(_ instance: EnvironmentInstance) async throws -> Double {
        _ = try await instance.reset(seed: 1, options: nil, render: false)
        for _ in 0..<500 { _ = try await step(instance) }  // warm-up
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for _ in 0..<steps { _ = try await step(instance) }
        }
        return Double(elapsed.components.attoseconds) / 1e12 / Double(steps) + Double(elapsed.components.seconds) * 1e6 / Double(steps)
    }

    static func step(_ instance: EnvironmentInstance) async throws -> Bool {
        let answer = try await instance.step(action: .int(Int.random(in: 0...1)), render: false)
        let done = answer.json("done") == .bool(true)
        if done { _ = try await instance.reset(seed: nil, options: nil, render: false) }
        return done
    }

    /// In-process Gymnasium's microseconds per step (`env.step`, resetting at episode ends).
    static func inProcess() throws -> Double {
        let script = """
            import time, gymnasium as gym, random
            env = gym.make("CartPole-v1"); env.reset(seed=1)
            def run(n):
                for _ in range(n):
                    _, _, term, trunc, _ = env.step(random.randint(0, 1))
                    if term or trunc: env.reset()
            run(500); t = time.perf_counter(); run(\(steps)); print((time.perf_counter() - t) / \(steps) * 1e6)
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: BridgeTestPython.path ?? "/usr/bin/python3")
        process.arguments = ["-c", script]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Double(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan
    }

    @Test("CartPole-v1: native, bridged and in-process Gymnasium per step")
    func cartPole() async throws {
        let harness = APIHarness(bridge: PythonBridge(configuration: BridgeTestPython.configuration()))
        let native = try await harness.manager.createInstance(envID: "CartPole-v1")
        let bridged = try await harness.manager.createInstance(envID: "CartPole-v1", backend: .gymnasium)
        let nativeMicros = try await Self.perStep(native)
        let bridgedMicros = try await Self.perStep(bridged)
        let gymnasiumMicros = try Self.inProcess()
        await harness.manager.closeAll()
        let added = bridgedMicros - gymnasiumMicros
        print(String(format: "bridge-bench CartPole-v1 per step: native %.2f µs, bridged %.2f µs, in-process Gymnasium %.2f µs", nativeMicros, bridgedMicros, gymnasiumMicros))
        print(String(format: "bridge-bench the bridge adds %.1f µs per step to Gymnasium's own (target ≤ 100 µs); bridged / native %.1fx", added, bridgedMicros / nativeMicros))
    }
}
