import Foundation
import GymCore
import GymMonitor
import Hummingbird
import NIOCore
import GymService

/// The gym HTTP API on `/v1`: the routes of openai/gym-http-api and flaviotruzzi's gym-server.
/// Every route that names an instance turns its id into an instance with
/// `EnvironmentManager.instance(_:for:)`, which answers "unknown" for anyone but its owner.
struct EnvironmentRoutes: Sendable {
    typealias Context = APIRequestContext
    let manager: EnvironmentManager
    let shutdown: ShutdownSwitch
    /// The port of the file server, for the URLs of uploaded archives (0: not served).
    let filesPort: Int
    let body: RequestJSON
    /// Zip archives being built (uploads here, downloads on port 8000).
    let archives: ConcurrencyLimit
    /// The fleet's other replicas, whose instances the list joins (none: this server's only).
    let fleetLists: FleetLists

    func add(to router: Router<Context>, catalog: inout RouteCatalog) {
        func route(
            _ method: HTTPRequest.Method, _ path: String, _ doc: String,
            _ handler: @escaping @Sendable (Request, Context) async throws -> Response
        ) {
            catalog.add(method.rawValue, path, doc)
            router.on(RouterPath(path), method: method) { request, context in try await handler(request, context) }
        }
        let routes = self
        let manager = self.manager
        let body = self.body
        let stepPaths = manager.serverMetrics?.stepPaths

        route(.post, "/v1/envs/", "Create an instance of env_id (optional seed, applied at the first reset, and kwargs for gymnasium.make; num_envs and autoreset_mode make a vector instance, as gymnasium.make_vec). Returns {instance_id}.") { request, context in
            let call = try CallDecoder.create(try await body.object(request, context), idKey: "env_id")
            return try await routes.create(call, owner: context.owner, status: .ok)
        }
        route(.post, "/v1/envs/create/", "Create Environment from {\"environment\": \"CartPole-v0\"}. Returns 201 {instance_id}.") { request, context in
            let call = try CallDecoder.create(try await body.object(request, context), idKey: "environment")
            return try await routes.create(call, owner: context.owner, status: .created)
        }
        route(.get, "/v1/envs/", "List all environments running on the server (with API keys: the key's own): {all_envs: {instance_id: env_id}}. A replica of a fleet (--peer) lists the whole fleet's, and says in replicas which replicas answered ('X-Gym-Fleet: local': its own only).") { request, context in
            let own = manager.list(for: context.owner).mapValues(JSON.string)
            let lists = routes.fleetLists
            guard !lists.answersLocally(request.headers[FleetLists.headerName]) else {
                return .json(["all_envs": .object(own)])
            }
            return .json(.object(await lists.instanceList(["all_envs": .object(own)], keys: ["all_envs"], from: "/v1/envs/", port: .api, owner: context.owner)))
        }
        route(.get, "/v1/registry", "Every id this server can make: {envs: [{id, backend: native | bridged, max_episode_steps}]}. Bridged ids (--python) are Gymnasium's made by Python workers; create with backend: gymnasium forces the bridged one of a native id.") { _, _ in
            let listing = try await manager.registryListing()
            let envs: [JSON] = listing.map { entry in
                .object([
                    "id": .string(entry.id), "backend": .string(entry.backend == .native ? "native" : "bridged"),
                    "max_episode_steps": entry.maxEpisodeSteps.map(JSON.int) ?? .null,
                ])
            }
            return .json(["envs": .array(envs)])
        }
        route(.post, RouteTemplate.reset, "Reset the environment; optional {seed (a vector: an int, sub-environment i gets seed + i, or a list of one per sub-environment), options (a vector: reset_mask), render}. Returns {observation, info} (+ render: the frame written).") { request, context in
            let instance = try routes.instance(context)
            let call = try CallDecoder.reset(try await body.body(request, context), instanceID: instance.id)
            stepPaths?.count(.route, reset: true)
            return .answer(try await instance.perform(call), request: request)
        }
        route(.post, RouteTemplate.step, "Step with {action, render?} (a vector: a list of one action per sub-environment). Returns {observation, reward, done, info, terminated, truncated} (+ render: the frame written), batched for a vector.") { request, context in
            let instance = try routes.instance(context)
            let call = try CallDecoder.step(try await body.body(request, context), instanceID: instance.id)
            stepPaths?.count(.route, reset: false)
            return .answer(try await instance.perform(call), request: request)
        }
        route(.get, "/v1/envs/{instance_id}/render", "The current frame as image/png (?mode=ansi: Gymnasium's text render, for the toy-text envs).") { request, context in
            let instance = try routes.instance(context)
            switch request.uri.queryParameters.get("mode") ?? "rgb_array" {
            case "rgb_array", "png":
                var buffer = ByteBuffer()
                buffer.writeBytes(try await instance.renderPNG())
                return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"], body: .init(byteBuffer: buffer))
            case "ansi":
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: try await instance.renderANSI())))
            case let mode:
                throw APIError("Unknown render mode '\(mode.prefix(40))': use rgb_array (the default) or ansi")
            }
        }
        route(.get, "/v1/envs/{instance_id}/action_space/", "The action space: {info: {name, n | shape, low, high, ...}} (a vector: the batched space, with single: one sub-environment's and num_envs).") { _, context in
            let instance = try routes.instance(context)
            return .json(Self.spaceAnswer(instance.actionSpace, single: instance.singleActionSpace, instance: instance))
        }
        route(.get, "/v1/envs/{instance_id}/action_space/sample", "A random action from the action space (a vector: one per sub-environment): {action}.") { _, context in
            let instance = try routes.instance(context)
            return .json(["action": instance.sampleAction()])
        }
        route(.get, "/v1/envs/{instance_id}/action_space/contains/{x}", "Whether x (an integer, or JSON for other spaces) is in the action space: {member}.") { _, context in
            let instance = try routes.instance(context)
            let text = try context.parameters.require("x")
            let x: JSON
            do {
                x = try JSONParser.parse(text.removingPercentEncoding ?? text)
            } catch {
                throw APIError("Could not read '\(text.prefix(80))' as an action: give an integer or a JSON value")
            }
            let member = (try? instance.actionSpace.value(from: x)).map(instance.actionSpace.contains) ?? false
            return .json(["member": .bool(member)])
        }
        route(.get, "/v1/envs/{instance_id}/observation_space/", "The observation space: {info: {name, n | shape, low, high, ...}} (a vector: the batched space, with single and num_envs).") { _, context in
            let instance = try routes.instance(context)
            return .json(Self.spaceAnswer(instance.observationSpace, single: instance.singleObservationSpace, instance: instance))
        }
        route(.post, "/v1/envs/{instance_id}/observation_space/contains", "Whether every property given ({name, shape, low, ...}) equals the observation space's: {member}.") { request, context in
            let instance = try routes.instance(context)
            guard var json = try await body.object(request, context), !json.isEmpty else {
                throw APIError("A required request parameter was not provided: give properties of the space, e.g. {\"name\": \"Box\"}")
            }
            // A key sent in the body is not a property of the space.
            for name in PresentedKey.queryNames { json[name] = nil }
            let info = instance.observationSpace.info.objectValue ?? [:]
            if let unknown = json.keys.sorted().first(where: { info[$0] == nil }) {
                throw APIError("The observation space has no property '\(unknown.prefix(80))'; it has \(info.keys.sorted().joined(separator: ", "))")
            }
            let member = json.allSatisfy { key, value in info[key]!.numericallyEquals(value) }
            return .json(["member": .bool(member)])
        }
        route(.get, "/v1/envs/{instance_id}/info", "Expose the action space (as gym prints it) and the observation space's shape and bounds.") { _, context in
            let instance = try routes.instance(context)
            let (action, observation) = (instance.actionSpace, instance.observationSpace)
            var described = observation.info.objectValue ?? [:]
            if case .box = observation {
                described = described.filter { ["shape", "low", "high"].contains($0.key) }
            }
            return .json(["action_space": .string(action.description), "observation_space": .object(described)])
        }
        route(.post, "/v1/envs/{instance_id}/monitor/start/", "Start monitoring: {directory? (relative to the monitor root, an absolute path taken relative to it too; default <instance_id>/simulation; required with force), force?, resume?, video_callable? (true: capped cubic schedule, false: none, N: every N-th episode)}. Returns {message, directory, url}.") { request, context in
            let instance = try routes.instance(context)
            let call = try CallDecoder.monitorStart(try await body.object(request, context, optional: true))
            let relative = try await manager.startMonitor(instance, call)
            return .json(routes.placedAnswer("directory", relative, directory: true, request: request))
        }
        route(.get, "/v1/envs/{instance_id}/monitor/", "Where the instance's monitor records: {directory (relative to the monitor root as the files port serves it), url, recording, episodes (finished in that directory by this monitor)}; the latest monitor's after monitor/close (recording false); directory and url null before any monitor/start.") { request, context in
            let instance = try routes.instance(context)
            guard let status = instance.monitorStatus else {
                return .json(["directory": .null, "url": .null, "recording": false, "episodes": 0])
            }
            var answer = status.json
            answer["url"] = routes.filesURL(status.directory, directory: true, request: request).map(JSON.string) ?? .null
            return .json(.object(answer))
        }
        route(.post, "/v1/envs/{instance_id}/monitor/close/", "Stop monitoring: finish the open video and write the statistics and manifest.") { _, context in
            let instance = try routes.instance(context)
            try await instance.closeMonitor()
            return .json(["message": true])
        }
        route(.post, "/v1/envs/{instance_id}/close/", "Close the environment (finishing its monitor) and forget the instance.") { _, context in
            try await manager.close(try context.parameters.require("instance_id"), for: context.owner)
            return .json(["message": true])
        }
        route(.post, "/v1/upload/", "Package a training directory {training_dir, api_key, algorithm_id?} as a .zip under the monitor root (an absolute training_dir is taken relative to it); answers its path and URL on the files port.") { request, context in
            let json = try await body.object(request, context)
            let trainingDirectory = try CallDecoder.required(json, "training_dir")
            guard let directory = trainingDirectory.stringValue else {
                throw APIError("Parameter 'training_dir' must be a string, got \(JSONWriter.shortString(trainingDirectory))")
            }
            if context.owner == nil || json?["api_key"] != nil {
                // openai's server: the upload service needed a key, and an empty one is refused.
                let apiKey = try CallDecoder.required(json, "api_key")
                guard apiKey.stringValue != nil else { throw APIError("Parameter 'api_key' must be a string") }
            }
            _ = try CallDecoder.string(json, "algorithm_id")
            let path = try await routes.upload(directory, owner: context.owner)
            return .json(routes.placedAnswer("path", path, request: request))
        }
        route(.post, "/v1/envs/{instance_id}/upload/", "Package the instance's monitor directory (the open monitor's, else <instance_id>/simulation) as a .zip; answers its path and URL on the files port.") { request, context in
            let instance = try routes.instance(context)
            let space = manager.space(for: context.owner)
            let directory = instance.monitorDirectory.flatMap { Self.relativePath(of: $0, in: space) } ?? "\(instance.id)/simulation"
            let path = try await routes.upload(directory, owner: context.owner)
            return .json(routes.placedAnswer("path", path, request: request))
        }
        route(.post, "/v1/shutdown/", "Request a server shutdown (only when started with --allow-shutdown; with API keys, any valid key).") { _, _ in
            guard shutdown.isAllowed else {
                throw APIError("Shutdown over the API is disabled: start gym-server with --allow-shutdown to allow it", status: .forbidden)
            }
            shutdown.trigger()
            return .json(["message": "Server shutting down"])
        }
    }

    /// The instance named by the path, if the caller may see it.
    func instance(_ context: Context) throws -> EnvironmentInstance {
        try manager.instance(try context.parameters.require("instance_id"), for: context.owner)
    }

    /// Packages `directory` (relative to the owner's space; absolute taken relative to it) as a
    /// zip, at most `--max-concurrent-zips` at once.
    func upload(_ directory: String, owner: Owner?) async throws -> String {
        let relative = try EnvironmentManager.relativeDirectory(directory)
        let resolved = try await manager.resolve(relative, for: owner, create: false)
        let space = manager.space(for: owner)
        guard let path = try await archives.run({ try await TrainingUpload.package(resolved, named: relative, space: space) }) else {
            throw APIError(
                "\(archives.limit) zip archives are being built already (--max-concurrent-zips): try again in a moment",
                status: .tooManyRequests, headers: [.retryAfter: "1"])
        }
        return path
    }

    static func relativePath(of directory: URL, in space: URL) -> String? {
        let base = space.standardizedFileURL.path
        let path = directory.standardizedFileURL.path
        guard path.hasPrefix(base + "/") else { return nil }
        return String(path.dropFirst(base.count + 1))
    }

    /// `{message: true, <key>: path, url}`: where something the client named went, relative to
    /// the client's part of the monitor root, and its URL on the files port.
    func placedAnswer(_ key: String, _ path: String, directory: Bool = false, request: Request) -> JSON {
        var answer: [String: JSON] = ["message": true]
        answer[key] = .string(path)
        answer["url"] = filesURL(path, directory: directory, request: request).map(JSON.string)
        return .object(answer)
    }

    /// The URL of `path` (relative to the client's part of the monitor root) on the files port,
    /// at the host the client reached; nil without a files port.
    func filesURL(_ path: String, directory: Bool, request: Request) -> String? {
        guard filesPort != 0 else { return nil }
        let host = request.head.authority.map { authority -> String in
            if authority.hasPrefix("["), let end = authority.firstIndex(of: "]") { return String(authority[...end]) }
            return String(authority.split(separator: ":").first ?? "127.0.0.1")
        } ?? "127.0.0.1"
        let components = path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        return "http://\(host):\(filesPort)" + DirectoryListing.urlPath(components, directory: directory)
    }

    func create(_ call: CreateCall, owner: Owner?, status: HTTPResponse.Status) async throws -> Response {
        let instance = try await manager.perform(call, owner: owner)
        return .json(["instance_id": .string(instance.id)], status: status)
    }

    /// `{info}` of a space; for a vector also the single space and the number of sub-environments.
    static func spaceAnswer(_ space: Space, single: Space, instance: EnvironmentInstance) -> JSON {
        guard let numEnvs = instance.numEnvs else { return ["info": space.info] }
        return ["info": space.info, "single": single.info, "num_envs": .int(numEnvs)]
    }
}
