import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The names old gym 0.21's Monitor gave its files:
///
/// ```
/// openaigym.manifest.<monitor_id>.<uid>.manifest.json
/// openaigym.episode_batch.<monitor_id>.<uid>.stats.json
/// openaigym.video.<monitor_id>.<uid>.video000000.mp4   (+ .meta.json)
/// ```
public struct MonitorFileNames: Sendable, Hashable {
    /// Every monitor file starts with this (`FILE_PREFIX + "."`); `force` deletes them.
    public static let filePrefix = "openaigym."
    /// Manifests start with this (`MANIFEST_PREFIX + "."`); their presence makes a directory "used".
    public static let manifestPrefix = "openaigym.manifest."
    /// Files being written are hidden under this prefix, then renamed to their final name.
    static let temporaryPrefix = ".openaigym."
    static let temporarySuffix = ".tmp"

    public let monitorID: Int
    public let uid: String

    public init(monitorID: Int, uid: String) {
        self.monitorID = monitorID
        self.uid = uid
    }

    /// `file_infix`: `"<monitor_id>.<uid>"`.
    public var infix: String { "\(monitorID).\(uid)" }
    public var manifest: String { "openaigym.manifest.\(infix).manifest.json" }
    public var stats: String { "openaigym.episode_batch.\(infix).stats.json" }

    /// `"openaigym.video.<infix>.video{:06}"`, the video and metadata names without extension.
    public func videoBase(episodeID: Int) -> String {
        let number = String(episodeID)
        let padded = String(repeating: "0", count: max(0, 6 - number.count)) + number
        return "openaigym.video.\(infix).video\(padded)"
    }

    public func video(episodeID: Int) -> String { videoBase(episodeID: episodeID) + ".mp4" }
    public func videoMetadata(episodeID: Int) -> String { videoBase(episodeID: episodeID) + ".meta.json" }

    /// Where `name` is written before it is renamed into place.
    static func temporary(for name: String) -> String {
        "." + name + temporarySuffix
    }

    /// The process id, old gym's default `uid`.
    public static var processUID: String { String(getpid()) }

    /// The default `uid` of replica `replica` of a fleet sharing one monitor root:
    /// `r<replica>-<pid>-<start>`, `<start>` the process's start in milliseconds (base 36), so
    /// that neither two replicas (each pid 1 in its container) nor one replica restarted into a
    /// resumed directory ever write the same name.
    public static func replicaUID(_ replica: Int) -> String {
        "r\(replica)-\(getpid())-\(String(processStartMilliseconds, radix: 36))"
    }

    private static let processStartMilliseconds = UInt64(Date().timeIntervalSince1970 * 1000)
}

/// File operations on a monitor directory, as old gym did them.
enum MonitorDirectory {
    /// `detect_training_manifests`: names of `openaigym.manifest.*` files, sorted.
    static func trainingManifests(in directory: URL, shownAs shown: String) throws(MonitorError) -> [String] {
        try names(in: directory, shownAs: shown).filter { $0.hasPrefix(MonitorFileNames.manifestPrefix) }.sorted()
    }

    /// `clear_monitor_files`: deletes every `openaigym.*` file, and leftovers of our own
    /// interrupted writes (`.openaigym.*.tmp`).
    static func clearMonitorFiles(in directory: URL, shownAs shown: String) throws(MonitorError) {
        for name in try names(in: directory, shownAs: shown) {
            let isMonitorFile = name.hasPrefix(MonitorFileNames.filePrefix)
            let isLeftover =
                name.hasPrefix(MonitorFileNames.temporaryPrefix) && name.hasSuffix(MonitorFileNames.temporarySuffix)
            guard isMonitorFile || isLeftover else { continue }
            let path = directory.appendingPathComponent(name).path
            var info = stat()
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) != S_IFDIR else { continue }
            if unlink(path) != 0 && errno != ENOENT {
                throw .fileSystem(operation: "delete", file: name, reason: errnoText())
            }
        }
    }

    static func names(in directory: URL, shownAs shown: String) throws(MonitorError) -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw .directoryUnusable(directory: shown, reason: error.localizedDescription)
        }
    }

    /// Writes `text` to `name` in `directory` through a hidden temporary file and a rename, so
    /// readers only ever see complete files (old gym's `atomic_write`).
    static func writeAtomically(_ text: String, named name: String, in directory: URL) throws(MonitorError) {
        let finalPath = directory.appendingPathComponent(name).path
        let temporaryPath = directory.appendingPathComponent(MonitorFileNames.temporary(for: name)).path
        let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .fileSystem(operation: "create", file: name, reason: errnoText())
        }
        var bytes = Array(text.utf8)
        let written = bytes.withUnsafeMutableBytes { buffer -> Int in
            var offset = 0
            while offset < buffer.count {
                let result = write(descriptor, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
                if result < 0 {
                    if errno == EINTR { continue }
                    return -1
                }
                offset += result
            }
            return offset
        }
        let writeError = written < 0 ? errnoText() : nil
        let closeFailed = close(descriptor) != 0
        if let writeError {
            unlink(temporaryPath)
            throw .fileSystem(operation: "write", file: name, reason: writeError)
        }
        if closeFailed {
            let reason = errnoText()
            unlink(temporaryPath)
            throw .fileSystem(operation: "write", file: name, reason: reason)
        }
        try rename(temporaryPath, to: finalPath, name: name)
    }

    static func rename(_ from: String, to: String, name: String) throws(MonitorError) {
        #if canImport(Glibc)
            let result = Glibc.rename(from, to)
        #else
            let result = Darwin.rename(from, to)
        #endif
        if result != 0 {
            let reason = errnoText()
            unlink(from)
            throw .fileSystem(operation: "rename into place", file: name, reason: reason)
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
