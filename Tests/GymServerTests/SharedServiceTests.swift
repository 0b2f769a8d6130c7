import Foundation
import GymCore
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import GymService

@Suite("API keys, ownership, limits and idle expiry")
struct SharedServiceTests {
    @Test("keys file: name:key lines, comments, and the errors for unusable ones")
    func keysFile() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).txt")
        defer { try? FileManager.default.removeItem(at: file) }
        try "# the class\nalice:secret-a\n\n  bob : secret-b \r\n".write(to: file, atomically: true, encoding: .utf8)
        let ring = try APIKeyring.load(keys: ["plain-key"], file: file.path)
        #expect(ring.entries.map(\.owner.name) == ["key1", "alice", "bob"])
        #expect(ring.lookup("secret-a")?.name == "alice")
        #expect(ring.lookup("secret-b")?.name == "bob")
        #expect(ring.lookup("plain-key")?.name == "key1")
        #expect(ring.lookup("secret-") == nil)
        #expect(ring.lookup("secret-aa") == nil)
        #expect(ring.lookup(String(repeating: "x", count: 10_000)) == nil)
        for bad in ["nocolon\n", "../up:k\n", ".hidden:k\n", "a:two words\n", "a:k\nb:k\n", "a:k\na:j\n", "a:\n"] {
            try bad.write(to: file, atomically: true, encoding: .utf8)
            #expect(throws: APIKeyError.self, "\(bad)") { try APIKeyring.load(keys: [], file: file.path) }
        }
        #expect(throws: APIKeyError.self) { try APIKeyring.load(keys: [], file: "/nonexistent/keys.txt") }
    }

    @Test("without a key every route but help is a 401 that says how to send one; a wrong key is a 401 too")
    func keysRequired() async throws {
        let harness = APIHarness(keyring: try twoKeys())
        try await harness.run { api in
            for (method, path) in [
                (HTTPRequest.Method.get, "/v1/envs/"), (.post, "/v1/envs/"), (.post, "/v1/envs/abc/reset/"), (.get, "/v1/envs/abc/action_space/"),
                (.post, "/v1/upload/"), (.post, "/v1/shutdown/"), (.get, "/v1/no-such-route"),
            ] {
                let answer = try await api.request(method, path, body: method == .post ? "{\"env_id\": \"CartPole-v1\"}" : nil)
                expectErrorContaining(answer, ["needs an API key", "X-API-Key", "Authorization: Bearer", "api_key", "token"], status: .unauthorized)
                #expect(answer.headers[.wwwAuthenticate] != nil)
            }
            let wrong = try await api.with(key: "alice-key-0124").get("/v1/envs/")
            expectErrorContaining(wrong, ["not valid"], status: .unauthorized)
            #expect(!(wrong.message ?? "").contains("alice"), "a message never repeats a key")
            #expect(try await api.get("/v1/help").status == .ok)
            // A CORS preflight needs no key.
            #expect(try await api.request(.options, "/v1/envs/", headers: [.origin: "http://x", .accessControlRequestMethod: "POST"]).status.code < 300)
        }
    }

    @Test("every way of sending a key: X-API-Key, Bearer, api_key or token in the query or the body")
    func keyForms() async throws {
        let harness = APIHarness(keyring: try twoKeys())
        try await harness.run { api in
            let forms: [(String, HTTPFields, String?)] = [
                ("header", [HTTPField.Name("X-API-Key")!: "alice-key-0123"], nil),
                ("bearer", [.authorization: "Bearer alice-key-0123"], nil),
                ("query api_key", [:], "?api_key=alice-key-0123"),
                ("query token", [:], "?token=alice-key-0123"),
            ]
            for (name, headers, query) in forms {
                let created = try await api.request(.post, "/v1/envs/" + (query ?? ""), body: #"{"env_id": "CartPole-v1"}"#, headers: headers)
                #expect(created.status == .ok, "\(name): \(created.json)")
            }
            for field in ["api_key", "token"] {
                let created = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", .init(stringLiteral: field): "alice-key-0123"])
                #expect(created.status == .ok, "body \(field): \(created.json)")
                let id = created.json["instance_id"]?.stringValue ?? ""
                // The key in the body does not get in the way of the route's own parameters.
                let reset = try await api.post("/v1/envs/\(id)/reset/", ["seed": 1, .init(stringLiteral: field): "alice-key-0123"])
                #expect(reset.status == .ok)
                let contains = try await api.post("/v1/envs/\(id)/observation_space/contains", ["name": "Box", .init(stringLiteral: field): "alice-key-0123"])
                #expect(contains.json["member"] == true)
            }
            #expect(harness.manager.list(for: Owner(name: "alice")).count == 6)
        }
    }

    @Test("an instance belongs to the key that made it: for any other key it does not exist")
    func ownership() async throws {
        let harness = APIHarness(keyring: try twoKeys())
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { client in
            let alice = client.with(key: "alice-key-0123")
            let bob = client.with(key: "bob-key-4567")
            let id = try await alice.create("CartPole-v1", seed: 3)
            _ = try await alice.post("/v1/envs/\(id)/reset/")
            let bobsOwn = try await bob.create("FrozenLake-v1")
            #expect(try await alice.get("/v1/envs/").json["all_envs"] == ["\(id)": "CartPole-v1"])
            #expect(try await bob.get("/v1/envs/").json["all_envs"] == ["\(bobsOwn)": "FrozenLake-v1"])
            let unknown = "Instance_id \(id) unknown"
            expectError(try await bob.post("/v1/envs/\(id)/reset/"), unknown)
            expectError(try await bob.post("/v1/envs/\(id)/step/", ["action": 0]), unknown)
            expectError(try await bob.get("/v1/envs/\(id)/action_space/"), unknown)
            expectError(try await bob.get("/v1/envs/\(id)/action_space/sample"), unknown)
            expectError(try await bob.get("/v1/envs/\(id)/action_space/contains/1"), unknown)
            expectError(try await bob.get("/v1/envs/\(id)/observation_space/"), unknown)
            expectError(try await bob.post("/v1/envs/\(id)/observation_space/contains", ["name": "Box"]), unknown)
            expectError(try await bob.get("/v1/envs/\(id)/info"), unknown)
            expectError(try await bob.get("/v1/envs/\(id)/render"), unknown)
            expectError(try await bob.post("/v1/envs/\(id)/monitor/start/", ["directory": "x"]), unknown)
            expectError(try await bob.post("/v1/envs/\(id)/monitor/close/"), unknown)
            expectError(try await bob.post("/v1/envs/\(id)/upload/"), unknown)
            expectError(try await bob.post("/v1/envs/\(id)/close/"), unknown)
            // Still alive and untouched for its owner.
            #expect(try await alice.post("/v1/envs/\(id)/step/", ["action": 0]).status == .ok)
            #expect(try await alice.post("/v1/envs/\(id)/close/").status == .ok)
        }
    }

    @Test("each key's files live in a folder of its name: two keys asking for runs/a never share files")
    func separateFolders() async throws {
        let harness = APIHarness(keyring: try twoKeys())
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { client in
            var paths: [String: String] = [:]
            for (name, key) in [("alice", "alice-key-0123"), ("bob", "bob-key-4567")] {
                let api = client.with(key: key)
                let id = try await api.create("CartPole-v1")
                let started = try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "runs/a", "force": true, "video_callable": false])
                #expect(started.json["directory"] == "runs/a")
                _ = try await api.post("/v1/envs/\(id)/reset/", ["render": true])
                var done = false
                while !done { done = try await api.post("/v1/envs/\(id)/step/", ["action": 0]).json["done"] == true }
                _ = try await api.post("/v1/envs/\(id)/monitor/close/")
                let upload = try await api.post("/v1/upload/", ["training_dir": "runs/a"])
                #expect(upload.status == .ok, "\(upload.json)")
                #expect(upload.json["path"] == "uploads/runs_a.zip")
                paths[name] = id
            }
            let fm = FileManager.default
            for name in ["alice", "bob"] {
                let space = harness.monitorRoot.appendingPathComponent(name)
                let files = try fm.contentsOfDirectory(atPath: space.appendingPathComponent("runs/a").path)
                #expect(files.filter { $0.hasSuffix(".stats.json") }.count == 1, "\(name): \(files)")
                #expect(fm.fileExists(atPath: space.appendingPathComponent("uploads/runs_a.zip").path))
                #expect(fm.fileExists(atPath: space.appendingPathComponent("\(paths[name]!)/rendered/0.png").path))
            }
            #expect(!fm.fileExists(atPath: harness.monitorRoot.appendingPathComponent("runs").path))
        }
    }

    @Test("shutdown needs --allow-shutdown and a key")
    func shutdownNeedsKey() async throws {
        let harness = APIHarness(allowShutdown: true, keyring: try twoKeys())
        try await harness.run { api in
            let withoutKey = try await api.post("/v1/shutdown/")
            #expect(withoutKey.status == .unauthorized)
            let withKey = try await api.with(key: "bob-key-4567").post("/v1/shutdown/")
            #expect(withKey.status == .ok)
        }
    }

    @Test("--max-instances and --max-instances-per-key: a 429 that names the limit; closing frees a place")
    func instanceLimits() async throws {
        var limits = ServerLimits()
        limits.maxInstances = 3
        limits.maxInstancesPerKey = 2
        let harness = APIHarness(keyring: try twoKeys(), limits: limits)
        try await harness.run { client in
            let alice = client.with(key: "alice-key-0123")
            let bob = client.with(key: "bob-key-4567")
            let first = try await alice.create("CartPole-v1")
            _ = try await alice.create("CartPole-v1")
            let third = try await alice.post("/v1/envs/", ["env_id": "CartPole-v1"])
            expectErrorContaining(third, ["'alice'", "2 live instances", "--max-instances-per-key"], status: .tooManyRequests)
            _ = try await bob.create("CartPole-v1")
            let fourth = try await bob.post("/v1/envs/", ["env_id": "CartPole-v1"])
            expectErrorContaining(fourth, ["at most 3 live instances", "--max-instances"], status: .tooManyRequests)
            #expect(try await alice.post("/v1/envs/\(first)/close/").status == .ok)
            #expect(try await bob.post("/v1/envs/", ["env_id": "CartPole-v1"]).status == .ok)
            // An id that cannot be made is a 400, whatever the limits.
            expectErrorContaining(try await bob.post("/v1/envs/", ["env_id": "Nope-v0"]), ["not registered"])
        }
    }

    @Test("--instance-ttl: an idle instance is closed as close/ closes it, and its id then says it expired")
    func idleExpiry() async throws {
        var limits = ServerLimits()
        limits.instanceTTLSeconds = 60
        let harness = APIHarness(limits: limits)
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let idle = try await api.create("CartPole-v1")
            let busy = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(idle)/monitor/start/", ["video_callable": 1])
            _ = try await api.post("/v1/envs/\(idle)/reset/")
            var done = false
            while !done { done = try await api.post("/v1/envs/\(idle)/step/", ["action": 1]).json["done"] == true }
            _ = try await api.post("/v1/envs/\(idle)/reset/")
            _ = try await api.post("/v1/envs/\(idle)/step/", ["action": 1])
            _ = try await api.post("/v1/envs/\(idle)/reset/", ["render": true])
            harness.clock.advance(seconds: 40)
            _ = try await api.post("/v1/envs/\(busy)/reset/")
            #expect(await harness.manager.expireIdle().isEmpty, "40 s idle of 60: nothing expires")
            harness.clock.advance(seconds: 30)
            #expect(await harness.manager.expireIdle() == [idle])
            expectErrorContaining(
                try await api.post("/v1/envs/\(idle)/step/", ["action": 0]),
                ["Instance_id \(idle) expired", "60 seconds", "--instance-ttl"])
            expectErrorContaining(try await api.post("/v1/envs/\(idle)/close/"), ["expired"])
            #expect(try await api.get("/v1/envs/").json["all_envs"] == ["\(busy)": "CartPole-v1"])
            // Closed as close/ closes: the monitor's files are written and its video finished.
            let directory = harness.monitorRoot.appendingPathComponent("\(idle)/simulation")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            let stats = try #require(files.first { $0.hasSuffix(".stats.json") })
            let json = try JSONParser.parse(try Data(contentsOf: directory.appendingPathComponent(stats)))
            #expect(json["episode_lengths"]?.arrayValue?.count == 1)
            #expect(files.filter { $0.hasSuffix(".mp4") }.count == 2)
            #expect(!files.contains { $0.hasSuffix(".tmp") })
            #expect(harness.manager.frames.latestFrame(idle) == nil)
        }
    }

    @Test("a body over --max-body-size is a 413 that names the limit")
    func bodyLimit() async throws {
        var limits = ServerLimits()
        limits.maxBodySize = 1000
        for keyring in [APIKeyring(), try twoKeys()] {
            let harness = APIHarness(keyring: keyring, limits: limits)
            try await harness.run { api in
                let big = "{\"env_id\": \"CartPole-v1\", \"pad\": \"" + String(repeating: "x", count: 5000) + "\"}"
                let answer = try await api.request(.post, "/v1/envs/", body: big)
                expectErrorContaining(answer, ["1000 bytes", "--max-body-size"], status: .contentTooLarge)
            }
        }
    }
}

