import Foundation
import GymBridge
import Synchronization
import GymCore
@testable import GymServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

#if canImport(Glibc)
import Glibc
import GymService
#endif

/// The bridge's Python: GYM_TEST_PYTHON names one with gymnasium, box2d and pygame. Tests that
/// need it are skipped (and say so) without it.
enum BridgeTestPython {
    static let path: String? = ProcessInfo.processInfo.environment["GYM_TEST_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }
    static var available: Bool { path != nil }
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let testsFolder = repository.appendingPathComponent("bridge/tests").path

    /// Workers that import the test environments (`GymServerTest/*`).
    static func configuration(timeout: Double = 30, processesPerVector: Int = 2) -> WorkerConfiguration {
        WorkerConfiguration(
            python: path ?? "python3", imports: ["gym_server_test_envs"], requestTimeout: timeout,
            environment: ["PYTHONPATH": testsFolder], processesPerVector: processesPerVector)
    }

    /// In-process Gymnasium's episode (bridge/tests/reference_episode.py).
    static func reference(_ envID: String, seed: Int, actions: [JSON]) throws -> JSON {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path ?? "/usr/bin/python3")
        let request: JSON = ["env_id": .string(envID), "seed": .int(seed), "actions": .array(actions), "imports": ["gym_server_test_envs"]]
        process.arguments = [testsFolder + "/reference_episode.py", JSONWriter.string(request)]
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = testsFolder
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONParser.parse(data)
    }

    /// Live children of this process that run the worker.
    static func workerPIDs() -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(pid_t.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", Int32(fields[1]) == me else { return false }
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            return cmdline.contains("gym-server's Python worker")
        }
    }

    static func workerCount() -> Int { workerPIDs().count }
}

@Suite("The bridge without Python: the embedded worker and the wire layout")
struct BridgeWireTests {
    @Test("the embedded worker equals bridge/gym_server_worker.py")
    func embeddedWorker() throws {
        let file = BridgeTestPython.repository.appendingPathComponent("bridge/gym_server_worker.py")
        let text = try String(contentsOf: file, encoding: .utf8)
        #expect(WorkerScript.text == text, "rebuild: the build embeds bridge/gym_server_worker.py")
    }

    @Test("Tuple(Discrete int16 start -3, Dict(mode, position), Box uint8) and float16, uint16: descriptions and raw values both ways")
    func layouts() throws {
        let description: JSON = [
            "type": "Tuple", "size": 30,
            "spaces": [
                ["type": "Discrete", "n": 7, "start": -3, "dtype": "int16", "size": 2],
                [
                    "type": "Dict", "keys": ["mode", "position"], "size": 16,
                    "spaces": [
                        ["type": "Discrete", "n": 3, "start": 0, "dtype": "int64", "size": 8],
                        ["type": "Box", "dtype": "float32", "shape": [2], "low": [-10, -10], "high": [10, 10], "size": 8],
                    ],
                ],
                ["type": "Box", "dtype": "uint8", "shape": [2, 2, 3], "low": .array(Array(repeating: 0, count: 12)), "high": .array(Array(repeating: 255, count: 12)), "size": 12],
            ],
        ]
        let wire = try WireSpace(description: description)
        #expect(wire.byteCount == 30)
        let value = SpaceValue.tuple([.int(-2), .dict(["mode": .int(1), "position": .floats([0.5, -0.25])]), .ints(Array(0..<12))])
        #expect(wire.space.contains(value))
        var bytes: [UInt8] = []
        try wire.encode(value, into: &bytes)
        #expect(bytes.count == 30)
        #expect(Array(bytes[0..<2]) == [0xFE, 0xFF])
        #expect(Array(bytes[10..<14]) == [0x00, 0x00, 0x00, 0x3F])
        var offset = 0
        let back = try bytes.withUnsafeBytes { (raw) throws(GymError) in try wire.decode(raw, offset: &offset) }
        #expect(back == value)
        #expect(offset == 30)

        let half = try WireSpace(description: ["type": "Box", "dtype": "float16", "shape": [3], "low": [.double(-Double.infinity), 0, 0], "high": [.double(Double.infinity), 1, 1], "size": 6])
        var halfBytes: [UInt8] = []
        try half.encode(.floats([0.1, 1, -2]), into: &halfBytes)
        var halfOffset = 0
        let halfBack = try halfBytes.withUnsafeBytes { (raw) throws(GymError) in try half.decode(raw, offset: &halfOffset) }
        #expect(halfBack == SpaceValue.floats([0.0999755859375, 1, -2]))
        let wide = try WireSpace(description: ["type": "Box", "dtype": "uint16", "shape": [2, 2], "low": [0, 0, 0, 0], "high": [65535, 65535, 65535, 65535], "size": 8])
        var wideBytes: [UInt8] = []
        try wide.encode(.ints([0, 1, 65535, 300]), into: &wideBytes)
        #expect(wideBytes == [0, 0, 1, 0, 0xFF, 0xFF, 0x2C, 0x01])
    }
}

@Suite("Bridged environments: Gymnasium through Python workers", .serialized, .enabled(if: BridgeTestPython.available, "set GYM_TEST_PYTHON to a Python with gymnasium, box2d and pygame"))
struct BridgeTests {
    func harness(timeout: Double = 30, limits: ServerLimits = ServerLimits(), processesPerVector: Int = 2, workerSpin: Int = 0) -> APIHarness {
        var configuration = BridgeTestPython.configuration(timeout: timeout, processesPerVector: processesPerVector)
        configuration.spinMicroseconds = workerSpin
        return APIHarness(limits: limits, bridge: PythonBridge(configuration: configuration))
    }

