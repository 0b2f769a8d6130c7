import GymCore

/// Every route of the API with its methods and a line of documentation, for `GET /v1/help`.
struct RouteCatalog: Sendable {
    struct Entry: Sendable {
        let path: String
        var methods: [String]
        let doc: String
    }

    private(set) var entries: [Entry] = []

    mutating func add(_ method: String, _ path: String, _ doc: String) {
        let display = path.replacingPlaceholders()
        if let index = entries.firstIndex(where: { $0.path == display }) {
            entries[index].methods.append(method)
        } else {
            entries.append(Entry(path: display, methods: [method], doc: doc))
        }
    }

    /// flaviotruzzi's form: `{"v1": {"/v1/envs/<instance_id>/info": {"doc": ..., "methods": "GET"}}}`.
    var json: JSON {
        var routes: [String: JSON] = [:]
        for entry in entries {
            routes[entry.path] = ["doc": .string(entry.doc), "methods": .string(entry.methods.joined(separator: ","))]
        }
        return ["v1": .object(routes)]
    }
}

extension String {
    /// `/v1/envs/{instance_id}/step/` as the Python servers printed it: `/v1/envs/<instance_id>/step/`.
    fileprivate func replacingPlaceholders() -> String {
        String(map { $0 == "{" ? "<" : $0 == "}" ? ">" : $0 })
    }
}
