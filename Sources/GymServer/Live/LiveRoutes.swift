import Foundation
import GymCore
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import GymService

/// The live view's routes on the files port (the pages' own origin):
///
/// - `GET /_live/events?instance_id=<id>[&instance_id=<id>...][&max_fps=<n>]`: Server-Sent Events.
///   `hello` first (the instances' env ids), then a `frame` event whenever a watched instance has
///   a new frame — JSON status with the PNG in base64 — and `closed` when an instance goes away.
///   A client that reads slowly skips frames, never queues them; `max_fps` caps the rate (the
///   dashboard's thumbnails ask for a few per second). While the stream is open the instances
///   count as watched: the step path publishes the frames it renders, and `LiveRenderer` renders
///   the others.
/// - `GET /_live/<id>/frame.png`: the newest frame of an instance.
struct LiveRoutes: Sendable {
    let manager: EnvironmentManager
    let frames: FrameHub
    let renderer: LiveRenderer
    /// API keys are on: a stream shows only its key's instances.
    let requiresKey: Bool
    /// Event streams open now (`--max-live-streams`).
    let streams: ConcurrencyLimit
    /// The fleet's other replicas, whose instances `/_live/instances` joins.
    let fleetLists: FleetLists

    /// How long a quiet stream waits before it sends a comment, so that proxies keep it open and
    /// a vanished client is noticed.
    static let keepAlive = Duration.seconds(2)
    /// The range `max_fps` may take.
    static let fpsRange = 0.01...1000.0

    init(manager: EnvironmentManager, frames: FrameHub, requiresKey: Bool = false, fleetLists: FleetLists? = nil) {
        self.manager = manager
        self.fleetLists = fleetLists ?? FleetLists(fleet: manager.fleet, keyring: APIKeyring())
        self.frames = frames
        self.requiresKey = requiresKey
        self.renderer = LiveRenderer(manager: manager, frames: frames)
        self.streams = ConcurrencyLimit(manager.limits.maxLiveStreams)
    }

    func add(to router: Router<FilesRequestContext>) {
        let routes = self
        router.get("/_live/events") { request, context in
            try routes.events(request, context: context)
        }
        router.get("/_live/instances") { request, context in
            await routes.instances(request, context)
        }
        router.get("/_live/{instance_id}/frame.png") { _, context in
            try routes.latestFrame(context.parameters.require("instance_id"), context: context)
        }
    }

    static func isValidInstanceID(_ id: Substring) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy { byte in
                (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            }
    }

