import Foundation
import GymCore
@testable import GymServer
import Hummingbird
import HummingbirdTesting
import Testing
import GymService

#if canImport(Glibc)
    import Glibc
#endif

/// A live API server (real sockets, the pipeline `gym-server` runs) with one state, so that the
/// test sees the fast path's count, and metrics on.
private struct FastPathServer {
    let manager: EnvironmentManager
    let state: GymServerState
    let monitorRoot = FileManager.default.temporaryDirectory.appendingPathComponent("gym-fastpath-tests-\(UUID().uuidString)")

    init(keyring: APIKeyring = APIKeyring(), limits: ServerLimits = ServerLimits(), loopSpinMicroseconds: Int = 0) {
        manager = EnvironmentManager(monitorRoot: monitorRoot, limits: limits, metrics: ServerMetrics())
        var state = GymServerState(manager: manager, shutdown: ShutdownSwitch(allowed: false), keyring: keyring)
        state.loopSpinMicroseconds = loopSpinMicroseconds
        self.state = state
    }

    func live(_ body: @escaping @Sendable (Int) async throws -> Void) async throws {
        defer { try? FileManager.default.removeItem(at: monitorRoot) }
        let application = Application(
            router: buildAPIRouter(state: state), server: .gym(state: state), configuration: .init(serverName: "gym-server"))
        try await application.test(.live) { client in try await body(try #require(client.port)) }
    }
}

/// One keep-alive HTTP/1.1 connection read by Content-Length: requests go out exactly as written
/// (several in one write, for pipelining), answers come back in order. Its reads block a thread of
/// their own, never the cooperative pool the server answers on.
final class KeepAliveConnection: @unchecked Sendable {
    struct Answer {
        let status: Int
        let headers: [String: String]
        /// The status line and the header lines, as they came.
        let lines: [String]
        let body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 10) throws {
        descriptor = try RawHTTPConnection.connectLoopback(port: port)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(descriptor) }

    static func request(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n\r\n\(body)" } else { text += "\r\n" }
        return text
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    func exchange(_ method: String, _ path: String, body: String? = nil, headers: [String: String] = [:]) async throws -> Answer {
        send(Self.request(method, path, body: body, headers: headers))
        return try await read()
    }

    /// The next whole answer.
    func read() async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try self.readBlocking() }) }.start()
        }
    }

    private func readBlocking() throws -> Answer {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = buffer.indices.dropLast(3).first(where: { buffer[$0] == 13 && buffer[$0 + 1] == 10 && buffer[$0 + 2] == 13 && buffer[$0 + 3] == 10 }) {
                let head = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                var headers: [String: String] = [:]
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if buffer.count >= end + 4 + length {
                    let status = Int(head[0].split(separator: " ")[1]) ?? 0
                    let body = Array(buffer[(end + 4)..<(end + 4 + length)])
                    buffer.removeFirst(end + 4 + length)
                    return Answer(status: status, headers: headers, lines: head, body: body)
                }
            }
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw RawHTTPConnection.Failure(description: "the connection ended (or 10 s passed) before a whole answer") }
            buffer += chunk[0..<n]
        }
    }
}

@Suite("The REST step's fast path: answered on the event loop, exactly as the route answers")
struct StepFastPathTests {
    /// Makes an instance and resets it with `seed`; returns its id.
    private static func make(_ connection: KeepAliveConnection, _ envID: String = "CartPole-v1", seed: Int = 3, extra: String = "") async throws -> String {
        let made = try await connection.exchange("POST", "/v1/envs/", body: "{\"env_id\": \"\(envID)\"\(extra)}")
        let id = try #require(try JSONParser.parse(made.body)["instance_id"]?.stringValue, "\(made.text)")
        #expect(try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": \(seed)}").status == 200)
        return id
    }

