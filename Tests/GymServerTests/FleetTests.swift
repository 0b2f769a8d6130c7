import Foundation
import GymCore
import GymMonitor
@testable import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GymService

@Suite("A fleet of replicas: routable ids, shared monitor roots, the fleet's lists")
struct FleetTests {
    @Test("--replica-id and --peer: what parses, and what is refused with a message")
    func options() throws {
        let fleet = try Fleet(replicaID: 1, peers: [
            try Fleet.Replica.parse("0=gym-server-0.gym-server:5000:8000"), try Fleet.Replica.parse("1=127.0.0.1:5002:8002"),
            try Fleet.Replica.parse("2=[::1]:5003:8003"),
        ])
        // The whole fleet's list may include this replica: it never asks itself.
        #expect(fleet.peers.map(\.id) == [0, 2])
        #expect(fleet.peers[0] == Fleet.Replica(id: 0, host: "gym-server-0.gym-server", apiPort: 5000, filesPort: 8000))
        #expect(fleet.peers[1].host == "::1" && fleet.peers[1].apiPort == 5003)
        #expect(fleet.idPrefix == "01")
        #expect(try Fleet(replicaID: 255).idPrefix == "ff")
        #expect(Fleet.single.idPrefix == nil && !Fleet.single.joinsPeers)
        for bad in ["", "1", "x=h:1:2", "256=h:1:2", "-1=h:1:2", "1=h:1", "1=h:0:2", "1=h:1:70000", "1=h:a:2", "1=:1:2", "1=a b:1:2", "1=h;rm:1:2"] {
            #expect(throws: FleetError.self, "\(bad)") { try Fleet.Replica.parse(bad) }
        }
        #expect(throws: FleetError.self) { try Fleet(replicaID: 256) }
        #expect(throws: FleetError.self) { try Fleet(replicaID: nil, peers: [Fleet.Replica(id: 1, host: "h", apiPort: 1, filesPort: 2)]) }
        let twice = [Fleet.Replica(id: 2, host: "a", apiPort: 1, filesPort: 2), Fleet.Replica(id: 2, host: "b", apiPort: 1, filesPort: 2)]
        #expect(throws: FleetError.self) { try Fleet(replicaID: 0, peers: twice) }
        do {
            _ = try Fleet.replicaID("300", from: "--replica-id")
            Issue.record("300 was taken")
        } catch {
            #expect(error.message.contains("0 to 255") && error.message.contains("--replica-id"))
        }
    }

    @Test("under Kubernetes the replica id is the StatefulSet pod's ordinal; elsewhere nothing")
    func podOrdinal() {
        #expect(Fleet.podOrdinal(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "gym-server-2"]) == 2)
        #expect(Fleet.podOrdinal(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "web-17"]) == 17)
        #expect(Fleet.podOrdinal(environment: ["HOSTNAME": "gym-server-2"]) == nil)
        #expect(Fleet.podOrdinal(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "gym-server-7d9f-x2p"]) == nil)
        #expect(Fleet.podOrdinal(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "gym-server-300"]) == nil)
        #expect(Fleet.podOrdinal(environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOSTNAME": "gym-server"]) == nil)
    }

