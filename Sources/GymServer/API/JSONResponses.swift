import GymCore
import HTTPTypes
import Hummingbird
import NIOCore
import GymService

/// The API's errors are the service's one error type (`CallError`): here, its HTTP side.
typealias APIError = CallError

extension CallError: HTTPResponseError {
    /// An error answered with `status` (400 unless said) and the gym servers' error form.
    init(_ message: String, status: HTTPResponse.Status, headers: HTTPFields = [:]) {
        let kind: Kind =
            switch status.code {
            case 401, 403: .access
            case 429: .limit
            case 500...: .internal
            default: .request
            }
        self.init(message, kind: kind, status: status.code, headers: headers.map { (name: $0.name.canonicalName, value: $0.value) })
    }

    public var status: HTTPResponse.Status { HTTPResponse.Status(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = Response.json(body, status: status)
        for header in headers {
            if let name = HTTPField.Name(header.name) { response.headers.append(HTTPField(name: name, value: header.value)) }
        }
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

    /// Whether `Accept` prefers MessagePack to JSON (a q above zero, and at least JSON's). Read
    /// byte by byte for an ASCII header (every step of a client that asks for MessagePack reads
    /// it); `wantedByCharacters` reads any other, and is what this must agree with.
    static func wanted(accept: String?) -> Bool {
        guard var accept else { return false }
        if let answer = accept.withUTF8({ wantedASCII($0) }) { return answer }
        return wantedByCharacters(accept: accept)
    }

    /// `wanted` of an ASCII header (nil for any other): the same items (split at commas, empty
    /// ones skipped), parameters (split at semicolons, empty ones skipped), blanks trimmed,
    /// names compared lower-cased, the last `q` counting.
    static func wantedASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool? {
        let n = bytes.count
        var mentions = false
        var i = 0
        while i < n {
            if bytes[i] >= 0x80 { return nil }
            if !mentions && bytes[i] == UInt8(ascii: "m") && i + 7 <= n && matches(bytes, i, "msgpack", lowercasing: false) { mentions = true }
            i += 1
        }
        guard mentions else { return false }
        var msgpack = 0.0
        var json = 0.0
        var itemStart = 0
        while itemStart < n {
            var itemEnd = itemStart
            while itemEnd < n && bytes[itemEnd] != UInt8(ascii: ",") { itemEnd += 1 }
            var type: Range<Int>?
            var q = 1.0
            var partStart = itemStart
            while partStart < itemEnd {
                var partEnd = partStart
                while partEnd < itemEnd && bytes[partEnd] != UInt8(ascii: ";") { partEnd += 1 }
                if partEnd > partStart {
                    var lower = partStart
                    var upper = partEnd
                    while lower < upper && (bytes[lower] == 0x20 || bytes[lower] == 0x09) { lower += 1 }
                    while upper > lower && (bytes[upper - 1] == 0x20 || bytes[upper - 1] == 0x09) { upper -= 1 }
                    if type == nil {
                        type = lower..<upper
                    } else if upper - lower >= 2 && matches(bytes, lower, "q=", lowercasing: true) {
                        let value = String(decoding: UnsafeBufferPointer(rebasing: bytes[(lower + 2)..<upper]), as: UTF8.self)
                        q = Double(value.lowercased()) ?? 0
                    }
                }
                partStart = partEnd + 1
            }
            if let type {
                if isType(bytes, type, "application/msgpack") || isType(bytes, type, "application/x-msgpack") { msgpack = max(msgpack, q) }
                if isType(bytes, type, "application/json") || isType(bytes, type, "*/*") || isType(bytes, type, "application/*") {
                    json = max(json, q)
                }
            }
            itemStart = itemEnd + 1
        }
        return msgpack > 0 && msgpack >= json
    }

    private static func isType(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ name: StaticString) -> Bool {
        range.count == name.utf8CodeUnitCount && matches(bytes, range.lowerBound, name, lowercasing: true)
    }

    /// Whether `name` (lower-case ASCII) is at `at` (ASCII letters lower-cased first, if asked).
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ at: Int, _ name: StaticString, lowercasing: Bool) -> Bool {
        let count = name.utf8CodeUnitCount
        guard at + count <= bytes.count else { return false }
        let start = name.utf8Start
        for k in 0..<count {
            var byte = bytes[at + k]
            if lowercasing && byte >= 0x41 && byte <= 0x5A { byte |= 0x20 }
            if byte != start[k] { return false }
        }
        return true
    }

    /// `wanted` read as Swift's strings read it (any header).
    static func wantedByCharacters(accept: String?) -> Bool {
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
        case is NIOTooManyBytesError:
            return try APIError.bodyTooLarge(limit: maxBodySize).response(from: request, context: context)
        case let error as HTTPError:
            let message = error.body ?? defaultMessage(error.status, request)
            return try APIError(message, status: error.status, headers: error.headers).response(from: request, context: context)
        case let error as HTTPResponseError where !(error is CallError) && error.status.code < 500:
            return try APIError(defaultMessage(error.status, request), status: error.status).response(from: request, context: context)
        default:
            // The service's errors (the call's, the instance's, the environment's, a limit) in
            // their one form; anything else is a 500, logged.
            let failure = CallError(error)
            if failure.kind == .internal {
                context.logger.error("Unexpected error on \(request.method) \(request.uri.path): \(error)")
            }
            return try failure.response(from: request, context: context)
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
typealias ParsedBody = CallBody

/// Reads JSON bodies as the Python servers read them, up to `limit` bytes (`--max-body-size`).
struct RequestJSON: Sendable {
    let limit: Int

    /// The body, read.
    func parse(_ request: Request) async throws -> CallBody {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        }
        return CallBody.read(buffer.readableBytesView)
    }

    /// The body, read once: the key check's reading when it read it.
    func body(_ request: Request, _ context: APIRequestContext) async throws -> CallBody {
        if let cached = context.parsedBody { return cached }
        return try await parse(request)
    }

    /// The body as a JSON object (`CallBody.object`).
    func object(
        _ request: Request, _ context: APIRequestContext, optional: Bool = false, ignoringOtherValues: Bool = false
    ) async throws -> [String: JSON]? {
        let parsed = try await body(request, context)
        return try Self.members(parsed, optional: optional, ignoringOtherValues: ignoringOtherValues)
    }

    /// `CallBody.object`, out of line and untyped: Swift 6.3's optimiser crashes (signal 11,
    /// splitting a route's coroutine) when that typed-throwing call is inlined after the await.
    @inline(never)
    private static func members(_ parsed: CallBody, optional: Bool, ignoringOtherValues: Bool) throws -> [String: JSON]? {
        try parsed.object(optional: optional, ignoringOtherValues: ignoringOtherValues)
    }
}
