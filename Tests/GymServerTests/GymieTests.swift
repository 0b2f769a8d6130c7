import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import HummingbirdWSTesting
import Logging
import NIOCore
import NIOWebSocket
import WSClient
import Synchronization
import Testing
import GymService

@Suite("Gymie's WebSocket protocol on /gym")
struct GymieTests {
    @Test("whole episodes of CartPole-v1, MountainCarContinuous-v0 and FrozenLake-v1; every method answers as Gymie's did")
    func episodes() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.live { api, port in
            for (envID, actions) in [("CartPole-v1", ["0", "1"]), ("MountainCarContinuous-v0", ["[0.5]", "[-0.25]"]), ("FrozenLake-v1", ["1", "2"])] {
                let episode = Mutex<(id: String, observations: [JSON], dones: Int, steps: Int)>(("", [], 0, 0))
                let kwargs: JSON = envID == "MountainCarContinuous-v0" ? ["max_episode_steps": 40] : [:]
                let conversation = try await converse(port: port, first: gymie("make", ["env_id": .string(envID), "seed": 5, "kwargs": kwargs])) { reply, count in
                    episode.withLock { state -> String? in
                        if count == 1 {
                            state.id = reply
                            return gymie("observation_space", ["instance_id": .string(reply)])
                        }
                        let id = JSON.string(state.id)
                        switch count {
                        case 2: return gymie("action_space", ["instance_id": id])
                        case 3: return gymie("action_sample", ["instance_id": id])
                        case 4: return gymie("reset", ["instance_id": id])
                        default:
                            let answer = try? JSONParser.parse(reply)
                            if count > 5, let array = answer?.arrayValue {
                                // [observation, reward, done, info]
                                #expect(array.count == 4 && array[1].doubleValue != nil && array[3].objectValue != nil, "\(reply)")
                                state.observations.append(array[0])
                                if array[2] == true { state.dones += 1 }
                            } else if count == 5, let answer {
                                state.observations.append(answer)
                            }
                            if state.dones == 1 { return state.dones == 1 && count > 5 && reply != "true" ? gymie("close", ["instance_id": id]) : nil }
                            state.steps += 1
                            return "{\"method\": \"step\", \"params\": {\"instance_id\": \"\(state.id)\", \"action\": \(actions[state.steps % 2])}}"
                        }
                    }
                }
                let result = episode.withLock { $0 }
                #expect(result.id.count == 32 && result.id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(result.id)")
                #expect(result.dones == 1, "\(envID) finished its episode")
                #expect(conversation.replies.last == "true", "close answers true")
                let space = try JSONParser.parse(conversation.replies[1])
                #expect(space["name"] != nil)
                #expect(!conversation.replies[1].contains("Infinity"), "valid JSON: infinite bounds are ±1e100")
                // The same episode from REST, for the same seed and actions: the same observations.
                let restID = try await api.create(envID, seed: 5, kwargs: kwargs)
                var rest: [JSON] = [try await api.post("/v1/envs/\(restID)/reset/").json["observation"] ?? .null]
                for step in 1..<result.observations.count {
                    let action = try JSONParser.parse(actions[step % 2])
                    rest.append(try await api.post("/v1/envs/\(restID)/step/", ["action": action]).json["observation"] ?? .null)
                }
                #expect(rest == result.observations, "\(envID): WebSocket and REST episodes agree")
            }
        }
    }

    @Test("full answers, render: true, seeds and options: gym-server's additions to the protocol")
    func additions() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.live { _, port in
            let conversation = try await converse(port: port, first: gymie("make", ["env_id": "CartPole-v1"])) { reply, count in
                let id = JSON.string(reply)
                switch count {
                case 1: return gymie("reset", ["instance_id": id, "seed": 42, "options": ["low": -0.01, "high": 0.01], "full": true])
                default: return nil
                }
            }
            let reset = try JSONParser.parse(conversation.replies[1])
            #expect(reset["observation"]?.arrayValue?.count == 4 && reset["info"] == [:])
            let id = conversation.replies[0]
            let stepped = try await converse(port: port, [
                gymie("step", ["instance_id": .string(id), "action": 1, "render": true, "full": true]),
                gymie("step", ["instance_id": .string(id), "action": 0, "render": true]),
            ])
            let full = try JSONParser.parse(stepped.replies[0])
            #expect(full["render"] == "successfully rendered: 0.png" && full["terminated"] == false && full["truncated"] == false)
            #expect(FileManager.default.fileExists(atPath: harness.monitorRoot.appendingPathComponent("\(id)/rendered/1.png").path))
            #expect(FileManager.default.fileExists(atPath: harness.monitorRoot.appendingPathComponent("\(id)/rendered/latest.png").path))
        }
    }

    /// Gymie's close codes and reasons, character for character (its own tests check these).
    static let closes: [(String, Int, String)] = [
        ("Wrong JSON", 1003, "Message `Wrong JSON` is invalid"),
        (#"{"prop": "value"}"#, 1003, "Message keys ['prop'] are missing or invalid"),
        (#"{"method": "make"}"#, 1003, "Message keys ['method'] are missing or invalid"),
        (#"{"params": {}, "zz": 1}"#, 1003, "Message keys ['params', 'zz'] are missing or invalid"),
        (#"{"method": "invalid_method", "params": {}}"#, 1007, "Method `invalid_method` not found"),
        (#"{"method": 7, "params": {}}"#, 1007, "Method `7` not found"),
        (#"{"method": "make", "params": {}}"#, 1007, "Parameters `{}` are wrong"),
        (#"{"method": "make", "params": null}"#, 1007, "Parameters `None` are wrong"),
        (#"{"method": "make", "params": {"env_id": "CartPole-v1", "zeta": [1, 2.5, true, null, 1e3], "alpha": "it's"}}"#, 1007,
         #"Parameters `{'env_id': 'CartPole-v1', 'zeta': [1, 2.5, True, None, 1000.0], 'alpha': "it's"}` are wrong"#),
        (#"{"method": "make", "params": {"env_id": "malformed" }}"#, 1007, "Environment `malformed` is malformed"),
        (#"{"method": "make", "params": {"env_id": "NotFound-v1" }}"#, 1007, "Environment `NotFound-v1` not found"),
        (#"{"method": "make", "params": {"env_id": "CartPole-v1", "kwargs": {"nope": 1}}}"#, 1007,
         #"Parameters `{'env_id': 'CartPole-v1', 'kwargs': {'nope': 1}}` are wrong"#),
        (#"{"method": "reset", "params": {"instance_id": "0123456789abcdef0123456789abcdef"}}"#, 1007,
         "Instance `0123456789abcdef0123456789abcdef` not found"),
        (#"{"method": "close", "params": {"instance_id": 5}}"#, 1007, "Instance `5` not found"),
        (#"{"method": "step", "params": {"instance_id": "x"}}"#, 1007, #"Parameters `{'instance_id': 'x'}` are wrong"#),
    ]

    @Test("every close code and reason of Gymie, character for character; the server goes on")
    func closeCodes() async throws {
        let harness = APIHarness()
        try await harness.live { _, port in
            for (message, code, reason) in Self.closes {
                let conversation = try await converse(port: port, [message])
                #expect(conversation.replies.isEmpty, "\(message)")
                #expect(conversation.closeCode.map(Self.code) == code, "\(message): \(String(describing: conversation.closeCode))")
                #expect(conversation.closeReason == reason, "\(message)")
            }
            // An action the environment cannot take, shown as Python's str shows it.
            let id = try await converse(port: port, [gymie("make", ["env_id": "CartPole-v1"])]).replies[0]
            _ = try await converse(port: port, [gymie("reset", ["instance_id": .string(id)])])
            for (action, shown) in [("\"invalid_action\"", "invalid_action"), ("[1, 2.5, true]", "[1, 2.5, True]"), ("7", "7"), ("{\"a\": null}", "{'a': None}")] {
                let conversation = try await converse(port: port, ["{\"method\": \"step\", \"params\": {\"instance_id\": \"\(id)\", \"action\": \(action)}}"])
                #expect(conversation.closeCode.map(Self.code) == 1007)
                #expect(conversation.closeReason == "Action `\(shown)` is wrong")
            }
            // A reason too long for a close frame is cut at a character boundary.
            let long = "é" + String(repeating: "ü", count: 200)
            let conversation = try await converse(port: port, [long])
            let reason = try #require(conversation.closeReason)
            #expect(reason.utf8.count <= 123 && reason.hasPrefix("Message `éü"))
            #expect(try await converse(port: port, [gymie("make", ["env_id": "CartPole-v1"])]).replies.count == 1, "the server goes on")
        }
    }

    static func code(_ code: WebSocketErrorCode) -> Int {
        var buffer = ByteBuffer()
        buffer.write(webSocketErrorCode: code)
        return Int(buffer.readInteger(as: UInt16.self) ?? 0)
    }

    @Test("binary frames, oversized messages, stray continuations and broken UTF-8 close with RFC 6455's codes")
    func frames() async throws {
        var limits = ServerLimits()
        limits.maxMessageSize = 4096
        let harness = APIHarness(limits: limits)
        try await harness.live { _, port in
            let cases: [(String, (RawWebSocket) -> Void, Int)] = [
                ("binary", { $0.send(opcode: 2, Array(gymie("make", ["env_id": "CartPole-v1"]).utf8)) }, 1003),
                ("oversized frame", { $0.send(opcode: 1, [UInt8](repeating: 0x20, count: 10_000)) }, 1009),
                ("oversized in fragments", {
                    $0.send(opcode: 1, fin: false, [UInt8](repeating: 0x20, count: 3000))
                    $0.send(opcode: 0, fin: true, [UInt8](repeating: 0x20, count: 3000))
                }, 1009),
                ("stray continuation", { $0.send(opcode: 0, Array("{}".utf8)) }, 1002),
                ("text inside a fragmented message", {
                    $0.send(opcode: 1, fin: false, Array("{\"me".utf8))
                    $0.send(opcode: 1, fin: true, Array("thod\"}".utf8))
                }, 1002),
                ("broken UTF-8", { $0.send(opcode: 1, [0x7B, 0xFF, 0xFE, 0x7D]) }, 1007),
                ("unknown opcode", { $0.send(opcode: 3, [1, 2, 3]) }, 1002),
            ]
            for (name, send, code) in cases {
                let socket = try RawWebSocket(port: port)
                send(socket)
                let close = await socket.closeFrame()
                #expect(close?.closeCode == code, "\(name): \(String(describing: close?.closeCode)) \(close?.closeReason ?? "")")
            }
            #expect(try await converse(port: port, [gymie("make", ["env_id": "CartPole-v1"])]).replies.count == 1, "the server goes on")
        }
    }

    @Test("one instance, one truth: WebSocket instances in the REST list, stepped and closed from REST, and the other way round")
    func sharing() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.live { api, port in
            let id = try await converse(port: port, [gymie("make", ["env_id": "CartPole-v1", "seed": 3])]).replies[0]
            #expect(try await api.get("/v1/envs/").json["all_envs"]?[id] == "CartPole-v1")
            // A monitor started over REST records the steps taken over the WebSocket.
            _ = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "ws-run", "video_callable": false])
            let messages = [gymie("reset", ["instance_id": .string(id)])]
                + (0..<200).map { gymie("step", ["instance_id": .string(id), "action": .int($0 % 2)]) }
            let stepped = try await converse(port: port, first: messages[0]) { reply, count in
                if count > 1, let done = (try? JSONParser.parse(reply))?.arrayValue?[2], done == true { return nil }
                return count < messages.count ? messages[count] : nil
            }
            let length = stepped.replies.count - 1
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            let directory = harness.monitorRoot.appendingPathComponent("ws-run")
            let stats = try #require(try FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasSuffix(".stats.json") })
            #expect(try JSONParser.parse(Data(contentsOf: directory.appendingPathComponent(stats)))["episode_lengths"] == [.int(length)])
            // REST steps it too, and closes it; the WebSocket then finds it gone.
            _ = try await api.post("/v1/envs/\(id)/reset/")
            #expect(try await api.post("/v1/envs/\(id)/step/", ["action": 0]).status == .ok)
            #expect(try await api.post("/v1/envs/\(id)/close/").status == .ok)
            let gone = try await converse(port: port, [gymie("step", ["instance_id": .string(id), "action": 0])])
            #expect(gone.closeReason == "Instance `\(id)` not found")
            // A REST instance over the WebSocket.
            let restID = try await api.create("FrozenLake-v1", kwargs: ["is_slippery": false])
            let used = try await converse(port: port, [
                gymie("reset", ["instance_id": .string(restID)]), gymie("step", ["instance_id": .string(restID), "action": 2]),
                gymie("close", ["instance_id": .string(restID)]),
            ])
            #expect(used.replies == ["0", "[1, 0.0, false, {\"prob\": 1.0}]", "true"])
            #expect(try await api.get("/v1/envs/").json["all_envs"] == [:])
        }
    }

    @Test("many sockets at once, each driving several instances; a socket that goes leaves its instances alive")
    func manySockets() async throws {
        let harness = APIHarness()
        try await harness.live { api, port in
            let ids = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        var messages: [String] = []
                        for _ in 0..<3 { messages.append(gymie("make", ["env_id": "CartPole-v1"])) }
                        let made = try await converse(port: port, messages).replies
                        var steps: [String] = []
                        for id in made {
                            steps.append(gymie("reset", ["instance_id": .string(id)]))
                            for i in 0..<5 { steps.append(gymie("step", ["instance_id": .string(id), "action": .int(i % 2)])) }
                        }
                        // Leaves in the middle of the episodes.
                        let answers = try await converse(port: port, steps).replies
                        #expect(answers.count == steps.count)
                        return made
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(Set(ids).count == 18)
            let listed = try await api.get("/v1/envs/").json["all_envs"]?.objectValue ?? [:]
            #expect(Set(listed.keys) == Set(ids), "every instance outlives its socket")
            for id in ids { #expect(try await api.post("/v1/envs/\(id)/step/", ["action": 1]).status == .ok) }
        }
    }

    @Test("with API keys the socket is authenticated at the upgrade and sees only its key's instances")
    func keys() async throws {
        let ring = try twoKeys()
        let harness = APIHarness(keyring: ring)
        try await harness.live { api, port in
            let refused = try await converse(port: port, [gymie("make", ["env_id": "CartPole-v1"])])
            #expect(refused.replies.isEmpty && refused.closeCode.map(Self.code) == 1008, "\(String(describing: refused.closeCode))")
            #expect(refused.closeReason?.contains("API key") == true)
            let wrong = try await converse(port: port, path: "/gym?api_key=nope", [gymie("make", ["env_id": "CartPole-v1"])])
            #expect(wrong.replies.isEmpty && wrong.closeCode.map(Self.code) == 1008 && wrong.closeReason?.contains("not valid") == true)
            #expect(try await api.get("/v1/envs/").status == .unauthorized, "nothing was made")
            let aliceID = try await converse(port: port, path: "/gym?api_key=alice-key-0123", [gymie("make", ["env_id": "CartPole-v1"])]).replies[0]
            #expect(try await api.with(key: "alice-key-0123").get("/v1/envs/").json["all_envs"]?[aliceID] == "CartPole-v1")
            #expect(try await api.with(key: "bob-key-4567").get("/v1/envs/").json["all_envs"] == [:])
            let bob = try await converse(port: port, path: "/gym?token=bob-key-4567", [gymie("reset", ["instance_id": .string(aliceID)])])
            #expect(bob.closeReason == "Instance `\(aliceID)` not found")
            let plain = try await api.get("/gym")
            #expect(plain.status == .unauthorized)
            #expect(try await api.with(key: "bob-key-4567").get("/gym").status == .upgradeRequired)
        }
    }
}
