import Foundation
import GymCore

#if canImport(Glibc)
    import Glibc
#endif

/// The frames a client asked for with `render: true`, kept as flaviotruzzi's server kept them:
/// `<monitor root>/<instance_id>/rendered/<n>.png`, n counting from 0, and `latest.png`, the
/// newest numbered frame linked in under a temporary name and renamed over the old one. Every
/// file appears under its final name complete, so a reader never sees half a frame.
struct RenderedFrames: Sendable {
    let directory: URL
    private(set) var count = 0
    private var directoryExists = false

    init(directory: URL) {
        self.directory = directory
    }

    /// Writes the next frame and returns its file name (`"7.png"`).
    mutating func write(png: [UInt8]) throws(GymError) -> String {
        if !directoryExists {
            do {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw GymError("Could not create \(directory.path) for rendered frames: \(error.localizedDescription)")
            }
            directoryExists = true
        }
        let name = "\(count).png"
        let path = directory.appendingPathComponent(name).path
        let temporary = directory.appendingPathComponent(".\(name).tmp").path
        try Self.writeFile(temporary, png)
        try Self.rename(temporary, path)
        let latestTemporary = directory.appendingPathComponent(".latest.png.tmp").path
        unlink(latestTemporary)
        if link(path, latestTemporary) != 0 {
            // A file system without hard links: fall back to a copy (still atomic by rename).
            try Self.writeFile(latestTemporary, png)
        }
        try Self.rename(latestTemporary, directory.appendingPathComponent("latest.png").path)
        count += 1
        return name
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8]) throws(GymError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw GymError("Could not write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                Glibc.write(fd, buffer.baseAddress! + written, buffer.count - written)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw GymError("Could not write \(path): \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }

    private static func rename(_ from: String, _ to: String) throws(GymError) {
        guard Glibc.rename(from, to) == 0 else {
            throw GymError("Could not rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }
}
