#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation
import GymCore
import Synchronization
import GymService

/// Every monitor recording under a part of the monitor root, wherever a client put it: the
/// directories that hold an `openaigym.manifest.*` file (old gym's Monitor, gym-server's), with
/// their env id, episodes, newest write, statistics files and videos. The dashboard's
/// "Recordings" and its live cards read it from `GET /_recordings` on the files port.
///
/// The search is bounded, so that a root with thousands of frames stays cheap: directories at
/// most `maximumDepth` below the root, never into a `rendered/` folder (frames, not monitor
/// files) nor a hidden one, symbolic links not followed, and at most `maximumEntries` names read
/// in all (then `truncated`). Names come from `readdir` alone; only the monitor's own files are
/// `stat`ed. Statistics files are parsed for their episode count once per size and modification
/// time. It runs on `BlockingWork`'s threads.
final class RecordingsIndex: Sendable {
    /// How deep below the root a recording is looked for (`runs/<env>/<date>/seed-1` is depth 4).
    static let maximumDepth = 5
    /// Names read in one search, all directories together (and in one directory's listing).
    let maximumEntries: Int

    init(maximumEntries: Int = 50_000) {
        self.maximumEntries = maximumEntries
    }

    struct Recording: Sendable {
        /// Relative to the searched root, no slash at either end.
        var directory: String
        var envID: String?
        var episodes: Int
        /// Newest modification of its `openaigym.*` files, Unix seconds.
        var lastWrite: Double
        var stats: [File]
        var videos: [File]
        /// `<n>` of `video<n>.mp4`, per video.
        var videoEpisodes: [Int]
    }

    struct File: Sendable {
        var name: String
        var size: Int
        var modified: Double
    }

    /// Episode counts of statistics files already read, by path, size and modification time.
    private let episodeCounts = Mutex([String: (size: Int, modified: Double, episodes: Int)]())
    private static let episodeCountCapacity = 10_000

    /// The recordings under `root`: those found by the search, and those in `extra` (directories
    /// relative to `root`, such as ones a live monitor records into) even before their manifest
    /// is written. Newest write first.
    func recordings(under root: URL, extra: [String] = []) -> (recordings: [Recording], truncated: Bool) {
        guard let rootPath = ConfinedTree.realPath(root.path) else { return ([], false) }
        var found: [String] = []
        var budget = maximumEntries
        var truncated = false
        search(rootPath, relative: "", depth: 0, budget: &budget, truncated: &truncated, into: &found)
        var seen = Set(found)
        for directory in extra where !seen.contains(directory) {
            // Confined as the files port confines a path: resolved, and inside the root.
            let components = directory.split(separator: "/").map(String.init)
            guard !components.isEmpty, !components.contains(".."),
                let resolved = ConfinedTree(root: rootPath).resolve(components),
                ConfinedTree.status(resolved)?.kind == .directory
            else { continue }
            seen.insert(directory)
            found.append(directory)
        }
        var recordings: [Recording] = []
        for directory in found {
            let path = directory.isEmpty ? rootPath : rootPath + "/" + directory
            if let recording = describe(path, directory: directory) { recordings.append(recording) }
        }
        recordings.sort { ($0.lastWrite, $0.directory) > ($1.lastWrite, $1.directory) }
        return (recordings, truncated)
    }

    /// Adds to `found` every directory at or below `path` that holds a manifest.
    private func search(
        _ path: String, relative: String, depth: Int, budget: inout Int, truncated: inout Bool, into found: inout [String]
    ) {
        guard let directory = opendir(path) else { return }
        var subdirectories: [String] = []
        var hasManifest = false
        while let entry = readdir(directory) {
            guard budget > 0 else {
                truncated = true
                break
            }
            budget -= 1
            guard let name = ConfinedTree.name(of: entry), !name.hasPrefix(".") else { continue }
            var kind = entry.pointee.d_type
            if kind == UInt8(DT_UNKNOWN) {
                // Some filesystems do not say: ask, without following a link.
                switch ConfinedTree.status(path + "/" + name, followLinks: false)?.kind {
                case .directory?: kind = UInt8(DT_DIR)
                case .file?: kind = UInt8(DT_REG)
                default: continue
                }
            }
            if kind == UInt8(DT_DIR) {
                if depth < Self.maximumDepth && name != "rendered" { subdirectories.append(name) }
            } else if kind == UInt8(DT_REG) && MonitorFileName.isManifest(name) {
                hasManifest = true
            }
        }
        closedir(directory)
        // The root itself is no recording a client could have named (monitor/start refuses it).
        if hasManifest && !relative.isEmpty { found.append(relative) }
        for name in subdirectories.sorted() where !truncated {
            search(
                path + "/" + name, relative: relative.isEmpty ? name : relative + "/" + name, depth: depth + 1,
                budget: &budget, truncated: &truncated, into: &found)
        }
    }

