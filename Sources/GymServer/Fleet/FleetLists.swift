import Foundation
import GymCore
import GymService
import HTTPTypes

/// The fleet's lists (docs/SCALING.md): a replica with peers answers `GET /v1/envs/`,
/// `/_live/instances` and `/_recordings` with its own part joined to every peer's, asked in
/// parallel with `X-Gym-Fleet: local` (which makes a replica answer its own part only) and the
/// caller's key. A peer that cannot answer within `timeout` is named in `replicas`, and the
/// list goes on without it: a fleet with a replica down still lists the rest.
struct FleetLists: Sendable {
    let fleet: Fleet
    let keyring: APIKeyring
    var timeout: Double = 1.5

    /// The header that asks a replica for its own part only, and its value.
    static let header = "X-Gym-Fleet"
    static let headerName = HTTPField.Name(header)!
    static let localValue = "local"

    /// Whether a request asks for this replica's part only (or there are no peers to ask).
    func answersLocally(_ headerValue: String?) -> Bool {
        !fleet.joinsPeers || headerValue?.lowercased() == Self.localValue
    }

    enum Port: Sendable { case api, files }

    /// One peer's part: its JSON object, or why there is none.
    struct Part: Sendable {
        let replica: Int
        let answer: [String: JSON]?
        let problem: String?
    }

    /// Every peer's answer to `GET target` on `port`, asked at once.
    func gather(_ target: String, port: Port, owner: Owner?) async -> [Part] {
        var headers = [(Self.header, Self.localValue)]
        if let owner, let key = keyring.key(of: owner) { headers.append(("X-API-Key", key)) }
        let requestHeaders = headers
        let timeout = self.timeout
        return await withTaskGroup(of: Part.self) { group in
            for peer in fleet.peers {
                group.addTask {
                    let request = PeerRequest(
                        host: peer.host, port: port == .api ? peer.apiPort : peer.filesPort, target: target,
                        headers: requestHeaders, timeout: timeout)
                    do {
                        let (status, body) = try await BlockingWork.run { () throws -> (Int, [UInt8]) in
                            let answer = try request.run()
                            return (answer.status, answer.body)
                        }
                        guard status == 200 else { return Part(replica: peer.id, answer: nil, problem: "answered \(status)") }
                        guard let object = (try? JSONParser.parse(body))?.objectValue else {
                            return Part(replica: peer.id, answer: nil, problem: "answered something other than a JSON object")
                        }
                        return Part(replica: peer.id, answer: object, problem: nil)
                    } catch {
                        return Part(replica: peer.id, answer: nil, problem: "\(error)")
                    }
                }
            }
            var parts: [Part] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.replica < $1.replica }
        }
    }

    /// A list of instances (`own`: `all_envs` and the other objects keyed by instance id named in
    /// `keys`) joined with every peer's answer to `GET target`, plus `replicas`:
    /// `{"<id>": {"state": "up", "instances": n} | {"state": "unreachable", "problem": "..."}}`
    /// for this replica and its peers, what the list says of where it came from.
    func instanceList(_ own: [String: JSON], keys: [String], from target: String, port: Port, owner: Owner?) async -> [String: JSON] {
        let parts = await gather(target, port: port, owner: owner)
        func count(_ answer: [String: JSON]) -> JSON { .int(answer["all_envs"]?.objectValue?.count ?? 0) }
        var replicas: [String: JSON] = [:]
        if let this = fleet.replicaID {
            replicas[String(this)] = ["state": "up", "instances": count(own)]
        }
        for part in parts {
            if let answer = part.answer {
                replicas[String(part.replica)] = ["state": "up", "instances": count(answer)]
            } else {
                replicas[String(part.replica)] = ["state": "unreachable", "problem": .string(part.problem ?? "no answer")]
            }
        }
        var joined = Self.join(own, parts, keys: keys)
        joined["replicas"] = .object(replicas)
        return joined
    }

    /// `all_envs` (and any other object-valued key in `keys`) joined over the parts.
    static func join(_ own: [String: JSON], _ parts: [Part], keys: [String]) -> [String: JSON] {
        var joined = own
        for key in keys {
            var merged = own[key]?.objectValue ?? [:]
            for part in parts {
                for (id, value) in part.answer?[key]?.objectValue ?? [:] where merged[id] == nil {
                    merged[id] = value
                }
            }
            joined[key] = .object(merged)
        }
        return joined
    }
}
