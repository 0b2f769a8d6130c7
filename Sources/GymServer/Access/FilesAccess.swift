import Foundation
import HTTPTypes
import Hummingbird
import GymService

/// Who may read what on port 8000. With API keys off everything is open. With keys on, the
/// pages themselves (the dashboard, the live view, their scripts) are open, and everything that
/// shows an instance or a file needs a key, sent as on port 5000 (`X-API-Key`, `Authorization:
/// Bearer`, `api_key` or `token` in the query) or as the cookie a browser gets from opening any
/// page once with `?key=KEY`: an HttpOnly, SameSite=Strict cookie, after which the address bar
/// loses the key (a 303 to the same page without it). The key's owner goes into the context, and
/// port 8000 then serves that owner's folder of the monitor root as its root.
struct FilesAccessMiddleware: RouterMiddleware {
    typealias Context = FilesRequestContext
    let keyring: APIKeyring

    static let cookieName = "gym_server_key"
    /// Paths anyone may fetch: pages and their assets, and the port's OpenAPI document, which hold no data.
    static let openPaths: Set<String> = ["/", "/index.html", "/render.html", "/config.json", "/favicon.ico", WebRoutes.openAPIPath]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard keyring.isEnabled else { return try await next(request, context) }
        let path = request.uri.path
        // `?key=KEY` on any page: set the cookie and drop the key from the address.
        if let key = request.uri.queryParameters["key"], !key.isEmpty {
            guard keyring.lookup(key) != nil else {
                return Self.unauthorized(PresentedKey.notValid)
            }
            return Self.setCookie(key: String(key), request: request)
        }
        var context = context
        if let presented = PresentedKey.fromHeaders(request.headers) ?? PresentedKey.fromQuery(request.uri)
            ?? Self.cookieKey(request.headers)
        {
            guard let owner = keyring.lookup(presented) else { return Self.unauthorized(PresentedKey.notValid) }
            context.owner = owner
            AccessLog.currentRequest?.keyName = owner.name
        }
        if context.owner == nil && !Self.openPaths.contains(path) && !path.hasPrefix("/_static/") {
            return Self.unauthorized(
                "This server needs an API key: open http://<host>:<port>/?key=<your key> once in your browser, or send the header 'X-API-Key: <key>'")
        }
        return try await next(request, context)
    }

    static func cookieKey(_ headers: HTTPFields) -> Substring? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingASCIIWhitespace()
                guard trimmed.hasPrefix(cookieName + "=") else { continue }
                let value = trimmed.dropFirst(cookieName.count + 1)
                if let decoded = ConfinedTree.percentDecoded(value), !decoded.isEmpty { return decoded[...] }
            }
        }
        return nil
    }

    /// 303 to the same path and query without `key`, setting the cookie.
    static func setCookie(key: String, request: Request) -> Response {
        var query: [String] = []
        if let raw = request.uri.query {
            for part in raw.split(separator: "&") where !(part == "key" || part.hasPrefix("key=")) {
                query.append(String(part))
            }
        }
        let location = request.uri.path + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
        let cookie = "\(cookieName)=\(percentEncoded(key)); Path=/; HttpOnly; SameSite=Strict"
        return Response(
            status: .seeOther,
            headers: [.location: location, .setCookie: cookie, .cacheControl: "no-store", .contentLength: "0"])
    }

    static func unauthorized(_ message: String) -> Response {
        var headers: HTTPFields = [.wwwAuthenticate: "Bearer realm=\"gym-server\""]
        headers[.cacheControl] = "no-store"
        return MonitorFiles.plain(.unauthorized, message + "\n", headers: headers)
    }
}
