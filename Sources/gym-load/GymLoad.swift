import ArgumentParser
import Foundation
import GymCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A compiled client that puts load on a running gym-server and measures it: the same code for
/// every transport, so that what differs between two figures is the server.
@main
struct GymLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gym-load",
        abstract: "Load tests and latency measurements against a running gym-server.",
        subcommands: [Load.self, Latency.self, Compare.self])
}

/// What every subcommand takes.
struct ServerOptions: ParsableArguments {
    @Option(help: "The API's URL.")
    var url = "http://127.0.0.1:5000"

    @Option(name: .customLong("files-url"), help: "The files port's URL.")
    var filesURL = "http://127.0.0.1:8000"

    @Option(name: .customLong("api-key"), help: "An API key to send as X-API-Key.")
    var apiKey: String?

    func client() throws -> HTTPClient {
        let client = try HTTPClient(url: url)
        if let apiKey { client.headers = [("X-API-Key", apiKey)] }
        return client
    }

    func filesClient() throws -> HTTPClient {
        let client = try HTTPClient(url: filesURL)
        if let apiKey { client.headers = [("X-API-Key", apiKey)] }
        return client
    }
}

struct LoadFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension HTTPClient {
    /// POST that must answer 200; returns the JSON.
    @discardableResult
    func expectOK(_ path: String, _ json: JSON) throws -> JSON {
        let answer = try post(path, json)
        guard answer.status == 200 || answer.status == 201, let body = answer.json else {
            throw LoadFailure("POST \(path) \(JSONWriter.string(json).prefix(120)): \(answer.status) \(answer.text.prefix(300))")
        }
        return body
    }

    func create(_ envID: String, kwargs: JSON? = nil) throws -> String {
        var body: [String: JSON] = ["env_id": .string(envID)]
        if let kwargs { body["kwargs"] = kwargs }
        guard let id = try expectOK("/v1/envs/", .object(body))["instance_id"]?.stringValue else {
            throw LoadFailure("create \(envID): no instance_id")
        }
        return id
    }
}

/// Resident memory of a process, in bytes (VmRSS).
func residentBytes(pid: Int32) -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let digits = line.split(separator: " ").compactMap { Int($0) }
        if let kilobytes = digits.first { return kilobytes * 1024 }
    }
    return nil
}

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

func megabytes(_ bytes: Int?) -> String {
    bytes.map { String(format: "%.1f MiB", Double($0) / 1_048_576) } ?? "?"
}

/// Percentiles of latencies in nanoseconds, as microseconds.
func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.down)))
    return Double(sorted[index]) / 1000
}

