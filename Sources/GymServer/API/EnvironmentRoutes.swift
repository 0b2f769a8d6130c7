import GymCore
import Hummingbird

/// The gym HTTP API on `/v1`: the routes of openai/gym-http-api and flaviotruzzi's gym-server.
struct EnvironmentRoutes<Context: RequestContext>: Sendable {
    let manager: EnvironmentManager
    let shutdown: ShutdownSwitch

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
        route(.post, "/v1/envs/{instance_id}/reset/", "Reset the environment; optional {seed, options}. Returns {observation, info}.") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let body = try await RequestJSON.object(request, optional: true)
            let seed = try RequestJSON.seed(body)
            let options = try RequestJSON.object(body, "options")
            let answer = try instance.withEnvironment { (env) throws(GymError) -> JSON in
                let (observation, info) = try env.reset(seed: seed, options: options)
                return ["observation": env.observationSpace.json(observation), "info": .object(info)]
            }
            return .json(answer)
        }
        route(.post, "/v1/envs/{instance_id}/step/", "Step with {action}. Returns {observation, reward, done, info, terminated, truncated}.") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let body = try await RequestJSON.object(request)
            let action = try RequestJSON.required(body, "action")
            let answer = try instance.withEnvironment { (env) throws(GymError) -> JSON in
                let result = try env.step(json: action)
                return [
                    "observation": env.observationSpace.json(result.observation),
                    "reward": .double(result.reward),
                    "done": .bool(result.done),
                    "terminated": .bool(result.terminated),
                    "truncated": .bool(result.truncated),
                    "info": .object(result.info),
                ]
            }
            return .json(answer)
        }
        route(.get, "/v1/envs/{instance_id}/action_space/", "The action space: {info: {name, n | shape, low, high, ...}}.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            return .json(["info": instance.withEnvironment { $0.actionSpace.info }])
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
            let member = instance.withEnvironment { env -> Bool in
                guard let value = try? env.actionSpace.value(from: x) else { return false }
                return env.actionSpace.contains(value)
            }
            return .json(["member": .bool(member)])
        }
        route(.get, "/v1/envs/{instance_id}/observation_space/", "The observation space: {info: {name, n | shape, low, high, ...}}.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            return .json(["info": instance.withEnvironment { $0.observationSpace.info }])
        }
        route(.post, "/v1/envs/{instance_id}/observation_space/contains", "Whether every property given ({name, shape, low, ...}) equals the observation space's: {member}.") { request, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            guard let body = try await RequestJSON.object(request), !body.isEmpty else {
                throw APIError("A required request parameter was not provided: give properties of the space, e.g. {\"name\": \"Box\"}")
            }
            let info = instance.withEnvironment { $0.observationSpace.info }.objectValue ?? [:]
            if let unknown = body.keys.sorted().first(where: { info[$0] == nil }) {
                throw APIError("The observation space has no property '\(unknown)'; it has \(info.keys.sorted().joined(separator: ", "))")
            }
            let member = body.allSatisfy { key, value in info[key]!.numericallyEquals(value) }
            return .json(["member": .bool(member)])
        }
        route(.get, "/v1/envs/{instance_id}/info", "Expose the action space (as gym prints it) and the observation space's shape and bounds.") { _, context in
            let instance = try manager.instance(try context.parameters.require("instance_id"))
            let (action, observation) = instance.withEnvironment { env in (env.actionSpace, env.observationSpace) }
            var described = observation.info.objectValue ?? [:]
            if case .box = observation {
                described = described.filter { ["shape", "low", "high"].contains($0.key) }
            }
            return .json(["action_space": .string(action.description), "observation_space": .object(described)])
        }
        route(.post, "/v1/envs/{instance_id}/close/", "Close the environment and forget the instance.") { _, context in
            let id = try context.parameters.require("instance_id")
            try manager.close(id)
            return .json(["message": true])
        }
        route(.post, "/v1/shutdown/", "Request a server shutdown (only when started with --allow-shutdown).") { _, _ in
            guard shutdown.isAllowed else {
                throw APIError("Shutdown over the API is disabled: start gym-server with --allow-shutdown to allow it", status: .forbidden)
            }
            shutdown.trigger()
            return .json(["message": "Server shutting down"])
        }
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
