import Foundation
import GymCore
import Hummingbird
import NIOCore
import Synchronization
import GymService

/// `GET /_recordings` on the files port: every monitor recording of the caller's part of the
/// monitor root (`RecordingsIndex`), with the live instance recording into it, if any.
///
/// ```
/// {"recordings": [{"directory": "runs/cartpole", "env_id": "CartPole-v1", "episodes": 23,
///   "last_write": 1764842400.123, "instance_id": "ab12cd34" | null, "recording": true,
///   "stats": [{name, url, size, mtime}], "videos": [{name, url, size, mtime, episode}],
///   "zip": "/runs/cartpole.zip"}, ...], "truncated": false}
/// ```
///
/// A search is shared by the requests of the next second (every dashboard polls), per part of
/// the root.
final class RecordingsRoute: Sendable {
    let manager: EnvironmentManager
    let index = RecordingsIndex()
    private let recent = Mutex([String: (time: UInt64, answer: JSON)]())
    static let reuseNanoseconds: UInt64 = 1_000_000_000

    /// The fleet's other replicas: on a shared monitor root every replica finds the same
    /// directories, but only the one recording into a directory knows it does.
    let fleetLists: FleetLists

    init(manager: EnvironmentManager, fleetLists: FleetLists? = nil) {
        self.manager = manager
        self.fleetLists = fleetLists ?? FleetLists(fleet: manager.fleet, keyring: APIKeyring())
    }

    func add(to router: Router<FilesRequestContext>) {
        let route = self
        router.get("/_recordings") { request, context in
            var answer = try await route.answer(for: context.owner)
            if !route.fleetLists.answersLocally(request.headers[FleetLists.headerName]) {
                let parts = await route.fleetLists.gather("/_recordings", port: .files, owner: context.owner)
                answer = Self.join(answer, parts)
            }
            var buffer = ByteBuffer()
            JSONWriter.write(answer, into: &buffer)
            buffer.writeInteger(UInt8(ascii: "\n"))
            return Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: buffer))
        }
    }

    func answer(for owner: Owner?) async throws -> JSON {
        let space = manager.space(for: owner)
        let monitors = manager.monitorStatuses(for: owner)
        let now = DispatchTime.now().uptimeNanoseconds
        // The instances recording now belong to the answer too: a second-old search may miss one.
        let key = space.path + "\u{0}" + monitors.filter(\.value.recording).map { "\($0.key)=\($0.value.directory)" }.sorted().joined(separator: ",")
        if let reused = recent.withLock({ $0[key] }), now &- reused.time < Self.reuseNanoseconds {
            return reused.answer
        }
        let recordingNow = Dictionary(
            monitors.filter(\.value.recording).map { ($0.value.directory, $0.key) }, uniquingKeysWith: min)
        let index = self.index
        let (recordings, truncated) = try await BlockingWork.run {
            index.recordings(under: space, extra: monitors.values.map(\.directory).sorted())
        }
        let answer: JSON = [
            "recordings": .array(recordings.map { Self.json($0, instanceID: recordingNow[$0.directory]) }),
            "truncated": .bool(truncated),
        ]
        recent.withLock { recent in
            recent = recent.filter { now &- $0.value.time < Self.reuseNanoseconds }
            recent[key] = (now, answer)
        }
        return answer
    }

    /// This replica's recordings with what the peers know: a directory a peer records into
    /// says so (and by which instance), and one only a peer has found yet is added.
    static func join(_ own: JSON, _ parts: [FleetLists.Part]) -> JSON {
        guard var object = own.objectValue else { return own }
        var recordings = object["recordings"]?.arrayValue ?? []
        var byDirectory: [String: Int] = [:]
        for (index, entry) in recordings.enumerated() {
            if let directory = entry.objectValue?["directory"]?.stringValue { byDirectory[directory] = index }
        }
        var truncated = object["truncated"]?.boolValue ?? false
        for part in parts {
            guard let answer = part.answer else { continue }
            truncated = truncated || (answer["truncated"]?.boolValue ?? false)
            for entry in answer["recordings"]?.arrayValue ?? [] {
                guard let fields = entry.objectValue, let directory = fields["directory"]?.stringValue else { continue }
                if let index = byDirectory[directory] {
                    if fields["recording"]?.boolValue == true, recordings[index].objectValue?["recording"]?.boolValue != true {
                        recordings[index] = entry
                    }
                } else {
                    byDirectory[directory] = recordings.count
                    recordings.append(entry)
                }
            }
        }
        object["recordings"] = .array(recordings)
        object["truncated"] = .bool(truncated)
        return .object(object)
    }

    static func json(_ recording: RecordingsIndex.Recording, instanceID: String?) -> JSON {
        let components = recording.directory.split(separator: "/").map(String.init)
        func file(_ file: RecordingsIndex.File) -> [String: JSON] {
            [
                "name": .string(file.name), "url": .string(DirectoryListing.urlPath(components + [file.name], directory: false)),
                "size": .int(file.size), "mtime": .double(file.modified),
            ]
        }
        let videos = zip(recording.videos, recording.videoEpisodes).map { video, episode -> JSON in
            var entry = file(video)
            entry["episode"] = .int(episode)
            return .object(entry)
        }
        return [
            "directory": .string(recording.directory),
            "env_id": recording.envID.map(JSON.string) ?? .null,
            "episodes": .int(recording.episodes),
            "last_write": .double(recording.lastWrite),
            "instance_id": instanceID.map(JSON.string) ?? .null,
            "recording": .bool(instanceID != nil),
            "stats": .array(recording.stats.map { .object(file($0)) }),
            "videos": .array(videos),
            "zip": .string(DirectoryListing.urlPath(components, directory: false) + ".zip"),
        ]
    }
}

extension EnvironmentInstance.MonitorStatus {
    /// `{directory, recording, episodes}`, as `/_live/instances` and `GET /v1/envs/{id}/monitor/`
    /// (which adds the URL) write it.
    var json: [String: JSON] {
        ["directory": .string(directory), "recording": .bool(recording), "episodes": .int(episodes)]
    }
}
