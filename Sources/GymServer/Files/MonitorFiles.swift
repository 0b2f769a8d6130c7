import GymCore
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import GymService

/// Serves the monitor root, read-only, for every path no route of port 8000 claims: directory
/// listings (HTML, or JSON when the client's `Accept` prefers `application/json` or the query
/// says `format=json`), files with their content type, single byte ranges, entity tags and
/// conditional requests, and `<dir>.zip` for any directory.
///
/// Hummingbird's `FileMiddleware` is not used: it answers `..` with 400 rather than 404, follows
/// symbolic links out of its root, reads `bytes=-N` as the first N+1 bytes instead of the last N,
/// and answers a range starting past the end with a 206 instead of a 416. Its `FileIO` still
/// streams the bytes.
struct MonitorFiles: RouterMiddleware {
    typealias Context = FilesRequestContext
    /// The route the metrics name a path of the monitor root by (no route template matched it).
    static let route = "/{monitor path}"
    let manager: EnvironmentManager
    let fileIO = FileIO(threadPool: BlockingWork.pool)
    /// Zip archives being built (downloads here, uploads on port 5000).
    let archives: ConcurrencyLimit

    init(manager: EnvironmentManager, archives: ConcurrencyLimit) {
        self.manager = manager
        self.archives = archives
    }

    /// The tree a request sees: the monitor root, or with API keys its owner's folder of it.
    func tree(_ context: Context) -> ConfinedTree {
        ConfinedTree(root: manager.space(for: context.owner).path)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError where error.status == .notFound {
            context.coreContext.endpointPath.value = Self.route
            guard request.method == .get || request.method == .head else {
                return Self.plain(.methodNotAllowed, "Only GET and HEAD are served here.\n", headers: [.allow: "GET, HEAD"])
            }
            return await serve(request, context: context)
        }
    }

    /// The answer for a path of the monitor root; every failure is a 404 that says nothing of
    /// what exists outside.
    func serve(_ request: Request, context: Context) async -> Response {
        guard let components = ConfinedTree.components(ofRawPath: request.uri.path[...]) else {
            return Self.notFound
        }
        let tree = tree(context)
        do {
            // Resolving and stat-ing touch the disk: not on the cooperative pool.
            let found = try await BlockingWork.run { () -> (String, ConfinedTree.Status)? in
                guard let resolved = tree.resolve(components), let status = ConfinedTree.status(resolved) else { return nil }
                return (resolved, status)
            }
            if let (resolved, status) = found {
                switch status.kind {
                case .directory:
                    guard request.uri.path.hasSuffix("/") else {
                        // Relative links in a listing need the slash.
                        var location = DirectoryListing.urlPath(components, directory: true)
                        if let query = request.uri.query, !query.isEmpty { location += "?" + query }
                        return Response(status: .movedPermanently, headers: [.location: location, .contentLength: "0"])
                    }
                    return try await listing(components, resolved: resolved, tree: tree, request: request)
                case .file:
                    // `/x.png/` names a directory that is not there.
                    guard !request.uri.path.hasSuffix("/") else { return Self.notFound }
                    return try await file(resolved, status: status, request: request, context: context)
                case .other:
                    return Self.notFound
                }
            }
            // `<dir>.zip` where no such file exists: the directory as an archive.
            if let last = components.last, last.hasSuffix(".zip"), !["", ".", ".."].contains(last.dropLast(4)) {
                let directoryComponents = Array(components.dropLast() + [String(last.dropLast(4))])
                let directory = try await BlockingWork.run { () -> String? in
                    guard let resolved = tree.resolve(directoryComponents), ConfinedTree.status(resolved)?.kind == .directory else {
                        return nil
                    }
                    return resolved
                }
                if let directory {
                    return try await archive(directory, name: String(last.dropLast(4)), tree: tree, request: request)
                }
            }
        } catch {
            context.logger.debug("files: \(request.uri.path): \(error)")
        }
        return Self.notFound
    }

    // MARK: listings

    func listing(_ components: [String], resolved: String, tree: ConfinedTree, request: Request) async throws -> Response {
        guard
            let entries = try await BlockingWork.run({ tree.entries(ofResolvedDirectory: resolved) })
        else { return Self.notFound }
        return try await listing(components, entries: entries, request: request)
    }

