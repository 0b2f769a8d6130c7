import HTTPTypes
import GymService

/// Who may read `GET /metrics`. With API keys on, any valid key may, and so may the metrics
/// token (`--metrics-token`), so that a Prometheus server can scrape with a credential of its own
/// that drives no instance. A token given without keys protects `/metrics` alone. With neither,
/// `/metrics` is open, as the whole API is.
///
/// The token is sent as `Authorization: Bearer <token>` (Prometheus's `authorization` setting of
/// a scrape job) or `X-Metrics-Token: <token>`; API keys in any of their usual forms.
public struct MetricsAccess: Sendable {
    static let path = "/metrics"
    static let headerName = HTTPField.Name("X-Metrics-Token")!
    static let howToSend =
        "/metrics needs the metrics token of this server: send 'Authorization: Bearer <token>' or 'X-Metrics-Token: <token>'"

    let keysRequired: Bool
    private let token: [UInt8]?

    public init(keyring: APIKeyring, token: String?) {
        keysRequired = keyring.isEnabled
        self.token = token.map { Array($0.utf8) }
    }

    /// Whether a token or key guards `/metrics` at all.
    var isProtected: Bool { keysRequired || token != nil }

    /// Whether the request carries the metrics token.
    func presentsToken(_ headers: HTTPFields) -> Bool {
        guard let token else { return false }
        let presented = headers[Self.headerName].map { $0.trimmingASCIIWhitespace() } ?? PresentedKey.fromHeaders(headers)
        guard let presented else { return false }
        return APIKeyring.constantTimeEquals(token, Array(presented.utf8.prefix(APIKeyring.maximumKeyLength + 1)))
    }
}
