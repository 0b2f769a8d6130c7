import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import Testing
import GymService

@Suite("Port 8000: live frames")
struct LiveTests {
    static func frame(_ marker: UInt8, step: Int = 0) -> LiveFrame {
        LiveFrame(png: [0x89, 0x50, 0x4E, 0x47, marker], envID: "CartPole-v1", episode: 0, step: step, episodeReward: Double(step))
    }

    @Test("the hub: viewers are counted, publishing reaches only the instance's viewers")
    func hub() async throws {
        let hub = FrameHub()
        #expect(!hub.hasViewers("a"))
        hub.publish("a", frame: Self.frame(1))  // nobody watches: kept as the newest frame
        #expect(hub.latestFrame("a")?.png.last == 1)
        #expect(!hub.hasViewers("a"))
    }

    @Test("the hub never steps the picture back to an older state")
    func olderStatesDropped() {
        let hub = FrameHub()
        var newer = Self.frame(5, step: 5)
        newer.stateCount = 6
        var older = Self.frame(4, step: 4)
        older.stateCount = 5
        hub.publish("a", frame: newer)
        hub.publish("a", frame: older)  // drawn by the live renderer before the client's step
        #expect(hub.latestFrame("a")?.step == 5)
        var same = Self.frame(6, step: 5)
        same.stateCount = 6
        hub.publish("a", frame: same)  // the same state again is fine
        #expect(hub.latestFrame("a")?.png.last == 6)
    }

