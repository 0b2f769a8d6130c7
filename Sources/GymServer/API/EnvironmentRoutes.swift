import Foundation
import GymCore
import GymMonitor
import Hummingbird
import NIOCore

/// The gym HTTP API on `/v1`: the routes of openai/gym-http-api and flaviotruzzi's gym-server.
struct EnvironmentRoutes<Context: RequestContext>: Sendable {
    let manager: EnvironmentManager
    let shutdown: ShutdownSwitch
    /// The port of the file server, for the URLs of uploaded archives (0: not served).
    let filesPort: Int

    func add(to router: Router<Context>, catalog: inout RouteCatalog) {
        func route(
            _ method: HTTPRequest.Method, _ path: String, _ doc: String,
            _ handler: @escaping @Sendable (Request, Context) async throws -> Response
        ) {
            catalog.add(method.rawValue, path, doc)
            router.on(RouterPath(path), method: method) { request, context in try await handler(request, context) }
        }
        let manager = self.manager
        let shutdown = self.shutdown
        let filesPort = self.filesPort

        route(.post, "/v1/envs/", "Create an instance of env_id (optional seed, applied at the first reset, and kwargs for gymnasium.make). Returns {instance_id}.") { request, _ in
            let body = try await RequestJSON.object(request)
            let envID = try RequestJSON.required(body, "env_id")
            return try Self.create(manager, envID: envID, body: body, status: .ok)
        }
        route(.post, "/v1/envs/create/", "Create Environment from {\"environment\": \"CartPole-v0\"}. Returns 201 {instance_id}.") { request, _ in
            let body = try await RequestJSON.object(request)
            let envID = try RequestJSON.required(body, "environment")
            return try Self.create(manager, envID: envID, body: body, status: .created)
        }
        route(.get, "/v1/envs/", "List all environments running on the server: {all_envs: {instance_id: env_id}}.") { _, _ in
            .json(["all_envs": .object(manager.list().mapValues(JSON.string))])
        }
        route(.post, "/v1/envs/{instance_id}/reset/", "Reset the environment; optional {seed, options, render}. Returns {observation, info} (+ render: the frame written).") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let body = try await RequestJSON.object(request, optional: true)
            let seed = try RequestJSON.seed(body)
            let options = try RequestJSON.object(body, "options")
            let render = try RequestJSON.bool(body, "render", default: false)
            return .json(try instance.reset(seed: seed, options: options, render: render))
        }
        route(.post, "/v1/envs/{instance_id}/step/", "Step with {action, render?}. Returns {observation, reward, done, info, terminated, truncated} (+ render: the frame written).") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let body = try await RequestJSON.object(request)
            let action = try RequestJSON.required(body, "action")
            let render = try RequestJSON.bool(body, "render", default: false)
            return .json(try instance.step(action: action, render: render))
        }
        route(.get, "/v1/envs/{instance_id}/render", "The current frame as image/png (?mode=ansi: Gymnasium's text render, for the toy-text envs).") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            switch request.uri.queryParameters.get("mode") ?? "rgb_array" {
            case "rgb_array", "png":
                var buffer = ByteBuffer()
                buffer.writeBytes(try instance.renderPNG())
                return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"], body: .init(byteBuffer: buffer))
            case "ansi":
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: try instance.renderANSI())))
            case let mode:
                throw APIError("Unknown render mode '\(mode)': use rgb_array (the default) or ansi")
            }
        }
        route(.get, "/v1/envs/{instance_id}/action_space/", "The action space: {info: {name, n | shape, low, high, ...}}.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            return .json(["info": instance.actionSpace.info])
        }
        route(.get, "/v1/envs/{instance_id}/action_space/sample", "A random action from the action space: {action}.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            return .json(["action": instance.sampleAction()])
        }
        route(.get, "/v1/envs/{instance_id}/action_space/contains/{x}", "Whether x (an integer, or JSON for other spaces) is in the action space: {member}.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let text = try context.parameters.require("x")
            let x: JSON
            do {
                x = try JSONParser.parse(text.removingPercentEncoding ?? text)
            } catch {
                throw APIError("Could not read '\(text)' as an action: give an integer or a JSON value")
            }
            let member = (try? instance.actionSpace.value(from: x)).map(instance.actionSpace.contains) ?? false
            return .json(["member": .bool(member)])
        }
        route(.get, "/v1/envs/{instance_id}/observation_space/", "The observation space: {info: {name, n | shape, low, high, ...}}.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            return .json(["info": instance.observationSpace.info])
        }
        route(.post, "/v1/envs/{instance_id}/observation_space/contains", "Whether every property given ({name, shape, low, ...}) equals the observation space's: {member}.") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            guard let body = try await RequestJSON.object(request), !body.isEmpty else {
                throw APIError("A required request parameter was not provided: give properties of the space, e.g. {\"name\": \"Box\"}")
            }
            let info = instance.observationSpace.info.objectValue ?? [:]
            if let unknown = body.keys.sorted().first(where: { info[$0] == nil }) {
                throw APIError("The observation space has no property '\(unknown)'; it has \(info.keys.sorted().joined(separator: ", "))")
            }
            let member = body.allSatisfy { key, value in info[key]!.numericallyEquals(value) }
            return .json(["member": .bool(member)])
        }
        route(.get, "/v1/envs/{instance_id}/info", "Expose the action space (as gym prints it) and the observation space's shape and bounds.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let (action, observation) = (instance.actionSpace, instance.observationSpace)
            var described = observation.info.objectValue ?? [:]
            if case .box = observation {
                described = described.filter { ["shape", "low", "high"].contains($0.key) }
            }
            return .json(["action_space": .string(action.description), "observation_space": .object(described)])
        }
        route(.post, "/v1/envs/{instance_id}/monitor/start/", "Start monitoring: {directory? (relative to the monitor root; default <instance_id>/simulation), force?, resume?, video_callable? (true: capped cubic schedule, false: none, N: every N-th episode)}.") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let body = try await RequestJSON.object(request, optional: true)
            let directory = try RequestJSON.string(body, "directory")
            let force = try RequestJSON.bool(body, "force", default: false)
            let resume = try RequestJSON.bool(body, "resume", default: false)
            let schedule = try Self.videoSchedule(body?["video_callable"])
            try manager.startMonitor(instance, directory: directory, force: force, resume: resume, videoSchedule: schedule)
            return .json(["message": true])
        }
        route(.post, "/v1/envs/{instance_id}/monitor/close/", "Stop monitoring: finish the open video and write the statistics and manifest.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            try await instance.closeMonitor()
            return .json(["message": true])
        }
        route(.post, "/v1/envs/{instance_id}/close/", "Close the environment (finishing its monitor) and forget the instance.") { _, context in
            try await manager.close(try context.parameters.require("instance_id"))
            return .json(["message": true])
        }
        route(.post, "/v1/upload/", "Package a training directory {training_dir, api_key, algorithm_id?} as a .zip under the monitor root; answers its URL on the files port.") { request, _ in
            let body = try await RequestJSON.object(request)
            let trainingDirectory = try RequestJSON.required(body, "training_dir")
            let apiKey = try RequestJSON.required(body, "api_key")
            guard let directory = trainingDirectory.stringValue, apiKey.stringValue != nil else {
                throw APIError("Parameters 'training_dir' and 'api_key' must be strings")
            }
            _ = try RequestJSON.string(body, "algorithm_id")
            let path = try await TrainingUpload.package(trainingDirectory: directory, monitorRoot: manager.monitorRoot)
            return .json(Self.uploadAnswer(path, request: request, filesPort: filesPort))
        }
        route(.post, "/v1/envs/{instance_id}/upload/", "Package the instance's monitor directory (the open monitor's, else <instance_id>/simulation) as a .zip; answers its URL on the files port.") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let directory = instance.monitorDirectory.flatMap { try? MonitorRoot(manager.monitorRoot).relativePath(of: $0) } ?? "\(instance.id)/simulation"
            let path = try await TrainingUpload.package(trainingDirectory: directory, monitorRoot: manager.monitorRoot)
            return .json(Self.uploadAnswer(path, request: request, filesPort: filesPort))
        }
        route(.post, "/v1/shutdown/", "Request a server shutdown (only when started with --allow-shutdown).") { _, _ in
            guard shutdown.isAllowed else {
                throw APIError("Shutdown over the API is disabled: start gym-server with --allow-shutdown to allow it", status: .forbidden)
            }
            shutdown.trigger()
            return .json(["message": "Server shutting down"])
        }
    }

    /// old gym's `video_callable`: absent, null or true -> the capped cubic schedule; false -> no
    /// video; a positive integer N -> every N-th episode.
    static func videoSchedule(_ json: JSON?) throws -> VideoSchedule {
        switch json {
        case nil, .null?, .bool(true)?: return .cappedCubic
        case .bool(false)?: return .never
        case let value?:
            guard let n = value.intValue, n > 0 else {
                throw APIError("Parameter 'video_callable' must be true, false or a positive integer N (every N-th episode), got \(JSONWriter.string(value))")
            }
            return .every(n)
        }
    }

    static func uploadAnswer(_ path: String, request: Request, filesPort: Int) -> JSON {
        var answer: [String: JSON] = ["message": true, "path": .string(path)]
        if filesPort != 0 {
            let host = request.head.authority.map { authority -> String in
                if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") { return String(authority[...end]) }
                return String(authority.split(separator: ":").first ?? "127.0.0.1")
            } ?? "127.0.0.1"
            answer["url"] = .string("http://\(host):\(filesPort)/\(path)")
        }
        return .object(answer)
    }

    static func create(_ manager: EnvironmentManager, envID: JSON, body: [String: JSON]?, status: HTTPResponse.Status) throws -> Response {
        guard let id = envID.stringValue else {
            throw APIError("Attempted to look up malformed environment ID '\(JSONWriter.string(envID))'")
        }
        let seed = try RequestJSON.seed(body)
        let kwargs = try RequestJSON.object(body, "kwargs") ?? [:]
        let instance = try manager.create(envID: id, seed: seed, kwargs: kwargs)
        return .json(["instance_id": .string(instance.id)], status: status)
    }
}
