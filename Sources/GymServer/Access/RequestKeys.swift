import GymCore
import HTTPTypes
import Hummingbird
import HummingbirdCore
import GymService

/// Where a client's API key can be: the forms every client can manage. Headers first (`X-API-Key`,
/// `Authorization: Bearer`), then the query string (`api_key`, `token`), then the JSON body's
/// `api_key` or `token` (osim-rl-grader's clients send `token`; openai's upload sends `api_key`).
enum PresentedKey {
    static let headerName = HTTPField.Name("X-API-Key")!
    static let queryNames = ["api_key", "token"]

    /// What a client is told when it sent no key.
    static let howToSend =
        "This server needs an API key: send it in the header 'X-API-Key: <key>' or 'Authorization: Bearer <key>', or as 'api_key' (or 'token') in the JSON body or the query string"
    static let notValid = "The API key sent is not valid on this server"

    static func fromHeaders(_ headers: HTTPFields) -> Substring? {
        fromHeaders(apiKey: headers[headerName], authorization: headers[.authorization])
    }

    /// The key in an `X-API-Key` value, or else in an `Authorization: Bearer` value.
    static func fromHeaders(apiKey: String?, authorization: String?) -> Substring? {
        if let value = apiKey {
            let key = value.trimmingASCIIWhitespace()
            if !key.isEmpty { return key }
        }
        if let authorization {
            let trimmed = authorization.trimmingASCIIWhitespace()
            if trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " {
                let key = trimmed.dropFirst(7).trimmingASCIIWhitespace()
                if !key.isEmpty { return key }
            }
        }
        return nil
    }

    static func fromQuery(_ uri: URI) -> Substring? {
        let parameters = uri.queryParameters
        for name in queryNames {
            if let value = parameters[name[...]], !value.isEmpty { return value }
        }
        return nil
    }

    static func fromBody(_ body: [String: JSON]) -> Substring? {
        for name in queryNames {
            if let value = body[name]?.stringValue, !value.isEmpty { return value[...] }
        }
        return nil
    }

    /// The 401 for a request without a usable key.
    static func unauthorized(_ message: String) -> APIError {
        APIError(message, status: .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"gym-server\""])
    }
}

/// The request context of port 5000: Hummingbird's, plus who is asking (the owner of the API
/// key sent; nil with keys off) and the JSON body when the key check had to read it.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The owner of the key the request carried (nil with API keys off).
    public var owner: Owner?
    /// The body, when the key check read it to find a key in it.
    var parsedBody: ParsedBody?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }
}

/// With API keys on, every route of port 5000 but the open ones (`GET /v1/help`, health, the
/// OpenAPI document, CORS preflights) needs a valid key: 401 otherwise, with a message that says
/// how to send one. The key's owner goes into the context. `/metrics` also opens to the metrics
/// token, and needs it when a token is set without keys (`MetricsAccess`).
struct APIKeyMiddleware: RouterMiddleware {
    typealias Context = APIRequestContext
    let keyring: APIKeyring
    let body: RequestJSON
    var metricsAccess: MetricsAccess? = nil
    static let openPaths: Set<String> = ["/v1/help", "/healthz", "/openapi.json"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let metricsAccess, metricsAccess.isProtected, request.method != .options,
            Self.normalized(request.uri.path) == MetricsAccess.path
        {
            if metricsAccess.presentsToken(request.headers) { return try await next(request, context) }
            if !keyring.isEnabled { throw PresentedKey.unauthorized(MetricsAccess.howToSend) }
        }
        guard keyring.isEnabled, request.method != .options, !Self.openPaths.contains(Self.normalized(request.uri.path)) else {
            return try await next(request, context)
        }
        var context = context
        var presented = PresentedKey.fromHeaders(request.headers) ?? PresentedKey.fromQuery(request.uri)
        if presented == nil {
            let parsed = try await body.parse(request)
            context.parsedBody = parsed
            if case .object(let members) = parsed { presented = PresentedKey.fromBody(members) }
        }
        guard let presented else { throw PresentedKey.unauthorized(PresentedKey.howToSend) }
        guard let owner = keyring.lookup(presented) else { throw PresentedKey.unauthorized(PresentedKey.notValid) }
        context.owner = owner
        AccessLog.currentRequest?.keyName = owner.name
        return try await next(request, context)
    }

    static func normalized(_ path: String) -> String {
        path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }
}
