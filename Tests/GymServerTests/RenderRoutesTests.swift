import Foundation
import GymCore
import GymRender
import GymServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Rendering over the API")
struct RenderRoutesTests {
    @Test("render: true writes <n>.png and latest.png atomically and names the file")
    func renderTrue() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 1, "render": true])
            #expect(reset.json["render"] == "successfully rendered: 0.png")
            _ = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
            let step = try await api.post("/v1/envs/\(id)/step/", ["action": 1, "render": true])
            #expect(step.json["render"] == "successfully rendered: 1.png")
            #expect(step.json["observation"]?.arrayValue?.count == 4)

            let rendered = harness.monitorRoot.appendingPathComponent("\(id)/rendered")
            let files = try FileManager.default.contentsOfDirectory(atPath: rendered.path).sorted()
            #expect(files == ["0.png", "1.png", "latest.png"])
            let latest = try Data(contentsOf: rendered.appendingPathComponent("latest.png"))
            #expect(latest == (try Data(contentsOf: rendered.appendingPathComponent("1.png"))))
            let frame = try PNGDecoder.decode(Array(latest))
            #expect(frame.width == 600 && frame.height == 400)
            // latest.png is the numbered file linked in, not a second encode
            let a = try FileManager.default.attributesOfItem(atPath: rendered.appendingPathComponent("latest.png").path)
            let b = try FileManager.default.attributesOfItem(atPath: rendered.appendingPathComponent("1.png").path)
            #expect(a[.systemFileNumber] as? Int == b[.systemFileNumber] as? Int)
        }
        try? FileManager.default.removeItem(at: harness.monitorRoot)
    }

    @Test("GET render answers the current frame as PNG without writing a file")
    func getRender() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            let id = try await api.create("Acrobot-v1")
            expectErrorContaining(try await api.get("/v1/envs/\(id)/render"), ["reset"])
            _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 3])
            let response = try await api.client.execute(uri: "/v1/envs/\(id)/render", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "image/png")
            let frame = try PNGDecoder.decode(Array(buffer: response.body))
            #expect(frame.width == 500 && frame.height == 500)
            #expect(!FileManager.default.fileExists(atPath: harness.monitorRoot.appendingPathComponent(id).path))
        }
    }

    @Test("every environment renders a frame of Gymnasium's size", arguments: [
        ("CartPole-v0", 600, 400), ("MountainCar-v0", 600, 400), ("MountainCarContinuous-v0", 600, 400),
        ("Pendulum-v1", 500, 500), ("Acrobot-v1", 500, 500), ("FrozenLake-v1", 256, 256), ("FrozenLake8x8-v1", 512, 512),
        ("Taxi-v3", 536, 456), ("CliffWalking-v0", 768, 256), ("Blackjack-v1", 384, 376),
    ])
    func sizes(_ envID: String, _ width: Int, _ height: Int) async throws {
        try await APIHarness().run { api in
            let id = try await api.create(envID)
            _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 0])
            let response = try await api.client.execute(uri: "/v1/envs/\(id)/render", method: .get)
            let frame = try PNGDecoder.decode(Array(buffer: response.body))
            #expect(frame.width == width && frame.height == height)
        }
    }

    @Test("ansi render of the toy-text envs; errors for the others and bad modes")
    func ansi() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("FrozenLake-v1")
            expectErrorContaining(try await api.get("/v1/envs/\(id)/render?mode=ansi"), ["reset"])
            _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 0])
            let response = try await api.client.execute(uri: "/v1/envs/\(id)/render?mode=ansi", method: .get)
            #expect(response.status == .ok)
            // Gymnasium: the start cell highlighted in red, then the rest of the 4x4 map
            #expect(String(buffer: response.body) == "\n\u{1B}[41mS\u{1B}[0mFFF\nFHFH\nFFFH\nHFFG\n")
            let cartpole = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(cartpole)/reset/")
            expectErrorContaining(try await api.get("/v1/envs/\(cartpole)/render?mode=ansi"), ["no ansi render"])
            expectErrorContaining(try await api.get("/v1/envs/\(cartpole)/render?mode=human"), ["human"])
        }
    }

    @Test("render must be a boolean")
    func badRender() async throws {
        try await APIHarness().run { api in
            let id = try await api.create("CartPole-v1")
            expectErrorContaining(try await api.post("/v1/envs/\(id)/reset/", ["render": "yes"]), ["render"])
        }
    }
}
