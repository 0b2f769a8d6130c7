import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Port 8000: the monitor root")
struct FilesTests {
    @Test("directory listings: HTML with links in reading order, JSON on Accept or ?format=json")
    func listings() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            let html = try await client.fetch("/abcdef01/rendered/")
            #expect(html.status == .ok)
            #expect(html.header("Content-Type") == "text/html; charset=utf-8")
            let links = ["0.png", "1.png", "2.png", "10.png", "latest.png"].map { "href=\"/abcdef01/rendered/\($0)\"" }
            let positions = links.compactMap { html.text.range(of: $0)?.lowerBound }
            #expect(positions.count == links.count, "\(html.text)")
            #expect(positions == positions.sorted(), "natural order: 0, 1, 2, 10, latest")
            #expect(!html.text.contains(".1.png.tmp"), "hidden temporaries are not listed")
            #expect(html.text.contains("href=\"/abcdef01/\">../</a>"))

            for request in [("/abcdef01/", ["Accept": "application/json"]), ("/abcdef01/?format=json", [:])] {
                let answer = try await client.fetch(request.0, headers: request.1)
                #expect(answer.status == .ok)
                #expect(answer.header("Content-Type") == "application/json")
                let json = try JSONParser.parse(answer.text)
                #expect(json["path"]?.stringValue == "/abcdef01/")
                let entries = json["entries"]?.arrayValue ?? []
                let names = entries.compactMap { $0["name"]?.stringValue }
                // Directories first, then files, each in reading order; the link out is left out.
                #expect(names == ["rendered", "simulation", "app.js", "data.json", "data.zip", "hundred.bin", "page.html", "style.css"])
                let hundred = entries.first { $0["name"]?.stringValue == "hundred.bin" }
                #expect(hundred?["size"]?.intValue == 100)
                #expect(hundred?["type"]?.stringValue == "file")
                #expect(hundred?["url"]?.stringValue == "/abcdef01/hundred.bin")
                #expect(hundred?["modified"]?.stringValue?.hasSuffix("Z") == true)
                #expect(entries.first?["type"]?.stringValue == "directory")
                #expect(entries.first?["url"]?.stringValue == "/abcdef01/rendered/")
            }
            // A browser's Accept prefers HTML.
            let browser = try await client.fetch(
                "/abcdef01/", headers: ["Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"])
            #expect(browser.header("Content-Type") == "text/html; charset=utf-8")

            // Sorting by size, largest first.
            let bySize = try JSONParser.parse(try await client.fetch("/abcdef01/?format=json&sort=size&order=desc").text)
            let sizes = (bySize["entries"]?.arrayValue ?? []).filter { $0["type"]?.stringValue == "file" }.compactMap { $0["size"]?.intValue }
            #expect(sizes == sizes.sorted(by: >))

            // The root: links in, none out.
            let root = try JSONParser.parse(try await client.fetch("/_files/?format=json").text)
            let rootNames = (root["entries"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
            #expect(rootNames == ["abcdef01", "inside-link"])
            let rootHTML = try await client.fetch("/_files/")
            #expect(rootHTML.text.contains("href=\"/abcdef01/\""))
            let rootByAccept = try JSONParser.parse(try await client.fetch("/", headers: ["Accept": "application/json"]).text)
            #expect(rootByAccept == root, "/ with Accept: application/json lists the root")

            // A directory without its slash is redirected to it.
            let bare = try await client.fetch("/abcdef01/rendered?format=json")
            #expect(bare.status == .movedPermanently)
            #expect(bare.header("Location") == "/abcdef01/rendered/?format=json")
        }
    }

