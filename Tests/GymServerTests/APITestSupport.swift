import Foundation
import GymCore
import GymServer
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// A parsed answer of the API.
struct APIAnswer {
    let status: HTTPResponse.Status
    let json: JSON
    let headers: HTTPFields

    var message: String? { json["message"]?.stringValue }
}

/// An API application on a fresh manager, driven in-process.
struct APIHarness {
    let manager: EnvironmentManager
    let shutdown: ShutdownSwitch
    let monitorRoot: URL

    init(allowShutdown: Bool = false) {
        shutdown = ShutdownSwitch(allowed: allowShutdown)
        monitorRoot = FileManager.default.temporaryDirectory.appendingPathComponent("gym-server-tests-\(UUID().uuidString)")
        manager = EnvironmentManager(monitorRoot: monitorRoot)
    }

    var application: some ApplicationProtocol {
        Application(router: buildAPIRouter(manager: manager, shutdown: shutdown))
    }

    func run(_ body: @escaping @Sendable (APIClient) async throws -> Void) async throws {
        try await application.test(.router) { client in try await body(APIClient(client: client)) }
    }
}

struct APIClient: Sendable {
    let client: any TestClientProtocol

    @discardableResult
    func request(_ method: HTTPRequest.Method, _ uri: String, body: String? = nil) async throws -> APIAnswer {
        let response = try await client.execute(
            uri: uri, method: method,
            headers: body == nil ? [:] : [.contentType: "application/json"],
            body: body.map { ByteBuffer(string: $0) })
        let text = String(buffer: response.body)
        let json = (try? JSONParser.parse(text)) ?? .string(text)
        return APIAnswer(status: response.status, json: json, headers: response.headers)
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