    @Test("a trainer's small vector (4 CartPoles, next-step and same-step autoreset) steps and resets on the fast path, the route's answers byte for byte")
    func smallVectors() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            for mode in ["next_step", "same_step"] {
                var ids: [String] = []
                for _ in 0..<2 {
                    let made = try await connection.exchange("POST", "/v1/envs/", body: "{\"env_id\": \"CartPole-v1\", \"num_envs\": 4, \"autoreset_mode\": \"\(mode)\"}")
                    ids.append(try #require(JSONParser.parseIfJSON(made.body)?["instance_id"]?.stringValue, "\(made.text)"))
                }
                let (fast, slow) = (ids[0], ids[1])
                let resets = server.state.fastPathResets.count
                let a = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"seed\": 5}")
                // A key reset does not read is the route's to read.
                let b = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{\"seed\": 5, \"note\": \"route\"}")
                #expect(server.state.fastPathResets.count == resets + 1, "the vector's reset took the fast path")
                #expect(a.status == 200 && a.body == b.body, "\(a.text) vs \(b.text)")
                // Seeds as a list are the route's.
                _ = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{\"seed\": [5, 6, 7, 8]}")
                #expect(server.state.fastPathResets.count == resets + 1)
                _ = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"seed\": 5}")
                _ = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{\"seed\": 5, \"note\": \"route\"}")
                var ended = 0
                for n in 0..<120 {
                    let action = "[\(n % 2), \((n / 3) % 2), 1, 0]"
                    let accept = n % 3 == 0 ? ["Accept": "application/msgpack"] : [:]
                    let before = server.state.fastPathSteps.count
                    let x = try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(action)}", headers: accept)
                    #expect(server.state.fastPathSteps.count == before + 1, "step \(n) took the fast path")
                    let y = try await connection.exchange("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": \(action), \"note\": \"route\"}", headers: accept)
                    #expect(x.status == 200 && x.body == y.body, "\(mode) step \(n): \(x.text) vs \(y.text)")
                    if accept.isEmpty, let done = JSONParser.parseIfJSON(x.body)?["done"]?.arrayValue { ended += done.filter { $0 == true }.count }
                }
                #expect(ended > 0, "episodes ended and were autoreset (\(mode))")
            }
        }
    }

    @Test("plain steps (JSON and MessagePack) are the route's answers byte for byte, counted in the same metrics series")
    func sameAnswers() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let fast = try await Self.make(connection)
            let slow = try await Self.make(connection)
            let fromBytes = server.state.fastPathFromBytes.count
            for n in 0..<40 {
                let body = "{\"action\": \(n % 3 == 0 ? 1 : 0)}"
                let accept = n % 4 == 0 ? ["Accept": "application/msgpack"] : [:]
                let path = n % 2 == 0 ? "step/" : "step"
                let before = server.state.fastPathSteps.count
                // A key the step does not read sends the same step through Hummingbird's route
                // (the fast decoder leaves every key but action and render to the route, which
                // reads a key sent in the body); every third pair is a browser's (CORS) on both sides.
                let slowBody = "{\"action\": \(n % 3 == 0 ? 1 : 0), \"note\": \"route\"}"
                let origin = n % 3 == 2 ? ["Origin": "http://x"] : [:]
                let a = try await connection.exchange("POST", "/v1/envs/\(fast)/\(path)", body: body, headers: accept.merging(origin) { a, _ in a })
                #expect(server.state.fastPathSteps.count == before + 1, "step \(n) took the fast path")
                let b = try await connection.exchange("POST", "/v1/envs/\(slow)/\(path)", body: slowBody, headers: accept.merging(origin) { a, _ in a })
                #expect(server.state.fastPathSteps.count == before + 1, "step \(n) with another key took the route")
                #expect((a.headers["access-control-allow-origin"] == "*") == (n % 3 == 2), "\(a.lines)")
                #expect(a.status == 200 && b.status == 200, "\(a.text) \(b.text)")
                #expect(a.body == b.body, "step \(n): \(a.text) vs \(b.text)")
                for name in ["content-type", "content-length", "server"] { #expect(a.headers[name] == b.headers[name], "\(name)") }
                #expect(a.headers["date"]?.hasSuffix(" GMT") == true && a.headers["date"]?.count == 29, "\(a.headers["date"] ?? "")")
                // The head as NIO's encoder writes the route's, line for line (but the date, which
                // may have turned a second), the CORS line where the route's middleware puts it.
                let head = { (lines: [String]) in lines.map { $0.hasPrefix("Date: ") ? "Date" : $0 } }
                #expect(head(a.lines) == head(b.lines), "\(a.lines) vs \(b.lines)")
                #expect(a.lines.first == "HTTP/1.1 200 OK" && a.lines.count == (n % 3 == 2 ? 6 : 5), "\(a.lines)")
                if n % 6 == 5 {
                    // (Well before CartPole can fall.)
                    _ = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"seed\": \(n)}")
                    _ = try await connection.exchange("POST", "/v1/envs/\(slow)/reset/", body: "{\"seed\": \(n)}")
                }
            }
            let metrics = try await connection.exchange("GET", "/metrics")
            let line = metrics.text.split(separator: "\n").first {
                $0.hasPrefix("gym_http_requests_total{") && $0.contains("route=\"/v1/envs/{instance_id}/step\"") && $0.contains("status=\"200\"")
            }
            #expect(line?.hasSuffix(" 80") == true, "both paths count in one series: \(line ?? "none")")
            // And by the path each took: production sees what the fast paths take.
            let parsed = try MetricsText(metrics.text)
            func taken(_ path: String, _ operation: String) -> Double? {
                parsed.value("gym_step_requests_total", ["path": path, "operation": operation])
            }
            #expect(taken("bytes", "step") == 40 && taken("route", "step") == 40 && taken("parts", "step") == 0)
            #expect(taken("bytes", "reset") == 14 && taken("route", "reset") == 0 && taken("gymie_fast", "step") == 0)
            // Every fast step (and reset) came whole in one write: read from the bytes.
            #expect(server.state.fastPathFromBytes.count == fromBytes + 40 + 12, "\(server.state.fastPathFromBytes.count - fromBytes)")
            #expect(server.manager.list(for: nil).count == 2)
        }
    }

    @Test("resets with a seed or none are the route's answers byte for byte; options, render, bad seeds and monitors are the route's")
    func resets() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let fast = try await Self.make(connection, "FrozenLake-v1")
            let slow = try await Self.make(connection, "FrozenLake-v1")
            let resets = { server.state.fastPathResets.count }
            // An empty body, {}, a seed, a null seed, render: false; each after a few steps.
            for (n, body) in [nil, "{}", "{\"seed\": 5}", "{\"seed\": null}", "{\"seed\": 11, \"render\": false}", "{\"seed\": 5}"].enumerated() {
                for action in [1, 2] {
                    _ = try await connection.exchange("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(action)}")
                    _ = try await connection.exchange("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": \(action)}")
                }
                let before = resets()
                let path = n % 2 == 0 ? "reset/" : "reset"
                let a = try await connection.exchange("POST", "/v1/envs/\(fast)/\(path)", body: body)
                #expect(resets() == before + 1, "reset \(body ?? "without a body") took the fast path")
                // A key reset does not read is the route's to read.
                let slowBody = body.map { $0.dropLast() + ($0 == "{}" ? "" : ", ") + "\"note\": \"route\"}" } ?? "{\"note\": \"route\"}"
                let b = try await connection.exchange("POST", "/v1/envs/\(slow)/\(path)", body: slowBody)
                #expect(resets() == before + 1, "\(slowBody): the route")
                #expect(a.status == 200 && a.body == b.body && a.text.hasPrefix("{\"info\": {"), "\(a.text) vs \(b.text)")
                let head = { (lines: [String]) in lines.map { $0.hasPrefix("Date: ") ? "Date" : $0 } }
                #expect(head(a.lines) == head(b.lines), "\(a.lines) vs \(b.lines)")
            }
            let before = resets()
            let options = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"seed\": 1, \"options\": {}}")
            #expect(options.status == 200, "\(options.text)")
            let rendered = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: "{\"render\": true}")
            #expect(rendered.status == 200 && rendered.text.contains("\"render\""), "\(rendered.text)")
            for bad in ["{\"seed\": -1}", "{\"seed\": \"x\"}", "{\"seed\": [1, 2]}"] {
                let answer = try await connection.exchange("POST", "/v1/envs/\(fast)/reset/", body: bad)
                #expect(answer.status == 400 && answer.text.contains("seed"), "\(bad): \(answer.text)")
            }
            let unknown = try await connection.exchange("POST", "/v1/envs/nope/reset/", body: "{}")
            #expect(unknown.status == 400 && unknown.text.contains("Instance_id nope unknown"), "\(unknown.text)")
            #expect(resets() == before, "none of these was the fast path's")
            // Both paths count in the route's series.
            let metrics = try await connection.exchange("GET", "/metrics")
            let line = metrics.text.split(separator: "\n").first {
                $0.hasPrefix("gym_http_requests_total{") && $0.contains("route=\"/v1/envs/{instance_id}/reset\"") && $0.contains("status=\"200\"")
            }
            // 2 makes' resets, 12 compared, options and render.
            #expect(line?.hasSuffix(" 16") == true, "\(line ?? "none")")
        }
    }

    @Test("errors, render, monitors, vectors and odd bodies go to the route, which answers them in its own words")
    func everythingElse() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let id = try await Self.make(connection)
            let count = { server.state.fastPathSteps.count }
            let before = count()
            let bad = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 7}")
            #expect(bad.status == 400 && bad.text.contains("Action 7 is not in the action space Discrete(2)"), "\(bad.text)")
            let unknown = try await connection.exchange("POST", "/v1/envs/nope/step/", body: "{\"action\": 1}")
            #expect(unknown.status == 400 && unknown.text.contains("Instance_id nope unknown"), "\(unknown.text)")
            let missing = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{}")
            #expect(missing.status == 400 && missing.text.contains("action"), "\(missing.text)")
            let broken = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": ")
            #expect(broken.status == 400, "\(broken.text)")
            let rendered = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 1, \"render\": true}")
            #expect(rendered.status == 200 && rendered.text.contains("\"render\""), "\(rendered.text)")
            #expect(count() == before, "none of these was the fast path's")
            // Not reset yet: the route says so.
            let fresh = try JSONParser.parse(try await connection.exchange("POST", "/v1/envs/", body: "{\"env_id\": \"CartPole-v1\"}").body)["instance_id"]?.stringValue ?? ""
            let early = try await connection.exchange("POST", "/v1/envs/\(fresh)/step/", body: "{\"action\": 1}")
            #expect(early.status == 400, "\(early.text)")
            // A monitored instance: every step is recorded by the route.
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/monitor/start/", body: "{\"directory\": \"fast\", \"force\": true}").status < 300)
            _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 1}")
            var steps = 0
            while true {
                steps += 1
                let answer = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0}")
                if JSONParser.parseIfJSON(answer.body)?["done"] == true || steps > 500 { break }
            }
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/monitor/close/").status < 300)
            let stats = try FileManager.default.contentsOfDirectory(atPath: server.monitorRoot.appendingPathComponent("fast").path).first { $0.hasSuffix(".stats.json") }
            let lengths = try JSONParser.parse(Data(contentsOf: server.monitorRoot.appendingPathComponent("fast/\(try #require(stats))")))["episode_lengths"]
            #expect(lengths == [.int(steps)], "the monitor saw every step")
            // A vector wider than the fast paths take (a trainer's few are theirs: below).
            let wide = try await Self.make(connection, extra: ", \"num_envs\": 65")
            let batched = try await connection.exchange("POST", "/v1/envs/\(wide)/step/", body: "{\"action\": [\(Array(repeating: "1", count: 65).joined(separator: ", "))]}")
            #expect(batched.status == 200 && JSONParser.parseIfJSON(batched.body)?["reward"]?.arrayValue?.count == 65, "\(batched.text)")
            #expect(count() == before, "nor these")
            // Back to a plain step: the fast path again.
            _ = try await connection.exchange("POST", "/v1/envs/\(fresh)/reset/", body: "{}")
            #expect(try await connection.exchange("POST", "/v1/envs/\(fresh)/step/", body: "{\"action\": 1}").status == 200)
            #expect(count() == before + 1)
        }
    }

    @Test("bodies over the fast path's 64 KiB or over --max-body-size go to the route: a 413 that names the limit, and the server goes on")
    func bodySizes() async throws {
        var limits = ServerLimits()
        limits.maxBodySize = 100_000
        let server = FastPathServer(limits: limits)
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let id = try await Self.make(connection)
            let before = server.state.fastPathSteps.count
            let padded = { (size: Int) in "{\"action\": 1, \"pad\": \"" + String(repeating: "x", count: size) + "\"}" }
            // Over the fast path's own bound, under the server's: the route steps it.
            let large = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: padded(70_000))
            #expect(large.status == 200, "\(large.text.prefix(200))")
            let huge = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: padded(200_000))
            #expect(huge.status == 413 && huge.text.contains("100000 bytes") && huge.text.contains("--max-body-size"), "\(huge.text.prefix(300))")
            #expect(server.state.fastPathSteps.count == before)
            let fresh = try KeepAliveConnection(port: port)
            #expect(try await fresh.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0}").status == 200)
            #expect(server.state.fastPathSteps.count == before + 1)
        }
    }

    @Test("with API keys: a key in a header or the query is checked; none, a wrong one or another's instance get the route's answer")
    func keys() async throws {
        let ring = try twoKeys()
        let server = FastPathServer(keyring: ring)
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let made = try await connection.exchange("POST", "/v1/envs/", body: "{\"env_id\": \"CartPole-v1\"}", headers: ["X-API-Key": "alice-key-0123"])
            let id = try #require(JSONParser.parseIfJSON(made.body)?["instance_id"]?.stringValue, "\(made.text)")
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{}", headers: ["X-API-Key": "alice-key-0123"]).status == 200)
            let before = server.state.fastPathSteps.count
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 1}").status == 401)
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 1}", headers: ["X-API-Key": "nope-nope-nope"]).status == 401)
            let other = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 1}", headers: ["X-API-Key": "bob-key-4567"])
            #expect(other.status == 400 && other.text.contains("unknown"), "\(other.text)")
            #expect(server.state.fastPathSteps.count == before)
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 1}", headers: ["X-API-Key": "alice-key-0123"]).status == 200)
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/step/?api_key=alice-key-0123", body: "{\"action\": 0}").status == 200)
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0}", headers: ["Authorization": "Bearer alice-key-0123"]).status == 200)
            #expect(server.state.fastPathSteps.count == before + 3)
            // The key in the body is the route's to find.
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0, \"api_key\": \"alice-key-0123\"}").status == 200)
            #expect(server.state.fastPathSteps.count == before + 3)
        }
    }

    @Test("pipelined requests are answered in order, behind a request the route is still answering")
    func pipelining() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let id = try await Self.make(connection)
            let step = { (action: Int) in KeepAliveConnection.request("POST", "/v1/envs/\(id)/step/", body: "{\"action\": \(action)}") }
            // A route's request, then steps, then a route's again, then steps: in one write.
            connection.send(KeepAliveConnection.request("GET", "/v1/help") + step(1) + step(0) + KeepAliveConnection.request("GET", "/v1/envs/") + step(1))
            let help = try await connection.read()
            #expect(help.status == 200 && help.text.contains("\"/gym\""), "\(help.text.prefix(200))")
            let first = try JSONParser.parse(try await connection.read().body)
            let second = try JSONParser.parse(try await connection.read().body)
            let list = try await connection.read()
            #expect(list.text.contains(id), "\(list.text)")
            let third = try JSONParser.parse(try await connection.read().body)
            // The same as stepping one at a time from the same state.
            let check = try await Self.make(connection)
            for (action, expected) in [(1, first), (0, second), (1, third)] {
                let answer = try await connection.exchange("POST", "/v1/envs/\(check)/step/", body: "{\"action\": \(action)}")
                #expect(try JSONParser.parse(answer.body) == expected)
            }
        }
    }
}

