import Foundation
import GymCore
import GymServer
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import GymService

/// docs/openapi.json against the router: every route of `GET /v1/help` is documented and every
/// documented operation is a route; `GET /openapi.json` serves the file; the document's references
/// resolve, its examples match their schemas, and real answers match the schemas of their status.
/// (The files port's document, docs/openapi-files.json, has the same checks in `FilesOpenAPITests`.)
@Suite("The OpenAPI document")
struct OpenAPITests {
    @Test("the routes of /v1/help are the operations of docs/openapi.json, method for method")
    func routesMatchDocument() async throws {
        let document = try OpenAPIDocumentOnDisk.api.load()
        let documented = OpenAPIDocumentOnDisk.operations(document)
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let help = try await api.get("/v1/help")
            #expect(help.status == .ok)
            var routed: Set<String> = []
            for (path, entry) in help.json["v1"]?.objectValue ?? [:] {
                // `/v1/envs/<instance_id>/step/` as the Python servers printed it.
                let template = String(path.map { $0 == "<" ? "{" : $0 == ">" ? "}" : $0 })
                for method in (entry["methods"]?.stringValue ?? "").split(separator: ",") {
                    routed.insert("\(method.uppercased()) \(template)")
                }
            }
            #expect(routed.count > 20, "\(routed)")
            #expect(routed.subtracting(documented).sorted() == [], "routes of /v1/help missing from docs/openapi.json")
            #expect(documented.subtracting(routed).sorted() == [], "operations of docs/openapi.json that /v1/help does not list")
        }
    }

    @Test("GET /openapi.json serves docs/openapi.json byte for byte, without a key (the build embeds it)")
    func servesTheFile() async throws {
        let onDisk = try [UInt8](Data(contentsOf: OpenAPIDocumentOnDisk.api.url))
        var keyring = APIKeyring()
        try keyring.add(name: "alice", key: "alice-key")
        let harness = APIHarness(keyring: keyring)
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            let served = try await api.get("/openapi.json")
            #expect(served.status == .ok)
            #expect(served.headers[.contentType] == "application/json")
            #expect(served.bytes == onDisk, "GET /openapi.json differs from docs/openapi.json: rebuild")
            // The keys are on: the document is open, the API is not.
            #expect(try await api.get("/v1/envs/").status == .unauthorized)
        }
    }

    @Test("the document parses, every $ref resolves, operation ids are unique and links name them",
          arguments: [OpenAPIDocumentOnDisk.api, .files])
    func documentIsWellFormed(_ file: OpenAPIDocumentOnDisk) throws {
        let document = try file.load()
        #expect(document["openapi"]?.stringValue?.hasPrefix("3.1.") == true)
        var unresolved: [String] = []
        var operationIDs: [String] = []
        var linkedIDs: [String] = []
        func walk(_ json: JSON, _ path: String) {
            switch json {
            case .object(let members):
                if let ref = members["$ref"]?.stringValue, SchemaValidator.resolve(ref, in: document) == nil {
                    unresolved.append("\(path): \(ref)")
                }
                if let id = members["operationId"]?.stringValue {
                    if path.contains("/links/") { linkedIDs.append(id) } else { operationIDs.append(id) }
                }
                for (key, value) in members { walk(value, "\(path)/\(key)") }
            case .array(let elements):
                for (index, element) in elements.enumerated() { walk(element, "\(path)/\(index)") }
            default: break
            }
        }
        walk(document, "#")
        #expect(unresolved == [])
        #expect(Set(operationIDs).count == operationIDs.count, "duplicate operationId in \(operationIDs.sorted())")
        #expect(!linkedIDs.isEmpty || !file.hasLinks)
        #expect(Set(linkedIDs).subtracting(operationIDs).sorted() == [], "links to operations that do not exist")
    }

    @Test("every example in the document matches its schema", arguments: [OpenAPIDocumentOnDisk.api, .files])
    func examplesMatchSchemas(_ file: OpenAPIDocumentOnDisk) throws {
        let document = try file.load()
        let validator = SchemaValidator(document: document)
        var checked = 0
        var failures: [String] = []
        func check(_ value: JSON, _ schema: JSON, _ path: String) {
            checked += 1
            failures += validator.errors(value, schema, at: path)
        }
        func walk(_ json: JSON, _ path: String) {
            switch json {
            case .object(let members):
                // A media type or a parameter: `example`, or `examples` as a map of {value}.
                if let schema = members["schema"] {
                    if let example = members["example"] { check(example, schema, "\(path)/example") }
                    for (name, example) in members["examples"]?.objectValue ?? [:] {
                        if let value = example["value"] { check(value, schema, "\(path)/examples/\(name)") }
                    }
                }
                // A schema: `examples` as a list of values.
                if let examples = members["examples"]?.arrayValue {
                    for (index, example) in examples.enumerated() { check(example, json, "\(path)/examples/\(index)") }
                }
                for (key, value) in members { walk(value, "\(path)/\(key)") }
            case .array(let elements):
                for (index, element) in elements.enumerated() { walk(element, "\(path)/\(index)") }
            default: break
            }
        }
        walk(document, "#")
        #expect(checked >= file.minimumExamples, "only \(checked) examples found")
        #expect(failures == [])
    }

    @Test("the schema check itself refuses what does not match")
    func validatorRefuses() throws {
        let validator = SchemaValidator(document: try OpenAPIDocumentOnDisk.api.load())
        let created: JSON = ["$ref": "#/components/schemas/InstanceCreated"]
        #expect(validator.errors(["instance_id": "3c657dbc"], created).isEmpty)
        #expect(!validator.errors(["instance_id": 5], created).isEmpty)
        #expect(!validator.errors(["instance_id": "3C657DBC"], created).isEmpty, "pattern")
        #expect(!validator.errors([:], created).isEmpty, "required")
        let space: JSON = ["$ref": "#/components/schemas/Space"]
        #expect(validator.errors(["name": "Discrete", "n": 2], space).isEmpty)
        #expect(!validator.errors(["name": "Discrete"], space).isEmpty, "oneOf")
        let create: JSON = ["$ref": "#/components/schemas/CreateRequest"]
        #expect(!validator.errors(["env_id": "CartPole-v1", "bogus": 1], create).isEmpty, "additionalProperties")
        #expect(!validator.errors(["env_id": "CartPole-v1", "num_envs": 0], create).isEmpty, "minimum")
        #expect(!validator.errors(["x": 1], ["type": "object", "unknownKeyword": true]).isEmpty, "an unknown keyword is an error")
    }

    @Test("answers of every operation have a documented status and match its schema")
    func answersMatchSchemas() async throws {
        let document = try OpenAPIDocumentOnDisk.api.load()
        let check = AnswerCheck(document: document)
        let harness = APIHarness()
        defer { try? FileManager.default.removeItem(at: harness.monitorRoot) }
        try await harness.run { api in
            var covered: Set<String> = []
            func conforms(_ answer: APIAnswer, _ method: String, _ template: String, sourceLocation: SourceLocation = #_sourceLocation) {
                covered.insert("\(method) \(template)")
                let problems = check.problems(
                    method, template, status: Int(answer.status.code), contentType: answer.headers[.contentType], body: answer.bytes)
                #expect(problems == [], sourceLocation: sourceLocation)
            }
            let envs = "/v1/envs/{instance_id}"
            let created = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "seed": 1])
            conforms(created, "POST", "/v1/envs/")
            let id = created.json["instance_id"]?.stringValue ?? ""
            conforms(try await api.post("/v1/envs/", ["env_id": "Nope-v0"]), "POST", "/v1/envs/")
            conforms(try await api.post("/v1/envs/create/", ["environment": "Blackjack-v1"]), "POST", "/v1/envs/create/")
            conforms(try await api.get("/v1/envs/"), "GET", "/v1/envs/")
            conforms(try await api.post("/v1/envs/\(id)/step/", ["action": 1]), "POST", "\(envs)/step/")
            conforms(try await api.post("/v1/envs/\(id)/reset/", ["seed": 1]), "POST", "\(envs)/reset/")
            conforms(try await api.post("/v1/envs/\(id)/step/", ["action": 1]), "POST", "\(envs)/step/")
            conforms(try await api.post("/v1/envs/\(id)/step/", ["action": 7]), "POST", "\(envs)/step/")
            conforms(try await api.get("/v1/envs/\(id)/render"), "GET", "\(envs)/render")
            conforms(try await api.get("/v1/envs/\(id)/render?mode=ansi"), "GET", "\(envs)/render")
            conforms(try await api.get("/v1/envs/\(id)/action_space/"), "GET", "\(envs)/action_space/")
            conforms(try await api.get("/v1/envs/\(id)/action_space/sample"), "GET", "\(envs)/action_space/sample")
            conforms(try await api.get("/v1/envs/\(id)/action_space/contains/1"), "GET", "\(envs)/action_space/contains/{x}")
            conforms(try await api.get("/v1/envs/\(id)/observation_space/"), "GET", "\(envs)/observation_space/")
            conforms(try await api.post("/v1/envs/\(id)/observation_space/contains", ["name": "Box"]), "POST", "\(envs)/observation_space/contains")
            conforms(try await api.get("/v1/envs/\(id)/info"), "GET", "\(envs)/info")
            conforms(try await api.post("/v1/envs/\(id)/monitor/start/", ["directory": "runs/a"]), "POST", "\(envs)/monitor/start/")
            conforms(try await api.get("/v1/envs/\(id)/monitor/"), "GET", "\(envs)/monitor/")
            conforms(try await api.post("/v1/envs/\(id)/monitor/close/"), "POST", "\(envs)/monitor/close/")
            conforms(try await api.get("/v1/envs/\(id)/monitor/"), "GET", "\(envs)/monitor/")
            conforms(try await api.post("/v1/upload/", ["training_dir": "runs/a", "api_key": "x"]), "POST", "/v1/upload/")
            conforms(try await api.post("/v1/envs/\(id)/upload/"), "POST", "\(envs)/upload/")
            // A vector instance and a Tuple space.
            let vector = try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "num_envs": 3, "autoreset_mode": "same_step"])
            conforms(vector, "POST", "/v1/envs/")
            let vectorID = vector.json["instance_id"]?.stringValue ?? ""
            conforms(try await api.post("/v1/envs/\(vectorID)/reset/", ["seed": [1, nil, 3]]), "POST", "\(envs)/reset/")
            conforms(try await api.post("/v1/envs/\(vectorID)/step/", ["action": [0, 1, 0]]), "POST", "\(envs)/step/")
            conforms(try await api.get("/v1/envs/\(vectorID)/action_space/"), "GET", "\(envs)/action_space/")
            let blackjack = try await api.create("Blackjack-v1")
            conforms(try await api.get("/v1/envs/\(blackjack)/observation_space/"), "GET", "\(envs)/observation_space/")
            conforms(try await api.post("/v1/batch/reset/", .array([["instance_id": .string(blackjack)], ["instance_id": "nothing"]])), "POST", "/v1/batch/reset/")
            conforms(try await api.post("/v1/batch/step/", .array([["instance_id": .string(blackjack), "action": 0], ["instance_id": .string(id)]])), "POST", "/v1/batch/step/")
            conforms(try await api.post("/v1/envs/\(id)/close/"), "POST", "\(envs)/close/")
            conforms(try await api.get("/v1/envs/\(id)/info"), "GET", "\(envs)/info")
            conforms(try await api.get("/gym"), "GET", "/gym")
            conforms(try await api.get("/healthz"), "GET", "/healthz")
            conforms(try await api.get("/metrics"), "GET", "/metrics")
            conforms(try await api.post("/v1/shutdown/"), "POST", "/v1/shutdown/")
            conforms(try await api.get("/v1/help"), "GET", "/v1/help")
            conforms(try await api.get("/v1/registry"), "GET", "/v1/registry")
            conforms(try await api.post("/v1/envs/", ["env_id": "CartPole-v1", "backend": "gymnasium"]), "POST", "/v1/envs/")
            conforms(try await api.get("/openapi.json"), "GET", "/openapi.json")
            // Every operation was tried.
            #expect(OpenAPIDocumentOnDisk.operations(document).subtracting(covered).sorted() == [])
        }
    }
}