@Suite("Old clients' monitor directories")
struct MonitorDirectoryCompatibilityTests {
    @Test("openai's missing directory: null or \"\" is a 400, absent with force too, absent without force is the default")
    func missingDirectory() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v0")
            for body: JSON in [["directory": nil, "force": true], ["directory": "", "force": false], ["directory": nil]] {
                expectError(try await api.post("/v1/envs/\(id)/monitor/start/", body), "A required request parameter 'directory' was not provided")
            }
            expectErrorContaining(try await api.post("/v1/envs/\(id)/monitor/start/", ["force": true, "resume": false]), ["'directory' was not provided"])
            let started = try await api.post("/v1/envs/\(id)/monitor/start/", ["force": false, "resume": false])
            #expect(started.json["directory"]?.stringValue == "\(id)/simulation")
        }
    }

    @Test("absolute directories (openai's example agents) land inside the monitor root and the answer says where")
    func absoluteDirectories() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v0")
            let started = try await api.post(
                "/v1/envs/\(id)/monitor/start/", ["directory": "/tmp/random-agent-results", "force": true, "resume": false, "video_callable": false])
            #expect(started.status == .ok)
            #expect(started.json["directory"] == "tmp/random-agent-results")
            #expect(started.json["url"]?.stringValue?.hasSuffix(":8000/tmp/random-agent-results/") == true)
            _ = try await api.post("/v1/envs/\(id)/reset/")
            var done = false
            while !done { done = try await api.post("/v1/envs/\(id)/step/", ["action": 0]).json["done"] == true }
            _ = try await api.post("/v1/envs/\(id)/monitor/close/")
            let inside = harness.monitorRoot.appendingPathComponent("tmp/random-agent-results")
            #expect(try FileManager.default.contentsOfDirectory(atPath: inside.path).contains { $0.hasSuffix(".stats.json") })
            let upload = try await api.post("/v1/upload/", ["training_dir": "/tmp/random-agent-results", "api_key": "x"])
            #expect(upload.json["path"] == "uploads/tmp_random-agent-results.zip", "\(upload.json)")
            #expect(FileManager.default.fileExists(atPath: harness.monitorRoot.appendingPathComponent("uploads/tmp_random-agent-results.zip").path))
            expectErrorContaining(try await api.post("/v1/upload/", ["training_dir": "/tmp/never-made", "api_key": "x"]), ["does not exist"])
            expectErrorContaining(try await api.post("/v1/upload/", ["training_dir": "/../../etc", "api_key": "x"]), [".."])
        }
    }
}

