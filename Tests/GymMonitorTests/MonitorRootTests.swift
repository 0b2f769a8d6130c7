import Foundation
import GymMonitor
import Testing

@Suite("Monitor root confinement")
struct MonitorRootTests {
    @Test("a relative path is created below the root and returned canonical")
    func createsBelowRoot() throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let root = try MonitorRoot(scratch.url.appendingPathComponent("monitor"))
        let directory = try root.resolve("a1b2c3d4/simulation/")
        #expect(directory.path == root.url.path + "/a1b2c3d4/simulation")
        var isDirectory: ObjCBool = false
        #expect(
            FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) && isDirectory.boolValue)
        #expect(try root.resolve("./a1b2c3d4/./simulation").path == directory.path)
        #expect(root.relativePath(of: directory) == "a1b2c3d4/simulation")
    }

    @Test(
        "paths that would leave the root, or are malformed, are refused",
        arguments: [
            ("/tmp/random-agent-results", MonitorPathError.absolute("/tmp/random-agent-results")),
            ("a/../../b", .parentReference("a/../../b")),
            ("..", .parentReference("..")),
            ("a/..", .parentReference("a/..")),
            ("a/b\u{0}c", .nulByte),
            ("", .empty),
            ("a//b", .emptyComponent("a//b")),
            (".", .namesRoot(".")),
            ("./", .namesRoot("./")),
            (String(repeating: "x", count: 256), .nameTooLong(String(repeating: "x", count: 256))),
        ])
    func refused(path: String, expected: MonitorPathError) throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let root = try MonitorRoot(scratch.url.appendingPathComponent("monitor"))
        #expect(throws: expected) { try root.resolve(path) }
        // nothing was created anywhere
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.url.path).isEmpty)
        #expect(!expected.message.isEmpty)
    }

    @Test("the messages tell the client what to send instead")
    func messages() {
        #expect(
            MonitorPathError.absolute("/tmp/random-agent-results").message
                == "The monitor directory '/tmp/random-agent-results' is absolute: give a path relative to the "
                + "monitor root, e.g. 'tmp/random-agent-results'.")
        #expect(MonitorPathError.parentReference("a/../../b").message.contains("'..'"))
    }

    @Test("a symbolic link leading outside the root is refused, and nothing is created outside")
    func symlinkOut() throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let outside = scratch.url.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let root = try MonitorRoot(scratch.url.appendingPathComponent("monitor"))
        try FileManager.default.createSymbolicLink(
            atPath: root.url.appendingPathComponent("escape").path, withDestinationPath: outside.path)
        try FileManager.default.createSymbolicLink(
            atPath: root.url.appendingPathComponent("dotdot").path, withDestinationPath: "..")
        #expect(throws: MonitorPathError.escapesRoot("escape")) { try root.resolve("escape/run") }
        #expect(throws: MonitorPathError.escapesRoot("escape")) { try root.resolve("escape") }
        #expect(throws: MonitorPathError.escapesRoot("dotdot")) { try root.resolve("dotdot/monitor/x") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
    }

    @Test("a dangling symbolic link is refused rather than created through")
    func danglingSymlink() throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let root = try MonitorRoot(scratch.url.appendingPathComponent("monitor"))
        let target = scratch.url.appendingPathComponent("not-yet").path
        try FileManager.default.createSymbolicLink(
            atPath: root.url.appendingPathComponent("dangling").path, withDestinationPath: target)
        #expect(throws: MonitorPathError.escapesRoot("dangling")) { try root.resolve("dangling/x") }
        #expect(!FileManager.default.fileExists(atPath: target))
    }

    @Test("a symbolic link that stays inside the root is followed")
    func symlinkInside() throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let root = try MonitorRoot(scratch.url.appendingPathComponent("monitor"))
        let real = try root.resolve("real")
        try FileManager.default.createSymbolicLink(
            atPath: root.url.appendingPathComponent("alias").path, withDestinationPath: "real")
        #expect(try root.resolve("alias/run").path == real.path + "/run")
    }

    @Test("a file in the way is reported, and create: false does not create")
    func fileInTheWay() throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let root = try MonitorRoot(scratch.url.appendingPathComponent("monitor"))
        try "x".write(toFile: root.url.appendingPathComponent("file").path, atomically: false, encoding: .utf8)
        #expect(throws: MonitorPathError.notADirectory("file")) { try root.resolve("file/run") }
        #expect(throws: MonitorPathError.notFound("missing")) { try root.resolve("missing/run", create: false) }
    }

    @Test("a root reached through a symbolic link is canonicalised")
    func rootThroughSymlink() throws {
        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let real = scratch.url.appendingPathComponent("real-root")
        try FileManager.default.createDirectory(at: real, withIntermediateDirectories: true)
        let link = scratch.url.appendingPathComponent("link-root")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: real.path)
        let root = try MonitorRoot(link)
        #expect(!root.url.path.contains("link-root"))
        #expect(try root.resolve("x").path.hasSuffix("/real-root/x"))
    }
}