/// Runs `body(i)` on `count` threads at once and waits for all; returns the errors thrown.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) -> [String] {
    let errors = Mutex<[String]>([])
    let group = DispatchGroup()
    for index in 0..<count {
        group.enter()
        let thread = Thread {
            do {
                try body(index)
            } catch {
                errors.withLock { $0.append("client \(index): \(error)") }
            }
            group.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    group.wait()
    return errors.withLock { $0 }
}

// MARK: load

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Many clients stepping at once with monitors recording; checks that no step is lost.",
        discussion: """
            Half the clients step instances of their own (CartPole-v1, resetting at each episode's end and \
            stopping at the first episode end after --steps steps); the other half share --shared instances \
            (Pendulum-v1 whose time limit is exactly the steps its clients send together, so the one episode \
            ends on the last step). Every instance has a monitor; afterwards the stats files (read over the \
            files port) must hold exactly the steps each client sent. With --server-pid, the server's \
            resident memory is read before, at the peak and after the instances are closed.
            """)

    @OptionGroup var server: ServerOptions

    @Option(help: "Clients stepping at once.")
    var clients = 64

    @Option(help: "Steps per client.")
    var steps = 10_000

    @Option(help: "Instances shared by the second half of the clients.")
    var shared = 4

    @Option(help: "Clients of the first half whose monitors also film (old gym's schedule).")
    var film = 2

    @Option(name: .customLong("server-pid"), help: "The server's process id, to read its resident memory.")
    var serverPID: Int32?

    @Option(name: .customLong("warmup-steps"), help: "Steps per client of a first, unmeasured round (first use of code, caches and allocator arenas); 0: none.")
    var warmupSteps = 100

    func validate() throws {
        guard clients >= 2, clients % 2 == 0 else { throw ValidationError("--clients must be even and at least 2") }
        guard shared >= 1, (clients / 2) % shared == 0 else {
            throw ValidationError("--shared must divide the number of sharing clients (\(clients / 2))")
        }
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
    }

    func run() throws {
        let rssCold = serverPID.flatMap(residentBytes)
        if warmupSteps > 0 {
            var warmup = self
            warmup.steps = warmupSteps
            warmup.warmupSteps = 0
            warmup.serverPID = nil
            warmup.directoryPrefix = "load-warmup"
            try warmup.round()
            if let serverPID {
                usleep(1_500_000)  // the server hands freed memory back a second after instances close
                print("load: server resident memory: cold \(megabytes(rssCold)), after a warm-up round of \(warmupSteps) steps per client \(megabytes(residentBytes(pid: serverPID)))")
            }
        }
        try round()
    }

    /// Where the monitors record, under the client's part of the monitor root.
    var directoryPrefix = "load"

    func round() throws {
        let rssStart = serverPID.flatMap(residentBytes)
        let setup = try server.client()
        let sharers = clients / 2
        let perShared = sharers / shared
        let sharedLength = perShared * steps
        var sharedIDs: [String] = []
        for index in 0..<shared {
            let id = try setup.create("Pendulum-v1", kwargs: ["max_episode_steps": .int(sharedLength)])
            try setup.expectOK(
                "/v1/envs/\(id)/monitor/start/", ["directory": .string("\(directoryPrefix)/shared-\(index)"), "force": true, "video_callable": false])
            try setup.expectOK("/v1/envs/\(id)/reset/", ["seed": .int(index)])
            sharedIDs.append(id)
        }
        let ownResults = Mutex<[Int: (id: String, steps: Int, episodes: Int)]>([:])
        let sharedDone = Mutex<[Int: Int]>([:])
        let sharedIDsCopy = sharedIDs
        let server = self.server
        let (steps, film, prefix) = (self.steps, self.film, directoryPrefix)
        let start = now()
        let errors = onThreads(clients) { index in
            let client = try server.client()
            if index < sharers {
                let slot = index % sharedIDsCopy.count
                let id = sharedIDsCopy[slot]
                for _ in 0..<steps {
                    let answer = try client.expectOK("/v1/envs/\(id)/step/", ["action": [0.0]])
                    if answer["done"] == true { sharedDone.withLock { $0[slot, default: 0] += 1 } }
                }
                return
            }
            let own = index - sharers
            let id = try client.create("CartPole-v1")
            try client.expectOK(
                "/v1/envs/\(id)/monitor/start/",
                ["directory": .string("\(prefix)/own-\(own)"), "force": true, "video_callable": own < film ? true : false])
            try client.expectOK("/v1/envs/\(id)/reset/", ["seed": .int(own)])
            var sent = 0
            var episodes = 0
            while true {
                let answer = try client.expectOK("/v1/envs/\(id)/step/", ["action": .int((sent / 3 + own) % 2)])
                sent += 1
                if answer["done"] == true {
                    episodes += 1
                    if sent >= steps { break }
                    try client.expectOK("/v1/envs/\(id)/reset/", [:])
                }
            }
            try client.expectOK("/v1/envs/\(id)/monitor/close/", [:])
            ownResults.withLock { $0[own] = (id, sent, episodes) }
        }
        let elapsed = Double(now() - start) / 1e9
        let rssPeak = serverPID.flatMap(residentBytes)
        var problems = errors
        for id in sharedIDs { _ = try? setup.expectOK("/v1/envs/\(id)/monitor/close/", [:]) }
        let own = ownResults.withLock { $0 }
        let totalSteps = own.values.reduce(0) { $0 + $1.steps } + sharers * steps
        print(String(format: "load: %d clients (%d on their own CartPole-v1, %d sharing %d Pendulum-v1), %d steps in %.2f s: %.0f steps/s",
            clients, clients - sharers, sharers, shared, totalSteps, elapsed, Double(totalSteps) / elapsed))

        // Every step the clients sent is in the monitors' statistics.
        let files = try server.filesClient()
        for index in 0..<(clients - sharers) {
            guard let result = own[index] else { continue }
            let lengths = try Self.episodeLengths(files, directory: "\(directoryPrefix)/own-\(index)")
            if lengths.reduce(0, +) != result.steps || lengths.count != result.episodes {
                problems.append("own-\(index): sent \(result.steps) steps in \(result.episodes) episodes, stats hold \(lengths.reduce(0, +)) in \(lengths.count)")
            }
        }
        let done = sharedDone.withLock { $0 }
        for index in 0..<shared {
            let lengths = try Self.episodeLengths(files, directory: "\(directoryPrefix)/shared-\(index)")
            if lengths != [sharedLength] || done[index] != 1 {
                problems.append("shared-\(index): expected one episode of \(sharedLength) steps ending once, stats hold \(lengths), done seen \(done[index] ?? 0) times")
            }
        }
        print("load: the stats files hold every step: \(problems.isEmpty ? "yes" : "NO")")

        for id in sharedIDs + own.values.map(\.id) {
            let answer = try setup.post("/v1/envs/\(id)/close/", [:])
            if answer.status != 200 { problems.append("close \(id): \(answer.status) \(answer.text.prefix(200))") }
        }
        if let serverPID, let rssStart, let rssPeak {
            // Give the allocator a moment to hand freed memory back.
            var rssEnd = residentBytes(pid: serverPID) ?? 0
            for _ in 0..<20 where rssEnd > rssStart + (rssPeak - rssStart) / 4 {
                usleep(250_000)
                rssEnd = residentBytes(pid: serverPID) ?? 0
            }
            let grown = rssEnd - rssStart
            print("load: server resident memory: start \(megabytes(rssStart)), peak \(megabytes(rssPeak)), after closing \(megabytes(rssEnd)) (\(grown >= 0 ? "+" : "")\(megabytes(grown)))")
            let allowance = max(24 << 20, (rssPeak - rssStart) / 4)
            if grown > allowance {
                problems.append("resident memory did not come back near its start: +\(megabytes(grown)) (allowed +\(megabytes(allowance)))")
            }
        }
        if !problems.isEmpty {
            for problem in problems.prefix(20) { print("load: FAIL \(problem)") }
            throw ExitCode(1)
        }
        print("load: PASS no error, no lost step")
    }

    /// `episode_lengths` of the stats file in `directory`, read over the files port.
    static func episodeLengths(_ files: HTTPClient, directory: String) throws -> [Int] {
        let listing = try files.get("/\(directory)/?format=json")
        guard listing.status == 200, let entries = listing.json?["entries"]?.arrayValue,
            let url = entries.compactMap({ $0["url"]?.stringValue }).first(where: { $0.hasSuffix(".stats.json") })
        else {
            throw LoadFailure("no stats file in \(directory): \(listing.status) \(listing.text.prefix(200))")
        }
        let stats = try files.get(url)
        guard let lengths = stats.json?["episode_lengths"]?.arrayValue?.compactMap(\.intValue) else {
            throw LoadFailure("unreadable stats file \(url)")
        }
        return lengths
    }
}