@Suite("The REST fast path from the bytes: requests framed before NIO's decoder, or left to it")
struct StepFastPathBytesTests {
    private static func make(_ connection: KeepAliveConnection) async throws -> String {
        let made = try await connection.exchange("POST", "/v1/envs/", body: "{\"env_id\": \"CartPole-v1\"}")
        let id = try #require(try JSONParser.parse(made.body)["instance_id"]?.stringValue, "\(made.text)")
        #expect(try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 2}").status == 200)
        return id
    }

    @Test("steps come whole or a byte at a time, and are answered from the bytes as the route answers")
    func framed() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let (fast, slow) = (try await Self.make(connection), try await Self.make(connection))
            let fromBytes = { server.state.fastPathFromBytes.count }
            for n in 0..<6 {
                let before = fromBytes()
                let request = KeepAliveConnection.request("POST", "/v1/envs/\(fast)/step/", body: "{\"action\": \(n % 2)}", headers: ["X-Note": "a: b"])
                if n % 2 == 0 {
                    connection.send(request)
                } else {
                    // A byte at a time: held until whole, then answered.
                    for byte in request.utf8 {
                        connection.send(String(decoding: [byte], as: UTF8.self))
                        try await Task.sleep(for: .milliseconds(1))
                    }
                }
                let a = try await connection.read()
                #expect(fromBytes() == before + 1, "step \(n) answered from the bytes")
                let b = try await connection.exchange("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": \(n % 2), \"render\": null}")
                #expect(a.status == 200 && a.body == b.body, "\(a.text) vs \(b.text)")
                #expect(a.lines.map { $0.hasPrefix("Date: ") ? "Date" : $0 } == b.lines.map { $0.hasPrefix("Date: ") ? "Date" : $0 })
            }
            // Resets too, and a step with a query and the path without its slash.
            let before = fromBytes()
            #expect(try await connection.exchange("POST", "/v1/envs/\(fast)/reset", body: "{\"seed\": 1}").status == 200)
            #expect(try await connection.exchange("POST", "/v1/envs/\(fast)/step?x=1", body: "{\"action\": 1}").status == 200)
            #expect(fromBytes() == before + 2)
        }
    }

    @Test("with --loop-spin-us, every answer of the three fast paths (bytes, parts, Gymie) arms its loop's spinner, which polls and then stops")
    func loopSpin() async throws {
        let budget = 20_441  // (this test's own: the spinners it finds are this server's)
        let server = FastPathServer(loopSpinMicroseconds: budget)
        try await server.live { port in
            let connection = try KeepAliveConnection(port: port)
            let id = try await Self.make(connection)
            for n in 0..<30 {
                let answer = try await connection.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": \(n % 2)}")
                #expect(answer.status == 200)
                if n % 10 == 9 { try await Task.sleep(for: .milliseconds(45)) }  // (longer than the budget: the spin runs out)
            }
            // The part-level fast path: a connection the bytes path left after a chunked body.
            let chunked = try KeepAliveConnection(port: port)
            chunked.send("POST /v1/envs/\(id)/step/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nd\r\n{\"action\": 1}\r\n0\r\n\r\n")
            #expect(try await chunked.read().status == 200)
            for _ in 0..<5 { #expect(try await chunked.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0}").status == 200) }
            // Gymie's fast path.
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            for n in 0..<5 {
                let message = gymie("step", ["instance_id": .string(id), "action": .int(n % 2)])
                socket.send(opcode: 1, Array(message.utf8))
                guard case .text = try await socket.nextMessage(timeout: .seconds(20), after: message) else {
                    Issue.record("no answer to \(message)")
                    return
                }
            }
            let fast = server.state.fastPathSteps.count + server.state.fastPathResets.count
                + server.state.gymieFastSteps.count + server.state.gymieFastResets.count
            #expect(server.state.fastPathSteps.count >= 35 && server.state.gymieFastSteps.count == 5)
            let spinners = LoopSpin.spinners(budgetMicroseconds: budget)
            #expect(!spinners.isEmpty)
            var total = LoopSpin.Counts()
            for spin in spinners {
                // (Until every spin has run out: then no count moves.)
                let deadline = ContinuousClock.now + .seconds(10)
                while try await spin.loop.submit({ spin.spinning }).get(), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(5))
                }
                let counts = try await spin.loop.submit { spin.counts }.get()
                total.spins += counts.spins
                total.caught += counts.caught
                total.skipped += counts.skipped
                total.missed += counts.missed
                total.turns += counts.turns
            }
            #expect(total.spins + total.caught + total.skipped == fast, "every fast answer arms a spinner: \(total), \(fast) answers")
            // Every spin turns the loop at least once, and ends by running out once nothing more
            // comes (how many answers it catches depends on the machine's load: LoopSpinTests
            // checks that on a loop of its own).
            #expect(total.spins >= 1 && total.turns >= total.spins && total.missed == total.spins, "\(total)")
            // /metrics has the same counts (this server's registry; its loops' spinners with this
            // budget count into it) and the time spent polling: each spin lasts at least the budget.
            let metrics = try MetricsText(try await KeepAliveConnection(port: port).exchange("GET", "/metrics").text)
            for (event, count) in [("spin", total.spins), ("caught", total.caught), ("missed", total.missed), ("skipped", total.skipped)] {
                #expect(metrics.value("gym_loop_spin_events_total", ["event": event]) == Double(count), "\(event)")
            }
            let seconds = try #require(metrics.value("gym_loop_spin_seconds_total", [:]))
            #expect(seconds >= Double(total.spins * budget) / 1e6, "\(seconds) s for \(total.spins) spins")
        }
    }

    @Test("what the bytes cannot frame (chunked, HTTP/1.0, an upgrade) goes to NIO's decoder for the rest of the connection")
    func unframed() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let fromBytes = { server.state.fastPathFromBytes.count }
            let steps = { server.state.fastPathSteps.count }
            // Chunked: the route steps it; the next step is the part-level fast path's.
            let chunked = try KeepAliveConnection(port: port)
            let id = try await Self.make(chunked)
            let before = (fromBytes(), steps())
            chunked.send("POST /v1/envs/\(id)/step/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nd\r\n{\"action\": 1}\r\n0\r\n\r\n")
            let stepped = try await chunked.read()
            #expect(stepped.status == 200 && stepped.text.contains("observation"), "\(stepped.text)")
            #expect(try await chunked.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0}").status == 200)
            // (NIO's decoder joins the chunks and the part-level fast path answers both.)
            #expect(fromBytes() == before.0 && steps() == before.1 + 2, "after a chunked body, the decoder's")
            // HTTP/1.0: left to the decoder.
            let old = try KeepAliveConnection(port: port)
            old.send("POST /v1/envs/\(id)/step/ HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 13\r\n\r\n{\"action\": 1}")
            let answer = try await old.read()
            #expect(answer.status == 200 && answer.text.contains("observation"), "\(answer.lines)")
            #expect(fromBytes() == before.0)
            // Expect: 100-continue is framed (the route answers it), and the next step is from the bytes.
            let expecting = try KeepAliveConnection(port: port)
            expecting.send("POST /v1/envs/\(id)/step/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 13\r\n\r\n{\"action\": 1}")
            var reply = try await expecting.read()
            if reply.status == 100 { reply = try await expecting.read() }
            #expect(reply.status == 200, "\(reply.lines)")
            #expect(try await expecting.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 0}").status == 200)
            #expect(fromBytes() == before.0 + 1, "after Expect, still framed")
            // An upgrade asked on a later request: Hummingbird's answer, and the connection ends.
            let upgrading = try KeepAliveConnection(port: port)
            #expect(try await upgrading.exchange("GET", "/v1/envs/").status == 200)
            let redirected = try await upgrading.exchange(
                "GET", "/gym", headers: ["Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"])
            #expect(redirected.status == 307, "\(redirected.lines)")
            // Heads the decoder refuses (a folded line, two lengths), first on their connection:
            // 400 with what was wrong, the connection closed, and the server goes on.
            for bad in ["POST /v1/envs/\(id)/step/ HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\nContent-Length: 13\r\n\r\n{\"action\": 1}",
                        "POST /v1/envs/\(id)/step/ HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\nContent-Length: 14\r\n\r\n{\"action\": 1}"] {
                let refused = try KeepAliveConnection(port: port, timeoutSeconds: 5)
                refused.send(bad)
                let answer = try await refused.read()
                #expect(answer.status == 400 && answer.text.contains("not valid HTTP/1.1") && answer.headers["connection"] == "close", "\(answer.lines) \(answer.text)")
            }
            let fresh = try KeepAliveConnection(port: port)
            #expect(try await fresh.exchange("POST", "/v1/envs/\(id)/step/", body: "{\"action\": 1}").status == 200)
        }
    }
}