@Suite("Port 8000 with API keys")
struct FilesAccessTests {
    @Test("?key= sets an HttpOnly SameSite=Strict cookie and drops the key from the address; data needs a key; each key sees its own")
    func filesOwnership() async throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("gym-keys-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        let keyring = try twoKeys()
        let manager = EnvironmentManager(monitorRoot: base)
        let alicesInstance = try manager.create(envID: "CartPole-v1", owner: Owner(name: "alice"))
        _ = try await alicesInstance.reset(seed: 1, options: nil, render: true)
        let bobsInstance = try manager.create(envID: "CartPole-v1", owner: Owner(name: "bob"))
        let site = FilesSite(monitorRoot: base)
        let application = Application(router: buildFilesRouter(site: site, manager: manager, frames: manager.frames, keyring: keyring))
        try await application.test(.router) { client in
            // The pages themselves are open; what they show is not.
            #expect(try await client.fetch("/").status == .ok)
            #expect(try await client.fetch("/_static/app.css").status == .ok)
            for path in ["/_live/instances", "/_files/", "/\(alicesInstance.id)/rendered/0.png", "/\(alicesInstance.id).zip", "/_live/events?instance_id=\(alicesInstance.id)"] {
                let answer = try await client.fetch(path)
                #expect(answer.status == .unauthorized, "\(path): \(answer.status)")
                #expect(answer.text.contains("?key="))
            }
            #expect(try await client.fetch("/?key=wrong").status == .unauthorized)
            let login = try await client.fetch("/render.html?instance_id=\(alicesInstance.id)&key=alice-key-0123")
            #expect(login.status == .seeOther)
            #expect(login.header("Location") == "/render.html?instance_id=\(alicesInstance.id)")
            let cookie = try #require(login.header("Set-Cookie"))
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.hasPrefix("gym_server_key="))
            let aliceCookie = ["Cookie": String(cookie.split(separator: ";")[0])]
            let list = try await client.fetch("/_live/instances", headers: aliceCookie)
            #expect(try JSONParser.parse(list.text)["all_envs"] == ["\(alicesInstance.id)": "CartPole-v1"])
            #expect(try await client.fetch("/\(alicesInstance.id)/rendered/0.png", headers: aliceCookie).status == .ok)
            #expect(try await client.fetch("/\(alicesInstance.id).zip", headers: aliceCookie).status == .ok)
            let root = try await client.fetch("/_files/?format=json", headers: aliceCookie)
            #expect(root.text.contains(alicesInstance.id) && !root.text.contains(bobsInstance.id))
            // Bob, by header: alice's files do not exist for him.
            let bob = ["X-API-Key": "bob-key-4567"]
            #expect(try await client.fetch("/\(alicesInstance.id)/rendered/0.png", headers: bob).status == .notFound)
            #expect(try await client.fetch("/\(alicesInstance.id).zip", headers: bob).status == .notFound)
            #expect(try await client.fetch("/alice/\(alicesInstance.id)/rendered/0.png", headers: bob).status == .notFound)
            #expect(try await client.fetch("/_live/\(alicesInstance.id)/frame.png", headers: bob).status == .notFound)
            let bobsList = try await client.fetch("/_live/instances", headers: bob)
            #expect(try JSONParser.parse(bobsList.text)["all_envs"] == ["\(bobsInstance.id)": "CartPole-v1"])
        }
    }
}