// MARK: latency of plain steps while others render and film

struct Latency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "p50/p99 of plain steps on one connection, idle and while other clients step with render: true and a monitor filming every episode.")

    @OptionGroup var server: ServerOptions

    @Option(help: "Steps measured in each phase.")
    var requests = 5000

    @Option(name: .customLong("load-clients"), help: "Clients rendering and filming meanwhile.")
    var loadClients = 16

    @Option(name: .customLong("env-id"), help: "The environment the loading clients step.")
    var envID = "CartPole-v1"

    func run() throws {
        let client = try server.client()
        let id = try client.create("CartPole-v1")
        try client.expectOK("/v1/envs/\(id)/reset/", ["seed": 0])
        _ = try Self.measure(client, id: id, count: min(500, requests))  // warm up
        let idle = try Self.measure(client, id: id, count: requests)

        let stop = Atomic<Bool>(false)
        let backgroundSteps = Atomic<Int>(0)
        let server = self.server
        let envID = self.envID
        let count = loadClients
        let errors = Mutex<[String]>([])
        let background = Thread {
            let failures = onThreads(count) { index in
                let client = try server.client()
                let id = try client.create(envID)
                try client.expectOK(
                    "/v1/envs/\(id)/monitor/start/", ["directory": .string("latency/load-\(index)"), "force": true, "video_callable": 1])
                try client.expectOK("/v1/envs/\(id)/reset/", ["render": true])
                var step = 0
                while !stop.load(ordering: .relaxed) {
                    let answer = try client.expectOK("/v1/envs/\(id)/step/", ["action": .int(step % 2), "render": true])
                    backgroundSteps.add(1, ordering: .relaxed)
                    step += 1
                    if answer["done"] == true { try client.expectOK("/v1/envs/\(id)/reset/", ["render": true]) }
                }
                try client.expectOK("/v1/envs/\(id)/close/", [:])
            }
            errors.withLock { $0 += failures }
        }
        background.start()
        usleep(1_000_000)
        let before = backgroundSteps.load(ordering: .relaxed)
        let started = now()
        let loaded = try Self.measure(client, id: id, count: requests)
        let rate = Double(backgroundSteps.load(ordering: .relaxed) - before) / (Double(now() - started) / 1e9)
        stop.store(true, ordering: .relaxed)
        while !background.isFinished { usleep(10_000) }
        try client.expectOK("/v1/envs/\(id)/close/", [:])
        print(String(format: "latency: plain steps, 1 connection, idle:   p50 %.0f µs, p99 %.0f µs", idle.p50, idle.p99))
        print(String(format: "latency: plain steps, 1 connection, loaded: p50 %.0f µs, p99 %.0f µs (%d clients with render: true and a monitor filming every episode, %.0f steps/s)",
            loaded.p50, loaded.p99, loadClients, rate))
        print(String(format: "latency: loaded/idle: p50 %.2fx, p99 %.2fx", loaded.p50 / idle.p50, loaded.p99 / idle.p99))
        let failures = errors.withLock { $0 }
        if !failures.isEmpty {
            for failure in failures.prefix(10) { print("latency: FAIL \(failure)") }
            throw ExitCode(1)
        }
    }

    static func measure(_ client: HTTPClient, id: String, count: Int) throws -> (p50: Double, p99: Double) {
        var latencies: [UInt64] = []
        latencies.reserveCapacity(count)
        var step = 0
        while latencies.count < count {
            let start = now()
            let answer = try client.expectOK("/v1/envs/\(id)/step/", ["action": .int(step % 2)])
            latencies.append(now() - start)
            step += 1
            if answer["done"] == true { try client.expectOK("/v1/envs/\(id)/reset/", [:]) }
        }
        latencies.sort()
        return (percentile(latencies, 0.5), percentile(latencies, 0.99))
    }
}

