import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Over a real socket")
struct LiveServerTests {
    @Test("an episode of CartPole over TCP, and many instances stepping at once")
    func episodeOverTCP() async throws {
        let harness = APIHarness()
        try await harness.application.test(.live) { client in
            let api = APIClient(client: client)
            let id = try await api.create("CartPole-v1", seed: 3)
            _ = try await api.post("/v1/envs/\(id)/reset/")
            var steps = 0
            var done = false
            while !done && steps < 600 {
                let answer = try await api.post("/v1/envs/\(id)/step/", ["action": .int(steps % 2)])
                #expect(answer.status == .ok)
                done = answer.json["done"]?.boolValue ?? true
                steps += 1
            }
            #expect(done && steps < 500)

            // Parallel instances: each keeps its own state.
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 { group.addTask { try await api.create("FrozenLake-v1", kwargs: ["is_slippery": false]) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for instance in ids {
                    group.addTask {
                        _ = try await api.post("/v1/envs/\(instance)/reset/")
                        // right, right, down: 0 -> 1 -> 2 -> 6
                        for action in [2, 2, 1] { _ = try await api.post("/v1/envs/\(instance)/step/", ["action": .int(action)]) }
                    }
                }
                try await group.waitForAll()
            }
            for instance in ids {
                let answer = try await api.post("/v1/envs/\(instance)/step/", ["action": 2])
                #expect(answer.json["observation"] == 7)
            }
        }
    }
}