    /// Steps `envID` through the API and through in-process Gymnasium with the same seed and
    /// actions: the same observations, rewards and flags.
    func expectSameEpisode(_ envID: String, seed: Int, actions: [JSON]) async throws {
        let reference = try BridgeTestPython.reference(envID, seed: seed, actions: actions)
        let steps = reference["steps"]?.arrayValue ?? []
        #expect(steps.count > 5)
        try await harness().run { api in
            let id = try await api.create(envID)
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": .int(seed)])
            #expect(reset.status == .ok, "\(reset.json)")
            #expect(reset.json["observation"] == reference["reset"]?["observation"], "\(envID) reset")
            #expect(reset.json["info"] == reference["reset"]?["info"])
            for (index, expected) in steps.enumerated() {
                let answer = try await api.post("/v1/envs/\(id)/step/", ["action": actions[index]])
                #expect(answer.status == .ok, "\(answer.json)")
                #expect(answer.json["observation"] == expected["observation"], "\(envID) step \(index) observation")
                #expect(answer.json["reward"]?.doubleValue == expected["reward"]?.doubleValue, "\(envID) step \(index) reward")
                #expect(answer.json["terminated"] == expected["terminated"], "\(envID) step \(index)")
                #expect(answer.json["truncated"] == expected["truncated"], "\(envID) step \(index)")
                let done = expected["terminated"]?.boolValue == true || expected["truncated"]?.boolValue == true
                #expect(answer.json["done"] == .bool(done))
                if expected["truncated"]?.boolValue == true && expected["terminated"]?.boolValue == false {
                    #expect(answer.json["info"]?["TimeLimit.truncated"] == .bool(true))
                }
            }
            #expect(try await api.post("/v1/envs/\(id)/close/").status == .ok)
        }
    }

    @Test("LunarLander-v3: the same observations, rewards and flags as in-process Gymnasium")
    func lunarLander() async throws {
        var generator = RandomGenerator(seed: 11)
        let actions = (0..<120).map { _ in JSON.int(Int(generator.integers(in: Int64(0)..<Int64(4)))) }
        try await expectSameEpisode("LunarLander-v3", seed: 3, actions: actions)
    }

    @Test("a Dict observation and a Box action, registered with --python-import: the same as in-process, time limit included")
    func dictBox() async throws {
        var generator = RandomGenerator(seed: 5)
        let actions = (0..<30).map { _ in JSON.array([.double(generator.uniform(low: -1, high: 1)), .double(generator.uniform(low: -1, high: 1))]) }
        try await expectSameEpisode("GymServerTest/DictBox-v0", seed: 1, actions: actions)
    }

    @Test("spaces, registry, backend: gymnasium, frames and a monitor video")
    func framesAndVideo() async throws {
        let harness = harness()
        try await harness.run { api in
            let registry = try await api.get("/v1/registry")
            let document = try OpenAPIDocumentOnDisk.api.load()
            let schema = try #require(OpenAPIDocumentOnDisk.response(document, "GET", "/v1/registry", status: "200")?["content"]?["application/json"]?["schema"])
            #expect(SchemaValidator(document: document).errors(registry.json, schema, at: "GET /v1/registry") == [])
            let envs = registry.json["envs"]?.arrayValue ?? []
            #expect(envs.contains { $0["id"] == "CartPole-v1" && $0["backend"] == "native" })
            #expect(envs.contains { $0["id"] == "LunarLander-v3" && $0["backend"] == "bridged" })
            #expect(envs.contains { $0["id"] == "GymServerTest/DictBox-v0" && $0["backend"] == "bridged" })

            let forced = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "backend": "gymnasium"])
            let forcedID = try #require(forced.json["instance_id"]?.stringValue, "\(forced.json)")
            let native = try await api.create("CartPole-v1")
            let a = try await api.post("/v1/envs/\(forcedID)/reset/", ["seed": 42])
            let b = try await api.post("/v1/envs/\(native)/reset/", ["seed": 42])
            #expect(a.json["observation"] == b.json["observation"])
            let sa = try await api.post("/v1/envs/\(forcedID)/step/", ["action": 1])
            let sb = try await api.post("/v1/envs/\(native)/step/", ["action": 1])
            #expect(sa.json["observation"] == sb.json["observation"])
            #expect(try await api.get("/v1/envs/\(forcedID)/action_space/").json == (try await api.get("/v1/envs/\(native)/action_space/")).json)

