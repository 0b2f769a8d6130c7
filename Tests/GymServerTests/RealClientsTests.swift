import Foundation
import GymCore
@testable import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// What the old language bindings send, byte for byte, and what agents with exploration noise
/// send: bodies openai's server ignored, booleans as strings, Box actions past the bounds.
@Suite("Real clients: lenient bodies, string booleans, Box actions clipped")
struct RealClientsTests {
    // MARK: bodies a route needs no field from

    @Test("reset takes the Ruby binding's body \"\" and any other JSON value; an object is still read field by field")
    func resetTakesAnyBody() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1", seed: 3)
            // openai's Ruby binding: `post("/v1/envs/#{id}/reset/", "")`, sent as JSON: the two bytes `""`.
            for body in [#""""#, "[]", "7", "true", "null", " ", "", #""anything""#, "[1, 2]"] {
                let answer = try await api.request(.post, "/v1/envs/\(id)/reset/", body: body)
                #expect(answer.status == .ok, "body \(body): \(answer.json)")
                #expect(answer.json["observation"]?.arrayValue?.count == 4, "body \(body)")
            }
            // Still refused: text that is not JSON, and fields of an object that are wrong.
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/reset/", body: "{\"seed\": 1"), ["not a valid json"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/reset/", body: #"{"seed": "x"}"#), ["'seed'"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/reset/", body: #"{"render": "maybe"}"#), ["'render'"])
            // A seeded reset through the Ruby body and through none give the same episode.
            let a = try await api.request(.post, "/v1/envs/\(id)/reset/", body: #"{"seed": 9}"#)
            let b = try await api.request(.post, "/v1/envs/\(id)/reset/", body: #"{"seed": 9}"#)
            #expect(a.json["observation"] == b.json["observation"])
            // Close and monitor close take anything too.
            #expect(try await api.request(.post, "/v1/envs/\(id)/monitor/close/", body: #""""#).status == .ok)
            #expect(try await api.request(.post, "/v1/envs/\(id)/monitor/close/", body: "[]").status == .ok)
            #expect(try await api.request(.post, "/v1/envs/\(id)/close/", body: #""""#).status == .ok)
            // Routes that need fields still want an object.
            let other = try await api.create("CartPole-v1")
            expectErrorContaining(try await api.request(.post, "/v1/envs/\(other)/step/", body: #""""#), ["not a valid json object"])
            expectErrorContaining(try await api.request(.post, "/v1/envs/", body: "[]"), ["not a valid json object"])
        }
    }

    // MARK: booleans as strings

    @Test("force, resume, render and video_callable take \"true\"/\"false\" in any case (the Lua binding's bytes); other strings are a 400 naming the parameter")
    func stringBooleans() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            // openai's Lua binding: `{"directory": ..., "force": "true", "resume": "false", "video_callable": "false"}`.
            let lua = #"{"directory": "/tmp/lua-run", "force": "true", "resume": "false", "video_callable": "false"}"#
            let started = try await api.request(.post, "/v1/envs/\(id)/monitor/start/", body: lua)
            #expect(started.status == .ok, "\(started.json)")
            #expect(started.json["directory"] == "tmp/lua-run")
            _ = try await MonitorRoutesTests.runEpisodes(api, id, episodes: 2)
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            // video_callable "false": no video was made; "force": "TRUE" clears the directory again.
            let directory = harness.monitorRoot.appendingPathComponent("tmp/lua-run")
            #expect(try MonitorRoutesTests.monitorFiles(directory).allSatisfy { !$0.hasSuffix(".mp4") })
            let again = try await api.request(
                .post, "/v1/envs/\(id)/monitor/start/", body: #"{"directory": "tmp/lua-run", "force": "TRUE", "resume": "False"}"#)
            #expect(again.status == .ok, "\(again.json)")
            #expect(try await api.post("/v1/envs/\(id)/monitor/close/").status == .ok)
            // Without force ("false"), the files there are refused, as old gym refused them.
            expectErrorContaining(
                try await api.request(.post, "/v1/envs/\(id)/monitor/start/", body: #"{"directory": "tmp/lua-run", "force": "false"}"#),
                ["tmp/lua-run"])

            _ = try await api.request(.post, "/v1/envs/\(id)/reset/", body: #"{"render": "FALSE"}"#)
            let rendered = try await api.request(.post, "/v1/envs/\(id)/step/", body: #"{"action": 1, "render": "True"}"#)
            #expect(rendered.status == .ok && rendered.json["render"]?.stringValue?.hasPrefix("successfully rendered") == true, "\(rendered.json)")
            let plain = try await api.request(.post, "/v1/envs/\(id)/step/", body: #"{"action": 1, "render": "false"}"#)
            #expect(plain.status == .ok && plain.json["render"] == nil)
            for (body, name) in [
                (#"{"action": 1, "render": "yes"}"#, "render"), (#"{"action": 1, "render": "1"}"#, "render"),
                (#"{"action": 1, "render": "truee"}"#, "render"),
            ] {
                expectErrorContaining(try await api.request(.post, "/v1/envs/\(id)/step/", body: body), ["Parameter '\(name)' must be true or false"])
            }
            let other = try await api.create("CartPole-v1")
            for body in [#"{"directory": "x", "force": "on"}"#, #"{"directory": "x", "resume": "nope"}"#] {
                let answer = try await api.request(.post, "/v1/envs/\(other)/monitor/start/", body: body)
                expectErrorContaining(answer, ["must be true or false"])
            }
            expectErrorContaining(
                try await api.request(.post, "/v1/envs/\(other)/monitor/start/", body: #"{"video_callable": "sometimes"}"#),
                ["'video_callable'"])
            // A batch item's render too.
            _ = try await api.post("/v1/envs/\(other)/reset/", ["seed": 1])
            let batch = try await api.request(
                .post, "/v1/batch/step/", body: #"[{"instance_id": "\#(other)", "action": 0, "render": "false"}]"#)
            #expect(batch.status == .ok && batch.json.arrayValue?.first?["observation"] != nil, "\(batch.json)")
        }
    }

    @Test("Gymie's render and full take the strings too; any other string is Gymie's 'Parameters ... are wrong'")
    func gymieStringBooleans() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        let session = GymieSession(manager: harness.manager, owner: nil, maxMessageSize: 1 << 20)
        guard case .text(let id) = await session.handle(gymie("make", ["env_id": "CartPole-v1"])) else {
            Issue.record("make failed")
            return
        }
        guard case .text(let full) = await session.handle(gymie("reset", ["instance_id": .string(id), "seed": 1, "full": "TRUE"])) else {
            Issue.record("reset failed")
            return
        }
        #expect(try JSONParser.parse(full)["observation"] != nil)
        guard case .text(let step) = await session.handle(gymie("step", ["instance_id": .string(id), "action": 0, "render": "false", "full": "false"])) else {
            Issue.record("step failed")
            return
        }
        #expect(try JSONParser.parse(step).arrayValue?.count == 4)
        guard case .close(let code, let reason) = await session.handle(gymie("step", ["instance_id": .string(id), "action": 0, "full": "si"])) else {
            Issue.record("a wrong flag was taken")
            return
        }
        #expect(code == .dataInconsistentWithMessage && reason.hasPrefix("Parameters "), "\(reason)")
    }

    // MARK: Box actions

    /// Steps `[action]` on one Pendulum and its clipped twin on another with the same seed.
    static let pendulumClipped: [(sent: Double, clipped: Double)] = [(5, 2), (-3.5, -2), (2.0000001, 2), (1e6, 2), (-1e300, -2), (1.5, 1.5)]

    @Test("REST and batch: a Box action past the bounds is stepped as the environment clips it; NaN, infinities and wrong shapes are a 400")
    func boxActionsOverREST() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            for envID in ["Pendulum-v1", "MountainCarContinuous-v0"] {
                let wild = try await api.create(envID)
                let tame = try await api.create(envID)
                let bound = envID == "Pendulum-v1" ? 2.0 : 1.0
                for id in [wild, tame] { _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 42]) }
                for (index, (sent, _)) in Self.pendulumClipped.enumerated() {
                    let clipped = min(max(sent, -bound), bound)
                    let a: APIAnswer
                    if index % 2 == 0 {
                        a = try await api.post("/v1/envs/\(wild)/step/", ["action": [.double(sent)]])
                    } else {
                        let batch = try await api.post("/v1/batch/step/", [["instance_id": .string(wild), "action": [.double(sent)]]])
                        a = APIAnswer(status: batch.status, json: batch.json.arrayValue?.first ?? .null, headers: batch.headers)
                    }
                    let b = try await api.post("/v1/envs/\(tame)/step/", ["action": [.double(clipped)]])
                    #expect(a.status == .ok, "\(envID) \(sent): \(a.json)")
                    // MountainCarContinuous charges the action as sent (`reward -= action[0]**2 * 0.1`)
                    // and keeps Python's float for a clipped force: its episodes are Gymnasium's
                    // (the -out_of_bounds rollout fixtures), not a clipped twin's.
                    if envID == "Pendulum-v1" { #expect(a.json == b.json, "\(envID): \(sent) should step as \(clipped)") }
                }
                for body in [#"{"action": [1e400]}"#, #"{"action": [-1e999]}"#] {
                    expectErrorContaining(
                        try await api.request(.post, "/v1/envs/\(wild)/step/", body: body),
                        ["is not in the action space", "finite"])
                }
                expectErrorContaining(try await api.request(.post, "/v1/envs/\(wild)/step/", body: #"{"action": [NaN]}"#), ["finite"])
                expectErrorContaining(try await api.post("/v1/envs/\(wild)/step/", ["action": [1, 2]]), ["is not in the action space"])
                expectErrorContaining(try await api.post("/v1/envs/\(wild)/step/", ["action": ["a"]]), ["is not in the action space"])
                let batch = try await api.request(.post, "/v1/batch/step/", body: #"[{"instance_id": "\#(wild)", "action": [1e400]}]"#)
                #expect(batch.json.arrayValue?.first?["message"]?.stringValue?.contains("finite") == true, "\(batch.json)")
                // Membership stays strict: contains says what the space holds.
                #expect(try await api.get("/v1/envs/\(wild)/action_space/contains/%5B5.0%5D").json["member"] == false)
                #expect(try await api.get("/v1/envs/\(wild)/action_space/contains/%5B0.5%5D").json["member"] == true)
            }
        }
    }

    @Test("a vector instance steps Box actions past the bounds as its sub-environments clip them")
    func boxActionsOnAVector() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let wild = try #require(try await api.post("/v1/envs/", ["env_id": "Pendulum-v1", "num_envs": 3]).json["instance_id"]?.stringValue)
            let tame = try #require(try await api.post("/v1/envs/", ["env_id": "Pendulum-v1", "num_envs": 3]).json["instance_id"]?.stringValue)
            for id in [wild, tame] { _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 7]) }
            for _ in 0..<3 {
                let a = try await api.post("/v1/envs/\(wild)/step/", ["action": [[9.0], [-0.5], [-1e5]]])
                let b = try await api.post("/v1/envs/\(tame)/step/", ["action": [[2.0], [-0.5], [-2.0]]])
                #expect(a.status == .ok, "\(a.json)")
                #expect(a.json == b.json)
            }
            expectErrorContaining(
                try await api.request(.post, "/v1/envs/\(wild)/step/", body: #"{"action": [[0], [1e400], [0]]}"#),
                ["sub-environment 1", "finite"])
        }
    }

    @Test("Gymie's step takes a Box action past the bounds (Gymie called env.step, which clipped); an infinite one is 'wrong'")
    func boxActionsOverGymie() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        let session = GymieSession(manager: harness.manager, owner: nil, maxMessageSize: 1 << 20)
        var ids: [String] = []
        for _ in 0..<2 {
            guard case .text(let id) = await session.handle(gymie("make", ["env_id": "Pendulum-v1"])) else {
                Issue.record("make failed")
                return
            }
            ids.append(id)
            _ = await session.handle(gymie("reset", ["instance_id": .string(id), "seed": 11]))
        }
        for (sent, clipped) in Self.pendulumClipped {
            let a = await session.handle(gymie("step", ["instance_id": .string(ids[0]), "action": [.double(sent)]]))
            let b = await session.handle(gymie("step", ["instance_id": .string(ids[1]), "action": [.double(clipped)]]))
            #expect(a == b, "\(sent) should step as \(clipped)")
            guard case .text = a else {
                Issue.record("\(sent) was refused: \(a)")
                return
            }
        }
        let refused = await session.handle(#"{"method": "step", "params": {"instance_id": "\#(ids[0])", "action": [1e400]}}"#)
        guard case .close(let code, let reason) = refused else {
            Issue.record("an infinite action was stepped")
            return
        }
        #expect(code == .dataInconsistentWithMessage && reason.hasPrefix("Action `"), "\(reason)")
    }

    @Test("Space.accepts: finite numbers of a float Box's shape, in or out of bounds; every other space as contains")
    func spaceAccepts() {
        let box = Space.box(Box(low: [-2], high: [2]))
        #expect(box.accepts(.floats([5])) && box.accepts(.floats([-1e30])) && box.accepts(.floats([0])))
        #expect(!box.accepts(.floats([.nan])) && !box.accepts(.floats([.infinity])) && !box.accepts(.floats([1, 2])))
        #expect(!box.contains(.floats([5])))
        let discrete = Space.discrete(n: 3, start: 0)
        #expect(discrete.accepts(.int(2)) && !discrete.accepts(.int(3)))
        let tuple = Space.tuple([box, discrete])
        #expect(tuple.accepts(.tuple([.floats([9]), .int(1)])) && !tuple.accepts(.tuple([.floats([9]), .int(5)])))
        #expect(BoxDType.float32.castAction(1e300) == Double(Float.greatestFiniteMagnitude))
        #expect(BoxDType.float32.castAction(-1e300) == -Double(Float.greatestFiniteMagnitude))
        #expect(BoxDType.float32.castAction(.infinity) == .infinity)
        #expect(BoxDType.float64.castAction(1e300) == 1e300)
    }
}