extension JSONParser {
    /// The JSON of an answer's body, or nil.
    static func parseIfJSON(_ bytes: [UInt8]) -> JSON? { try? parse(bytes) }
}

@Suite("Gymie's step fast path: answered on the event loop, in order, as the session answers")
struct GymieFastPathTests {
    private static func step(_ id: String, _ action: Int, extra: String = "") -> String {
        "{\"method\": \"step\", \"params\": {\"instance_id\": \"\(id)\", \"action\": \(action)\(extra)}}"
    }

    /// Two CartPoles reset with the same seed over REST; their ids.
    private static func twins(_ connection: KeepAliveConnection, _ envID: String = "CartPole-v1", headers: [String: String] = [:]) async throws -> (String, String) {
        var ids: [String] = []
        for _ in 0..<2 {
            let made = try await connection.exchange("POST", "/v1/envs/", body: "{\"env_id\": \"\(envID)\"}", headers: headers)
            let id = try #require(JSONParser.parseIfJSON(made.body)?["instance_id"]?.stringValue, "\(made.text)")
            #expect(try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": 9}", headers: headers).status == 200)
            ids.append(id)
        }
        return (ids[0], ids[1])
    }

    private static func reply(_ socket: RawWebSocket, after sent: String) async throws -> String {
        guard case .text(let text) = try await socket.nextMessage(timeout: .seconds(10), after: sent) else {
            throw RawWebSocket.Failure(description: "no text answer to \(sent)")
        }
        return text
    }