            let id = try await api.create("LunarLander-v3")
            let space = try await api.get("/v1/envs/\(id)/action_space/")
            #expect(space.json["info"]?["n"] == 4)
            let started = try await api.post("/v1/envs/\(id)/monitor/start/")
            #expect(started.status == .ok, "\(started.json)")
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 1, "render": true])
            #expect(reset.json["render"] == "successfully rendered: 0.png", "\(reset.json)")
            let png = try await api.get("/v1/envs/\(id)/render")
            #expect(png.status == .ok)
            #expect(Array(png.bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
            var done = false
            var steps = 0
            while !done && steps < 1000 {
                let step = try await api.post("/v1/envs/\(id)/step/", ["action": .int(steps % 4)])
                #expect(step.status == .ok, "\(step.json)")
                done = step.json["done"]?.boolValue ?? true
                steps += 1
            }
            #expect(done)
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            let folder = harness.monitorRoot.appendingPathComponent("\(id)/simulation")
            let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            let video = try #require(files.first { $0.hasSuffix(".mp4") }, "\(files)")
            let size = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(video).path)[.size] as? Int ?? 0
            #expect(size > 1000)
            #expect(FileManager.default.fileExists(atPath: harness.monitorRoot.appendingPathComponent("\(id)/rendered/0.png").path))
            for instance in [id, forcedID, native] { _ = try await api.post("/v1/envs/\(instance)/close/") }

            // A render mode in kwargs is the client's choice: rgb_array from the start, or none.
            for mode in [JSON.string("rgb_array"), .null] {
                let made = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "backend": "gymnasium", "kwargs": ["render_mode": mode]])
                let madeID = try #require(made.json["instance_id"]?.stringValue, "\(made.json)")
                #expect(try await api.post("/v1/envs/\(madeID)/reset/", ["seed": 2]).status == .ok)
                let frame = try await api.get("/v1/envs/\(madeID)/render")
                if mode == .null {
                    #expect(frame.status == .badRequest && frame.json["message"]?.stringValue?.contains("render_mode None") == true, "\(frame.json)")
                } else {
                    #expect(frame.status == .ok && Array(frame.bytes.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
                }
                _ = try await api.post("/v1/envs/\(madeID)/close/")
            }
            let human = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "backend": "gymnasium", "kwargs": ["render_mode": "human"]])
            #expect(human.status == .badRequest && human.json["message"]?.stringValue?.contains("render_mode must be") == true, "\(human.json)")
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("a bridged vector keeps one call in flight in every worker: its resets, steps and same-step autoresets overlap")
    func vectorCallsOverlap() async throws {
        // A worker process per sub-environment (--vector-worker-processes 3).
        let harness = harness(processesPerVector: 3)
        try await harness.run { api in
            // 0.2 s per call: one after the other, no two calls' intervals could overlap.
            let created = try await api.post("/v1/envs/", ["env_id": "GymServerTest/Slow-v0", "num_envs": 3, "autoreset_mode": "same_step"])
            let id = try #require(created.json["instance_id"]?.stringValue, "\(created.json)")
            /// Whether the calls whose info is `info` all ran at once: each started before every one ended.
            func overlap(_ info: JSON?) -> Bool {
                guard let started = info?["started"]?.arrayValue?.compactMap(\.doubleValue),
                    let ended = info?["ended"]?.arrayValue?.compactMap(\.doubleValue), started.count == 3, ended.count == 3
                else { return false }
                return started.max()! < ended.min()!
            }
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 1])
            #expect(overlap(reset.json["info"]), "resets: \(reset.json)")
            let step = try await api.post("/v1/envs/\(id)/step/", ["action": [0, 0, 0]])
            #expect(overlap(step.json["info"]), "steps: \(step.json)")
            // Action 1 ends every episode: the steps overlap, then the same-step resets do.
            let ending = try await api.post("/v1/envs/\(id)/step/", ["action": [1, 1, 1]])
            #expect(ending.json["terminated"] == [true, true, true], "\(ending.json)")
            #expect(overlap(ending.json["info"]), "autoresets: \(ending.json)")
            let finalInfo = ending.json["info"]?["final_info"]
            #expect(overlap(finalInfo), "the steps that ended: \(String(describing: finalInfo))")
            await harness.manager.closeAll()
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("a vector's sub-environments share --vector-worker-processes workers, step as native ones do, and move to one new worker together after a crash")
    func vectorSharesWorkers() async throws {
        let harness = harness(processesPerVector: 2)
        try await harness.run { api in
            // Slow-v0 takes 0.2 s a call: 2 workers for 3 sub-environments, so a round of calls
            // takes two turns of the busier worker, and the two workers' turns overlap.
            let slow = try await api.post("/v1/envs/", ["env_id": "GymServerTest/Slow-v0", "num_envs": 3])
            let slowID = try #require(slow.json["instance_id"]?.stringValue, "\(slow.json)")
            #expect(BridgeTestPython.workerCount() == 2)
            let reset = try await api.post("/v1/envs/\(slowID)/reset/", ["seed": 1])
            let started = (reset.json["info"]?["started"]?.arrayValue ?? []).compactMap { $0.doubleValue }
            let ended = (reset.json["info"]?["ended"]?.arrayValue ?? []).compactMap { $0.doubleValue }
            try #require(started.count == 3 && ended.count == 3, "\(reset.json)")
            // Sub-environments 0 and 2 share a worker: one after the other; 1 overlaps them.
            #expect(started[2] >= ended[0] - 0.001, "\(started) \(ended)")
            #expect(started[1] < ended[0] && started[0] < ended[1], "\(started) \(ended)")
            _ = try await api.post("/v1/envs/\(slowID)/close/")
            #expect(BridgeTestPython.workerCount() == 0)

            // Five bridged CartPoles in two workers against five native ones, autoresets included.
            let bridged = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "backend": "gymnasium", "num_envs": 5])
            let id = try #require(bridged.json["instance_id"]?.stringValue, "\(bridged.json)")
            let nativeAnswer = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 5])
            let native = try #require(nativeAnswer.json["instance_id"]?.stringValue)
            #expect(BridgeTestPython.workerCount() == 2)
            func compare(steps: Int, from first: Int) async throws {
                for t in first..<(first + steps) {
                    let action: JSON = .array((0..<5).map { i in .int((t / (i + 2)) % 2) })
                    let a = try await api.post("/v1/envs/\(id)/step/", ["action": action])
                    let b = try await api.post("/v1/envs/\(native)/step/", ["action": action])
                    #expect(a.status == .ok, "\(a.json)")
                    #expect(a.json["observation"] == b.json["observation"] && a.json["reward"] == b.json["reward"], "step \(t)")
                    #expect(a.json["terminated"] == b.json["terminated"] && a.json["truncated"] == b.json["truncated"], "step \(t)")
                }
            }
            for instance in [id, native] { #expect(try await api.post("/v1/envs/\(instance)/reset/", ["seed": 7]).status == .ok) }
            try await compare(steps: 60, from: 0)
            // Kill the worker of sub-environments 0, 2 and 4: the vector answers 503 until a
            // reset, which makes all three again in one new worker.
            let before = Set(BridgeTestPython.workerPIDs())
            kill(try #require(before.min()), SIGKILL)
            let dead = try await api.post("/v1/envs/\(id)/step/", ["action": [0, 0, 0, 0, 0]])
            expectErrorContaining(dead, ["The Python worker", "died during step"], status: .serviceUnavailable)
            for instance in [id, native] {
                let again = try await api.post("/v1/envs/\(instance)/reset/", ["seed": 8])
                #expect(again.status == .ok, "\(again.json)")
            }
            let after = Set(BridgeTestPython.workerPIDs())
            #expect(after.count == 2 && after.intersection(before).count == 1, "\(before) -> \(after)")
            try await compare(steps: 40, from: 60)
            let frame = try await api.post("/v1/envs/\(id)/step/", ["action": [0, 1, 0, 1, 0], "render": true])
            #expect(frame.status == .ok && frame.json["render"] != nil, "\(frame.json)")
            await harness.manager.closeAll()
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    /// The API with the fast paths (the server's own channel set-up), served on a port for
    /// `body`: the port, a keep-alive connection to it, and a maker of instances over it.
    func serveLive(
        _ state: GymServerState, _ body: @escaping @Sendable (Int, KeepAliveConnection, @escaping @Sendable (String) async throws -> String) async throws -> Void
    ) async throws {
        let application = Application(
            router: buildAPIRouter(state: state), server: .gym(state: state), configuration: .init(serverName: "gym-server"))
        try await application.test(.live) { client in
            let port = try #require(client.port)
            let connection = try KeepAliveConnection(port: port)
            let make = { @Sendable (body: String) async throws -> String in
                let made = try await connection.exchange("POST", "/v1/envs/", body: body)
                return try #require(try JSONParser.parse(made.body)["instance_id"]?.stringValue, "\(made.text)")
            }
            try await body(port, connection, make)
        }
    }

    @Test("with --worker-spin-us and --loop-spin-us, workers poll for their requests and the loop for the client's native answers only: a plain and a vector instance answer as their twins through the route, byte for byte, and arm no spin (REST or Gymie); a native step does")
    func polling() async throws {
        let harness = harness(workerSpin: 300)
        var state = harness.state
        state.loopSpinMicroseconds = 700
        let armed = { @Sendable () async throws -> Int in
            var total = 0
            for spin in LoopSpin.spinners(budgetMicroseconds: 700) {
                let counts = try await spin.loop.submit { spin.counts }.get()
                total += counts.spins + counts.caught + counts.skipped
            }
            return total
        }
        let served = state
        try await serveLive(state) { port, connection, make in
            for body in ["{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"}",
                         "{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\", \"num_envs\": 3}"] {
                let fast = try await make(body)
                let twin = try await make(body)
                let vector = body.contains("num_envs")
                // The workers were started with --spin-us 300 (arguments are NUL-separated).
                let commands = BridgeTestPython.workerPIDs().map { (try? String(contentsOfFile: "/proc/\($0)/cmdline", encoding: .utf8)) ?? "" }
                #expect(!commands.isEmpty && commands.allSatisfy { $0.contains("\u{0}--spin-us\u{0}300\u{0}") }, "\(commands.count) workers")
                for id in [fast, twin] {
                    #expect(try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 4}").status == 200)
                }
                for n in 0..<30 {
                    let action = vector ? "[\(n % 2), 1, 0]" : "\(n % 2)"
                    if n % 10 == 9 { try await Task.sleep(for: .milliseconds(5)) }  // (longer than both budgets)
                    let a = try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(action)}")
                    let b = try await connection.exchange("POST", "/v1/envs/\(twin)/step/", body: "{\"action\": \(action), \"note\": \"route\"}")
                    #expect(a.status == 200 && a.body == b.body, "step \(n): \(a.text) vs \(b.text)")
                    if !vector, (try? JSONParser.parse(a.body))?["done"] == true {
                        for id in [fast, twin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": \(n)}") }
                    }
                }
                let instance = try harness.manager.instance(fast, for: nil)
                #expect(instance.stepsOnEventLoop.load(ordering: .relaxed) >= 25, "steps made from the event loop")
            }
            // Gymie's fast path, a bridged CartPole.
            let gymieID = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"}")
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            let gymieSteps = served.gymieFastSteps.count
            for message in [gymie("reset", ["instance_id": .string(gymieID), "seed": 1])]
                + (0..<5).map({ gymie("step", ["instance_id": .string(gymieID), "action": .int($0 % 2)]) })
            {
                socket.send(opcode: 1, Array(message.utf8))
                guard case .text = try await socket.nextMessage(timeout: .seconds(20), after: message) else {
                    Issue.record("no answer to \(message)")
                    return
                }
            }
            #expect(served.gymieFastSteps.count == gymieSteps + 5)
            // Bridged answers arm no spin: their workers poll for the next request, and a loop
            // polling beside them would outnumber the CPUs.
            #expect(!LoopSpin.spinners(budgetMicroseconds: 700).isEmpty)
            #expect(try await armed() == 0, "bridged answers armed the loop's spin")
            let native = try await make("{\"env_id\": \"CartPole-v1\"}")
            #expect(try await connection.exchange("POST", "/v1/envs/\(native)/reset/", body: "{\"seed\": 2}").status == 200)
            #expect(try await armed() == 1, "a native answer arms it")
            await harness.manager.closeAll()
        }
    }

    @Test("bridged steps and resets take the REST fast path through the worker queue: the route's answers and errors byte for byte, pipelined requests in order, a closed connection harmless")
    func fastPath() async throws {
        let harness = harness()
        let state = harness.state
        try await serveLive(state) { port, connection, make in
            let head = { (lines: [String]) in lines.map { $0.hasPrefix("Date: ") ? "Date" : $0 } }
            // Two bridged CartPoles (a vector of 3 and a plain one): one stepped on the fast path,
            // its twin through the route (a key the step does not read sends it there).
            for extra in ["", ", \"num_envs\": 3"] {
                let fast = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"\(extra)}")
                let slow = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"\(extra)}")
                let resets = state.fastPathResets.count
                let a0 = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"seed\": 3}")
                let b0 = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{\"seed\": 3, \"options\": {}}")
                #expect(state.fastPathResets.count == resets + 1 && a0.body == b0.body, "\(a0.text) vs \(b0.text)")
                for n in 0..<24 {
                    let action = extra.isEmpty ? "\(n % 3 == 0 ? 1 : 0)" : "[\(n % 2), 1, \(n % 3 == 0 ? 1 : 0)]"
                    let accept = n % 4 == 0 ? ["Accept": "application/msgpack"] : [:]
                    let before = state.fastPathSteps.count
                    let a = try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(action)}", headers: accept)
                    #expect(state.fastPathSteps.count == before + 1, "step \(n) took the fast path")
                    let b = try await connection.exchange("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": \(action), \"note\": \"route\"}", headers: accept)
                    #expect(state.fastPathSteps.count == before + 1, "step \(n) with another key took the route")
                    #expect(a.status == 200 && a.body == b.body, "step \(n): \(a.text) vs \(b.text)")
                    #expect(head(a.lines) == head(b.lines), "\(a.lines) vs \(b.lines)")
                    if extra.isEmpty, (try? JSONParser.parse(a.body))?["done"] == true {
                        _ = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"seed\": \(n)}")
                        _ = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{\"seed\": \(n), \"options\": {}}")
                    }
                }
            }

            // The environment's error, as the route answers it (status line, head and body).
            let raising = try await make("{\"env_id\": \"GymServerTest/Raising-v0\"}")
            let twin = try await make("{\"env_id\": \"GymServerTest/Raising-v0\"}")
            for id in [raising, twin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{}") }
            let a = try await connection.exchange("POST", "/v1/envs/\(raising)/step/", body: "{\"action\": 2}", headers: ["Origin": "http://x"])
            let b = try await connection.exchange("POST", "/v1/envs/\(twin)/step/", body: "{\"action\": 2, \"note\": \"route\"}", headers: ["Origin": "http://x"])
            #expect(a.status == 400 && a.text.contains("ValueError: action 2 is forbidden") && a.body == b.body, "\(a.text) vs \(b.text)")
            #expect(head(a.lines) == head(b.lines), "\(a.lines) vs \(b.lines)")

            // Pipelined: bridged steps and a route's request in one write, answered in order.
            let pipelined = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\", \"seed\": 5}")
            let check = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\", \"seed\": 5}")
            for id in [pipelined, check] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{}") }
            let step = { (action: Int) in KeepAliveConnection.request("POST", "/v1/envs/\(pipelined)/step/", body: "{\"action\": \(action)}") }
            connection.send(step(1) + KeepAliveConnection.request("GET", "/v1/envs/\(pipelined)/action_space/") + step(0) + step(1))
            let first = try await connection.read()
            let space = try await connection.read()
            #expect(space.text.contains("Discrete"), "\(space.text)")
            let second = try await connection.read()
            let third = try await connection.read()
            for (action, answer) in [(1, first), (0, second), (1, third)] {
                let expected = try await connection.exchange("POST", "/v1/envs/\(check)/step/", body: "{\"action\": \(action)}")
                #expect(answer.body == expected.body, "\(answer.text) vs \(expected.text)")
            }

            // With a monitor the worker queue hands the step back to the route (which records it),
            // and the requests behind it follow it there.
            let recorded = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"}")
            let started = try await connection.exchange("POST", "/v1/envs/\(recorded)/monitor/start/", body: "{\"directory\": \"fastpath\", \"video_callable\": false}")
            #expect(started.status == 200 || started.status == 204, "\(started.text)")
            _ = try await connection.exchange("POST", "/v1/envs/\(recorded)/reset/", body: "{\"seed\": 1}")
            let before = state.fastPathSteps.count
            let monitored = { (action: Int) in KeepAliveConnection.request("POST", "/v1/envs/\(recorded)/step/", body: "{\"action\": \(action)}") }
            connection.send(monitored(0) + monitored(1) + KeepAliveConnection.request("GET", "/v1/envs/\(recorded)/monitor/") + monitored(0))
            for _ in 0..<4 {
                let answer = try await connection.read()
                #expect(answer.status == 200, "\(answer.text)")
            }
            #expect(state.fastPathSteps.count == before, "a monitored step is the route's")
            #expect(try await connection.exchange("POST", "/v1/envs/\(recorded)/monitor/close/").status == 200)

            // A connection that goes away while its bridged step runs: nothing is written to it,
            // and the instance goes on for others.
            let slowEnv = try await make("{\"env_id\": \"GymServerTest/Slow-v0\"}")
            _ = try await connection.exchange("POST", "/v1/envs/\(slowEnv)/reset/", body: "{}")
            do {
                let leaving = try KeepAliveConnection(port: port)
                leaving.send(KeepAliveConnection.request("POST", "/v1/envs/\(slowEnv)/step/", body: "{\"action\": 0}"))
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(300))
            let after = try await connection.exchange("POST", "/v1/envs/\(slowEnv)/step/", body: "{\"action\": 0}")
            #expect(after.status == 200, "\(after.text)")
            await harness.manager.closeAll()
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("a plain bridged instance's fast steps are made from the event loop: the route's answers, a killed worker's 503 and a new worker after the reset, a hung worker's timeout, and calls on the worker queue meanwhile kept apart")
    func eventLoopSteps() async throws {
        let harness = harness(timeout: 2)
        let state = harness.state
        try await serveLive(state) { port, connection, make in
            let fast = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"}")
            let twin = try await make("{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\"}")
            let instance = try harness.manager.instance(fast, for: nil)
            for id in [fast, twin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 11}") }
            // The first step makes the loop's watch of the worker (it goes by the queue); the
            // others are the loop's. Their answers are the route's, byte for byte.
            for n in 0..<40 {
                let action = n % 3 == 0 ? 1 : 0
                let accept = n % 5 == 0 ? ["Accept": "application/msgpack"] : [:]
                let a = try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(action)}", headers: accept)
                let b = try await connection.exchange("POST", "/v1/envs/\(twin)/step/", body: "{\"action\": \(action), \"note\": \"route\"}", headers: accept)
                #expect(a.status == 200 && a.body == b.body, "step \(n): \(a.text) vs \(b.text)")
                if (try? JSONParser.parse(a.body))?["done"] == true {
                    for id in [fast, twin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": \(n)}") }
                }
            }
            let onLoop = instance.stepsOnEventLoop.load(ordering: .relaxed)
            #expect(onLoop >= 38, "\(onLoop) of 40 steps made from the event loop")
            // An action out of the space: the route's 400, nothing sent to the worker.
            let refused = try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": 7}")
            let refusedTwin = try await connection.exchange("POST", "/v1/envs/\(twin)/step/", body: "{\"action\": 7, \"note\": \"route\"}")
            #expect(refused.status == 400 && refused.body == refusedTwin.body, "\(refused.text) vs \(refusedTwin.text)")

            // Calls on the worker queue (steps through the route, frames) from a second
            // connection while the first steps from the loop: every answer whole, every step counted.
            let other = try KeepAliveConnection(port: port)
            let counter = instance.stepCounter
            async let routeAnswers = { () async throws -> [Int] in
                var statuses: [Int] = []
                for n in 0..<30 {
                    let path = n % 3 == 0 ? "/v1/envs/\(fast)/render/?mode=rgb_array" : "/v1/envs/\(fast)/step/"
                    let answer = n % 3 == 0
                        ? try await other.exchange("GET", path)
                        : try await other.exchange("POST", path, body: "{\"action\": 0, \"note\": \"route\"}")
                    statuses.append(answer.status)
                }
                return statuses
            }()
            var loopStatuses: [Int] = []
            for n in 0..<60 {
                loopStatuses.append(try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(n % 2)}").status)
            }
            let routeStatuses = try await routeAnswers
            #expect(loopStatuses.allSatisfy { $0 == 200 } && routeStatuses.allSatisfy { $0 == 200 }, "\(loopStatuses) \(routeStatuses)")
            #expect(instance.stepCounter == counter + 60 + 20, "\(instance.stepCounter - counter) steps counted of 80")

            // A worker killed: the loop's step says so as the queue's would; the reset starts a
            // new worker, whose steps are the loop's again.
            /// Kills `pid`, a worker of `id`: its step answers 503 saying so; after a reset the
            /// loop makes its steps again (all but the first, which makes the new watch).
            func killAndRecover(_ pid: pid_t, _ id: String, _ stepped: EnvironmentInstance, action: String) async throws {
                kill(pid, SIGKILL)
                try await Task.sleep(for: .milliseconds(100))
                let dead = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": \(action)}")
                #expect(dead.status == 503 && dead.text.contains("died during") && dead.text.contains("signal 9"), "\(dead.text)")
                #expect(try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 1}").status == 200)
                let before = stepped.stepsOnEventLoop.load(ordering: .relaxed)
                for _ in 0..<5 {
                    let again = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": \(action)}")
                    #expect(again.status == 200, "\(again.text)")
                }
                #expect(stepped.stepsOnEventLoop.load(ordering: .relaxed) >= before + 4)
            }
            try await killAndRecover(try #require(BridgeTestPython.workerPIDs().min()), fast, instance, action: "0")

            // A vector's step from the loop too (5 CartPoles in 2 workers, NEXT_STEP autoresets):
            // the route's answers byte for byte; a SAME_STEP vector goes by the queue.
            for (mode, onLoopExpected) in [("next_step", true), ("same_step", false)] {
                let body = "{\"env_id\": \"CartPole-v1\", \"backend\": \"gymnasium\", \"num_envs\": 5, \"autoreset_mode\": \"\(mode)\"}"
                let pidsBefore = Set(BridgeTestPython.workerPIDs())
                let vector = try await make(body)
                let vectorPIDs = Set(BridgeTestPython.workerPIDs()).subtracting(pidsBefore)
                let vectorTwin = try await make(body)
                let vectorInstance = try harness.manager.instance(vector, for: nil)
                for id in [vector, vectorTwin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 5}") }
                for n in 0..<40 {
                    let actions = "[\((0..<5).map { String(($0 + n) % 3 == 0 ? 1 : 0) }.joined(separator: ", "))]"
                    let accept = n % 4 == 0 ? ["Accept": "application/msgpack"] : [:]
                    let a = try await connection.exchange("POST", "/v1/envs/\(vector)/step/", body: "{\"action\": \(actions)}", headers: accept)
                    let b = try await connection.exchange("POST", "/v1/envs/\(vectorTwin)/step/", body: "{\"action\": \(actions), \"note\": \"route\"}", headers: accept)
                    #expect(a.status == 200 && a.body == b.body, "\(mode) step \(n): \(a.text) vs \(b.text)")
                }
                let vectorOnLoop = vectorInstance.stepsOnEventLoop.load(ordering: .relaxed)
                #expect(onLoopExpected ? vectorOnLoop >= 38 : vectorOnLoop == 0, "\(mode): \(vectorOnLoop) of 40 vector steps from the loop")
                let wrongWidth = try await connection.exchange("POST", "/v1/envs/\(vector)/step/", body: "{\"action\": [0, 1]}")
                let wrongTwin = try await connection.exchange("POST", "/v1/envs/\(vectorTwin)/step/", body: "{\"action\": [0, 1], \"note\": \"route\"}")
                #expect(wrongWidth.status == 400 && wrongWidth.body == wrongTwin.body, "\(wrongWidth.text) vs \(wrongTwin.text)")
                if onLoopExpected {
                    // One of its workers killed: the step says so; the reset moves its
                    // sub-environments to a new worker, and the loop steps the vector again.
                    #expect(vectorPIDs.count == 2)
                    try await killAndRecover(try #require(vectorPIDs.min()), vector, vectorInstance, action: "[1, 0, 1, 0, 1]")
                }
                for id in [vector, vectorTwin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/close/") }
            }

            // A worker that dies while the loop waits for its answer (Slow-v0 takes 0.2 s a step):
            // the pipe's end is the loop's news, and the step says so as the queue's would.
            let slow = try await make("{\"env_id\": \"GymServerTest/Slow-v0\"}")
            let slowInstance = try harness.manager.instance(slow, for: nil)
            _ = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{}")
            #expect(try await connection.exchange("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": 0}").status == 200)
            let slowPID = try #require(BridgeTestPython.workerPIDs().max())
            let slowOnLoop = slowInstance.stepsOnEventLoop.load(ordering: .relaxed)
            connection.send(KeepAliveConnection.request("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": 0}"))
            try await Task.sleep(for: .milliseconds(60))
            kill(slowPID, SIGKILL)
            let diedWaiting = try await connection.read()
            #expect(slowInstance.stepsOnEventLoop.load(ordering: .relaxed) == slowOnLoop + 1)
            #expect(diedWaiting.status == 503 && diedWaiting.text.contains("died during step"), "\(diedWaiting.text)")
            _ = try await connection.exchange("POST", "/v1/envs/\(slow)/close/")

            // A hung worker: --worker-timeout (2 s) stops it and the step answers 503; a frame
            // asked meanwhile waits for that step, then fails as the worker is gone.
            let pids = Set(BridgeTestPython.workerPIDs())
            let hungPID = try #require(pids.max())
            kill(hungPID, SIGSTOP)
            let started = ContinuousClock.now
            connection.send(KeepAliveConnection.request("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": 0}"))
            try await Task.sleep(for: .milliseconds(200))
            async let frame = other.exchange("GET", "/v1/envs/\(fast)/render/?mode=rgb_array")
            let hung = try await connection.read()
            #expect(hung.status == 503 && hung.text.contains("did not answer step within 2 s") && hung.text.contains("--worker-timeout"), "\(hung.text)")
            #expect(ContinuousClock.now - started >= .seconds(1.9))
            let frameAnswer = try await frame
            #expect(frameAnswer.status == 503 || frameAnswer.status == 200, "\(frameAnswer.text)")
            #expect(try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{}").status == 200)
            #expect(try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": 0}").status == 200)
            await harness.manager.closeAll()
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("Gymie's WebSocket and a vector instance drive bridged environments like native ones")
    func gymieAndVector() async throws {
        let harness = harness()
        try await harness.live { api, port in
            let conversation = try await converse(port: port, first: gymie("make", ["env_id": "LunarLander-v3", "seed": 4])) { reply, count in
                count == 1 ? gymie("reset", ["instance_id": .string(reply)]) : nil
            }
            #expect(conversation.replies.count == 2, "\(conversation.replies)")
            let observation = try JSONParser.parse(conversation.replies.last ?? "")
            #expect(observation.arrayValue?.count == 8, "\(observation)")
            // The same first observation as REST for the same seed.
            let id = try await api.create("LunarLander-v3", seed: 4)
            #expect(try await api.post("/v1/envs/\(id)/reset/").json["observation"] == observation)

            let vector = try await api.post("/v1/envs/", ["env_id": "GymServerTest/DictBox-v0", "num_envs": 2])
            let vectorID = try #require(vector.json["instance_id"]?.stringValue, "\(vector.json)")
            #expect(BridgeTestPython.workerCount() == 4)
            let reset = try await api.post("/v1/envs/\(vectorID)/reset/", ["seed": 1])
            #expect(reset.status == .ok, "\(reset.json)")
            let single = try BridgeTestPython.reference("GymServerTest/DictBox-v0", seed: 1, actions: [])
            #expect(reset.json["observation"]?["position"]?.arrayValue?.first == single["reset"]?["observation"]?["position"])
            let step = try await api.post("/v1/envs/\(vectorID)/step/", ["action": [[0.5, -0.25], [0.1, 0.1]], "render": true])
            #expect(step.status == .ok, "\(step.json)")
            #expect(step.json["reward"]?.arrayValue?.count == 2)
            #expect(step.json["render"] == "successfully rendered: 0.png", "\(step.json)")
            await harness.manager.closeAll()
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("Gymie's steps and resets of bridged instances take its fast path, answered as REST answers them and in order with the session's; an environment's error closes the socket as the session does, the call not made again")
    func gymieBridgedFastPath() async throws {
        let harness = harness()
        let state = harness.state
        try await serveLive(state) { port, connection, makeOver in
            func make(_ envID: String) async throws -> String {
                try await makeOver("{\"env_id\": \"\(envID)\", \"backend\": \"gymnasium\"}")
            }
            func rest(_ path: String, _ body: JSON) async throws -> JSON {
                let answer = try await connection.exchange("POST", path, body: JSONWriter.string(body))
                #expect(answer.status == 200, "\(answer.text)")
                return try JSONParser.parse(answer.body)
            }
            let fast = try await make("CartPole-v1")
            let twin = try await make("CartPole-v1")
            let instance = try harness.manager.instance(fast, for: nil)
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            func ask(_ method: String, _ params: JSON) async throws -> JSON {
                let message = gymie(method, params)
                socket.send(opcode: 1, Array(message.utf8))
                guard case .text(let text) = try await socket.nextMessage(timeout: .seconds(20), after: message) else {
                    Issue.record("no answer to \(message)")
                    return .null
                }
                return try JSONParser.parse(text)
            }
            let resets = state.gymieFastResets.count
            let reset = try await ask("reset", ["instance_id": .string(fast), "seed": 3, "full": true])
            let restReset = try await rest("/v1/envs/\(twin)/reset/", ["seed": 3])
            #expect(reset == restReset && state.gymieFastResets.count == resets + 1, "\(reset) vs \(restReset)")
            let steps = state.gymieFastSteps.count
            for n in 0..<20 {
                let action = JSON.int(n % 3 == 0 ? 1 : 0)
                let full = n % 2 == 0
                let answer = try await ask("step", full ? ["instance_id": .string(fast), "action": action, "full": true] : ["instance_id": .string(fast), "action": action])
                let twinStep = try await rest("/v1/envs/\(twin)/step/", ["action": action])
                let expected: JSON = full ? twinStep : [twinStep["observation"] ?? .null, twinStep["reward"] ?? .null, twinStep["done"] ?? .null, twinStep["info"] ?? .null]
                #expect(answer == expected, "step \(n): \(answer) vs \(expected)")
                if twinStep["done"] == true {
                    _ = try await ask("reset", ["instance_id": .string(fast), "seed": .int(n)])
                    _ = try await rest("/v1/envs/\(twin)/reset/", ["seed": .int(n)])
                }
            }
            #expect(state.gymieFastSteps.count == steps + 20)
            #expect(instance.stepsOnEventLoop.load(ordering: .relaxed) >= 18)

            // In one write: a bridged step, a message the session answers, another step: answers in order.
            let step0 = gymie("step", ["instance_id": .string(fast), "action": 0])
            let space = gymie("action_space", ["instance_id": .string(fast)])
            for message in [step0, space, step0] { socket.send(opcode: 1, Array(message.utf8)) }
            var answers: [String] = []
            for _ in 0..<3 {
                if case .text(let text) = try await socket.nextMessage(timeout: .seconds(20), after: "pipelined") { answers.append(text) }
            }
            #expect(answers.count == 3 && answers[0].hasPrefix("[") && answers[1].contains("Discrete") && answers[2].hasPrefix("["), "\(answers)")

            // The environment raises: Gymie's close (1007, Python's message), the step not made
            // again (the instance's state counts it once: not at all, as it failed).
            let raising = try await make("GymServerTest/Raising-v0")
            let raisingInstance = try harness.manager.instance(raising, for: nil)
            let raiser = try RawWebSocket(port: port)
            defer { raiser.close() }
            raiser.send(opcode: 1, Array(gymie("reset", ["instance_id": .string(raising)]).utf8))
            _ = try await raiser.nextMessage(timeout: .seconds(20), after: "reset")
            let counter = raisingInstance.stepCounter
            raiser.send(opcode: 1, Array(gymie("step", ["instance_id": .string(raising), "action": 2]).utf8))
            raiser.send(opcode: 1, Array(gymie("step", ["instance_id": .string(raising), "action": 0]).utf8))
            let closed = try await raiser.nextMessage(timeout: .seconds(20), after: "step 2")
            guard case .close(let code, let reason) = closed else {
                Issue.record("expected a close, got \(closed)")
                return
            }
            #expect(code == 1007 && reason.contains("ValueError: action 2 is forbidden"), "\(String(describing: code)) \(reason)")
            raiser.send(opcode: 8, [0x03, 0xE8])
            if case .text(let text) = try await raiser.nextMessage(timeout: .seconds(20), after: "close") {
                Issue.record("a message after the close: \(text)")
            }
            #expect(raisingInstance.stepCounter == counter, "the failed step was not made again, nor the one after the close")
            _ = try await rest("/v1/envs/\(raising)/step/", ["action": 0])
            await harness.manager.closeAll()
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("an environment that raises answers 400 with the Python message; the instance goes on")
    func raising() async throws {
        try await harness().run { api in
            let id = try await api.create("GymServerTest/Raising-v0")
            #expect(try await api.post("/v1/envs/\(id)/reset/").status == .ok)
            let failed = try await api.post("/v1/envs/\(id)/step/", ["action": 2])
            expectErrorContaining(failed, ["ValueError: action 2 is forbidden"])
            let resetFailed = try await api.post("/v1/envs/\(id)/reset/", ["options": ["fail": true]])
            expectErrorContaining(resetFailed, ["RuntimeError: reset failed on purpose"])
            #expect(try await api.post("/v1/envs/\(id)/reset/").status == .ok)
            let printed = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
            #expect(printed.status == .ok, "\(printed.json)")
            #expect(printed.json["info"]?["nested"]?["deeper"]?["uint"] == 200)
            #expect(printed.json["info"]?["7"] == "an int key")
            let mismatch = try await api.post("/v1/envs/\(id)/step/", ["action": 1])
            expectErrorContaining(mismatch, ["SpaceMismatch"])
            let exited = try await api.post("/v1/envs/\(id)/step/", ["action": 3])
            expectErrorContaining(exited, ["SystemExit: 3"])
            #expect(try await api.post("/v1/envs/\(id)/step/", ["action": 0]).status == .ok)
            let unknown = try await api.post("/v1/envs/", ["env_id": "NoSuchEnv-v0"])
            expectErrorContaining(unknown, ["NoSuchEnv"])
            _ = try await api.post("/v1/envs/\(id)/close/")
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("a worker killed mid-episode answers 503 saying so; other instances go on; a reset starts a new worker")
    func killedWorker() async throws {
        try await harness().run { api in
            let id = try await api.create("LunarLander-v3")
            let other = try await api.create("GymServerTest/DictBox-v0")
            #expect(try await api.post("/v1/envs/\(id)/reset/", ["seed": 2]).status == .ok)
            #expect(try await api.post("/v1/envs/\(other)/reset/", ["seed": 2]).status == .ok)
            #expect(try await api.post("/v1/envs/\(id)/step/", ["action": 0]).status == .ok)
            #expect(BridgeTestPython.workerCount() == 2)
            // Kill the LunarLander worker: the first started (the lower pid).
            let pids = BridgeTestPython.workerPIDs()
            kill(try #require(pids.min()), SIGKILL)
            let dead = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
            expectErrorContaining(dead, ["The Python worker", "died during step", "signal 9", "Reset the instance"], status: .serviceUnavailable)
            let document = try OpenAPIDocumentOnDisk.api.load()
            #expect(OpenAPIDocumentOnDisk.response(document, "POST", "/v1/envs/{instance_id}/step/", status: "503") != nil)
            let again = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
            #expect(again.status == .serviceUnavailable)
            #expect(try await api.post("/v1/envs/\(other)/step/", ["action": [0.1, 0.1]]).status == .ok)
            let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 2])
            #expect(reset.status == .ok, "\(reset.json)")
            #expect(try await api.post("/v1/envs/\(id)/step/", ["action": 1]).status == .ok)
            _ = try await api.post("/v1/envs/\(id)/close/")
            _ = try await api.post("/v1/envs/\(other)/close/")
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("a hung worker answers 503 after --worker-timeout; meanwhile its instance's lock is free and other instances step")
    func hungWorker() async throws {
        let harness = harness(timeout: 4)
        try await harness.run { api in
            let id = try await api.create("GymServerTest/DictBox-v0")
            let native = try await api.create("CartPole-v1")
            #expect(try await api.post("/v1/envs/\(id)/reset/").status == .ok)
            #expect(try await api.post("/v1/envs/\(native)/reset/").status == .ok)
            let pids = BridgeTestPython.workerPIDs()
            for pid in pids { kill(pid, SIGSTOP) }
            let hungFinished = Flag()
            async let hungAnswer = { () async throws -> APIAnswer in
                defer { hungFinished.set() }
                return try await api.post("/v1/envs/\(id)/step/", ["action": [0.1, 0.1]])
            }()
            // While the worker hangs: the instance's state can be read (the lock is not held
            // across the worker's answer) and other instances step.
            try await Task.sleep(for: .milliseconds(300))
            let instance = try harness.manager.instance(id, for: nil)
            #expect(instance.stepCounter == 1)
            #expect(try await api.post("/v1/envs/\(native)/step/", ["action": 0]).status == .ok)
            #expect(try await api.get("/v1/envs/").status == .ok)
            let finishedEarly = hungFinished.isSet
            #expect(!finishedEarly, "the other calls waited for the hung worker")
            let hung = try await hungAnswer
            expectErrorContaining(hung, ["did not answer step within 4 s", "--worker-timeout"], status: .serviceUnavailable)
            #expect(try await api.post("/v1/envs/\(id)/reset/").status == .ok)
            _ = try await api.post("/v1/envs/\(id)/close/")
        }
        #expect(BridgeTestPython.workerCount() == 0)
    }

    @Test("workers end with idle expiry and with closeAll (server stop), and count toward --max-instances")
    func noOrphans() async throws {
        var limits = ServerLimits()
        limits.instanceTTLSeconds = 60
        limits.maxInstances = 2
        let harness = harness(limits: limits)
        try await harness.run { api in
            _ = try await api.create("GymServerTest/DictBox-v0")
            _ = try await api.create("CartPole-v1", kwargs: nil)
            #expect(BridgeTestPython.workerCount() == 1)
            let third = try await api.post("/v1/envs/", ["env_id": "GymServerTest/DictBox-v0"])
            #expect(third.status == .tooManyRequests)
            #expect(BridgeTestPython.workerCount() == 1)
            harness.clock.advance(seconds: 61)
            let expired = await harness.manager.expireIdle()
            #expect(expired.count == 2)
            #expect(BridgeTestPython.workerCount() == 0)
            _ = try await api.create("LunarLander-v3")
            _ = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "backend": "gymnasium", "num_envs": 1])
            #expect(BridgeTestPython.workerCount() == 2)
            await harness.manager.closeAll()
            #expect(BridgeTestPython.workerCount() == 0)
        }
    }
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}
