import Foundation
import GymCore
@testable import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `--access-log`: a line per request on every transport, off the request's path, reopened on
/// SIGHUP.
@Suite("Access log")
struct AccessLogTests {
    static func temporaryPath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("gym-access-\(UUID().uuidString).log").path
    }

    static func lines(_ path: String) -> [[Substring]] {
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: false) }
    }

    @Test("a line: time, method, path without its query, status, bytes, microseconds, key name, transport; client text encoded")
    func lineFormat() throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let log = try AccessLog(path: path)
        let start = DispatchTime.now().uptimeNanoseconds
        log.record(method: "POST", path: "/v1/envs/abc/step/", status: 200, bytes: 187, startedAt: start, key: "alice", transport: .fast)
        log.record(method: "GET", path: "/a b\n\u{7}é%", status: 404, bytes: nil, startedAt: start, key: nil, transport: .files)
        log.record(
            method: "POST", path: AccessLog.pathOnly("/v1/envs/?api_key=SECRET"), status: 401, bytes: 3, startedAt: start, key: nil,
            transport: .rest)
        log.flush()
        let lines = Self.lines(path)
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.count == 8 }, "\(lines)")
        #expect(Array(lines[0][1...]).map(String.init).enumerated().filter { $0.offset != 4 }.map(\.element) == ["POST", "/v1/envs/abc/step/", "200", "187", "alice", "fast"])
        #expect(lines[0][0].hasSuffix("Z") && lines[0][0].count == 27, "\(lines[0][0])")
        #expect(Int(lines[0][5]) != nil)
        #expect(lines[1][2] == "/a%20b%0A%07%C3%A9%25" && lines[1][4] == "-" && lines[1][6] == "-")
        #expect(lines[2][2] == "/v1/envs/")
        #expect(!((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("SECRET"))
        log.close()
    }

    @Test("reopen() after the file was moved writes a new file, as logrotate's postrotate SIGHUP asks")
    func reopens() throws {
        let path = Self.temporaryPath()
        defer {
            unlink(path)
            unlink(path + ".1")
        }
        let log = try AccessLog(path: path)
        log.record(method: "GET", path: "/one", status: 200, bytes: 1, startedAt: DispatchTime.now().uptimeNanoseconds, key: nil, transport: .rest)
        log.flush()
        #expect(rename(path, path + ".1") == 0)
        log.reopen()
        log.record(method: "GET", path: "/two", status: 200, bytes: 1, startedAt: DispatchTime.now().uptimeNanoseconds, key: nil, transport: .rest)
        log.close()
        #expect(Self.lines(path + ".1").map { $0[2] } == ["/one"])
        #expect(Self.lines(path).map { $0[2] } == ["/two"])
    }

    @Test("the writer thread writes without being asked, and close() writes what is left")
    func writesByItself() async throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let log = try AccessLog(path: path)
        log.record(method: "GET", path: "/soon", status: 200, bytes: 1, startedAt: DispatchTime.now().uptimeNanoseconds, key: nil, transport: .rest)
        var seen = false
        for _ in 0..<200 where !seen {
            try await Task.sleep(for: .milliseconds(25))
            seen = Self.lines(path).count == 1
        }
        #expect(seen)
        log.record(method: "GET", path: "/last", status: 200, bytes: 1, startedAt: DispatchTime.now().uptimeNanoseconds, key: nil, transport: .rest)
        log.close()
        #expect(Self.lines(path).map { $0[2] } == ["/soon", "/last"])
    }

    @Test("every transport of a live server logs its requests: routes, the fast path, WebSocket messages, the files port")
    func everyTransport() async throws {
        let path = Self.temporaryPath()
        defer { unlink(path) }
        let log = try AccessLog(path: path)
        let harness = APIHarness(keyring: try twoKeys())
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        let state = GymServerState(manager: harness.manager, shutdown: harness.shutdown, keyring: harness.keyring, accessLog: log)
        let app = Application(router: buildAPIRouter(state: state), server: .gym(state: state))
        try await app.test(.live) { client in
            let api = APIClient(client: client).with(key: "alice-key-0123")
            let port = try #require(client.port)
            let id = try await api.create("CartPole-v1")
            _ = try await api.post("/v1/envs/\(id)/reset/", ["seed": 1])
            // Over a raw socket, so that the fast path answers it (HummingbirdTesting's client
            // sends what the fast path leaves to the route).
            let connection = try KeepAliveConnection(port: port)
            let fast = try await connection.exchange(
                "POST", "/v1/envs/\(id)/step/?api_key=alice-key-0123", body: #"{"action": 1}"#,
                headers: ["Content-Type": "application/json"])
            #expect(fast.status == 200)
            // A key the step does not read is the route's.
            _ = try await api.post("/v1/envs/\(id)/step/", ["action": 0, "note": "route"])
            _ = try await APIClient(client: client).post("/v1/envs/\(id)/step/", ["action": 0])
            let conversation = try await converse(
                port: port, path: "/gym?api_key=bob-key-4567",
                [gymie("make", ["env_id": "CartPole-v1"]), #"{"method": "nope", "params": {}}"#])
            #expect(conversation.replies.count == 1)
        }
        let files = Application(
            router: buildFilesRouter(
                site: FilesSite(monitorRoot: harness.monitorRoot), manager: harness.manager, frames: harness.manager.frames,
                keyring: harness.keyring, accessLog: log))
        try await files.test(.router) { client in
            _ = try await client.fetch("/_recordings", headers: ["X-API-Key": "bob-key-4567"])
        }
        log.close()
        let lines = Self.lines(path)
        let summary = lines.map { "\($0[1]) \($0[2]) \($0[3]) \($0[6]) \($0[7])" }
        #expect(summary.contains("POST /v1/envs/ 200 alice rest"), "\(summary)")
        #expect(summary.contains { $0.hasSuffix("/step/ 200 alice fast") }, "\(summary)")
        #expect(summary.contains { $0.hasSuffix("/step/ 200 alice rest") }, "\(summary)")
        #expect(summary.contains { $0.hasSuffix("/step/ 401 - rest") }, "\(summary)")
        #expect(summary.contains("make /gym 200 bob ws"), "\(summary)")
        #expect(summary.contains("- /gym 1007 bob ws"), "\(summary)")
        #expect(summary.contains("GET /_recordings 200 bob files"), "\(summary)")
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        #expect(!text.contains("alice-key-0123") && !text.contains("bob-key-4567"), "a key reached the log")
    }
}
