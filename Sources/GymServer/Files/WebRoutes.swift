import Foundation
import GymCore
import HTTPTypes
import Hummingbird
import NIOCore
import GymService

/// The pages of port 8000 (`web/`, built into the binary as `WebAssets`): the dashboard at `/`,
/// the live view at `/render.html`, their scripts and styles under `/_static/`,
/// `/config.json`, which tells them where the API listens, and `/_openapi.json`, the OpenAPI
/// description of this port (docs/openapi-files.json, built in as `FilesOpenAPIDocument`).
struct WebRoutes: Sendable {
    let site: FilesSite
    let webDirectory: URL?
    let files: MonitorFiles
    /// API keys are on: data needs an owner.
    let requiresKey: Bool
    /// This server is a replica of a fleet (`--replica-id`), maybe behind a front.
    var fleet = false

    /// An asset ready to send.
    struct Page: Sendable {
        let contentType: String
        let eTag: String
        let body: ByteBuffer
    }

    func add(to router: Router<FilesRequestContext>) {
        let routes = self
        for method in [HTTPRequest.Method.get, .head] {
            router.on("/", method: method) { request, context in
                if MonitorFiles.wantsJSON(request) {
                    return await routes.rootListing(request, context: context)
                }
                return try routes.page("index.html", request)
            }
            router.on("/index.html", method: method) { request, _ in try routes.page("index.html", request) }
            router.on("/render.html", method: method) { request, _ in try routes.page("render.html", request) }
            router.on("/_static/{name}", method: method) { request, context in
                try routes.page(context.parameters.require("name"), request)
            }
            router.on("/config.json", method: method) { request, _ in routes.config(request) }
            router.on(RouterPath(Self.openAPIPath), method: method) { request, _ in routes.send(Self.openAPIDocument, request) }
            // Hummingbird matches `/_files` and `/_files/` alike.
            router.on("/_files/", method: method) { request, context in await routes.rootListing(request, context: context) }
        }
    }

    func rootListing(_ request: Request, context: FilesRequestContext) async -> Response {
        if requiresKey && context.owner == nil {
            return FilesAccessMiddleware.unauthorized(PresentedKey.howToSend)
        }
        let tree = files.tree(context)
        do {
            guard let root = try await BlockingWork.run({ tree.resolvedRoot }) else {
                // An owner with nothing recorded yet: an empty root.
                return try await files.listing([], entries: [], request: request)
            }
            return try await files.listing([], resolved: root, tree: tree, request: request)
        } catch {
            return MonitorFiles.notFound
        }
    }

    func config(_ request: Request) -> Response {
        let json: JSON = [
            "api_port": .int(site.apiPort),
            "api_host": .string(site.apiHost),
            "api_prefix": "/v1",
            "live_events": "/_live/events",
            "live_instances": "/_live/instances",
            "keys_required": .bool(requiresKey),
            // Behind a fleet's front the pages watch each replica's instances on a stream of its own.
            "fleet": .bool(fleet),
        ]
        var buffer = ByteBuffer()
        buffer.writeBytes(JSONWriter.encode(json))
        buffer.writeInteger(UInt8(ascii: "\n"))
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "no-cache", .contentLength: String(buffer.readableBytes)],
            body: request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: buffer))
    }

    /// The asset `name`, with an entity tag of its content and 304s for a browser that has it.
    func page(_ name: String, _ request: Request) throws -> Response {
        guard let page = lookup(name) else { throw HTTPError(.notFound) }
        return send(page, request)
    }

    func send(_ page: Page, _ request: Request) -> Response {
        var headers: HTTPFields = [
            .contentType: page.contentType,
            .eTag: page.eTag,
            .cacheControl: "no-cache",
        ]
        headers[Self.noSniff] = "nosniff"
        headers[Self.referrerPolicy] = "no-referrer"
        if request.headers[values: .ifNoneMatch].flatMap({ $0.split(separator: ",") }).contains(where: {
            FileValidators.weakEqual(String($0.trimmingASCIIWhitespace()), page.eTag) || $0.trimmingASCIIWhitespace() == "*"
        }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(page.body.readableBytes)
        return Response(
            status: .ok, headers: headers, body: request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: page.body))
    }

    static let noSniff = HTTPField.Name("X-Content-Type-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    private func lookup(_ name: String) -> Page? {
        guard !name.isEmpty, !name.contains("/"), !name.contains("\\"), !name.hasPrefix(".") else { return nil }
        if let webDirectory {
            // Development: the file as it is on disk now.
            guard let data = FileManager.default.contents(atPath: webDirectory.appendingPathComponent(name).path) else {
                return nil
            }
            var hasher = Hasher()
            hasher.combine(data)
            return Page(
                contentType: ContentTypes.forName(name), eTag: "\"dev-\(String(UInt(bitPattern: hasher.finalize()), radix: 16))\"",
                body: ByteBuffer(bytes: data))
        }
        return Self.builtIn[name]
    }

    static let openAPIPath = "/_openapi.json"
    /// docs/openapi-files.json as built into the binary. Open with API keys on (see
    /// `FilesAccessMiddleware`): it is documentation, and holds nothing of anyone's.
    static let openAPIDocument = Page(
        contentType: "application/json", eTag: "\"\(FilesOpenAPIDocument.digest)\"", body: ByteBuffer(string: FilesOpenAPIDocument.text))

    /// The pages built into the binary, ready to send.
    static let builtIn: [String: Page] = WebAssets.all.mapValues { asset in
        Page(contentType: ContentTypes.forName(asset.name), eTag: "\"\(asset.digest)\"", body: ByteBuffer(string: asset.text))
    }
}