    @Test("step answers (full too) are the session's text exactly; render: true goes to the session")
    func sameAnswers() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let (fast, slow) = try await Self.twins(try KeepAliveConnection(port: port))
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            for n in 0..<12 {
                let before = server.state.gymieFastSteps.count
                // As Python writes it, as JavaScript writes it (both read without a JSON parse),
                // and in an order and layout only a JSON parse reads.
                let message = [
                    Self.step(fast, n % 2),
                    "{\"method\":\"step\",\"params\":{\"instance_id\":\"\(fast)\",\"action\":\(n % 2)}}",
                    "{\"params\": {\"action\": \(n % 2),\n \"instance_id\": \"\(fast)\"}, \"method\": \"step\"}",
                ][n % 3]
                let a = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(message.utf8)); return message }())
                #expect(server.state.gymieFastSteps.count == before + 1, "step \(n) answered on the event loop")
                let b = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(slow, n % 2, extra: ", \"render\": true").utf8)); return "step" }())
                #expect(server.state.gymieFastSteps.count == before + 1, "render: true (a frame to write) is the session's")
                #expect(a == b && a.hasPrefix("[["), "\(a) vs \(b)")
            }
            // full: REST's object (what gym_server_client asks for), answered here as the session writes it.
            let before = server.state.gymieFastSteps.count
            let full = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(fast, 0, extra: ", \"full\": true").utf8)); return "full" }())
            #expect(server.state.gymieFastSteps.count == before + 1, "full: true answered on the event loop")
            // REST's own answer of the twin, through the route (a key the step does not read).
            let rest = try await KeepAliveConnection(port: port).exchange("POST", "/v1/envs/\(slow)/step/", body: "{\"action\": 0, \"note\": \"route\"}")
            #expect(full.hasPrefix("{") && full.contains("\"terminated\"") && full + "\n" == rest.text, "\(full) vs \(rest.text)")
            // /metrics counts each path: 13 steps on the event loop, 12 by the session.
            let metrics = try MetricsText(try await KeepAliveConnection(port: port).exchange("GET", "/metrics").text)
            #expect(metrics.value("gym_step_requests_total", ["path": "gymie_fast", "operation": "step"]) == 13)
            #expect(metrics.value("gym_step_requests_total", ["path": "gymie_session", "operation": "step"]) == 12)
            // FrozenLake's answers are under 126 bytes (a frame's one-byte length; CartPole's take
            // the two-byte form).
            let connection = try KeepAliveConnection(port: port)
            let (lake, lakeTwin) = try await Self.twins(connection, "FrozenLake-v1")
            for n in 0..<8 {
                let before = server.state.gymieFastSteps.count
                let a = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(lake, n % 4).utf8)); return "lake" }())
                #expect(server.state.gymieFastSteps.count == before + 1, "lake step \(n) answered on the event loop")
                let b = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(lakeTwin, n % 4, extra: ", \"render\": null").utf8)); return "lake" }())
                #expect(a == b && a.utf8.count < 126 && a.hasPrefix("["), "\(a) vs \(b)")
                if JSONParser.parseIfJSON(Array(a.utf8))?.arrayValue?[2].boolValue == true {
                    for id in [lake, lakeTwin] { _ = try await connection.exchange("POST", "/v1/envs/\(id)/reset/", body: "{\"seed\": \(n)}") }
                }
            }
        }
    }

    @Test("resets with a seed or none (full too) are the session's text; options go to the session")
    func resets() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let (fast, slow) = try await Self.twins(try KeepAliveConnection(port: port))
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            let reset = { (id: String, extra: String) in "{\"method\": \"reset\", \"params\": {\"instance_id\": \"\(id)\"\(extra)}}" }
            for extra in ["", ", \"seed\": 4", ", \"seed\": null", ", \"seed\": 4"] {
                for action in [1, 0, 1] {
                    for id in [fast, slow] { _ = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(id, action).utf8)); return "step" }()) }
                }
                let before = server.state.gymieFastResets.count
                let a = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(reset(fast, extra).utf8)); return "reset" }())
                #expect(server.state.gymieFastResets.count == before + 1, "reset\(extra) answered on the event loop")
                // (options: {} is no option, but the session's to pass on.)
                let b = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(reset(slow, extra + ", \"options\": {}").utf8)); return "reset" }())
                #expect(server.state.gymieFastResets.count == before + 1)
                #expect(a == b && a.hasPrefix("[") && !a.contains("info"), "\(a) vs \(b)")
            }
            let fullResets = server.state.gymieFastResets.count
            let full = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(reset(fast, ", \"seed\": 2, \"full\": true").utf8)); return "full" }())
            #expect(server.state.gymieFastResets.count == fullResets + 1, "full: true answered on the event loop")
            let sessionFull = try await Self.reply(socket, after: { socket.send(opcode: 1, Array(reset(slow, ", \"seed\": 2, \"full\": true, \"options\": {}").utf8)); return "full" }())
            #expect(full.hasPrefix("{") && full.contains("\"info\"") && full == sessionFull, "\(full) vs \(sessionFull)")
            // A wrong seed: the session's words.
            socket.send(opcode: 1, Array(reset(fast, ", \"seed\": -3").utf8))
            let closed = try await socket.nextMessage(timeout: .seconds(10), after: "seed -3")
            guard case .close(let code, let reason) = closed else { Issue.record("\(closed)"); return }
            #expect(code == 1007 && reason.hasPrefix("Parameters `"), "\(String(describing: code)) \(reason)")
        }
    }

    @Test("pings are answered with their payload, also behind a message the session has not answered")
    func pings() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let (id, _) = try await Self.twins(try KeepAliveConnection(port: port))
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            let payloads: [[UInt8]] = [[], Array("floor".utf8), [UInt8](repeating: 0x61, count: 125)]
            for payload in payloads { socket.send(opcode: 9, payload) }
            // Behind a message for the session: the session answers that ping.
            socket.send(opcode: 1, Array("{\"method\": \"action_space\", \"params\": {\"instance_id\": \"\(id)\"}}".utf8))
            socket.send(opcode: 9, Array("behind".utf8))
            #expect(try await Self.reply(socket, after: "action_space").contains("Discrete"))
            var pongs: [[UInt8]] = []
            let deadline = ContinuousClock.now + .seconds(10)
            while pongs.count < 4, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
                pongs = socket.frames.filter { $0.opcode == 10 }.map(\.payload)
            }
            #expect(pongs == payloads + [Array("behind".utf8)], "\(pongs.map { String(decoding: $0, as: UTF8.self) })")
            #expect(try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(id, 1).utf8)); return "step" }()).hasPrefix("[["))
        }
    }

    @Test("messages sent without waiting are answered in their order, behind the session's answers")
    func pipelined() async throws {
        let server = FastPathServer()
        try await server.live { port in
            let (id, check) = try await Self.twins(try KeepAliveConnection(port: port))
            let socket = try RawWebSocket(port: port)
            defer { socket.close() }
            let space = "{\"method\": \"observation_space\", \"params\": {\"instance_id\": \"\(id)\"}}"
            let actions = "{\"method\": \"action_space\", \"params\": {\"instance_id\": \"\(id)\"}}"
            let messages = [space, Self.step(id, 1), Self.step(id, 0), actions, Self.step(id, 1), Self.step(id, 1), space, Self.step(id, 0)]
            for message in messages { socket.send(opcode: 1, Array(message.utf8)) }
            var replies: [String] = []
            for message in messages { replies.append(try await Self.reply(socket, after: message)) }
            let kinds = replies.map { $0.contains("\"Box\"") ? "box" : $0.contains("\"Discrete\"") ? "discrete" : $0.hasPrefix("[[") ? "step" : $0 }
            #expect(kinds == ["box", "step", "step", "discrete", "step", "step", "box", "step"], "\(replies)")
            // The same steps one at a time, on its twin.
            let expected = try await {
                var out: [String] = []
                for action in [1, 0, 1, 1, 0] {
                    out.append(try await Self.reply(socket, after: { socket.send(opcode: 1, Array(Self.step(check, action).utf8)); return "check" }()))
                }
                return out
            }()
            #expect(replies.filter { $0.hasPrefix("[[") } == expected)
        }
    }

    @Test("a wrong action, an unknown instance and another key's instance close the socket with the session's words")
    func errors() async throws {
        let ring = try twoKeys()
        let server = FastPathServer(keyring: ring)
        try await server.live { port in
            let (alice, _) = try await Self.twins(try KeepAliveConnection(port: port), headers: ["X-API-Key": "alice-key-0123"])
            let own = try RawWebSocket(port: port, path: "/gym?api_key=alice-key-0123")
            defer { own.close() }
            let before = server.state.gymieFastSteps.count
            #expect(try await Self.reply(own, after: { own.send(opcode: 1, Array(Self.step(alice, 1).utf8)); return "own" }()).hasPrefix("[["))
            #expect(server.state.gymieFastSteps.count == before + 1)
            own.send(opcode: 1, Array(Self.step(alice, 7).utf8))
            let wrong = try await own.nextMessage(timeout: .seconds(10), after: "action 7")
            guard case .close(let code, let reason) = wrong else { Issue.record("\(wrong)"); return }
            #expect(code == 1007 && reason == "Action `7` is wrong", "\(String(describing: code)) \(reason)")
            for (path, id) in [("/gym?api_key=bob-key-4567", alice), ("/gym?api_key=alice-key-0123", "nope")] {
                let socket = try RawWebSocket(port: port, path: path)
                defer { socket.close() }
                socket.send(opcode: 1, Array(Self.step(id, 1).utf8))
                let closed = try await socket.nextMessage(timeout: .seconds(10), after: "\(path) \(id)")
                guard case .close(let code, let reason) = closed else { Issue.record("\(closed)"); continue }
                #expect(code == 1007 && reason == "Instance `\(id)` not found", "\(String(describing: code)) \(reason)")
            }
            #expect(server.state.gymieFastSteps.count == before + 1)
        }
    }
}