    /// The monitor files of one directory.
    private func describe(_ path: String, directory: String) -> Recording? {
        guard let handle = opendir(path) else { return nil }
        var manifests: [File] = []
        var recording = Recording(directory: directory, envID: nil, episodes: 0, lastWrite: 0, stats: [], videos: [], videoEpisodes: [])
        var names: [String] = []
        while let entry = readdir(handle) {
            if let name = ConfinedTree.name(of: entry), name.hasPrefix("openaigym.") { names.append(name) }
            if names.count >= maximumEntries { break }
        }
        closedir(handle)
        for name in names.sorted(by: naturalOrder) {
            guard let status = ConfinedTree.status(path + "/" + name, followLinks: false), status.kind == .file else { continue }
            let file = File(
                name: name, size: status.size,
                modified: Double(status.modifiedSeconds) + Double(status.modifiedNanoseconds) / 1e9)
            recording.lastWrite = max(recording.lastWrite, file.modified)
            if MonitorFileName.isManifest(name) {
                manifests.append(file)
            } else if MonitorFileName.isStats(name) {
                recording.stats.append(file)
                recording.episodes += episodes(inStats: path + "/" + name, file)
            } else if let episode = MonitorFileName.videoEpisode(name) {
                recording.videos.append(file)
                recording.videoEpisodes.append(episode)
            }
        }
        if let newest = manifests.max(by: { $0.modified < $1.modified }) {
            recording.envID = Self.envID(inManifest: path + "/" + newest.name)
        }
        return recording
    }

    /// The episodes of a statistics file (`episode_rewards`' length), read once per version.
    private func episodes(inStats path: String, _ file: File) -> Int {
        if let known = episodeCounts.withLock({ $0[path] }), known.size == file.size, known.modified == file.modified {
            return known.episodes
        }
        var episodes = 0
        if let data = FileManager.default.contents(atPath: path), let json = try? JSONParser.parse(data),
            case .array(let rewards)? = json.objectValue?["episode_rewards"]
        {
            episodes = rewards.count
        }
        episodeCounts.withLock { counts in
            if counts.count >= Self.episodeCountCapacity { counts.removeAll(keepingCapacity: true) }
            counts[path] = (file.size, file.modified, episodes)
        }
        return episodes
    }

    /// `env_info.env_id` of a manifest.
    private static func envID(inManifest path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20,
            let json = try? JSONParser.parse(data)
        else { return nil }
        return json.objectValue?["env_info"]?.objectValue?["env_id"]?.stringValue
    }
}

/// Old gym's monitor file names: `openaigym.manifest.<monitor>.<pid>.manifest.json`,
/// `openaigym.episode_batch.<n>.<pid>.stats.json`, `openaigym.video.<monitor>.<pid>.video<episode>.mp4`.
enum MonitorFileName {
    static func isManifest(_ name: String) -> Bool {
        name.hasPrefix("openaigym.manifest.") && name.hasSuffix(".manifest.json")
    }

    static func isStats(_ name: String) -> Bool {
        name.hasPrefix("openaigym.episode_batch.") && name.hasSuffix(".stats.json")
    }

    /// The episode of a video file's name, or nil for any other name.
    static func videoEpisode(_ name: String) -> Int? {
        guard name.hasPrefix("openaigym.video."), name.hasSuffix(".mp4"), let range = name.range(of: ".video", options: .backwards)
        else { return nil }
        let digits = name[range.upperBound..<name.index(name.endIndex, offsetBy: -4)]
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }
}
