import Hummingbird
import NIOCore

/// `GET /openapi.json`: the OpenAPI 3.1 description of this port, docs/openapi.json as built into
/// the binary by the EmbedSources build plugin. It needs no key with API keys on (see `APIKeyMiddleware`):
/// it is documentation, and holds nothing of anyone's.
struct OpenAPIRoute: Sendable {
    static let path = "/openapi.json"

    func add(to router: Router<APIRequestContext>, catalog: inout RouteCatalog) {
        catalog.add("GET", Self.path, "The OpenAPI 3.1 description of this API (docs/openapi.json); needs no key.")
        let document = ByteBuffer(string: OpenAPIDocument.text)
        router.get(RouterPath(Self.path)) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: document))
        }
    }
}
