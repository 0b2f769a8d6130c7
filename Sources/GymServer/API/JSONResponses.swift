import GymCore
import Hummingbird
import NIOCore
import GymService

/// A request body or path the client got wrong, answered with `status` and the gym servers'
/// error form `{"message": ..., "error": ...}`.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    var headers: HTTPFields = [:]

    init(_ message: String, status: HTTPResponse.Status = .badRequest, headers: HTTPFields = [:]) {
        self.message = message
        self.status = status
        self.headers = headers
    }

    init(_ error: GymError) { self.init(error.message, status: HTTPResponse.Status(code: error.status)) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.json(["message": .string(message), "error": .string(message)], status: status)
        for header in headers { response.headers.append(header) }
        return response
    }

    /// The answer to a body over `--max-body-size`.
    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(
            "The request body is larger than this server's limit of \(limit) bytes (--max-body-size)",
            status: .contentTooLarge)
    }
}

extension Response {
    /// A JSON answer.
    static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        JSONWriter.write(value, into: &buffer)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: buffer))
    }
}

extension Response {
    /// A reset or step answer, as MessagePack when the client asks for it (`Accept:
    /// application/msgpack` or `application/x-msgpack`), else as JSON.
    static func answer(_ answer: Answer, request: Request) -> Response {
        answers([answer], single: true, request: request)
    }

    /// Answers of a batch (a list), or one answer.
    static func answers(_ answers: [Answer], single: Bool = false, request: Request) -> Response {
        let (buffer, contentType) = encode(answers, single: single, messagePack: MessagePackNegotiation.wanted(request))
        return Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: buffer))
    }

    /// The bytes of answers (a list, or one answer) and their content type: MessagePack, or JSON
    /// with a newline. The routes and the fast path (`StepFastPath`) both answer with this.
    static func encode(
        _ answers: [Answer], single: Bool, messagePack: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()
    ) -> (ByteBuffer, String) {
        if messagePack {
            var writer = MessagePackWriter(reservingCapacity: 1024)
            if !single { writer.writeArrayHeader(answers.count) }
            for answer in answers { writer.write(answer) }
            var buffer = allocator.buffer(capacity: writer.bytes.count)
            buffer.writeBytes(writer.bytes)
            return (buffer, MessagePackNegotiation.contentType)
        }
        var writer = JSONWriter(reservingCapacity: 1024)
        if !single { writer.appendRaw("[") }
        for (index, answer) in answers.enumerated() {
            if index > 0 { writer.appendRaw(", ") }
            writer.write(answer)
        }
        if !single { writer.appendRaw("]") }
        var buffer = allocator.buffer(capacity: writer.bytes.count + 1)
        buffer.writeBytes(writer.bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return (buffer, "application/json")
    }
}

/// Whether a client asked for MessagePack: `Accept` names `application/msgpack` (or
/// `application/x-msgpack`) and ranks it at least as high as JSON.
enum MessagePackNegotiation {
    static let contentType = "application/msgpack"

    static func wanted(_ request: Request) -> Bool {
        wanted(accept: request.headers[.accept])
    }

    static func wanted(accept: String?) -> Bool {
        guard let accept, accept.contains("msgpack") else { return false }
        var msgpack = 0.0
        var json = 0.0
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingASCIIWhitespace().lowercased() }
            guard let type = parts.first else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                q = Double(parameter.dropFirst(2)) ?? 0
            }
            if type == "application/msgpack" || type == "application/x-msgpack" { msgpack = max(msgpack, q) }
            if type == "application/json" || type == "*/*" || type == "application/*" { json = max(json, q) }
        }
        return msgpack > 0 && msgpack >= json
    }
}

extension JSONWriter {
    /// Writes `value` at the end of `buffer`.
    static func write(_ value: JSON, into buffer: inout ByteBuffer) {
        buffer.writeBytes(encode(value))
    }
}

/// Turns every error into the JSON error form: client errors keep their status (400, 401, 413,
/// 429), errors of the framework (404 for an unknown route) too, and anything else is logged
/// and answered as a 500 with a message (no request should ever get there).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodySize: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return try Self.response(for: error, request: request, context: context, maxBodySize: maxBodySize)
        }
    }

    static func response(for error: any Error, request: Request, context: Context, maxBodySize: Int) throws -> Response {
        switch error {
        case let error as APIError:
            return try error.response(from: request, context: context)
        case let error as GymError:
            return try APIError(error).response(from: request, context: context)
        case let error as InstanceLookupError:
            return try APIError(error.message).response(from: request, context: context)
        case let error as LimitReached:
            return try APIError(error.message, status: .tooManyRequests).response(from: request, context: context)
        case is NIOTooManyBytesError:
            return try APIError.bodyTooLarge(limit: maxBodySize).response(from: request, context: context)
        case let error as HTTPError:
            let message = error.body ?? defaultMessage(error.status, request)
            return try APIError(message, status: error.status, headers: error.headers).response(from: request, context: context)
        case let error as HTTPResponseError where error.status.code < 500:
            return try APIError(defaultMessage(error.status, request), status: error.status).response(from: request, context: context)
        default:
            context.logger.error("Unexpected error on \(request.method) \(request.uri.path): \(error)")
            let message = "Internal error: \(error)"
            return .json(["message": .string(message), "error": .string(message)], status: .internalServerError)
        }
    }

    static func defaultMessage(_ status: HTTPResponse.Status, _ request: Request) -> String {
        switch status {
        case .notFound: return "No route for \(request.method) \(request.uri.path.prefix(200)); see GET /v1/help"
        case .methodNotAllowed: return "\(request.method) is not allowed on \(request.uri.path.prefix(200)); see GET /v1/help"
        default: return status.reasonPhrase
        }
    }
}