    @Test("a replica's ids carry it in their first two hex characters, in both dialects; without one nothing changes")
    func routableIDs() throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let replica = EnvironmentManager(monitorRoot: root, fleet: try Fleet(replicaID: 0xab))
        let hex = Set("0123456789abcdef")
        for style in [InstanceIDStyle.short, .long] {
            for _ in 0..<50 {
                let id = try replica.create(envID: "CartPole-v1", idStyle: style).id
                #expect(id.count == (style == .short ? 8 : 32) && id.allSatisfy(hex.contains), "\(id)")
                #expect(id.hasPrefix("ab"), "\(id)")
                #expect(replica.fleet.replica(ofInstance: id) == 0xab)
            }
        }
        let zero = EnvironmentManager(monitorRoot: root, fleet: try Fleet(replicaID: 0))
        #expect(try zero.create(envID: "CartPole-v1").id.hasPrefix("00"))
        // A server on its own draws all eight characters at random, as before.
        let single = EnvironmentManager(monitorRoot: root)
        var prefixes = Set<String>()
        for _ in 0..<200 { prefixes.insert(String(try single.create(envID: "CartPole-v1").id.prefix(2))) }
        #expect(prefixes.count > 50)
        #expect(single.fleet.replica(ofInstance: "abcdef12") == nil)
        #expect(replica.fleet.replica(ofInstance: "ABCDEF12") == nil, "not an id this fleet makes")
        #expect(replica.fleet.belongsElsewhere("12345678") == 0x12)
        #expect(replica.fleet.belongsElsewhere("ab345678") == nil)
    }

    @Test("an id of another replica sent to this one: the unknown-id answer names both replicas and the front")
    func otherReplicasID() async throws {
        let harness = APIHarness(fleet: try Fleet(replicaID: 0))
        try await harness.run { api in
            let answer = try await api.post("/v1/envs/01abcdef/step/", ["action": 1])
            #expect(answer.status == .badRequest, "the status of any unknown id, as gym-http-api's")
            let message = answer.message ?? ""
            #expect(message.hasPrefix("Instance_id 01abcdef unknown on replica 0"), "\(message)")
            #expect(message.contains("name replica 1") && message.contains("front"), "\(message)")
            // Its own ids, and ids that are not a fleet's, keep the plain words.
            #expect(try await api.post("/v1/envs/00abcdef/step/", ["action": 1]).message == "Instance_id 00abcdef unknown")
            #expect(try await api.post("/v1/envs/zzz/step/", ["action": 1]).message == "Instance_id zzz unknown")
        }
    }

    @Test("a fresh monitor needs its directory to itself, whichever replica asks; resume records beside; the refusal names the holder")
    func directoryLock() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        // Two replicas sharing one monitor root (in one process here; the lock is the kernel's,
        // which treats a second open of the file in this process as it would another process's).
        let first = APIHarness(fleet: try Fleet(replicaID: 3), monitorRoot: root)
        let second = APIHarness(fleet: try Fleet(replicaID: 4), monitorRoot: root)
        try await first.run { a in
            try await second.run { b in
                let one = try #require(try await a.post("/v1/envs/", ["env_id": "CartPole-v1"]).json["instance_id"]?.stringValue)
                let two = try #require(try await b.post("/v1/envs/", ["env_id": "CartPole-v1"]).json["instance_id"]?.stringValue)
                let three = try #require(try await a.post("/v1/envs/", ["env_id": "CartPole-v1"]).json["instance_id"]?.stringValue)
                #expect(one.hasPrefix("03") && two.hasPrefix("04"))
                func start(force: Bool = false, resume: Bool = false) -> JSON {
                    .object(["directory": "shared-run", "video_callable": false, "force": .bool(force), "resume": .bool(resume)])
                }
                #expect(try await a.post("/v1/envs/\(one)/monitor/start/", start()).status == .ok)
                _ = try await a.post("/v1/envs/\(one)/reset/", ["seed": 1])
                // One whole episode, so that its files are on disk.
                var done = false
                for _ in 0..<500 where !done {
                    done = try await a.post("/v1/envs/\(one)/step/", ["action": 1]).json["done"]?.boolValue ?? true
                }
                // Another replica's instance, and another of the same replica: the same refusal,
                // with force too, and with force and resume (clearing under a live monitor).
                for (client, id) in [(b, two), (a, three)] {
                    for (force, resume) in [(false, false), (true, false), (true, true)] {
                        let refused = try await client.post("/v1/envs/\(id)/monitor/start/", start(force: force, resume: resume))
                        #expect(refused.status == .badRequest)
                        #expect(refused.message?.contains("shared-run is being recorded into by another monitor (instance \(one), replica 3)") == true, "\(refused.json)")
                    }
                }
                let directory = root.appendingPathComponent("shared-run")
                func manifests() throws -> [String] {
                    try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix("openaigym.manifest.") }.sorted()
                }
                // The refused force cleared nothing.
                #expect(try manifests().count == 1)
                // resume records beside it, in files of its own replica's names.
                #expect(try await b.post("/v1/envs/\(two)/monitor/start/", start(resume: true)).status == .ok)
                _ = try await b.post("/v1/envs/\(two)/reset/", ["seed": 2])
                #expect(try await b.post("/v1/envs/\(two)/monitor/close/").status == .ok)
                // Still refused to a fresh start while the first records.
                #expect(try await a.post("/v1/envs/\(three)/monitor/start/", start(force: true)).status == .badRequest)
                #expect(try await a.post("/v1/envs/\(one)/monitor/close/").status == .ok)
                let names = try manifests()
                #expect(names.count == 2, "\(names)")
                #expect(names.contains { $0.hasPrefix("openaigym.manifest.0.r3-\(getpid())-") }, "\(names)")
                #expect(names.contains { $0.hasPrefix("openaigym.manifest.0.r4-\(getpid())-") }, "\(names)")
                // Free again once both closed: a fresh start with force takes it.
                #expect(try await a.post("/v1/envs/\(three)/monitor/start/", start(force: true)).status == .ok)
                #expect(try manifests().isEmpty)
                #expect(try await a.post("/v1/envs/\(three)/monitor/close/").status == .ok)
            }
        }
    }

    @Test("a replica with peers lists the fleet's instances, and says which replica could not answer")
    func fleetList() async throws {
        let root = temporaryRoot()
        defer { try? FileManager.default.removeItem(at: root) }
        let peer = APIHarness(fleet: try Fleet(replicaID: 1), monitorRoot: root)
        let peerIDs = try (0..<3).map { _ in try peer.manager.create(envID: "CartPole-v1").id }
        try await peer.application.test(.live) { peerClient in
            let port = try #require(peerClient.port)
            let unused = 1  // nothing listens on port 1
            let front = APIHarness(
                fleet: try Fleet(replicaID: 0, peers: [
                    Fleet.Replica(id: 1, host: "127.0.0.1", apiPort: port, filesPort: port),
                    Fleet.Replica(id: 2, host: "127.0.0.1", apiPort: unused, filesPort: unused),
                ]), monitorRoot: root)
            let ownID = try front.manager.create(envID: "MountainCar-v0").id
            try await front.run { api in
                let list = try await api.get("/v1/envs/")
                #expect(list.status == .ok)
                let all = try #require(list.json["all_envs"]?.objectValue)
                #expect(Set(all.keys) == Set(peerIDs + [ownID]))
                #expect(all[ownID] == "MountainCar-v0" && all[peerIDs[0]] == "CartPole-v1")
                let replicas = try #require(list.json["replicas"]?.objectValue)
                #expect(replicas["0"]?["instances"] == 1 && replicas["1"]?["instances"] == 3)
                #expect(replicas["0"]?["state"] == "up" && replicas["1"]?["state"] == "up")
                #expect(replicas["2"]?["state"] == "unreachable")
                #expect(replicas["2"]?["problem"]?.stringValue?.contains("cannot connect") == true, "\(replicas)")
                // Asked for its own part only, a replica lists its own.
                let local = try await api.request(.get, "/v1/envs/", headers: [HTTPField.Name("X-Gym-Fleet")!: "local"])
                #expect(local.json["all_envs"]?.objectValue.map { Array($0.keys) } == [ownID])
                #expect(local.json["replicas"] == nil)
            }
        }
    }

    @Test("a peer's answer is read whole: by its length, chunked, or refused when cut short")
    func peerAnswers() throws {
        let plain = Array("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n{}\n\nextra".utf8)
        #expect(try PeerRequest.parse(plain).body == Array("{}\n\n".utf8))
        let chunked = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n5;x=1\r\n\": 1}\r\n0\r\n\r\n".utf8)
        let answer = try PeerRequest.parse(chunked)
        #expect(answer.status == 200 && String(decoding: answer.body, as: UTF8.self) == "{\"a\": 1}")
        for broken in ["HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "HTTP/1.1 200 OK\r\nContent", "nonsense\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"] {
            #expect(throws: PeerRequest.Failure.self, "\(broken)") { try PeerRequest.parse(Array(broken.utf8)) }
        }
    }

    @Test("the recordings of a shared root: what a peer records into says so")
    func recordingsJoin() {
        let own: JSON = [
            "recordings": [["directory": "a", "recording": false, "instance_id": nil], ["directory": "b", "recording": true, "instance_id": "00aaaaaa"]],
            "truncated": false,
        ]
        let peerAnswer: [String: JSON] = [
            "recordings": [["directory": "a", "recording": true, "instance_id": "01bbbbbb"], ["directory": "b", "recording": false, "instance_id": nil], ["directory": "c", "recording": true, "instance_id": "01cccccc"]],
            "truncated": true,
        ]
        let joined = RecordingsRoute.join(own, [FleetLists.Part(replica: 1, answer: peerAnswer, problem: nil), FleetLists.Part(replica: 2, answer: nil, problem: "down")])
        let byDirectory = Dictionary(uniqueKeysWithValues: (joined["recordings"]?.arrayValue ?? []).map { ($0["directory"]!.stringValue!, $0) })
        #expect(byDirectory["a"]?["instance_id"] == "01bbbbbb" && byDirectory["a"]?["recording"] == true)
        #expect(byDirectory["b"]?["instance_id"] == "00aaaaaa")
        #expect(byDirectory["c"]?["instance_id"] == "01cccccc")
        #expect(joined["truncated"] == true)
    }

    private func temporaryRoot() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("gym-fleet-\(UUID().uuidString)")
    }
}