/// An OpenAPI document of the repository's docs/: the API port's or the files port's.
struct OpenAPIDocumentOnDisk: Sendable, CustomTestStringConvertible {
    /// The file's name in docs/.
    let name: String
    /// Whether the document has links between operations (the files port's has none).
    let hasLinks: Bool
    /// How many examples the document has at least (so that their check cannot pass by finding none).
    let minimumExamples: Int

    static let api = OpenAPIDocumentOnDisk(name: "openapi.json", hasLinks: true, minimumExamples: 31)
    static let files = OpenAPIDocumentOnDisk(name: "openapi-files.json", hasLinks: false, minimumExamples: 15)

    var testDescription: String { "docs/\(name)" }

    var url: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs").appendingPathComponent(name)
    }

    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    func load() throws -> JSON {
        try JSONParser.parse(String(decoding: Data(contentsOf: url), as: UTF8.self))
    }

    /// `METHOD /path/{template}` of every operation.
    static func operations(_ document: JSON) -> Set<String> {
        var operations: Set<String> = []
        for (path, item) in document["paths"]?.objectValue ?? [:] {
            for method in methods where item[method] != nil {
                operations.insert("\(method.uppercased()) \(path)")
            }
        }
        return operations
    }

    /// The response object (references followed) an operation documents for a status.
    static func response(_ document: JSON, _ method: String, _ path: String, status: String) -> JSON? {
        guard var response = document["paths"]?[path]?[method.lowercased()]?["responses"]?[status] else { return nil }
        if let ref = response["$ref"]?.stringValue { response = SchemaValidator.resolve(ref, in: document) ?? .null }
        return response
    }
}