    func listing(_ components: [String], entries: [ConfinedTree.Entry], request: Request) async throws -> Response {
        let query = request.uri.queryParameters
        let order = query["sort"].flatMap { DirectoryListing.Order(rawValue: String($0)) } ?? .name
        let descending = query["order"] == "desc"
        let listing = DirectoryListing(components: components, entries: entries, order: order, descending: descending)
        var headers: HTTPFields = [.cacheControl: "no-cache", .vary: "Accept"]
        let body: ByteBuffer
        if Self.wantsJSON(request) {
            headers[.contentType] = "application/json"
            var buffer = ByteBuffer()
            buffer.writeBytes(JSONWriter.encode(listing.json))
            buffer.writeInteger(UInt8(ascii: "\n"))
            body = buffer
        } else {
            headers[.contentType] = "text/html; charset=utf-8"
            body = ByteBuffer(string: listing.html)
        }
        headers[.contentLength] = String(body.readableBytes)
        return Response(status: .ok, headers: headers, body: request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: body))
    }

    /// Whether the client asked for JSON: `?format=json`, or an `Accept` that ranks
    /// `application/json` above `text/html`.
    static func wantsJSON(_ request: Request) -> Bool {
        if let format = request.uri.queryParameters["format"] { return format == "json" }
        guard let accept = request.headers[.accept] else { return false }
        var json = 0.0
        var html = 0.0
        var jsonOrder = Int.max
        var htmlOrder = Int.max
        for (index, item) in accept.split(separator: ",").enumerated() {
            let parts = item.split(separator: ";").map { $0.trimmingASCIIWhitespace().lowercased() }
            guard let type = parts.first else { continue }
            var q = 1.0
            for parameter in parts.dropFirst() where parameter.hasPrefix("q=") {
                q = Double(parameter.dropFirst(2)) ?? 0
            }
            if type == "application/json", q > json { (json, jsonOrder) = (q, index) }
            if type == "text/html", q > html { (html, htmlOrder) = (q, index) }
        }
        return json > 0 && (json > html || (json == html && jsonOrder < htmlOrder))
    }

    // MARK: files

    func file(_ resolved: String, status: ConfinedTree.Status, request: Request, context: Context) async throws -> Response {
        let validators = status.validators
        var headers: HTTPFields = [
            .contentType: ContentTypes.forName(resolved),
            .eTag: validators.eTag,
            .lastModified: validators.lastModified,
            .acceptRanges: "bytes",
            .cacheControl: "no-cache",
        ]
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        if validators.notModified(
            ifNoneMatch: request.headers[values: .ifNoneMatch], ifModifiedSince: request.headers[.ifModifiedSince])
        {
            headers[.contentType] = nil
            return Response(status: .notModified, headers: headers)
        }
        var range = ByteRangeRequest(header: request.headers[.range], size: status.size)
        if range != .whole, !validators.rangeAllowed(ifRange: request.headers[.ifRange]) {
            range = .whole
        }
        switch range {
        case .unsatisfiable:
            return Self.plain(
                .rangeNotSatisfiable, "Range not satisfiable: the file has \(status.size) bytes.\n",
                headers: [.contentRange: "bytes */\(status.size)", .acceptRanges: "bytes"])
        case .partial(let bytes):
            headers[.contentRange] = "bytes \(bytes.lowerBound)-\(bytes.upperBound)/\(status.size)"
            headers[.contentLength] = String(bytes.count)
            if request.method == .head { return Response(status: .partialContent, headers: headers) }
            let body = try await fileIO.loadFile(path: resolved, range: bytes, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        case .whole:
            headers[.contentLength] = String(status.size)
            if request.method == .head || status.size == 0 { return Response(status: .ok, headers: headers) }
            let body = try await fileIO.loadFile(path: resolved, context: context)
            return Response(status: .ok, headers: headers, body: body)
        }
    }

    // MARK: archives

    func archive(_ resolved: String, name: String, tree: ConfinedTree, request: Request) async throws -> Response {
        var headers: HTTPFields = [
            .contentType: "application/zip",
            .contentDisposition: "attachment; filename=\"\(name.filter { $0.isASCII && $0 != "\"" && $0 != "\\" }).zip\"",
            .cacheControl: "no-store",
        ]
        if request.method == .head {
            return Response(status: .ok, headers: headers)
        }
        guard let file = try await archives.run({ try await DirectoryArchive.build(tree: tree, directory: resolved, name: name) }) else {
            return Self.plain(
                .tooManyRequests, "\(archives.limit) zip archives are being built already (--max-concurrent-zips): try again in a moment.\n",
                headers: [.retryAfter: "1"])
        }
        headers[.contentLength] = String(file.size)
        return Response(status: .ok, headers: headers, body: file.responseBody)
    }

    // MARK: plain answers

    static var notFound: Response { plain(.notFound, "Not found.\n") }

    static func plain(_ status: HTTPResponse.Status, _ text: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.contentLength] = String(text.utf8.count)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
