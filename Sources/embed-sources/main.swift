// embed-sources: turns the project's documents into Swift source at build time, for the
// EmbedSources build-tool plugin (Plugins/EmbedSources). Each document has one source in the
// repository (web/, docs/openapi*.json, bridge/gym_server_worker.py); what this writes lives in
// the build folder only, so a change shows once in a diff and the binary stays one file.
//
//   embed-sources web OUT.swift FILE...                               web/'s pages: WebAssets
//   embed-sources openapi OUT.swift TYPE DESCRIBES NAME DOCUMENT.json  an OpenAPI document as TYPE
//   embed-sources worker OUT.swift WORKER.py                           the bridge's Python worker
import Foundation

/// Stops the build with a message that names the file.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("embed-sources: \(message)\n".utf8))
    exit(1)
}

/// A file's bytes, checked: UTF-8, LF line endings (a CR would be lost in a Swift literal), and
/// (for the worker, which becomes an argument) no NUL.
func read(_ path: String, allowNUL: Bool = true) -> (text: String, bytes: [UInt8]) {
    guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
    let bytes = [UInt8](data)
    if bytes.contains(0x0D) { fail("\(path): use LF line endings (a CR would be lost in a Swift literal)") }
    if !allowNUL && bytes.contains(0) { fail("\(path): no NUL byte (it becomes an argument)") }
    guard let text = String(validating: bytes, as: UTF8.self) else { fail("\(path) is not UTF-8") }
    return (text, bytes)
}

/// A multi-line raw string literal whose value is exactly `text`: enough `#`s that nothing in
/// the text ends it or escapes, and the closing delimiter in column 0 so no indentation is
/// stripped.
func literal(_ text: String) -> String {
    var hashes = 1
    while text.contains("\"\"\"" + String(repeating: "#", count: hashes)) || text.contains("\\" + String(repeating: "#", count: hashes)) {
        hashes += 1
    }
    let h = String(repeating: "#", count: hashes)
    return "\(h)\"\"\"\n\(text)\n\"\"\"\(h)"
}

/// The first 20 hexadecimal digits of the SHA-256 of `bytes`: the documents' entity tags.
func digest(_ bytes: [UInt8]) -> String {
    SHA256.hash(bytes).prefix(10).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

/// FIPS 180-4's SHA-256, for the entity tags (Foundation on Linux has none).
enum SHA256 {
    static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    static func hash(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]
        var padded = message + [0x80]
        while padded.count % 64 != 56 { padded.append(0) }
        let bits = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { padded.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var w = [UInt32](repeating: 0, count: 64)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for i in 0..<16 {
                w[i] = (0..<4).reduce(UInt32(0)) { ($0 << 8) | UInt32(padded[chunk + 4 * i + $1]) }
            }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, hh) = (h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7])
            for i in 0..<64 {
                let t1 = hh &+ (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) &+ ((e & f) ^ (~e & g)) &+ k[i] &+ w[i]
                let t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) &+ ((a & b) ^ (a & c) ^ (b & c))
                (hh, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
            }
            for (i, v) in [a, b, c, d, e, f, g, hh].enumerated() { h[i] = h[i] &+ v }
        }
        return h.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> (24 - 8 * UInt32($0))) } }
    }
}

func webAssets(_ files: [String]) -> String {
    var entries = ""
    for path in files.sorted(by: { ($0 as NSString).lastPathComponent < ($1 as NSString).lastPathComponent }) {
        let name = (path as NSString).lastPathComponent
        let (text, bytes) = read(path)
        entries += "        \"\(name)\": WebAsset(\n            name: \"\(name)\", digest: \"\(digest(bytes))\",\n"
        entries += "            text: \(literal(text))),\n"
    }
    return """
        // Built from web/ by the EmbedSources plugin: edit web/.
        // swift-format-ignore-file

        /// A page, script or style sheet of web/, built into the binary.
        struct WebAsset: Sendable {
            let name: String
            /// The start of the SHA-256 of the file: its entity tag.
            let digest: String
            let text: String
        }

        enum WebAssets {
            static let all: [String: WebAsset] = [

        """ + entries + "    ]\n}\n"
}

func openAPI(type: String, describes: String, name: String, path: String) -> String {
    let (text, bytes) = read(path)
    return """
        // Built from \(name) by the EmbedSources plugin: edit \(name).
        // swift-format-ignore-file

        /// \(name), the OpenAPI 3.1 description of \(describes), built into the binary.
        enum \(type) {
            /// The start of the SHA-256 of the file: its entity tag.
            static let digest = "\(digest(bytes))"
            static let text = 
        """ + literal(text) + "\n}\n"
}

func worker(_ path: String) -> String {
    let (text, bytes) = read(path, allowNUL: false)
    return """
        // Built from bridge/gym_server_worker.py by the EmbedSources plugin: edit the worker.
        // swift-format-ignore-file

        /// bridge/gym_server_worker.py, the Python worker of bridged environments, built into the binary
        /// and run as `python -u -c <text>` (PROTOCOL.md §1).
        public enum WorkerScript {
            /// The start of the SHA-256 of the file.
            public static let digest = "\(digest(bytes))"
            public static let text = 
        """ + literal(text) + "\n}\n"
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else { fail("usage: embed-sources web|openapi|worker OUT.swift ...") }
let output = arguments[1]
let source: String
switch arguments[0] {
case "web":
    source = webAssets(Array(arguments.dropFirst(2)))
case "openapi" where arguments.count == 6:
    source = openAPI(type: arguments[2], describes: arguments[3], name: arguments[4], path: arguments[5])
case "worker" where arguments.count == 3:
    source = worker(arguments[2])
default:
    fail("usage: embed-sources web|openapi|worker OUT.swift ...")
}
// Written only when it changed, so that what depends on it is not rebuilt for nothing.
if FileManager.default.contents(atPath: output) != Data(source.utf8) {
    do {
        try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
    } catch {
        fail("cannot write \(output): \(error)")
    }
}