/// A real answer against a document: its status is one the operation lists, its content type one
/// that status lists (when it lists any), and a JSON body matches that content's schema. A HEAD
/// answer's empty body is not checked.
struct AnswerCheck {
    let document: JSON
    let validator: SchemaValidator

    init(document: JSON) {
        self.document = document
        validator = SchemaValidator(document: document)
    }

    /// What is wrong with the answer; empty when it conforms.
    func problems(_ method: String, _ template: String, status: Int, contentType: String?, body: [UInt8]) -> [String] {
        let label = "\(method) \(template) \(status)"
        guard let response = OpenAPIDocumentOnDisk.response(document, method, template, status: String(status)) else {
            return ["\(method) \(template) answered \(status), which the document does not list: \(String(decoding: body.prefix(300), as: UTF8.self))"]
        }
        let content = response["content"]?.objectValue ?? [:]
        if content.isEmpty { return body.isEmpty ? [] : ["\(label): a body, where the document lists no content"] }
        guard let contentType else { return ["\(label): no Content-Type, where the document lists \(content.keys.sorted())"] }
        let type = Self.mediaType(contentType)
        guard let media = content.first(where: { Self.mediaType($0.key) == type })?.value else {
            return ["\(label): content type \(contentType) not documented (\(content.keys.sorted()))"]
        }
        guard type == "application/json", !(method == "HEAD" && body.isEmpty) else { return [] }
        guard let schema = media["schema"] else { return ["\(label): no JSON schema"] }
        guard let json = try? JSONParser.parse(String(decoding: body, as: UTF8.self)) else {
            return ["\(label): the body is not JSON: \(String(decoding: body.prefix(300), as: UTF8.self))"]
        }
        return validator.errors(json, schema, at: label)
    }

