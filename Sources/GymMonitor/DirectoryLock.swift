import CGymSystem
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The lock a monitor holds on its directory while it records (`.openaigym.lock` in it), so that
/// every process sharing a monitor root (a fleet's replicas) keeps one rule: a monitor that
/// starts afresh (with or without `force`) needs the directory to itself for the moment it
/// checks or clears the old files, and is refused with `MonitorError.directoryInUse` while any
/// other monitor records there; once started it shares the directory with monitors that
/// `resume` into it, as old gym's monitors did (their files differ by monitor id and uid). The
/// lock is the
/// kernel's (an open-file-description lock, `gym_lock_file`), so a process that dies, even by
/// `kill -9`, lets it go. The file names its holder, for the refusal's message; it stays behind,
/// hidden (a dot file), and means nothing when nobody holds its lock.
public final class DirectoryLock: Sendable {
    public static let fileName = ".openaigym.lock"

    private let descriptor: Atomic<Int32>

    private init(descriptor: Int32) {
        self.descriptor = Atomic(descriptor)
    }

    /// Takes the lock of `directory` for `holder` ("instance 01ab23cd, replica 1"), or says who
    /// has it.
    static func acquire(in directory: URL, exclusive: Bool, holder: String, shownAs shown: String) throws(MonitorError) -> DirectoryLock {
        let path = directory.appendingPathComponent(fileName).path
        let fd = gym_lock_file(path, exclusive ? 0 : 1)
        if fd == -2 {
            throw .directoryInUse(directory: shown, holder: currentHolder(path))
        }
        guard fd >= 0 else {
            throw .directoryUnusable(directory: shown, reason: "its lock file cannot be taken (\(String(cString: strerror(errno))))")
        }
        let text = Array((holder + "\n").utf8)
        if ftruncate(fd, 0) == 0 {
            _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        }
        return DirectoryLock(descriptor: fd)
    }

    /// Shares the directory from now on with monitors that resume into it.
    func share() {
        let fd = descriptor.load(ordering: .acquiring)
        if fd >= 0 { _ = gym_lock_share(fd) }
    }

    /// Lets the lock go (once; later calls do nothing).
    func release() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        if fd >= 0 { close(fd) }
    }

    deinit { release() }

    /// What the lock file says of its holder (its first line, printable ASCII, at most 200
    /// characters), or nil when it says nothing readable.
    private static func currentHolder(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: 512), let text = String(data: data, encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        let clean = String(line.unicodeScalars.filter { $0.isASCII && $0.value >= 32 && $0.value < 127 }.prefix(200).map(Character.init))
        return clean.isEmpty ? nil : clean
    }
}
