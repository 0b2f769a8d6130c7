import Foundation
import GymBridge
import GymCore
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import GymService

/// A parsed answer of the API.
struct APIAnswer {
    let status: HTTPResponse.Status
    let json: JSON
    let headers: HTTPFields
    /// The body as sent.
    var bytes: [UInt8] = []

    var message: String? { json["message"]?.stringValue }
}

/// A clock for idle expiry that tests move by hand.
final class ManualClock: Sendable {
    private let nanoseconds = Mutex<UInt64>(1_000_000_000)

    var now: UInt64 { nanoseconds.withLock { $0 } }

    func advance(seconds: Double) {
        nanoseconds.withLock { $0 += UInt64(seconds * 1e9) }
    }
}

/// An API application on a fresh manager, driven in-process.
struct APIHarness {
    let manager: EnvironmentManager
    let shutdown: ShutdownSwitch
    let monitorRoot: URL
    let keyring: APIKeyring
    let clock: ManualClock

    init(
        allowShutdown: Bool = false, keyring: APIKeyring = APIKeyring(), limits: ServerLimits = ServerLimits(), bridge: PythonBridge? = nil,
        fleet: Fleet = .single, monitorRoot sharedRoot: URL? = nil
    ) {
        shutdown = ShutdownSwitch(allowed: allowShutdown)
        monitorRoot = sharedRoot ?? FileManager.default.temporaryDirectory.appendingPathComponent("gym-server-tests-\(UUID().uuidString)")
        let clock = ManualClock()
        self.clock = clock
        self.keyring = keyring
        manager = EnvironmentManager(monitorRoot: monitorRoot, limits: limits, clock: { clock.now }, bridge: bridge, fleet: fleet)
    }

    var state: GymServerState { GymServerState(manager: manager, shutdown: shutdown, keyring: keyring) }

    var application: some ApplicationProtocol {
        Application(router: buildAPIRouter(state: state))
    }

    func run(_ body: @escaping @Sendable (APIClient) async throws -> Void) async throws {
        try await application.test(.router) { client in try await body(APIClient(client: client)) }
    }
}

struct APIClient: Sendable {
    let client: any TestClientProtocol
    /// Headers sent with every request (an API key).
    var headers: HTTPFields = [:]

    /// The same client, sending `X-API-Key: key`.
    func with(key: String) -> APIClient {
        var copy = self
        copy.headers[HTTPField.Name("X-API-Key")!] = key
        return copy
    }

    @discardableResult
    func request(_ method: HTTPRequest.Method, _ uri: String, body: String? = nil, headers extra: HTTPFields = [:]) async throws -> APIAnswer {
        var headers = self.headers
        if body != nil { headers[.contentType] = "application/json" }
        for field in extra { headers[field.name] = field.value }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        let json = (try? JSONParser.parse(text)) ?? .string(text)
        return APIAnswer(status: response.status, json: json, headers: response.headers, bytes: Array(buffer: response.body))
    }

    func post(_ uri: String, _ body: JSON? = nil) async throws -> APIAnswer {
        try await request(.post, uri, body: body.map(JSONWriter.string))
    }

    func get(_ uri: String) async throws -> APIAnswer {
        try await request(.get, uri)
    }

    /// Creates an instance and returns its id.
    func create(_ envID: String, seed: Int? = nil, kwargs: JSON? = nil) async throws -> String {
        var body: [String: JSON] = ["env_id": .string(envID)]
        if let seed { body["seed"] = .int(seed) }
        if let kwargs { body["kwargs"] = kwargs }
        let answer = try await post("/v1/envs/", .object(body))
        #expect(answer.status == .ok, "create \(envID): \(answer.json)")
        return answer.json["instance_id"]?.stringValue ?? ""
    }
}

/// Checks the error form: status 400 (unless given), `message` and `error` equal.
func expectError(_ answer: APIAnswer, _ message: String, status: HTTPResponse.Status = .badRequest, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(answer.status == status, "status \(answer.status) for \(answer.json)", sourceLocation: sourceLocation)
    #expect(answer.message == message, sourceLocation: sourceLocation)
    #expect(answer.json["error"]?.stringValue == answer.message, sourceLocation: sourceLocation)
}

func expectErrorContaining(_ answer: APIAnswer, _ fragments: [String], status: HTTPResponse.Status = .badRequest, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(answer.status == status, "status \(answer.status) for \(answer.json)", sourceLocation: sourceLocation)
    let message = answer.message ?? ""
    for fragment in fragments {
        #expect(message.contains(fragment), "'\(message)' lacks '\(fragment)'", sourceLocation: sourceLocation)
    }
    #expect(answer.json["error"]?.stringValue == answer.message, sourceLocation: sourceLocation)
}

/// Two keys, as a class of students would have them.
func twoKeys() throws -> APIKeyring {
    var ring = APIKeyring()
    try ring.add(name: "alice", key: "alice-key-0123")
    try ring.add(name: "bob", key: "bob-key-4567")
    return ring
}
