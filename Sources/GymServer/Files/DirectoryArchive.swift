import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import ZIPFoundation
import GymService

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A directory of the monitor root as a .zip download (`GET /<dir>.zip`).
///
/// The archive is built on NIO's thread pool into an anonymous temporary file (created, opened,
/// then unlinked at once, so nothing is left behind whatever happens to the request) and streamed
/// from it; memory stays small however many videos the directory holds. Only regular files and
/// directories whose resolved paths lie inside the root go in; links are followed when they stay
/// inside, directories already visited are skipped, so a link loop cannot recurse.
enum DirectoryArchive {
    struct Failure: Error {
        let message: String
    }

    /// Files that are compressed already: stored as they are.
    static let storedExtensions: Set<String> = ["png", "mp4", "webm", "zip", "gz", "jpg", "jpeg", "gif"]
    static let maximumDepth = 32

    /// Builds the archive of `directory` (resolved, inside the tree's root) with entries under
    /// `name/` and returns an open file holding it.
    static func build(tree: ConfinedTree, directory: String, name: String) async throws -> OpenTemporaryFile {
        try await BlockingWork.run {
            try buildBlocking(tree: tree, directory: directory, name: name)
        }
    }

    /// `build` on the calling thread (which it blocks).
    static func buildBlocking(tree: ConfinedTree, directory: String, name: String) throws -> OpenTemporaryFile {
        guard let rootPath = tree.resolvedRoot else { throw Failure(message: "the monitor root is gone") }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gym-server-\(UUID().uuidString).zip")
        defer { unlink(url.path) }
        let archive: Archive
        do {
            archive = try Archive(url: url, accessMode: .create)
        } catch {
            throw Failure(message: "cannot create an archive: \(error)")
        }
        var visited: Set<String> = [directory]
        func add(_ path: String, as entryName: String, depth: Int) throws {
            guard depth <= maximumDepth, let entries = tree.entries(ofResolvedDirectory: path) else { return }
            let sorted = entries.sorted { naturalOrder($0.name, $1.name) }
            if sorted.isEmpty {
                try archive.addEntry(
                    with: entryName + "/", type: .directory, uncompressedSize: Int64(0),
                    provider: { (_: Int64, _: Int) in Data() })
            }
            for entry in sorted {
                guard let resolved = ConfinedTree.realPath(path + "/" + entry.name),
                    ConfinedTree.isInside(resolved, root: rootPath),
                    let status = ConfinedTree.status(resolved)
                else { continue }
                let childName = entryName + "/" + entry.name
                switch status.kind {
                case .directory:
                    guard visited.insert(resolved).inserted else { continue }
                    try add(resolved, as: childName, depth: depth + 1)
                case .file:
                    let ext = entry.name.split(separator: ".").last.map { $0.lowercased() } ?? ""
                    do {
                        try archive.addEntry(
                            with: childName, fileURL: URL(fileURLWithPath: resolved),
                            compressionMethod: storedExtensions.contains(ext) ? .none : .deflate)
                    } catch {
                        // Vanished or unreadable between listing and reading (a frame being
                        // replaced): leave it out rather than fail the download.
                        continue
                    }
                case .other:
                    continue
                }
            }
        }
        try add(directory, as: name, depth: 0)
        let descriptor = open(url.path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(message: "cannot reopen the archive") }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            close(descriptor)
            throw Failure(message: "cannot read the archive's size")
        }
        return OpenTemporaryFile(descriptor: descriptor, size: Int(info.st_size))
    }
}

/// A file already unlinked, open for reading; closed when the last reference goes.
final class OpenTemporaryFile: Sendable {
    let descriptor: Int32
    let size: Int

    init(descriptor: Int32, size: Int) {
        self.descriptor = descriptor
        self.size = size
    }

    deinit { close(descriptor) }

    static let chunkSize = 256 * 1024

    /// The whole file as a response body, read in chunks on the thread pool.
    var responseBody: ResponseBody {
        ResponseBody(contentLength: size) { writer in
            var offset = 0
            while offset < self.size {
                let length = min(Self.chunkSize, self.size - offset)
                let start = offset
                let chunk = try await BlockingWork.run { () throws -> ByteBuffer in
                    var buffer = ByteBuffer()
                    let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
                        let n = pread(self.descriptor, bytes.baseAddress, length, off_t(start))
                        return max(n, 0)
                    }
                    guard read > 0 else { throw DirectoryArchive.Failure(message: "short read") }
                    return buffer
                }
                offset += chunk.readableBytes
                try await writer.write(chunk)
            }
            try await writer.finish(nil)
        }
    }
}