    @Test("an event stream receives published frames at once; hasViewers is true while it is open, false after")
    func eventStream() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let frames = FrameHub()
        let manager = EnvironmentManager(monitorRoot: fixture.root)
        let instance = try manager.create(envID: "CartPole-v1", seed: 1)
        let id = instance.id
        try await fixture.application(manager: manager, frames: frames).test(.live) { client in
            let port = try #require(client.port)
            #expect(!frames.hasViewers(id))
            let stream = try RawHTTPConnection(port: port, rawPath: "/_live/events?instance_id=\(id)")
            let hello = try #require(await stream.nextEvent(named: "hello", after: 0))
            #expect(stream.head?.status == 200)
            #expect(stream.head?.headers["content-type"] == "text/event-stream")
            let helloJSON = try JSONParser.parse(hello.data)
            #expect(helloJSON["instances"]?[id]?["env_id"]?.stringValue == "CartPole-v1")
            #expect(helloJSON["instances"]?[id]?["render_fps"]?.intValue == 50)
            #expect(frames.hasViewers(id))
            #expect(!frames.hasViewers("ffffffff"))

            // Publish → receipt, timed. (The instance was never reset, so the live renderer adds
            // no frames of its own.)
            var latencies: [Double] = []
            for n in 0..<60 {
                let before = stream.events.count
                let published = ContinuousClock.now
                frames.publish(id, frame: Self.frame(UInt8(n), step: n))
                let event = try #require(await stream.nextEvent(named: "frame", after: before, timeout: .seconds(2)))
                latencies.append(Double((event.receivedAt - published).components.attoseconds) / 1e15)
                let json = try JSONParser.parse(event.data)
                #expect(json["step"]?.intValue == n)
                #expect(json["instance_id"]?.stringValue == id)
                #expect(json["env_id"]?.stringValue == "CartPole-v1")
                #expect(json["episode_reward"]?.doubleValue == Double(n))
                #expect(json["frame_number"] == .null)
                let png = Data(base64Encoded: json["png"]?.stringValue ?? "").map { [UInt8]($0) }
                #expect(png == [0x89, 0x50, 0x4E, 0x47, UInt8(n)])
                try await Task.sleep(for: .milliseconds(5))
            }
            latencies.sort()
            let median = latencies[latencies.count / 2]
            let p95 = latencies[latencies.count * 95 / 100]
            print("live frame latency, publish to SSE receipt over TCP: median \(String(format: "%.2f", median)) ms, p95 \(String(format: "%.2f", p95)) ms, max \(String(format: "%.2f", latencies.last ?? 0)) ms (\(latencies.count) frames)")
            // The ~100 ms target is measured (printed above, and by scripts/test/browser_test.py), not
            // asserted: a timed assertion fails on a loaded machine without telling anything.

            // The newest frame is also a plain PNG URL.
            let latest = try await client.fetch("/_live/\(id)/frame.png")
            #expect(latest.status == .ok)
            #expect(latest.header("Content-Type") == "image/png")
            #expect(latest.body == [0x89, 0x50, 0x4E, 0x47, 59])

            // A second viewer gets the newest frame at once.
            let second = try RawHTTPConnection(port: port, rawPath: "/_live/events?instance_id=\(id)")
            let first = try #require(await second.nextEvent(named: "frame", after: 0))
            #expect(try JSONParser.parse(first.data)["step"]?.intValue == 59)
            #expect(frames.viewerCount(id) == 2)

            stream.close()
            second.close()
            let gone = await stream.wait(timeout: .seconds(3)) { _ in !frames.hasViewers(id) }
            #expect(gone, "hasViewers stays true after the viewers left")
        }
    }

    @Test("while watched, an instance nobody renders is rendered at its render_fps; the loop stops when the viewer leaves")
    func renderingWhileWatching() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let frames = FrameHub()
        let manager = EnvironmentManager(monitorRoot: fixture.root)
        let instance = try manager.create(envID: "CartPole-v1", seed: 3)
        _ = try await instance.reset(seed: 3, options: nil, render: false)
        let id = instance.id
        try await fixture.application(manager: manager, frames: frames).test(.live) { client in
            let port = try #require(client.port)
            let stream = try RawHTTPConnection(port: port, rawPath: "/_live/events?instance_id=\(id)")
            let initial = try #require(await stream.nextEvent(named: "frame", after: 0))
            let initialJSON = try JSONParser.parse(initial.data)
            #expect(initialJSON["step"]?.intValue == 0)
            #expect(initialJSON["episode"]?.intValue == 0)
            let initialPNG = try #require(Data(base64Encoded: initialJSON["png"]?.stringValue ?? ""))
            #expect(initialPNG.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))

            // Nothing changes: no new frames.
            try await Task.sleep(for: .milliseconds(150))
            #expect(stream.events.filter { $0.name == "frame" }.count == 1)

            var previous = initialPNG
            for step in 1...5 {
                let before = stream.events.count
                let stepped = ContinuousClock.now
                _ = try await instance.step(action: .int(1), render: false)
                let event = try #require(await stream.nextEvent(named: "frame", after: before, timeout: .seconds(2)))
                let json = try JSONParser.parse(event.data)
                #expect(json["step"]?.intValue == step)
                #expect(json["episode_reward"]?.doubleValue == Double(step))
                previous = try #require(Data(base64Encoded: json["png"]?.stringValue ?? ""))
                let delay = Double((event.receivedAt - stepped).components.attoseconds) / 1e15
                print("live renderer: step \(step) shown after \(String(format: "%.1f", delay)) ms")
            }
            #expect(previous != initialPNG, "the pole moved")
            stream.close()
            #expect(await stream.wait(timeout: .seconds(3)) { _ in !frames.hasViewers(id) })
            let framesAfter = frames.latestFrame(id)?.step
            _ = try await instance.step(action: .int(0), render: false)
            try await Task.sleep(for: .milliseconds(100))
            #expect(frames.latestFrame(id)?.step == framesAfter, "nobody watches: nothing is rendered")
        }
    }

    @Test("a closed instance's viewers are told; a slow viewer gets the newest frame, not a queue")
    func closedAndThrottled() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let frames = FrameHub()
        let manager = EnvironmentManager(monitorRoot: fixture.root)
        let instance = try manager.create(envID: "CartPole-v1")
        let id = instance.id
        try await fixture.application(manager: manager, frames: frames).test(.live) { client in
            let port = try #require(client.port)
            let slow = try RawHTTPConnection(port: port, rawPath: "/_live/events?instance_id=\(id)&max_fps=5")
            #expect(await slow.nextEvent(named: "hello", after: 0) != nil)
            let start = ContinuousClock.now
            for n in 0..<100 {
                frames.publish(id, frame: Self.frame(UInt8(n), step: n))
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(400))
            let received = slow.events.filter { $0.name == "frame" }
            let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
            #expect(received.count >= 1 && Double(received.count) <= seconds * 5 + 2, "\(received.count) frames in \(seconds) s at max_fps=5")
            #expect(try JSONParser.parse(received.last?.data ?? "")["step"]?.intValue == 99, "the newest frame arrives")

            try await manager.close(id, for: nil)
            let closed = await slow.nextEvent(named: "closed", after: 0, timeout: .seconds(3))
            #expect(closed != nil)
            #expect(try JSONParser.parse(closed?.data ?? "")["instance_id"]?.stringValue == id)
            slow.close()
        }
    }

    @Test("frames a client renders (render: true) reach the viewers with their file number")
    func clientRenderedFrames() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let manager = EnvironmentManager(monitorRoot: fixture.root)
        let api = Application(router: buildAPIRouter(manager: manager, shutdown: ShutdownSwitch(allowed: false)))
        try await fixture.application(manager: manager, frames: manager.frames).test(.live) { files in
            let port = try #require(files.port)
            try await api.test(.router) { client in
                let apiClient = APIClient(client: client)
                let id = try await apiClient.create("CartPole-v1", seed: 1)
                _ = try await apiClient.post("/v1/envs/\(id)/reset/", ["render": true])
                let stream = try RawHTTPConnection(port: port, rawPath: "/_live/events?instance_id=\(id)")
                #expect(await stream.nextEvent(named: "frame", after: 0) != nil)
                for n in 1...5 {
                    let before = stream.events.count
                    _ = try await apiClient.post("/v1/envs/\(id)/step/", ["action": 1, "render": true])
                    let event = try #require(await stream.nextEvent(named: "frame", after: before))
                    let json = try JSONParser.parse(event.data)
                    #expect(json["frame_number"]?.intValue == n, "rendered/\(n).png")
                    #expect(json["step"]?.intValue == n)
                }
                stream.close()
            }
        }
    }

    @Test("bad event-stream requests are 400s, unknown frames 404s")
    func badRequests() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            for path in [
                "/_live/events", "/_live/events?instance_id=", "/_live/events?instance_id=a/b", "/_live/events?instance_id=%3Cscript%3E",
                "/_live/events?instance_id=abc&max_fps=0", "/_live/events?instance_id=abc&max_fps=x",
                "/_live/events?instance_id=abc&max_fps=-1", "/_live/events?instance_id=abc&max_fps=nan",
                "/_live/events?instance_id=" + (0..<65).map { "i\($0)" }.joined(separator: ","),
            ] {
                let answer = try await client.fetch(path)
                #expect(answer.status == .badRequest, "\(path): \(answer.status)")
            }
            #expect(try await client.fetch("/_live/abcdef01/frame.png").status == .notFound)
            #expect(try await client.fetch("/_live/..%2f..%2fsecret/frame.png").status == .notFound)
        }
    }
}