    @Test("files have their content types; HEAD has the length and no body")
    func contentTypes() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            let expected = [
                "/abcdef01/rendered/0.png": "image/png",
                "/abcdef01/simulation/openaigym.video.0.42.video000000.mp4": "video/mp4",
                "/abcdef01/data.json": "application/json",
                "/abcdef01/simulation/openaigym.episode_batch.0.42.stats.json": "application/json",
                "/abcdef01/data.zip": "application/zip",
                "/abcdef01/page.html": "text/html; charset=utf-8",
                "/abcdef01/app.js": "text/javascript; charset=utf-8",
                "/abcdef01/style.css": "text/css; charset=utf-8",
                "/abcdef01/hundred.bin": "application/octet-stream",
                "/inside-link": "text/html; charset=utf-8",
            ]
            for (path, type) in expected {
                let answer = try await client.fetch(path)
                #expect(answer.status == .ok, "\(path)")
                #expect(answer.header("Content-Type") == type, "\(path)")
                #expect(answer.header("X-Content-Type-Options") == "nosniff")
            }
            let png = try await client.fetch("/abcdef01/rendered/10.png")
            #expect(png.body == [0x89, 0x50, 0x4E, 0x47, 10])
            let head = try await client.fetch("/abcdef01/hundred.bin", method: .head)
            #expect(head.status == .ok)
            #expect(head.header("Content-Length") == "100")
            #expect(head.body.isEmpty)
            #expect(try await client.fetch("/abcdef01/missing.png").status == .notFound)
            #expect(try await client.fetch("/abcdef01/page.html/").status == .notFound, "a file is not a directory")
            #expect(try await client.fetch("/abcdef01/hundred.bin", method: .post).status == .methodNotAllowed)
            #expect(try await client.fetch("/abcdef01/rendered/.1.png.tmp").status == .ok, "hidden, not forbidden")
        }
    }

    @Test("byte ranges: 206 with Content-Range, suffixes, clamping, 416, If-Range")
    func ranges() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let all = FilesFixture.hundred
        try await fixture.application().test(.router) { client in
            let path = "/abcdef01/hundred.bin"
            let full = try await client.fetch(path)
            #expect(full.header("Accept-Ranges") == "bytes")
            let eTag = try #require(full.header("ETag"))
            let cases: [(String, String, ArraySlice<UInt8>)] = [
                ("bytes=0-9", "bytes 0-9/100", all[0...9]),
                ("bytes=90-", "bytes 90-99/100", all[90...99]),
                ("bytes=-5", "bytes 95-99/100", all[95...99]),
                ("bytes=95-200", "bytes 95-99/100", all[95...99]),
                ("bytes=-500", "bytes 0-99/100", all[0...99]),
                ("bytes=42-42", "bytes 42-42/100", all[42...42]),
            ]
            for (range, contentRange, bytes) in cases {
                let answer = try await client.fetch(path, headers: ["Range": range])
                #expect(answer.status == .partialContent, "\(range)")
                #expect(answer.header("Content-Range") == contentRange, "\(range)")
                #expect(answer.header("Content-Length") == String(bytes.count), "\(range)")
                #expect(answer.body == Array(bytes), "\(range)")
            }
            for range in ["bytes=100-", "bytes=100-200", "bytes=-0", "bytes=1000-1001"] {
                let answer = try await client.fetch(path, headers: ["Range": range])
                #expect(answer.status == .rangeNotSatisfiable, "\(range)")
                #expect(answer.header("Content-Range") == "bytes */100", "\(range)")
            }
            // Not a usable single range: the whole file.
            for range in ["bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-6", "bytes=--1"] {
                let answer = try await client.fetch(path, headers: ["Range": range])
                #expect(answer.status == .ok, "\(range)")
                #expect(answer.body == all, "\(range)")
            }
            let matching = try await client.fetch(path, headers: ["Range": "bytes=0-1", "If-Range": eTag])
            #expect(matching.status == .partialContent)
            let stale = try await client.fetch(path, headers: ["Range": "bytes=0-1", "If-Range": "\"other\""])
            #expect(stale.status == .ok)
            #expect(stale.body == all)
            let byDate = try await client.fetch(path, headers: ["Range": "bytes=0-1", "If-Range": try #require(full.header("Last-Modified"))])
            #expect(byDate.status == .partialContent)
        }
    }

    @Test("conditional requests: If-None-Match and If-Modified-Since give 304")
    func conditionalRequests() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            let path = "/abcdef01/rendered/0.png"
            let first = try await client.fetch(path)
            let eTag = try #require(first.header("ETag"))
            let lastModified = try #require(first.header("Last-Modified"))
            #expect(eTag.hasPrefix("\"") && eTag.hasSuffix("\""))
            #expect(lastModified.hasSuffix(" GMT"))
            for headers in [
                ["If-None-Match": eTag], ["If-None-Match": "W/" + eTag], ["If-None-Match": "\"x\", " + eTag], ["If-None-Match": "*"],
                ["If-Modified-Since": lastModified], ["If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"],
            ] {
                let answer = try await client.fetch(path, headers: headers)
                #expect(answer.status == .notModified, "\(headers)")
                #expect(answer.body.isEmpty)
                #expect(answer.header("ETag") == eTag)
            }
            for headers in [
                ["If-None-Match": "\"other\""], ["If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"],
                ["If-None-Match": "\"other\"", "If-Modified-Since": lastModified],  // If-None-Match decides
                ["If-Modified-Since": "not a date"],
            ] {
                let answer = try await client.fetch(path, headers: headers)
                #expect(answer.status == .ok, "\(headers)")
                #expect(answer.body.count == 5)
            }
            // A changed file gets a new tag.
            try await Task.sleep(for: .milliseconds(20))
            try Data([1, 2, 3]).write(to: fixture.root.appendingPathComponent("abcdef01/rendered/0.png"))
            let changed = try await client.fetch(path, headers: ["If-None-Match": eTag])
            #expect(changed.status == .ok)
            #expect(changed.header("ETag") != eTag)
        }
    }

    /// Every way of asking for something outside the root that we know of.
    static let traversals = [
        "/../secret.txt", "/../../secret.txt", "/..%2fsecret.txt", "/..%2Fsecret.txt", "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt", "/%2e%2e%2fsecret.txt", "/.%2e/secret.txt", "/%2e./secret.txt",
        "/%252e%252e/secret.txt", "/%252e%252e%252fsecret.txt", "/%25252e%25252e/secret.txt",
        "/abcdef01/../../secret.txt", "/abcdef01/%2e%2e/%2e%2e/secret.txt", "/abcdef01/..%2f..%2fsecret.txt",
        "/abcdef01/rendered/../../../secret.txt", "/%2fetc%2fpasswd", "/%2Fetc/passwd", "//etc/passwd", "/etc/passwd",
        "/..\\secret.txt", "/..%5csecret.txt", "/..%5Csecret.txt", "/%5c..%5csecret.txt",
        "/%00", "/abcdef01/page.html%00", "/abcdef01/page.html%00.png", "/..%00/secret.txt", "/%00/../secret.txt",
        "/escape-link", "/escape-dir/", "/escape-dir/secret2.txt", "/escape-dir/..%2fsecret.txt", "/abcdef01/sneaky/",
        "/abcdef01/sneaky/secret2.txt", "/escape-dir.zip", "/abcdef01/sneaky.zip", "/..zip", "/%2e%2e.zip",
        "/abcdef01/..%2f..%2foutside.zip", "/%2e%2e/outside.zip", "/..%2foutside.zip", "/%zz/secret.txt", "/%",
        "/..;/secret.txt", "/abcdef01/...", "/....//secret.txt",
    ]

    static let refusedByParser: Set<String> = []

    @Test("nothing outside the root is reachable: every traversal form is a 404 without a byte of it", arguments: [false, true])
    func traversal(overSocket: Bool) async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        let secret = fixture.secret
        let absolute = fixture.base.appendingPathComponent("secret.txt").path
        let paths = Self.traversals + ["/" + absolute, "/" + absolute.replacingOccurrences(of: "/", with: "%2f"), absolute]
        if overSocket {
            try await fixture.application().test(.live) { client in
                let port = try #require(client.port)
                for path in paths {
                    let (head, body) = try await RawHTTPConnection.fetch(port: port, rawPath: path)
                    let text = String(decoding: body, as: UTF8.self)
                    // 400 only where the HTTP parser itself refuses the request line.
                    #expect(head.status == 404 || (head.status == 400 && Self.refusedByParser.contains(path)), "\(path): \(head.status)")
                    #expect(!text.contains(secret), "\(path) leaked the secret")
                }
            }
        } else {
            try await fixture.application().test(.router) { client in
                for path in paths {
                    let answer = try await client.fetch(path)
                    #expect(answer.status == .notFound, "\(path): \(answer.status)")
                    #expect(!answer.text.contains(secret), "\(path) leaked the secret")
                }
                // Listings never show what the links out point at.
                for path in ["/_files/", "/abcdef01/", "/_files/?format=json", "/abcdef01/?format=json"] {
                    let answer = try await client.fetch(path)
                    #expect(!answer.text.contains("escape"), "\(path)")
                    #expect(!answer.text.contains("sneaky"), "\(path)")
                    #expect(!answer.text.contains("secret"), "\(path)")
                }
            }
        }
    }

    @Test("a directory as a .zip: its files under its name, nothing from outside")
    func zipDownload() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            let answer = try await client.fetch("/abcdef01.zip")
            #expect(answer.status == .ok)
            #expect(answer.header("Content-Type") == "application/zip")
            #expect(answer.header("Content-Disposition") == "attachment; filename=\"abcdef01.zip\"")
            #expect(answer.header("Content-Length") == String(answer.body.count))
            let entries = try #require(zipEntries(answer.body))
            let names = Set(entries.keys)
            for expected in [
                "abcdef01/rendered/0.png", "abcdef01/rendered/10.png", "abcdef01/rendered/latest.png",
                "abcdef01/simulation/openaigym.episode_batch.0.42.stats.json",
                "abcdef01/simulation/openaigym.video.0.42.video000000.mp4", "abcdef01/hundred.bin", "abcdef01/page.html",
            ] {
                #expect(names.contains(expected), "\(expected) missing from \(names.sorted())")
            }
            #expect(!names.contains { $0.contains("sneaky") || $0.contains("secret") || $0.contains(".tmp") }, "\(names.sorted())")
            #expect(entries["abcdef01/rendered/10.png"] == .some([0x89, 0x50, 0x4E, 0x47, 10]), "PNGs are stored as they are")
            #expect(!answer.text.contains(fixture.secret))

            let nested = try await client.fetch("/abcdef01/simulation.zip")
            #expect(Set(try #require(zipEntries(nested.body)).keys) == [
                "simulation/openaigym.episode_batch.0.42.stats.json", "simulation/openaigym.video.0.42.video000000.mp4",
            ])
            // A real file named .zip is served as itself.
            #expect(try await client.fetch("/abcdef01/data.zip").body == [0x50, 0x4B, 5, 6])
            #expect(try await client.fetch("/nothing.zip").status == .notFound)
            #expect(try await client.fetch("/abcdef01/page.html.zip").status == .notFound)
        }
    }

    @Test("the pages: dashboard, live view, scripts, config.json, with entity tags")
    func pages() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            let dashboard = try await client.fetch("/")
            #expect(dashboard.status == .ok)
            #expect(dashboard.header("Content-Type") == "text/html; charset=utf-8")
            #expect(dashboard.text.contains("/_static/dashboard.js"))
            #expect(try await client.fetch("/index.html").body == dashboard.body)
            let live = try await client.fetch("/render.html")
            #expect(live.text.contains("/_static/render.js"))
            for (name, type) in [
                ("app.css", "text/css; charset=utf-8"), ("common.js", "text/javascript; charset=utf-8"),
                ("dashboard.js", "text/javascript; charset=utf-8"), ("render.js", "text/javascript; charset=utf-8"),
                ("favicon.svg", "image/svg+xml"),
            ] {
                let asset = try await client.fetch("/_static/\(name)")
                #expect(asset.status == .ok, "\(name)")
                #expect(asset.header("Content-Type") == type)
                let eTag = try #require(asset.header("ETag"))
                #expect(try await client.fetch("/_static/\(name)", headers: ["If-None-Match": eTag]).status == .notModified)
            }
            for missing in ["/_static/nothing.js", "/_static/..%2fweb%2findex.html", "/_static/%2e%2e"] {
                #expect(try await client.fetch(missing).status == .notFound, "\(missing)")
            }
            let config = try JSONParser.parse(try await client.fetch("/config.json").text)
            #expect(config["api_port"]?.intValue == 5123)
            #expect(config["live_events"]?.stringValue == "/_live/events")
            // Nothing in the pages comes from another site.
            for name in WebAssetsOnDisk.names {
                let text = try await client.fetch(name.hasSuffix(".html") ? "/\(name == "index.html" ? "" : name)" : "/_static/\(name)").text
                #expect(!text.contains("http://") || name == "favicon.svg", "\(name) loads something remote")
                #expect(!text.contains("https://"), "\(name) loads something remote")
            }
        }
    }

    @Test("the API lets the pages (another origin) read it: CORS on port 5000")
    func apiCORS() async throws {
        let harness = APIHarness()
        try await harness.application.test(.router) { client in
            let origin = "http://127.0.0.1:8000"
            let preflight = try await client.fetch(
                "/v1/envs/", method: .options, headers: ["Origin": origin, "Access-Control-Request-Method": "GET"])
            #expect(preflight.status == .noContent || preflight.status == .ok)
            #expect(preflight.header("Access-Control-Allow-Origin") == "*")
            #expect(preflight.header("Access-Control-Allow-Methods")?.contains("GET") == true)
            let list = try await client.fetch("/v1/envs/", headers: ["Origin": origin])
            #expect(list.status == .ok)
            #expect(list.header("Access-Control-Allow-Origin") == "*")
            let error = try await client.fetch("/v1/envs/nothing/step/", method: .post, headers: ["Origin": origin])
            #expect(error.status == .badRequest)
            #expect(error.header("Access-Control-Allow-Origin") == "*", "errors are readable too")
        }
    }

    @Test("the pages built into the binary equal web/ (the build embeds them)")
    func embeddedPagesMatchWeb() async throws {
        let fixture = try FilesFixture()
        defer { fixture.remove() }
        try await fixture.application().test(.router) { client in
            #expect(!WebAssetsOnDisk.names.isEmpty)
            for name in WebAssetsOnDisk.names {
                let onDisk = try [UInt8](Data(contentsOf: WebAssetsOnDisk.directory.appendingPathComponent(name)))
                let served = try await client.fetch("/_static/\(name)")
                #expect(served.body == onDisk, "\(name) differs from web/\(name): rebuild")
            }
        }
    }
}

enum WebAssetsOnDisk {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("web")
    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }
}
