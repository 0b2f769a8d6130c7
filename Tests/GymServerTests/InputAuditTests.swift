import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import GymService

/// Every conversion of client input to a number, size, duration or index, by class of input, on
/// both ports: out-of-range values are 4xx answers that say what was wrong, never a crash or a 5xx.
@Suite("No request can stop the server")
struct InputAuditTests {
    @Test("query numbers: max_fps of the live stream, from tiny to huge to not a number")
    func queryNumbers() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            for fps in ["1e-300", "0.001", "1e300", "1e309", "-0", "-1", "nan", "NaN", "inf", "-inf", "0x10p99", "", "1e", String(repeating: "9", count: 400)] {
                let answer = try await client.fetch("/_live/events?instance_id=abcdef01&max_fps=\(fps)")
                #expect(answer.status == .badRequest, "max_fps=\(fps): \(answer.status)")
                if !fps.isEmpty { #expect(answer.text.contains("max_fps"), "max_fps=\(fps): \(answer.text)") }
            }
            for sort in ["size", "modified", "bogus", String(repeating: "x", count: 5000)] {
                #expect(try await client.fetch("/abcdef01/?sort=\(sort)&order=desc").status == .ok)
            }
        }
    }

    @Test("JSON numbers: seeds, video_callable, max_episode_steps, kwargs and actions out of every range")
    func jsonNumbers() async throws {
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let id = try await api.create("CartPole-v1")
            for seed in ["-1", "18446744073709551616", "9223372036854775808", "1.5", "1e400", "-1e400", "\"7\"", "true", "[1]", "{}", "NaN", "Infinity"] {
                let answer = try await api.request(.post, "/v1/envs/\(id)/reset/", body: "{\"seed\": \(seed)}")
                expectErrorContaining(answer, ["seed"])
                let created = try await api.request(.post, "/v1/envs/", body: "{\"env_id\": \"CartPole-v1\", \"seed\": \(seed)}")
                expectErrorContaining(created, ["seed"])
            }
            #expect(try await api.post("/v1/envs/\(id)/reset/", ["seed": .int(Int.max)]).status == .ok)
            for steps in ["0", "-5", "1e30", "1.5", "\"10\"", "9223372036854775808"] {
                let answer = try await api.request(.post, "/v1/envs/", body: "{\"env_id\": \"CartPole-v1\", \"kwargs\": {\"max_episode_steps\": \(steps)}}")
                expectErrorContaining(answer, ["max_episode_steps"])
            }
            for video in ["0", "-1", "1e400", "2.5", "\"x\"", "[]"] {
                let other = try await api.create("CartPole-v1")
                let answer = try await api.request(.post, "/v1/envs/\(other)/monitor/start/", body: "{\"video_callable\": \(video)}")
                #expect(answer.status == .badRequest, "video_callable \(video): \(answer.json)")
            }
            _ = try await api.post("/v1/envs/\(id)/reset/")
            for action in ["1e300", "-9223372036854775808", "9223372036854775807", "123456789012345678901234567890", "NaN", "-Infinity", "2", "-1", "0.5"] {
                let answer = try await api.request(.post, "/v1/envs/\(id)/step/", body: "{\"action\": \(action)}")
                expectErrorContaining(answer, ["Action"])
            }
            let box = try await api.create("MountainCarContinuous-v0")
            _ = try await api.post("/v1/envs/\(box)/reset/")
            for action in ["[1e400]", "[-1e400]", "[NaN]", "[Infinity]", "[[0.5]]", "[0.1, 0.2]", "[]", "[\"0\"]"] {
                let answer = try await api.request(.post, "/v1/envs/\(box)/step/", body: "{\"action\": \(action)}")
                #expect(answer.status == .badRequest, "action \(action): \(answer.json)")
            }
            // Finite numbers past the bounds are the environment's to clip.
            for action in ["[1.0000001]", "[-3]", "[1e300]", "[-1.7976931348623157e308]"] {
                let answer = try await api.request(.post, "/v1/envs/\(box)/step/", body: "{\"action\": \(action)}")
                #expect(answer.status == .ok, "action \(action): \(answer.json)")
            }
            for kwargs in [#"{"g": 1e400}"#, #"{"g": NaN}"#, #"{"g": "9.8"}"#] {
                let answer = try await api.request(.post, "/v1/envs/", body: "{\"env_id\": \"Pendulum-v1\", \"kwargs\": \(kwargs)}")
                expectErrorContaining(answer, ["'g'"])
            }
            for options in [#"{"low": 1e400}"#, #"{"low": "x"}"#, #"{"x_init": NaN}"#] {
                let env = options.contains("x_init") ? "Pendulum-v1" : "CartPole-v1"
                let other = try await api.create(env)
                let answer = try await api.request(.post, "/v1/envs/\(other)/reset/", body: "{\"options\": \(options)}")
                #expect(answer.status == .badRequest, "\(env) options \(options): \(answer.json)")
            }
            // A huge map is refused before anything is allocated for it.
            let rows = (0..<2000).map { _ in "\"" + String(repeating: "F", count: 2000) + "\"" }.joined(separator: ",")
            let answer = try await api.request(.post, "/v1/envs/", body: "{\"env_id\": \"FrozenLake-v1\", \"kwargs\": {\"desc\": [\(rows)]}}")
            #expect(answer.status == .badRequest || answer.status == .contentTooLarge, "\(answer.status)")
        }
    }

    @Test("headers: Range, If-Range and If-Modified-Since with numbers and dates out of every range")
    func headers() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            let path = "/abcdef01/hundred.bin"
            let ranges: [(String, HTTPResponse.Status)] = [
                ("bytes=99999999999999999999-", .rangeNotSatisfiable), ("bytes=0-99999999999999999999", .partialContent),
                ("bytes=-99999999999999999999", .partialContent),
                ("bytes=9223372036854775807-", .rangeNotSatisfiable), ("bytes=-9223372036854775807", .partialContent),
                ("bytes=-0", .rangeNotSatisfiable), ("bytes=5-2", .ok), ("bytes=--1", .ok), ("bytes=0-0,1-1", .ok),
                ("bytes=" + String(repeating: "1", count: 10_000) + "-", .rangeNotSatisfiable), ("bits=0-1", .ok), ("bytes=0x10-", .ok),
            ]
            for (range, status) in ranges {
                let answer = try await client.fetch(path, headers: ["Range": range])
                #expect(answer.status == status, "Range: \(range.prefix(40)): \(answer.status)")
            }
            for date in [
                "Sun, 06 Nov 99999 08:49:37 GMT", "Sun, 06 Nov -1 08:49:37 GMT", "Sun, 99 Nov 1994 08:49:37 GMT",
                "Sun, 06 Nov 1994 99:99:99 GMT", "Sunday, 06-Nov-9223372036854775807 08:49:37 GMT", "Sun Nov  6 08:49:37 99999999999999999999",
                String(repeating: "x ", count: 5000), "",
            ] {
                let answer = try await client.fetch(path, headers: ["If-Modified-Since": date])
                #expect(answer.status == .ok, "If-Modified-Since: \(date.prefix(40)): \(answer.status)")
                let ranged = try await client.fetch(path, headers: ["Range": "bytes=0-9", "If-Range": date])
                #expect(ranged.status == .ok || ranged.status == .partialContent)
            }
        }
    }

    @Test("path segments: long, encoded and odd instance ids on both ports")
    func pathSegments() async throws {
        let harness = APIHarness()
        try await harness.run { api in
            for id in [String(repeating: "a", count: 20_000), "%00", "%2e%2e", "..", "%FF%FE", "a%2Fb", "%", "x%zz"] {
                let answer = try await api.post("/v1/envs/\(id)/step/", ["action": 0])
                #expect(answer.status == .badRequest || answer.status == .notFound, "\(id.prefix(20)): \(answer.status)")
                #expect((answer.message ?? "").count < 400, "an error never echoes a huge id")
            }
            let id = try await api.create("CartPole-v1")
            for x in ["1e400", "%5B1%2C2%5D", String(repeating: "9", count: 5000), "%", "NaN", "-", "%7B%7D"] {
                let answer = try await api.get("/v1/envs/\(id)/action_space/contains/\(x)")
                #expect(answer.status == .ok || answer.status == .badRequest, "contains/\(x.prefix(20)): \(answer.status)")
            }
        }
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            for path in ["/" + String(repeating: "a", count: 20_000), "/%00", "/%FF/x", "/_live/" + String(repeating: "b", count: 5000) + "/frame.png", "/%.zip"] {
                let status = try await client.fetch(path).status
                #expect(status == .notFound || status == .badRequest, "\(path.prefix(20)): \(status)")
            }
        }
    }

    @Test("bodies: deep nesting, huge numbers of keys, NUL bytes and a key header of 100 kB")
    func bodies() async throws {
        var ring = APIKeyring()
        try ring.add(name: "k", key: "the-key-123")
        let harness = APIHarness(keyring: ring)
        try await harness.run { api in
            let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
            let keyed = api.with(key: "the-key-123")
            let many = "{" + (0..<20_000).map { "\"k\($0)\": 1" }.joined(separator: ",") + "}"
            let huge = api.with(key: String(repeating: "k", count: 100_000))
            let statuses: [(String, HTTPResponse.Status, HTTPResponse.Status)] = [
                ("deep, no key", try await api.request(.post, "/v1/envs/", body: deep).status, .unauthorized),
                ("deep", try await keyed.request(.post, "/v1/envs/", body: deep).status, .badRequest),
                ("many keys", try await keyed.request(.post, "/v1/envs/", body: many).status, .badRequest),
                ("NUL", try await keyed.request(.post, "/v1/envs/", body: "{\"env_id\": \"Cart\u{0}Pole-v1\"}").status, .badRequest),
                ("100 kB key", try await huge.get("/v1/envs/").status, .unauthorized),
            ]
            for (name, status, expected) in statuses {
                #expect(status == expected, "\(name): \(status)")
            }
        }
    }
}
