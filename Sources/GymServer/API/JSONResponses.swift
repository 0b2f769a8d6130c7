import GymCore
import Hummingbird
import NIOCore

/// A request body or path the client got wrong, answered with `status` and the gym servers'
/// error form `{"message": ..., "error": ...}`.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String

    init(_ message: String, status: HTTPResponse.Status = .badRequest) {
        self.message = message
        self.status = status
    }

    init(_ error: GymError) { self.init(error.message) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        .json(["message": .string(message), "error": .string(message)], status: status)
    }
}

extension Response {
    /// A JSON answer.
    static func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = JSONWriter.encode(value)
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: buffer))
    }
}

/// Turns every error into the JSON error form: client errors keep their status, errors of the
/// framework (404 for an unknown route, 413 for a body too large) too, and anything else is
/// logged and answered as a 500 with a message (no request should ever get there).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as GymError {
            return try APIError(error).response(from: request, context: context)
        } catch let error as HTTPError {
            let message = error.body ?? Self.defaultMessage(error.status, request)
            var response = Response.json(["message": .string(message), "error": .string(message)], status: error.status)
            for header in error.headers { response.headers.append(header) }
            return response
        } catch {
            context.logger.error("Unexpected error on \(request.method) \(request.uri.path): \(error)")
            let message = "Internal error: \(error)"
            return .json(["message": .string(message), "error": .string(message)], status: .internalServerError)
        }
    }

    static func defaultMessage(_ status: HTTPResponse.Status, _ request: Request) -> String {
        switch status {
        case .notFound: return "No route for \(request.method) \(request.uri.path); see GET /v1/help"
        case .contentTooLarge: return "Request body too large"
        default: return status.reasonPhrase
        }
    }
}

/// The JSON body of a request, read as the Python servers read it.
struct RequestJSON {
    static let maximumBodySize = 1 << 20

    /// The body as a JSON object; an absent body is `nil` when `optional`, and anything that is
    /// not a JSON object is the error the gym-http-api server gave.
    static func object(_ request: Request, optional: Bool = false) async throws -> [String: JSON]? {
        let buffer = try await request.body.collect(upTo: maximumBodySize)
        if buffer.readableBytes == 0 || buffer.readableBytesView.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            if optional { return nil }
            throw APIError("Request is not a valid json")
        }
        let json: JSON
        do {
            json = try JSONParser.parse(buffer.readableBytesView)
        } catch {
            throw APIError("Request is not a valid json: \(error)")
        }
        if json.isNull, optional { return nil }
        guard case .object(let members) = json else {
            throw APIError("Request is not a valid json object: expected {...}, got \(json.typeName)")
        }
        return members
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

    static func bool(_ body: [String: JSON]?, _ name: String, default value: Bool) throws -> Bool {
        guard let json = optional(body, name) else { return value }
        guard let b = json.boolValue else {
            throw APIError("Parameter '\(name)' must be true or false, got \(JSONWriter.string(json))")
        }
        return b
    }

    static func string(_ body: [String: JSON]?, _ name: String) throws -> String? {
        guard let json = optional(body, name) else { return nil }
        guard let s = json.stringValue else {
            throw APIError("Parameter '\(name)' must be a string, got \(JSONWriter.string(json))")
        }
        return s
    }

    static func object(_ body: [String: JSON]?, _ name: String) throws -> [String: JSON]? {
        guard let value = body?[name], !value.isNull else { return nil }
        guard let members = value.objectValue else {
            throw APIError("Parameter '\(name)' must be a JSON object, got \(JSONWriter.string(value))")
        }
        return members
    }

    /// A seed: a non-negative integer that fits numpy's SeedSequence entropy here (< 2^63).
    static func seed(_ body: [String: JSON]?) throws -> UInt64? {
        guard let json = optional(body, "seed") else { return nil }
        guard let seed = json.intValue, seed >= 0 else {
            throw APIError("Parameter 'seed' must be a non-negative integer, got \(JSONWriter.string(json))")
        }
        return UInt64(seed)
    }
}
