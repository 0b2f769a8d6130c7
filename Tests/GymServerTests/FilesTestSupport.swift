import Foundation
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing
import GymService

/// A monitor root in a fresh temporary folder, with a secret file and a folder next to it (which
/// nothing may ever serve) and symbolic links pointing in and out:
///
/// ```
/// <base>/secret.txt                    outside: must never be served
/// <base>/outside/secret2.txt           outside
/// <base>/monitor/                      the root
///     abcdef01/rendered/{0,1,2,10}.png, latest.png, .1.png.tmp (hidden)
///     abcdef01/simulation/openaigym.episode_batch.0.42.stats.json, ...video000000.mp4
///     abcdef01/{page.html, app.js, style.css, data.zip, data.json, hundred.bin}
///     inside-link -> abcdef01/page.html    allowed
///     escape-link -> ../secret.txt         refused
///     escape-dir  -> ../outside            refused
///     abcdef01/sneaky -> ../../outside     refused
/// ```
struct FilesFixture {
    let base: URL
    let root: URL
    let secret: String
    static let hundred: [UInt8] = (0..<100).map { UInt8($0) }

    init() throws {
        base = FileManager.default.temporaryDirectory.appendingPathComponent("gym-files-\(UUID().uuidString)")
        root = base.appendingPathComponent("monitor")
        secret = "TOP-SECRET-\(UUID().uuidString)"
        let fm = FileManager.default
        let instance = root.appendingPathComponent("abcdef01")
        for folder in [instance.appendingPathComponent("rendered"), instance.appendingPathComponent("simulation"), base.appendingPathComponent("outside")] {
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        try Data(secret.utf8).write(to: base.appendingPathComponent("secret.txt"))
        try Data((secret + "-2").utf8).write(to: base.appendingPathComponent("outside/secret2.txt"))
        for n in [0, 1, 2, 10] {
            try Data([0x89, 0x50, 0x4E, 0x47, UInt8(n)]).write(to: instance.appendingPathComponent("rendered/\(n).png"))
        }
        try Data([0x89, 0x50, 0x4E, 0x47, 10]).write(to: instance.appendingPathComponent("rendered/latest.png"))
        try Data("partial".utf8).write(to: instance.appendingPathComponent("rendered/.1.png.tmp"))
        let stats = #"{"initial_reset_timestamp": 1.0, "timestamps": [2.0, 3.0], "episode_lengths": [10, 20], "episode_rewards": [10.0, 20.0], "episode_types": ["t", "t"]}"#
        try Data(stats.utf8).write(to: instance.appendingPathComponent("simulation/openaigym.episode_batch.0.42.stats.json"))
        try Data(repeating: 7, count: 2048).write(to: instance.appendingPathComponent("simulation/openaigym.video.0.42.video000000.mp4"))
        try Data("<!doctype html><p>hi</p>".utf8).write(to: instance.appendingPathComponent("page.html"))
        try Data("console.log(1)".utf8).write(to: instance.appendingPathComponent("app.js"))
        try Data("p{}".utf8).write(to: instance.appendingPathComponent("style.css"))
        try Data([0x50, 0x4B, 5, 6]).write(to: instance.appendingPathComponent("data.zip"))
        try Data(#"{"a": 1}"#.utf8).write(to: instance.appendingPathComponent("data.json"))
        try Data(Self.hundred).write(to: instance.appendingPathComponent("hundred.bin"))
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("inside-link").path, withDestinationPath: "abcdef01/page.html")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("escape-link").path, withDestinationPath: "../secret.txt")
        try fm.createSymbolicLink(atPath: root.appendingPathComponent("escape-dir").path, withDestinationPath: "../outside")
        try fm.createSymbolicLink(atPath: instance.appendingPathComponent("sneaky").path, withDestinationPath: "../../outside")
    }

    func remove() { try? FileManager.default.removeItem(at: base) }

    var site: FilesSite { FilesSite(monitorRoot: root, apiPort: 5123, apiHost: "127.0.0.1") }

    func application(manager: EnvironmentManager? = nil, frames: FrameHub = FrameHub()) -> some ApplicationProtocol {
        Application(router: buildFilesRouter(site: site, manager: manager ?? EnvironmentManager(monitorRoot: root), frames: frames))
    }
}

struct FilesAnswer {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { HTTPField.Name(name).flatMap { headers[$0] } }
}

extension TestClientProtocol {
    func fetch(_ uri: String, method: HTTPRequest.Method = .get, headers: [String: String] = [:]) async throws -> FilesAnswer {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let field = HTTPField.Name(name) { fields[field] = value }
        }
        let response = try await execute(uri: uri, method: method, headers: fields)
        return FilesAnswer(status: response.status, headers: response.headers, body: Array(response.body.readableBytesView))
    }
}

/// The names and contents of a zip archive's entries, read from its central directory (stored
/// entries only have their bytes returned; deflated ones map to nil).
func zipEntries(_ bytes: [UInt8]) -> [String: [UInt8]?]? {
    func u16(_ i: Int) -> Int { Int(bytes[i]) | Int(bytes[i + 1]) << 8 }
    func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
    guard bytes.count >= 22 else { return nil }
    guard let eocd = stride(from: bytes.count - 22, through: 0, by: -1).first(where: { u32($0) == 0x0605_4B50 }) else { return nil }
    let count = u16(eocd + 10)
    var offset = u32(eocd + 16)
    var entries: [String: [UInt8]?] = [:]
    for _ in 0..<count {
        guard offset + 46 <= bytes.count, u32(offset) == 0x0201_4B50 else { return nil }
        let method = u16(offset + 10)
        let compressedSize = u32(offset + 20)
        let nameLength = u16(offset + 28)
        let extraLength = u16(offset + 30)
        let commentLength = u16(offset + 32)
        let localHeader = u32(offset + 42)
        let name = String(decoding: bytes[(offset + 46)..<(offset + 46 + nameLength)], as: UTF8.self)
        var content: [UInt8]?
        if method == 0 {
            let localNameLength = u16(localHeader + 26)
            let localExtraLength = u16(localHeader + 28)
            let start = localHeader + 30 + localNameLength + localExtraLength
            content = Array(bytes[start..<(start + compressedSize)])
        }
        entries[name] = content
        offset += 46 + nameLength + extraLength + commentLength
    }
    return entries
}
