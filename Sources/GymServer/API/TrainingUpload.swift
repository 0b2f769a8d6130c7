import Foundation
import GymCore
import GymMonitor
import GymService

#if canImport(Glibc)
    import Glibc
#endif

/// `POST /v1/upload/`: the OpenAI upload service is long gone, so a training directory is
/// packaged as a .zip in the client's part of the monitor root (`uploads/<directory>.zip`,
/// replaced atomically on a new upload) for download from the files port.
enum TrainingUpload {
    /// Packages `directory` (resolved, inside `space`; `name` is the client's relative path) and
    /// returns the zip's path relative to `space`. All of it runs on `BlockingWork`'s threads.
    static func package(_ directory: URL, named name: String, space: URL) async throws -> String {
        try await BlockingWork.run { try packageBlocking(directory, named: name, space: space) }
    }

    private static func packageBlocking(_ directory: URL, named relative: String, space: URL) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue,
            let resolved = ConfinedTree.realPath(directory.path)
        else {
            throw GymError("Training directory '\(relative)' does not exist under the monitor root")
        }
        let tree = ConfinedTree(root: space.path)
        let name = relative.split(separator: "/").filter { !$0.isEmpty && $0 != "." }.joined(separator: "_")
        let base = name.isEmpty ? "training" : name
        let archive = try DirectoryArchive.buildBlocking(tree: tree, directory: resolved, name: base)
        let uploads = space.appendingPathComponent("uploads", isDirectory: true)
        try FileManager.default.createDirectory(at: uploads, withIntermediateDirectories: true)
        let fileName = base + ".zip"
        let temporary = uploads.appendingPathComponent(".\(fileName).\(UUID().uuidString).tmp").path
        try copy(archive, to: temporary)
        guard rename(temporary, uploads.appendingPathComponent(fileName).path) == 0 else {
            unlink(temporary)
            throw GymError("Could not store uploads/\(fileName): \(String(cString: strerror(errno)))")
        }
        return "uploads/" + fileName
    }

    private static func copy(_ file: OpenTemporaryFile, to path: String) throws {
        let out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard out >= 0 else { throw GymError("Could not write the archive: \(String(cString: strerror(errno)))") }
        defer { close(out) }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var offset = 0
        while offset < file.size {
            let n = buffer.withUnsafeMutableBytes { pread(file.descriptor, $0.baseAddress, $0.count, off_t(offset)) }
            guard n > 0 else {
                unlink(path)
                throw GymError("Could not read the archive being built")
            }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBytes { write(out, $0.baseAddress! + written, n - written) }
                guard w > 0 else {
                    unlink(path)
                    throw GymError("Could not write the archive: \(String(cString: strerror(errno)))")
                }
                written += w
            }
            offset += n
        }
    }
}
