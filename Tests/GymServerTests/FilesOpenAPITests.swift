import Foundation
import GymCore
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import GymService

/// docs/openapi-files.json against the files port: the router's routes (and the monitor root's
/// paths, which no route stands for) are the document's operations; `GET /_openapi.json` serves
/// the file; real answers of every operation have a documented status, content type and schema.
/// (Its references and examples are checked with the API port's document in `OpenAPITests`.)
@Suite("The files port's OpenAPI document")
struct FilesOpenAPITests {
    /// `METHOD /path` of every route of the files router and every operation of the monitor root,
    /// as the document writes them: Hummingbird matches and lists a path without its trailing
    /// slash (`/_files/` is `/_files`), so the document's are compared without it, but for the
    /// monitor root's `/{path}/`, which is no route.
    static func routerForm(_ operation: String) -> String {
        guard !FilesSite.monitorRootOperations.contains(operation), operation.hasSuffix("/"), !operation.hasSuffix(" /") else {
            return operation
        }
        return String(operation.dropLast())
    }

    @Test("the files router's routes are the operations of docs/openapi-files.json, method for method")
    func routesMatchDocument() throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let router = buildFilesRouter(site: fixture.site, manager: EnvironmentManager(monitorRoot: fixture.root), frames: FrameHub())
        var routed = Set(router.routes.map { "\($0.method.rawValue) \($0.path)" })
        #expect(routed.count >= 15, "\(routed.sorted())")
        routed.formUnion(FilesSite.monitorRootOperations)
        let documented = Set(OpenAPIDocumentOnDisk.operations(try OpenAPIDocumentOnDisk.files.load()).map(Self.routerForm))
        #expect(routed.subtracting(documented).sorted() == [], "routes of the files port missing from docs/openapi-files.json")
        #expect(documented.subtracting(routed).sorted() == [], "operations of docs/openapi-files.json that the files port does not have")
    }

    @Test("GET /_openapi.json serves docs/openapi-files.json byte for byte, without a key (the build embeds it)")
    func servesTheFile() async throws {
        let onDisk = try [UInt8](Data(contentsOf: OpenAPIDocumentOnDisk.files.url))
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        var keyring = APIKeyring()
        try keyring.add(name: "alice", key: "alice-key")
        let router = buildFilesRouter(site: fixture.site, manager: EnvironmentManager(monitorRoot: fixture.root), frames: FrameHub(), keyring: keyring)
        try await Application(router: router).test(.router) { client in
            let served = try await client.fetch("/_openapi.json")
            #expect(served.status == .ok)
            #expect(served.headers[.contentType] == "application/json")
            #expect(served.body == onDisk, "GET /_openapi.json differs from docs/openapi-files.json: rebuild")
            let tag = try #require(served.headers[.eTag])
            #expect(try await client.fetch("/_openapi.json", headers: ["If-None-Match": tag]).status == .notModified)
            // The keys are on: the document is open, the data is not.
            #expect(try await client.fetch("/_live/instances").status == .unauthorized)
        }
    }

    /// The answers of a files application, checked against the document and counted per operation.
    final class Checker: @unchecked Sendable {
        let check: AnswerCheck
        var covered: Set<String> = []

        init() throws {
            check = AnswerCheck(document: try OpenAPIDocumentOnDisk.files.load())
        }

        /// Fetches `uri` and checks the answer as one of `template`'s; returns it.
        @discardableResult
        func conforms(
            _ client: some TestClientProtocol, _ uri: String, _ template: String, method: HTTPRequest.Method = .get,
            headers: [String: String] = [:], status expected: HTTPResponse.Status? = nil, sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> FilesAnswer {
            let answer = try await client.fetch(uri, method: method, headers: headers)
            record(method.rawValue, template, status: Int(answer.status.code), contentType: answer.headers[.contentType], body: answer.body, sourceLocation: sourceLocation)
            if let expected {
                #expect(answer.status == expected, "\(method) \(uri): \(answer.text.prefix(300))", sourceLocation: sourceLocation)
            }
            return answer
        }

        func record(_ method: String, _ template: String, status: Int, contentType: String?, body: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
            covered.insert("\(method) \(template)")
            let problems = check.problems(method, template, status: status, contentType: contentType, body: body)
            #expect(problems == [], sourceLocation: sourceLocation)
        }
    }

    @Test("answers of every operation have a documented status, content type and schema")
    func answersMatchSchemas() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let checker = try Checker()
        var limits = ServerLimits()
        limits.maxStreamInstances = 2
        let manager = EnvironmentManager(monitorRoot: fixture.root, limits: limits)
        let frames = FrameHub()
        let instance = try manager.create(envID: "CartPole-v1", seed: 1)
        let router = buildFilesRouter(site: fixture.site, manager: manager, frames: frames)
        try await Application(router: router).test(.router) { client in
            let html = ["Accept": "text/html"]
            let json = ["Accept": "application/json"]
            for method in [HTTPRequest.Method.get, .head] {
                let index = try await checker.conforms(client, "/", "/", method: method, status: .ok)
                let tag = index.headers[.eTag] ?? ""
                try await checker.conforms(client, "/", "/", method: method, headers: ["If-None-Match": tag], status: .notModified)
                try await checker.conforms(client, "/?format=json&sort=size&order=desc", "/", method: method, status: .ok)
                try await checker.conforms(client, "/", "/", method: method, headers: json, status: .ok)
                try await checker.conforms(client, "/index.html", "/index.html", method: method, status: .ok)
                try await checker.conforms(client, "/index.html", "/index.html", method: method, headers: ["If-None-Match": tag], status: .notModified)
                try await checker.conforms(client, "/render.html?instance_id=\(instance.id)", "/render.html", method: method, status: .ok)
                try await checker.conforms(client, "/render.html", "/render.html", method: method, headers: ["If-None-Match": "*"], status: .notModified)
                for asset in ["app.css", "render.js", "favicon.svg", "index.html"] {
                    try await checker.conforms(client, "/_static/\(asset)", "/_static/{name}", method: method, status: .ok)
                }
                try await checker.conforms(client, "/_static/app.css", "/_static/{name}", method: method, headers: ["If-None-Match": "*"], status: .notModified)
                try await checker.conforms(client, "/_static/nothing.js", "/_static/{name}", method: method, status: .notFound)
                try await checker.conforms(client, "/config.json", "/config.json", method: method, status: .ok)
                try await checker.conforms(client, "/_files/", "/_files/", method: method, headers: html, status: .ok)
                try await checker.conforms(client, "/_files/?format=json&sort=modified", "/_files/", method: method, status: .ok)
                let document = try await checker.conforms(client, "/_openapi.json", "/_openapi.json", method: method, status: .ok)
                try await checker.conforms(
                    client, "/_openapi.json", "/_openapi.json", method: method, headers: ["If-None-Match": document.headers[.eTag] ?? ""],
                    status: .notModified)

                // The monitor root (see `FilesFixture`): files of each kind, ranges, conditions.
                let file = "/{path}"
                for path in [
                    "abcdef01/rendered/latest.png", "abcdef01/simulation/openaigym.video.0.42.video000000.mp4",
                    "abcdef01/simulation/openaigym.episode_batch.0.42.stats.json", "abcdef01/data.json", "abcdef01/page.html",
                    "abcdef01/app.js", "abcdef01/style.css", "abcdef01/data.zip", "abcdef01/hundred.bin", "inside-link",
                ] {
                    try await checker.conforms(client, "/\(path)", file, method: method, status: .ok)
                }
                let hundred = "/abcdef01/hundred.bin"
                let whole = try await checker.conforms(client, hundred, file, method: method)
                let etag = whole.headers[.eTag] ?? ""
                let modified = whole.headers[.lastModified] ?? ""
                try await checker.conforms(client, hundred, file, method: method, headers: ["Range": "bytes=10-19"], status: .partialContent)
                try await checker.conforms(client, hundred, file, method: method, headers: ["Range": "bytes=-5", "If-Range": etag], status: .partialContent)
                try await checker.conforms(client, hundred, file, method: method, headers: ["Range": "bytes=0-1", "If-Range": "\"other\""], status: .ok)
                try await checker.conforms(client, hundred, file, method: method, headers: ["Range": "bytes=100-"], status: .rangeNotSatisfiable)
                try await checker.conforms(client, hundred, file, method: method, headers: ["Range": "bytes=1-2,4-5"], status: .ok)
                try await checker.conforms(client, hundred, file, method: method, headers: ["If-None-Match": etag], status: .notModified)
                try await checker.conforms(client, hundred, file, method: method, headers: ["If-Modified-Since": modified], status: .notModified)
                try await checker.conforms(client, "/abcdef01", file, method: method, status: .movedPermanently)
                try await checker.conforms(client, "/abcdef01/rendered?sort=size", file, method: method, status: .movedPermanently)
                try await checker.conforms(client, "/abcdef01.zip", file, method: method, status: .ok)
                try await checker.conforms(client, "/abcdef01/simulation.zip", file, method: method, status: .ok)
                for missing in ["/nothing", "/escape-link", "/escape-dir/secret2.txt", "/abcdef01/%2E%2E/..%2Fsecret.txt", "/abcdef01/%zz", "/nothing.zip"] {
                    try await checker.conforms(client, missing, file, method: method, status: .notFound)
                }
                let listing = "/{path}/"
                try await checker.conforms(client, "/abcdef01/", listing, method: method, headers: html, status: .ok)
                try await checker.conforms(client, "/abcdef01/rendered/?format=json&sort=name&order=desc", listing, method: method, status: .ok)
                try await checker.conforms(client, "/abcdef01/simulation/", listing, method: method, headers: json, status: .ok)
                try await checker.conforms(client, "/abcdef01/data.json/", listing, method: method, status: .notFound)
                try await checker.conforms(client, "/nothing/", listing, method: method, status: .notFound)
            }

            // The live view's data (GET only).
            try await checker.conforms(client, "/_live/instances", "/_live/instances", status: .ok)
            try await checker.conforms(client, "/_recordings", "/_recordings", status: .ok)
            let frame = "/_live/{instance_id}/frame.png"
            try await checker.conforms(client, "/_live/\(instance.id)/frame.png", frame, status: .notFound)
            frames.publish(instance.id, frame: LiveFrame(png: [0x89, 0x50, 0x4E, 0x47], envID: "CartPole-v1", episode: 0, step: 1, episodeReward: 1))
            try await checker.conforms(client, "/_live/\(instance.id)/frame.png", frame, status: .ok)
            try await checker.conforms(client, "/_live/a%20b/frame.png", frame, status: .notFound)
            for wrong in ["", "?instance_id=", "?instance_id=a/b", "?instance_id=a,b,c", "?instance_id=a&max_fps=0", "?instance_id=a&max_fps=x"] {
                try await checker.conforms(client, "/_live/events\(wrong)", "/_live/events", status: .badRequest)
            }
        }

        // The limits: archives and live streams already at their maximum.
        var full = ServerLimits()
        full.maxLiveStreams = 0
        let busy = buildFilesRouter(
            site: fixture.site, manager: EnvironmentManager(monitorRoot: fixture.root, limits: full), frames: FrameHub(),
            archives: ConcurrencyLimit(0))
        try await Application(router: busy).test(.router) { client in
            try await checker.conforms(client, "/abcdef01.zip", "/{path}", status: .tooManyRequests)
            try await checker.conforms(client, "/_live/events?instance_id=abcdef01", "/_live/events", status: .tooManyRequests)
        }

        // API keys: a valid `?key=` sets the cookie (303), an invalid key or none is a 401.
        var keyring = APIKeyring()
        try keyring.add(name: "alice", key: "alice-key")
        let keyed = buildFilesRouter(site: fixture.site, manager: EnvironmentManager(monitorRoot: fixture.root), frames: FrameHub(), keyring: keyring)
        try await Application(router: keyed).test(.router) { client in
            let document = try OpenAPIDocumentOnDisk.files.load()
            for operation in OpenAPIDocumentOnDisk.operations(document).sorted() {
                let parts = operation.split(separator: " ", maxSplits: 1).map(String.init)
                let method = HTTPRequest.Method(rawValue: parts[0])!
                let path = parts[1].replacingOccurrences(of: "{path}", with: "abcdef01").replacingOccurrences(of: "{name}", with: "app.css")
                    .replacingOccurrences(of: "{instance_id}", with: "abcdef01")
                let separator = path.contains("?") ? "&" : "?"
                try await checker.conforms(client, path + separator + "key=alice-key", parts[1], method: method, status: .seeOther)
                try await checker.conforms(client, path + separator + "key=wrong", parts[1], method: method, status: .unauthorized)
            }
            try await checker.conforms(client, "/_files/", "/_files/", status: .unauthorized)
            try await checker.conforms(client, "/?format=json", "/", status: .unauthorized)
            try await checker.conforms(client, "/abcdef01/", "/{path}/", headers: ["Cookie": "gym_server_key=wrong"], status: .unauthorized)
            try await checker.conforms(client, "/alice/", "/{path}/", headers: ["X-API-Key": "alice-key"], status: .notFound)
        }

        // Every operation was tried.
        let operations = OpenAPIDocumentOnDisk.operations(try OpenAPIDocumentOnDisk.files.load())
        #expect(operations.subtracting(checker.covered).sorted() == [])
    }

    @Test("a live event stream answers as documented, its hello event matching LiveHello")
    func eventStreamMatches() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let checker = try Checker()
        let manager = EnvironmentManager(monitorRoot: fixture.root)
        let instance = try manager.create(envID: "CartPole-v1", seed: 1)
        try await fixture.application(manager: manager).test(.live) { client in
            let port = try #require(client.port)
            let stream = try RawHTTPConnection(port: port, rawPath: "/_live/events?instance_id=\(instance.id),ffffffff&max_fps=8")
            defer { stream.close() }
            let hello = try #require(await stream.nextEvent(named: "hello", after: 0))
            let head = try #require(stream.head)
            checker.record("GET", "/_live/events", status: head.status, contentType: head.headers["content-type"], body: [])
            let schema: JSON = ["$ref": "#/components/schemas/LiveHello"]
            #expect(checker.check.validator.errors(try JSONParser.parse(hello.data), schema) == [])
        }
    }
}
