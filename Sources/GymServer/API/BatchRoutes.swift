import GymCore
import Hummingbird
import NIOCore
import GymService

/// Independent instances in one request: `POST /v1/batch/step/` with a list of
/// `{instance_id, action, render?}` and `POST /v1/batch/reset/` with a list of
/// `{instance_id, seed?, options?, render?}` answer the list of results in the same order. An item
/// that fails answers `{"error": ..., "message": ..., "status": 400}` in its place; the others go
/// on. The items run in parallel, a slice per core. Like reset and step, the answer is MessagePack
/// for `Accept: application/msgpack`.
struct BatchRoutes: Sendable {
    typealias Context = APIRequestContext
    let manager: EnvironmentManager
    let body: RequestJSON

    /// How many slices a batch is cut into: one per core.
    static let slices = max(1, System.coreCount)

    func add(to router: Router<Context>, catalog: inout RouteCatalog) {
        let routes = self
        catalog.add("POST", "/v1/batch/step/", "Step many instances in one request: a list of {instance_id, action, render?}. Answers the list of step results in the same order ({error, message, status} for an item that failed).")
        router.post("/v1/batch/step/") { request, context in
            try await routes.run(request, context, requiring: "action") { instance, item in
                let action = try RequestJSON.required(item, "action")
                let render = try RequestJSON.bool(item, "render", default: false)
                return try await instance.step(action: action, render: render)
            }
        }
        catalog.add("POST", "/v1/batch/reset/", "Reset many instances in one request: a list of {instance_id, seed?, options?, render?}. Answers the list of reset results in the same order ({error, message, status} for an item that failed).")
        router.post("/v1/batch/reset/") { request, context in
            try await routes.run(request, context, requiring: nil) { instance, item in
                let seeds = try EnvironmentRoutes.seeds(item, numEnvs: instance.numEnvs)
                let options = try RequestJSON.object(item, "options")
                let render = try RequestJSON.bool(item, "render", default: false)
                return try await instance.reset(seeds: seeds, options: options, render: render)
            }
        }
    }

    private func run(
        _ request: Request, _ context: Context, requiring: String?,
        _ perform: @escaping @Sendable (EnvironmentInstance, [String: JSON]) async throws -> Answer
    ) async throws -> Response {
        let items = try await Self.items(request, context, limit: body.limit)
        let owner = context.owner
        let manager = self.manager
        var results = [Answer](repeating: Answer([:]), count: items.count)
        let sliceSize = max(1, (items.count + Self.slices - 1) / Self.slices)
        await withTaskGroup(of: [(Int, Answer)].self) { group in
            for start in stride(from: 0, to: items.count, by: sliceSize) {
                let slice = Array(items[start..<min(items.count, start + sliceSize)].enumerated())
                group.addTask {
                    var answers: [(Int, Answer)] = []
                    answers.reserveCapacity(slice.count)
                    for (offset, item) in slice {
                        answers.append((start + offset, await Self.answer(item, manager: manager, owner: owner, perform: perform)))
                    }
                    return answers
                }
            }
            for await answers in group {
                for (index, answer) in answers { results[index] = answer }
            }
        }
        return .answers(results, request: request)
    }

    /// One item's answer: what `perform` returned, or its error in the API's form.
    private static func answer(
        _ item: JSON, manager: EnvironmentManager, owner: Owner?,
        perform: @Sendable (EnvironmentInstance, [String: JSON]) async throws -> Answer
    ) async -> Answer {
        do {
            guard case .object(let members) = item else {
                throw APIError("Each item must be an object such as {\"instance_id\": \"3c657dbc\", \"action\": 0}, got \(JSONWriter.shortString(item))")
            }
            let id = try RequestJSON.required(members, "instance_id")
            guard let instanceID = id.stringValue else {
                throw APIError("Parameter 'instance_id' must be a string, got \(JSONWriter.shortString(id))")
            }
            return try await perform(try manager.instance(instanceID, for: owner), members)
        } catch {
            let (message, status): (String, Int) =
                switch error {
                case let error as APIError: (error.message, Int(error.status.code))
                case let error as GymError: (error.message, error.status)
                case let error as InstanceLookupError: (error.message, 400)
                default: ("\(error)", 400)
                }
            return Answer(["error": .json(.string(message)), "message": .json(.string(message)), "status": .json(.int(status))])
        }
    }

    /// The body: a JSON list of items (or `{"items": [...]}`, which may carry an API key).
    private static func items(_ request: Request, _ context: Context, limit: Int) async throws -> [JSON] {
        if case .object(let members)? = context.parsedBody, let items = members["items"]?.arrayValue { return items }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        }
        let json: JSON
        do {
            json = try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw APIError("Request is not a valid json: \(error)")
        }
        switch json {
        case .array(let items): return items
        case .object(let members):
            if let items = members["items"]?.arrayValue { return items }
            throw APIError("Send a list of items, e.g. [{\"instance_id\": \"3c657dbc\", \"action\": 0}, ...]")
        default:
            throw APIError("Send a list of items, e.g. [{\"instance_id\": \"3c657dbc\", \"action\": 0}, ...], got \(json.typeName)")
        }
    }
}