    /// `{all_envs: {instance_id: env_id}, monitors: {instance_id: {directory, recording,
    /// episodes}}}` of the live instances the caller may see (the dashboard's list, from its own
    /// origin); `monitors` names those that started a monitor, and where it records. A replica of
    /// a fleet joins its peers' and adds `replicas` (`FleetLists`).
    func instances(_ request: Request, _ context: FilesRequestContext) async -> Response {
        let all = manager.list(for: context.owner)
        let monitors = manager.monitorStatuses(for: context.owner).mapValues { JSON.object($0.json) }
        var answer: [String: JSON] = ["all_envs": .object(all.mapValues(JSON.string)), "monitors": .object(monitors)]
        if !fleetLists.answersLocally(request.headers[FleetLists.headerName]) {
            answer = await fleetLists.instanceList(answer, keys: ["all_envs", "monitors"], from: "/_live/instances", port: .files, owner: context.owner)
        }
        var buffer = ByteBuffer()
        JSONWriter.write(.object(answer), into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: buffer))
    }

    /// Whether the caller may watch `id`: anyone with keys off; with keys, only the owner of a
    /// live instance.
    private func mayWatch(_ id: String, _ context: FilesRequestContext) -> Bool {
        guard requiresKey else { return true }
        guard let instance = manager.anyInstance(id) else { return false }
        return instance.owner == context.owner
    }

    func events(_ request: Request, context: FilesRequestContext) throws -> Response {
        let query = request.uri.queryParameters
        let maximumInstances = manager.limits.maxStreamInstances
        var ids: [String] = []
        for value in query[values: "instance_id"] {
            for id in value.split(separator: ",", omittingEmptySubsequences: true) {
                guard Self.isValidInstanceID(id) else {
                    throw HTTPError(.badRequest, message: "'\(id.prefix(64))' is not an instance id\n")
                }
                if !ids.contains(String(id)) { ids.append(String(id)) }
                guard ids.count <= maximumInstances else {
                    throw HTTPError(.badRequest, message: "At most \(maximumInstances) instances per stream (--max-stream-instances)\n")
                }
            }
        }
        guard !ids.isEmpty else {
            throw HTTPError(.badRequest, message: "Say which instances to watch: /_live/events?instance_id=<id>\n")
        }
        var minimumInterval: Duration?
        var maximumFPS = Double.infinity
        if let text = query["max_fps"] {
            guard let fps = Double(text), fps.isFinite, Self.fpsRange.contains(fps) else {
                throw HTTPError(.badRequest, message: "max_fps must be a number from \(Self.fpsRange.lowerBound) to \(Int(Self.fpsRange.upperBound)), got '\(text.prefix(40))'\n")
            }
            if fps < 1000 {
                minimumInterval = .nanoseconds(Int64((1e9 / fps).rounded()))
                maximumFPS = fps
            }
        }
        let allowed = ids.filter { mayWatch($0, context) }
        guard streams.enter() else {
            throw HTTPError(
                .tooManyRequests, headers: [.retryAfter: "5"],
                message: "\(streams.limit) live streams are open already (--max-live-streams): try again later\n")
        }
        let headers: HTTPFields = [
            .contentType: "text/event-stream",
            .cacheControl: "no-store",
            HTTPField.Name("X-Accel-Buffering")!: "no",
        ]
        let routes = self
        let channel = context.channel
        let interval = minimumInterval
        let rate = maximumFPS
        let streams = self.streams
        let watched = ids
        return Response(
            status: .ok, headers: headers,
            body: ResponseBody { writer in
                defer { streams.leave() }
                try await routes.stream(watched, allowed: allowed, minimumInterval: interval, maximumFPS: rate, channel: channel, writer: &writer)
            })
    }

    private func stream(
        _ ids: [String], allowed: [String], minimumInterval: Duration?, maximumFPS: Double, channel: any Channel,
        writer: inout any ResponseBodyWriter
    ) async throws {
        let subscription = frames.subscribe(Set(allowed))
        for id in allowed { renderer.watch(id, maximumFPS: maximumFPS) }
        defer {
            subscription.cancel()
            for id in allowed { renderer.unwatch(id, maximumFPS: maximumFPS) }
        }
        // The client hung up: stop at once rather than at the next write.
        channel.closeFuture.whenComplete { _ in subscription.cancel() }
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.keepAlive)
                subscription.ring()
            }
        }
        defer { ticker.cancel() }

        try await withGracefulShutdownHandler {
            var buffer = ByteBuffer()
            buffer.writeString("retry: 1000\n\n")
            buffer.writeString(Self.event("hello", data: hello(ids, allowed: Set(allowed))))
            try await writer.write(buffer)
            var lastWrite = ContinuousClock.now
            for await _ in subscription.doorbell {
                let pending = subscription.take()
                if pending.isEmpty {
                    if lastWrite.duration(to: .now) >= Self.keepAlive / 2 {
                        try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        lastWrite = .now
                    }
                    continue
                }
                var buffer = ByteBuffer()
                for (id, item) in pending.sorted(by: { $0.key < $1.key }) {
                    switch item {
                    case .frame(let published):
                        buffer.writeString(Self.frameEvent(id, published))
                    case .closed:
                        buffer.writeString(Self.event("closed", data: ["instance_id": .string(id)]))
                    }
                }
                try await writer.write(buffer)
                lastWrite = .now
                if let minimumInterval {
                    try await Task.sleep(for: minimumInterval)
                }
            }
        } onGracefulShutdown: {
            subscription.cancel()
        }
        try await writer.finish(nil)
    }

    private func hello(_ ids: [String], allowed: Set<String>) -> JSON {
        var instances: [String: JSON] = [:]
        for id in ids {
            if allowed.contains(id), let instance = manager.anyInstance(id) {
                let fps = instance.renderFPS
                instances[id] = ["env_id": .string(instance.envID), "render_fps": .int(fps)]
            } else {
                instances[id] = .null
            }
        }
        return ["instances": .object(instances)]
    }

    static func event(_ name: String, id: UInt64? = nil, data: JSON) -> String {
        var text = "event: \(name)\n"
        if let id { text += "id: \(id)\n" }
        text += "data: " + JSONWriter.string(data) + "\n\n"
        return text
    }

    static func frameEvent(_ instanceID: String, _ published: FrameHub.Published) -> String {
        let frame = published.frame
        let status: JSON = [
            "instance_id": .string(instanceID),
            "env_id": .string(frame.envID),
            "episode": .int(frame.episode),
            "step": .int(frame.step),
            "episode_reward": frame.episodeReward.isFinite ? .double(frame.episodeReward) : .null,
            "frame_number": frame.frameNumber.map(JSON.int) ?? .null,
            "seq": .int(Int(truncatingIfNeeded: published.sequence)),
            "png": .string(Data(frame.png).base64EncodedString()),
        ]
        return event("frame", id: published.sequence, data: status)
    }

    func latestFrame(_ instanceID: String, context: FilesRequestContext) throws -> Response {
        guard Self.isValidInstanceID(instanceID[...]), mayWatch(instanceID, context),
            let published = frames.latestPublished(instanceID)
        else {
            throw HTTPError(.notFound)
        }
        var buffer = ByteBuffer()
        buffer.writeBytes(published.frame.png)
        return Response(
            status: .ok,
            headers: [
                .contentType: "image/png", .cacheControl: "no-store", .eTag: "\"frame-\(published.sequence)\"",
                .contentLength: String(buffer.readableBytes),
            ],
            body: ResponseBody(byteBuffer: buffer))
    }
}
