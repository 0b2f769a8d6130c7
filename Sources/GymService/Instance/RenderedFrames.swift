import Foundation
import GymCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The frames a client asked for with `render: true`, kept as flaviotruzzi's server kept them:
/// `<instance folder>/rendered/<n>.png`, n counting from 0, and `latest.png`, the newest numbered
/// frame linked in under a temporary name and renamed over the old one. Every file appears under
/// its final name complete, so a reader never sees half a frame.
///
/// Frames are numbered under the instance's lock and written afterwards on `BlockingWork`'s
/// threads, possibly several at once: each numbered file is independent, and `latest.png` only
/// ever moves forward (a frame finished after a newer one does not replace it).
final class RenderedFrames: Sendable {
    let directory: URL

    private struct Latest {
        var directoryExists = false
        /// The number of the frame `latest.png` shows (-1: none yet).
        var number = -1
    }

    /// Guards `latest.png`'s swap (a link and a rename) and the directory's creation; held by one
    /// frame writer of this instance at a time, never by a request handler.
    private let latest = Mutex(Latest())

    init(directory: URL) {
        self.directory = directory
    }

    /// Writes frame `number` (`"7.png"`) and makes it `latest.png` unless a newer frame is.
    /// Blocks on the disk: call it on `BlockingWork`'s threads.
    func write(png: [UInt8], number: Int) throws(GymError) {
        try latest.withLock { (state) throws(GymError) in
            guard !state.directoryExists else { return }
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw GymError("Could not create \(directory.lastPathComponent) for rendered frames: \(error.localizedDescription)")
            }
            state.directoryExists = true
        }
        let name = "\(number).png"
        let path = directory.appendingPathComponent(name).path
        let temporary = directory.appendingPathComponent(".\(name).tmp").path
        try Self.writeFile(temporary, png)
        try Self.rename(temporary, path)
        try latest.withLock { (state) throws(GymError) in
            guard number > state.number else { return }
            let latestTemporary = directory.appendingPathComponent(".latest.png.tmp").path
            unlink(latestTemporary)
            if link(path, latestTemporary) != 0 {
                // A file system without hard links: fall back to a copy (still atomic by rename).
                try Self.writeFile(latestTemporary, png)
            }
            try Self.rename(latestTemporary, directory.appendingPathComponent("latest.png").path)
            state.number = number
        }
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8]) throws(GymError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GymError("Could not write \(URL(fileURLWithPath: path).lastPathComponent): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw GymError("Could not write \(URL(fileURLWithPath: path).lastPathComponent): \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }

    private static func rename(_ from: String, _ to: String) throws(GymError) {
        guard Glibc.rename(from, to) == 0 else {
            throw GymError("Could not rename a frame into place: \(String(cString: strerror(errno)))")
        }
    }
}
