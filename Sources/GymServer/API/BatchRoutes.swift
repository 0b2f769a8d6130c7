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
            try await routes.run(request, context) { (item) throws(CallError) in try CallDecoder.batchItem(item, CallDecoder.step) } perform: { instance, call in
                try await instance.perform(call)
            }
        }
        catalog.add("POST", "/v1/batch/reset/", "Reset many instances in one request: a list of {instance_id, seed?, options?, render?}. Answers the list of reset results in the same order ({error, message, status} for an item that failed).")
        router.post("/v1/batch/reset/") { request, context in
            try await routes.run(request, context) { (item) throws(CallError) in try CallDecoder.batchItem(item, CallDecoder.reset) } perform: { instance, call in
                try await instance.perform(call)
            }
        }
    }

    /// Reads the items, decodes each into its call and performs it on its instance: read ->
    /// call -> answer, item by item.
    private func run<Call: Sendable & InstanceCall>(
        _ request: Request, _ context: Context, decode: @escaping @Sendable (JSON) throws(CallError) -> Call,
        perform: @escaping @Sendable (EnvironmentInstance, Call) async throws -> Answer
    ) async throws -> Response {
        let items = try await Self.items(request, context, limit: body.limit)
        let owner = context.owner
        let manager = self.manager
        var results = [Answer](repeating: .failure(message: "", status: 500), count: items.count)
        let sliceSize = max(1, (items.count + Self.slices - 1) / Self.slices)
        await withTaskGroup(of: [(Int, Answer)].self) { group in
            for start in stride(from: 0, to: items.count, by: sliceSize) {
                let slice = Array(items[start..<min(items.count, start + sliceSize)].enumerated())
                group.addTask {
                    var answers: [(Int, Answer)] = []
                    answers.reserveCapacity(slice.count)
                    for (offset, item) in slice {
                        answers.append((start + offset, await Self.answer(item, manager: manager, owner: owner, decode: decode, perform: perform)))
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

    /// One item's answer: what its call answered, or its error in the batch item's form.
    private static func answer<Call: InstanceCall>(
        _ item: JSON, manager: EnvironmentManager, owner: Owner?, decode: (JSON) throws(CallError) -> Call,
        perform: @Sendable (EnvironmentInstance, Call) async throws -> Answer
    ) async -> Answer {
        do {
            let call = try decode(item)
            return try await perform(try manager.instance(call.instanceID, for: owner), call)
        } catch {
            return CallError(error).batchItem
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