    /// `text/html` of `text/html; charset=utf-8`.
    static func mediaType(_ contentType: String) -> String {
        (contentType.split(separator: ";").first.map(String.init) ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }
}

/// The part of JSON Schema 2020-12 that docs/openapi*.json use. A keyword it does not know is an
/// error, so that no part of a schema passes by being ignored.
struct SchemaValidator {
    let document: JSON

    static let annotations: Set<String> = [
        "description", "title", "examples", "example", "contentMediaType", "contentEncoding", "default", "deprecated",
    ]

    /// The value a local reference (`#/components/schemas/Seed`) names.
    static func resolve(_ ref: String, in document: JSON) -> JSON? {
        guard ref.hasPrefix("#/") else { return nil }
        var value: JSON? = document
        for token in ref.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            value = value?[key]
        }
        return value
    }

    /// What is wrong with `value` against `schema`; empty when it conforms.
    func errors(_ value: JSON, _ schema: JSON, at path: String = "$") -> [String] {
        switch schema {
        case .bool(true): return []
        case .bool(false): return ["\(path): no value is allowed here"]
        case .object(let keywords): return errors(value, keywords, at: path)
        default: return ["\(path): a schema must be an object or a boolean, got \(schema.typeName)"]
        }
    }

    private func errors(_ value: JSON, _ schema: [String: JSON], at path: String) -> [String] {
        var errors: [String] = []
        for (keyword, argument) in schema where !Self.annotations.contains(keyword) {
            switch keyword {
            case "$ref":
                guard let ref = argument.stringValue, let target = Self.resolve(ref, in: document) else {
                    errors.append("\(path): unresolvable $ref \(argument)")
                    continue
                }
                errors += self.errors(value, target, at: path)
            case "type":
                let types = argument.arrayValue?.compactMap(\.stringValue) ?? argument.stringValue.map { [$0] } ?? []
                if !types.contains(where: { Self.hasType(value, $0) }) {
                    errors.append("\(path): \(value.typeName) is not of type \(types.joined(separator: " | "))")
                }
            case "properties":
                guard let members = value.objectValue else { continue }
                for (name, propertySchema) in argument.objectValue ?? [:] {
                    if let member = members[name] { errors += self.errors(member, propertySchema, at: "\(path).\(name)") }
                }
            case "required":
                guard let members = value.objectValue else { continue }
                for name in argument.arrayValue?.compactMap(\.stringValue) ?? [] where members[name] == nil {
                    errors.append("\(path): '\(name)' is required")
                }
            case "additionalProperties":
                guard let members = value.objectValue else { continue }
                let declared = schema["properties"]?.objectValue ?? [:]
                for (name, member) in members where declared[name] == nil {
                    errors += self.errors(member, argument, at: "\(path).\(name)")
                }
            case "minProperties":
                if let members = value.objectValue, let minimum = argument.intValue, members.count < minimum {
                    errors.append("\(path): fewer than \(minimum) properties")
                }
            case "items":
                for (index, element) in (value.arrayValue ?? []).enumerated() {
                    errors += self.errors(element, argument, at: "\(path)[\(index)]")
                }
            case "enum":
                if !(argument.arrayValue ?? []).contains(where: { $0.numericallyEquals(value) }) {
                    errors.append("\(path): \(JSONWriter.string(value)) is not one of \(JSONWriter.string(argument))")
                }
            case "const":
                if !argument.numericallyEquals(value) {
                    errors.append("\(path): \(JSONWriter.string(value)) is not \(JSONWriter.string(argument))")
                }
            case "minimum":
                if let x = value.doubleValue, let bound = argument.doubleValue, x < bound { errors.append("\(path): \(x) < \(bound)") }
            case "maximum":
                if let x = value.doubleValue, let bound = argument.doubleValue, x > bound { errors.append("\(path): \(x) > \(bound)") }
            case "minItems":
                if let elements = value.arrayValue, let minimum = argument.intValue, elements.count < minimum {
                    errors.append("\(path): fewer than \(minimum) items")
                }
            case "minLength":
                if let s = value.stringValue, let minimum = argument.intValue, s.count < minimum {
                    errors.append("\(path): shorter than \(minimum)")
                }
            case "pattern":
                guard let s = value.stringValue else { continue }
                guard let pattern = argument.stringValue, let regex = try? NSRegularExpression(pattern: pattern) else {
                    errors.append("\(path): pattern \(argument) does not compile")
                    continue
                }
                if regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) == nil {
                    errors.append("\(path): '\(s)' does not match \(pattern)")
                }
            case "allOf":
                for part in argument.arrayValue ?? [] { errors += self.errors(value, part, at: path) }
            case "anyOf":
                let parts = argument.arrayValue ?? []
                if !parts.contains(where: { self.errors(value, $0, at: path).isEmpty }) {
                    errors.append("\(path): \(JSONWriter.shortString(value)) matches none of anyOf")
                }
            case "oneOf":
                let matching = (argument.arrayValue ?? []).filter { self.errors(value, $0, at: path).isEmpty }.count
                if matching != 1 {
                    errors.append("\(path): \(JSONWriter.shortString(value)) matches \(matching) of oneOf, not exactly one")
                }
            default:
                errors.append("\(path): the schema check does not know the keyword '\(keyword)'")
            }
        }
        return errors
    }

    static func hasType(_ value: JSON, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object): return true
        case ("number", .int), ("number", .double): return true
        case ("integer", .int): return true
        case ("integer", .double(let d)): return d.rounded() == d && d.isFinite
        default: return false
        }
    }
}
