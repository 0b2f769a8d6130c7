import Foundation

/// Where this server stands in a fleet of replicas (docs/SCALING.md): its replica id, which every
/// instance id it makes carries in its first two hex characters, and the replicas whose lists it
/// joins to its own (the fleet's `GET /v1/envs/`, `/_live/instances`, `/_recordings`).
///
/// A single server has no replica id and no peers, and makes ids as it always did.
public struct Fleet: Sendable, Equatable {
    /// A replica another one can reach: its id and the addresses of its two ports.
    public struct Replica: Sendable, Equatable {
        public let id: Int
        public let host: String
        public let apiPort: Int
        public let filesPort: Int

        public init(id: Int, host: String, apiPort: Int, filesPort: Int) {
            self.id = id
            self.host = host
            self.apiPort = apiPort
            self.filesPort = filesPort
        }

        /// `ID=HOST:API_PORT:FILES_PORT` (`--peer`), e.g. `1=gym-server-1.gym-server:5000:8000`;
        /// an IPv6 host in brackets (`2=[::1]:5002:8002`).
        public static func parse(_ text: String) throws(FleetError) -> Replica {
            guard let equals = text.firstIndex(of: "=") else {
                throw FleetError("--peer '\(text)' must look like ID=HOST:API_PORT:FILES_PORT, e.g. 1=gym-server-1.gym-server:5000:8000")
            }
            let id = try Fleet.replicaID(String(text[..<equals]), from: "--peer '\(text)'")
            let address = text[text.index(after: equals)...]
            var host: Substring
            var ports: [Substring]
            if address.hasPrefix("["), let close = address.firstIndex(of: "]") {
                host = address[address.index(after: address.startIndex)..<close]
                let rest = address[address.index(after: close)...]
                guard rest.hasPrefix(":") else {
                    throw FleetError("--peer '\(text)' must look like ID=HOST:API_PORT:FILES_PORT")
                }
                ports = rest.dropFirst().split(separator: ":", omittingEmptySubsequences: false)
            } else {
                let parts = address.split(separator: ":", omittingEmptySubsequences: false)
                guard parts.count == 3 else {
                    throw FleetError("--peer '\(text)' must look like ID=HOST:API_PORT:FILES_PORT, e.g. 1=gym-server-1.gym-server:5000:8000")
                }
                host = parts[0]
                ports = Array(parts[1...])
            }
            guard ports.count == 2, let api = Int(ports[0]), let files = Int(ports[1]),
                (1...65535).contains(api), (1...65535).contains(files)
            else {
                throw FleetError("--peer '\(text)': the two ports must be numbers from 1 to 65535")
            }
            guard !host.isEmpty, host.count <= 253,
                host.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil || "-.:_".unicodeScalars.contains($0)) })
            else {
                throw FleetError("--peer '\(text)': '\(host)' is not a host name or address")
            }
            return Replica(id: id, host: String(host), apiPort: api, filesPort: files)
        }
    }

    /// This server's replica id (0-255), or nil for a server on its own.
    public let replicaID: Int?
    /// The other replicas (never this one), by id.
    public let peers: [Replica]

    public init(replicaID: Int? = nil, peers: [Replica] = []) throws(FleetError) {
        if let replicaID, !(0...255).contains(replicaID) {
            throw FleetError("--replica-id must be from 0 to 255, got \(replicaID)")
        }
        if !peers.isEmpty && replicaID == nil {
            throw FleetError("--peer needs --replica-id: a fleet's replicas are told apart by their ids")
        }
        var seen = Set<Int>()
        for peer in peers where peer.id != replicaID {
            guard seen.insert(peer.id).inserted else {
                throw FleetError("--peer names replica \(peer.id) twice")
            }
        }
        self.replicaID = replicaID
        // A replica may be given the fleet's whole list, itself included (one list for every
        // replica, as a StatefulSet's pods get): it never asks itself.
        self.peers = peers.filter { $0.id != replicaID }.sorted { $0.id < $1.id }
    }

    /// A server on its own.
    public static let single = try! Fleet()

    /// Whether lists join other replicas' (there are peers).
    public var joinsPeers: Bool { !peers.isEmpty }

    /// The two hex characters that begin this replica's instance ids.
    public var idPrefix: String? {
        replicaID.map { Self.hexPrefix($0) }
    }

    static func hexPrefix(_ id: Int) -> String {
        let digits = String(id, radix: 16)
        return digits.count == 1 ? "0" + digits : digits
    }

    /// The replica an instance id names (its first two hex characters), when this server is part
    /// of a fleet and the id is a well-formed one (8 or 32 lower-case hex characters).
    public func replica(ofInstance id: some StringProtocol) -> Int? {
        guard replicaID != nil, id.utf8.count == 8 || id.utf8.count == 32 else { return nil }
        guard id.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }) else { return nil }
        return Int(id.prefix(2), radix: 16)
    }

    /// Whether `id` is an instance id of another replica of this fleet.
    public func belongsElsewhere(_ id: some StringProtocol) -> Int? {
        guard let owner = replica(ofInstance: id), owner != replicaID else { return nil }
        return owner
    }

    /// A replica id given as text (`--replica-id`, `GYM_SERVER_REPLICA_ID`, a pod's ordinal).
    public static func replicaID(_ text: String, from source: String) throws(FleetError) -> Int {
        guard let id = Int(text.trimmingCharacters(in: .whitespaces)), (0...255).contains(id) else {
            throw FleetError("\(source): the replica id must be a number from 0 to 255, got '\(text.prefix(40))'")
        }
        return id
    }

    /// The ordinal of a StatefulSet pod from its host name (`gym-server-2` -> 2), when the
    /// process runs under Kubernetes (`KUBERNETES_SERVICE_HOST` is set) and the name ends in one.
    public static func podOrdinal(environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        guard environment["KUBERNETES_SERVICE_HOST"] != nil, let host = environment["HOSTNAME"] ?? hostName() else {
            return nil
        }
        guard let dash = host.lastIndex(of: "-") else { return nil }
        let digits = host[host.index(after: dash)...]
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy(\.isASCII), let ordinal = Int(digits), (0...255).contains(ordinal) else {
            return nil
        }
        return ordinal
    }

    private static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return nil }
        return String(cString: buffer)
    }
}

/// A fleet option that cannot be used, said for the command line.
public struct FleetError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