/// The JSON body of a request as the key check may already have read it.
enum ParsedBody: Sendable {
    /// No body, or only white space.
    case empty
    case object([String: JSON])
    /// JSON that is not an object (`""`, `[]`, `7`): what a route that needs fields refuses and
    /// one that needs none ignores, as openai's server ignored reset's body.
    case otherValue(JSON)
    /// Not JSON: the error to answer if a route reads the body.
    case invalid(APIError)
}

/// Reads JSON bodies as the Python servers read them, up to `limit` bytes (`--max-body-size`).
struct RequestJSON: Sendable {
    let limit: Int

    /// The body, read and classified.
    func parse(_ request: Request) async throws -> ParsedBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        }
        return Self.classify(buffer)
    }

    static func classify(_ buffer: ByteBuffer) -> ParsedBody {
        if buffer.readableBytes == 0 || buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return .empty
        }
        let json: JSON
        do {
            json = try JSONParser.parse(buffer.readableBytesView)
        } catch {
            return .invalid(APIError("Request is not a valid json: \(error)"))
        }
        switch json {
        case .object(let members): return .object(members)
        case .null: return .empty
        default: return .otherValue(json)
        }
    }

    /// The body as a JSON object; an absent body is `nil` when `optional`, and anything that is
    /// not a JSON object is the error the gym-http-api server gave. With `ignoringOtherValues`
    /// (routes that need no field: reset), JSON that is not an object counts as no body, as
    /// openai's server, which never read reset's body, took the Ruby binding's `""`.
    func object(
        _ request: Request, _ context: APIRequestContext, optional: Bool = false, ignoringOtherValues: Bool = false
    ) async throws -> [String: JSON]? {
        let parsed: ParsedBody
        if let cached = context.parsedBody {
            parsed = cached
        } else {
            parsed = try await parse(request)
        }
        switch parsed {
        case .object(let members): return members
        case .empty:
            if optional { return nil }
            throw APIError("Request is not a valid json")
        case .otherValue(let json):
            if optional && ignoringOtherValues { return nil }
            throw APIError("Request is not a valid json object: expected {...}, got \(json.typeName)")
        case .invalid(let error): throw error
        }
    }

    /// A parameter that must be present and not empty (`null`, `""` and `[]` count as absent).
    static func required(_ body: [String: JSON]?, _ name: String) throws -> JSON {
        guard let body else { throw APIError("Request is not a valid json") }
        guard let value = body[name], !value.isEmptyParameter else {
            throw APIError("A required request parameter '\(name)' was not provided")
        }
        return value
    }

    /// An optional parameter; `null`, `""` and `[]` mean "use the default".
    static func optional(_ body: [String: JSON]?, _ name: String) -> JSON? {
        guard let value = body?[name], !value.isEmptyParameter else { return nil }
        return value
    }

    /// A boolean parameter: `true`/`false`, or the strings `"true"`/`"false"` in any case, as
    /// the old bindings send them (openai's Lua binding); anything else is a 400 naming it.
    static func bool(_ body: [String: JSON]?, _ name: String, default value: Bool) throws -> Bool {
        guard let json = optional(body, name) else { return value }
        guard let b = json.flagValue else {
            throw APIError("Parameter '\(name)' must be true or false (or the string \"true\" or \"false\"), got \(JSONWriter.shortString(json))")
        }
        return b
    }

    static func string(_ body: [String: JSON]?, _ name: String) throws -> String? {
        guard let json = optional(body, name) else { return nil }
        guard let s = json.stringValue else {
            throw APIError("Parameter '\(name)' must be a string, got \(JSONWriter.shortString(json))")
        }
        return s
    }

    static func object(_ body: [String: JSON]?, _ name: String) throws -> [String: JSON]? {
        guard let value = body?[name], !value.isNull else { return nil }
        guard let members = value.objectValue else {
            throw APIError("Parameter '\(name)' must be a JSON object, got \(JSONWriter.shortString(value))")
        }
        return members
    }

    /// A seed: a non-negative integer that fits numpy's SeedSequence entropy here (< 2^63).
    static func seed(_ body: [String: JSON]?) throws -> UInt64? {
        guard let json = optional(body, "seed") else { return nil }
        guard let seed = json.intValue, seed >= 0 else {
            throw APIError("Parameter 'seed' must be a non-negative integer below 2^63, got \(JSONWriter.shortString(json))")
        }
        return UInt64(seed)
    }
}

extension JSONWriter {
    /// The JSON text of a client's value for an error message, cut to a readable length.
    public static func shortString(_ value: JSON, limit: Int = 200) -> String {
        let text = string(value)
        guard text.count > limit else { return text }
        return String(text.prefix(limit)) + "..."
    }
}