// MARK: REST against the WebSocket

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Steps per second and p50 latency over one WebSocket (Gymie's protocol) against REST steps over one keep-alive connection.",
        discussion: """
            The two transports (and the WebSocket's bare round trip, a ping and its pong: the floor no \
            step can beat) are measured in turns, round after round, and each rate is its median \
            round: this machine's speed drifts within minutes, and two blocks measured one after \
            the other would measure the drift as much as the transports.
            """)

    @OptionGroup var server: ServerOptions

    @Option(help: "Steps measured on each transport (split across the rounds).")
    var requests = 20_000

    @Option(help: "Rounds of REST, WebSocket and ping in turn (odd: the median round is the figure).")
    var rounds = 5

    func validate() throws {
        guard rounds >= 1, rounds % 2 == 1 else { throw ValidationError("--rounds must be odd and at least 1") }
        guard requests >= rounds else { throw ValidationError("--requests must be at least --rounds") }
    }

    func run() throws {
        // REST
        let client = try server.client()
        let id = try client.create("CartPole-v1")
        try client.expectOK("/v1/envs/\(id)/reset/", ["seed": 0])
        let restStep = { (action: Int) throws in
            let answer = try client.expectOK("/v1/envs/\(id)/step/", ["action": .int(action)])
            if answer["done"] == true { try client.expectOK("/v1/envs/\(id)/reset/", [:]) }
        }
        // WebSocket
        var path = "/gym"
        if let key = server.apiKey { path += "?api_key=\(key)" }
        let socket = try WebSocketClient(url: server.url, path: path)
        try socket.send(#"{"method": "make", "params": {"env_id": "CartPole-v1"}}"#)
        let wsID = try socket.receive()
        try socket.send("{\"method\": \"reset\", \"params\": {\"instance_id\": \"\(wsID)\", \"seed\": 0}}")
        _ = try socket.receive()
        let messages = [0, 1].map { "{\"method\": \"step\", \"params\": {\"instance_id\": \"\(wsID)\", \"action\": \($0)}}" }
        let reset = "{\"method\": \"reset\", \"params\": {\"instance_id\": \"\(wsID)\"}}"
        let wsStep = { (action: Int) throws in
            try socket.send(messages[action])
            let answer = try socket.receive()
            // [observation, reward, done, info]: done is the third element.
            guard let parsed = try? JSONParser.parse(answer), let done = parsed.arrayValue?[2].boolValue else {
                throw LoadFailure("unexpected step answer \(answer.prefix(200))")
            }
            if done {
                try socket.send(reset)
                _ = try socket.receive()
            }
        }
        // The floor: the same socket's bare round trip (a ping and its pong), what no step can beat.
        let payload = Array("gym-load".utf8)
        let ping = { (_: Int) throws in try socket.ping(payload) }

        let transports: [(name: String, body: (Int) throws -> Void)] = [("REST", restStep), ("WebSocket", wsStep), ("ping", ping)]
        for transport in transports {
            for i in 0..<min(1000, requests) { try transport.body(i % 2) }  // warm up
        }
        var measured = [[Self.Round]](repeating: [], count: transports.count)
        for round in 0..<rounds {
            let count = requests / rounds + (round < requests % rounds ? 1 : 0)
            for (index, transport) in transports.enumerated() { measured[index].append(try Self.time(count, transport.body)) }
        }
        try socket.send("{\"method\": \"close\", \"params\": {\"instance_id\": \"\(wsID)\"}}")
        _ = try socket.receive()
        try client.expectOK("/v1/envs/\(id)/close/", [:])

        let rest = Self.Summary(measured[0]), ws = Self.Summary(measured[1]), floor = Self.Summary(measured[2])
        for (name, summary) in [("REST, 1 keep-alive connection:", rest), ("WebSocket, 1 connection:      ", ws)] {
            print(String(format: "compare: %@ %.0f steps/s, p50 %.0f µs, p99 %.0f µs (rounds: %@ steps/s)",
                name, summary.rate, summary.p50, summary.p99, summary.roundRates))
        }
        print(String(format: "compare: WebSocket ping/pong, 1 connection (the floor): %.0f round trips/s, p50 %.0f µs, p99 %.0f µs (rounds: %@)",
            floor.rate, floor.p50, floor.p99, floor.roundRates))
        print(String(format: "compare: WebSocket/REST: %.2fx steps/s, p50 %.2fx (%d rounds in turn, the median round's rate)",
            ws.rate / rest.rate, ws.p50 / rest.p50, rounds))
        print(String(format: "compare: floor/REST: %.2fx round trips/s (the most a WebSocket step could reach)", floor.rate / rest.rate))
    }

    struct Round {
        let rate: Double
        let latencies: [UInt64]
    }

    /// A transport over its rounds: the median round's rate, percentiles over every step.
    struct Summary {
        let rate: Double
        let p50: Double
        let p99: Double
        let roundRates: String

        init(_ rounds: [Round]) {
            rate = rounds.map(\.rate).sorted()[rounds.count / 2]
            let all = rounds.flatMap(\.latencies).sorted()
            p50 = percentile(all, 0.5)
            p99 = percentile(all, 0.99)
            roundRates = rounds.map { String(format: "%.0f", $0.rate) }.joined(separator: ", ")
        }
    }

    static func time(_ count: Int, _ step: (Int) throws -> Void) throws -> Round {
        var latencies: [UInt64] = []
        latencies.reserveCapacity(count)
        let start = now()
        for i in 0..<count {
            let t = now()
            try step(i % 2)
            latencies.append(now() - t)
        }
        let elapsed = Double(now() - start) / 1e9
        return Round(rate: Double(count) / elapsed, latencies: latencies)
    }
}
