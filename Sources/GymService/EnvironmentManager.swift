import CGymSystem
import Foundation
import GymBridge
import GymCore
import GymEnvs
import GymMonitor
import Synchronization

/// Why a client's instance id gave no instance. Its message keeps the gym-http-api server's
/// "Instance_id ... unknown" wording, which clients look for.
public struct InstanceLookupError: Error, Sendable, CustomStringConvertible {
    public let instanceID: String
    /// Seconds of idleness after which the instance was closed, when it expired.
    public let expiredAfterSeconds: Int?
    /// In a fleet, the replica the id names when it is not this one (`Fleet.belongsElsewhere`),
    /// and this one's id.
    public var elsewhere: (replica: Int, this: Int)? = nil

    public init(instanceID: String, expiredAfterSeconds: Int?, fleet: Fleet = .single) {
        self.instanceID = instanceID
        self.expiredAfterSeconds = expiredAfterSeconds
        if let other = fleet.belongsElsewhere(instanceID), let this = fleet.replicaID {
            elsewhere = (other, this)
        }
    }

    public var message: String {
        let shown = instanceID.count > 80 ? String(instanceID.prefix(80)) + "..." : instanceID
        if let seconds = expiredAfterSeconds {
            return "Instance_id \(shown) expired: it was closed after \(seconds) seconds without a request (--instance-ttl). Create a new instance"
        }
        if let (replica, this) = elsewhere {
            return "Instance_id \(shown) unknown on replica \(this): its first two hex characters name replica \(replica). "
                + "Send requests through the fleet's front, which routes each to its instance's replica (a batch to the replica of its first item)"
        }
        return "Instance_id \(shown) unknown"
    }

    public var description: String { message }
}

/// A limit of `ServerLimits` was reached (answered 429).
public struct LimitReached: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// How new instance ids look: 8 lower-case hex characters (the gym-http-api servers'), or 32
/// (Gymie's `uuid4().hex`).
public enum InstanceIDStyle: Sendable {
    case short
    case long

    var hexDigits: Int { self == .short ? 8 : 32 }
}

/// A monotonic clock in nanoseconds, for idle times.
public enum InstanceClock {
    @Sendable public static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
}

/// Owns the live instances. Every front end (REST, WebSocket, the web view) acts on instances
/// through this one API, so they all see the same state; `instance(_:for:)` is the one place
/// that turns a client's instance id into an instance, with its owner check. Limits and idle
/// expiry live here, next to creation.
public final class EnvironmentManager: Sendable {
    public let registry: Registry
    /// The Gymnasium behind `--python` that serves the ids the registry lacks (nil: none).
    public let bridge: PythonBridge?
    /// Where rendered frames and monitor files go (served on the files port). With API keys on,
    /// each key has a folder of its own in it (`space(for:)`).
    public let monitorRoot: URL
    /// Open monitors and the monitor-id counter of this process.
    public let monitors: MonitorRegistry
    /// This server's place in a fleet of replicas: the prefix of its instance ids, its peers.
    public let fleet: Fleet
    /// Frames for the live view.
    public let frames = FrameHub()
    public let limits: ServerLimits
    /// Told about problems met while recording (to log them, and to count them in
    /// `recorderHealth`).
    let onMonitorProblem: @Sendable (MonitorError) -> Void
    /// The recording problems seen, for `/healthz`.
    public let recorderHealth: RecorderHealth
    /// The Prometheus metrics (nil: `--no-metrics`).
    public let metrics: ServiceMetrics?
    private let clock: @Sendable () -> UInt64

    private struct Table {
        var instances: [String: EnvironmentInstance] = [:]
        /// Live instances per owner name ("" for no owner).
        var perOwner: [String: Int] = [:]
        var expired = ExpiredInstances()
    }

    private let table = Mutex(Table())
    /// Whether a return of freed memory to the system is already scheduled.
    private let trimScheduled = Atomic<Bool>(false)

    public init(
        registry: Registry = .gym, monitorRoot: URL, limits: ServerLimits = ServerLimits(),
        clock: @escaping @Sendable () -> UInt64 = InstanceClock.now,
        onMonitorProblem: (@Sendable (MonitorError) -> Void)? = nil, metrics: ServiceMetrics? = nil,
        bridge: PythonBridge? = nil, fleet: Fleet = .single
    ) {
        self.registry = registry
        self.fleet = fleet
        // A replica's monitor files carry its id besides the process id, so that replicas
        // sharing a monitor root (each the pid 1 of its container) never write the same name.
        self.monitors = MonitorRegistry(defaultUID: fleet.replicaID.map { MonitorFileNames.replicaUID($0) } ?? MonitorFileNames.processUID)
        self.bridge = bridge
        self.monitorRoot = monitorRoot
        self.limits = limits
        self.clock = clock
        self.metrics = metrics
        let recorderHealth = RecorderHealth(clock: clock)
        self.recorderHealth = recorderHealth
        self.onMonitorProblem = { problem in
            recorderHealth.add(problem)
            onMonitorProblem?(problem)
        }
    }

    // MARK: where an owner's files go

    /// The part of the monitor root that holds an owner's instances, monitor directories and
    /// uploads: the root itself with API keys off, `<root>/<key name>` with them on. Port 8000
    /// serves this folder as the root to that key.
    public func space(for owner: Owner?) -> URL {
        guard let owner else { return monitorRoot }
        return monitorRoot.appendingPathComponent(owner.name, isDirectory: true)
    }

    // MARK: instances

    /// Which implementation serves an id: the server's own, or Gymnasium's through a worker.
    public enum Backend: String, Sendable {
        case native
        case gymnasium
    }

    /// `create`: makes the environment(s) of a call and returns the new instance, native when
    /// the registry has the id (unless `backend` is `.gymnasium`), else bridged through
    /// `--python`'s Gymnasium. Native and bridged instances are built by this one path; only the
    /// maker differs (a bridged one starts worker processes, on `BlockingWork`'s threads).
    /// Throws `GymError` for a bad id or kwargs and `LimitReached` past `--max-instances` or
    /// `--max-instances-per-key`.
    public func perform(_ call: CreateCall, owner: Owner? = nil, idStyle: InstanceIDStyle = .short) async throws -> EnvironmentInstance {
        try checkCreate(call, owner: owner)
        let (envID, kwargs, count) = (call.envID, call.kwargs, call.numEnvs ?? 1)
        guard try usesBridge(envID, backend: call.backend), let bridge else {
            return try build(call, envs: Self.make(count) { () throws in try registry.make(envID, kwargs: kwargs) }, owner: owner, idStyle: idStyle)
        }
        // Workers count toward the limits: refused before any starts.
        try table.withLock { table throws in try checkLimits(table, owner: owner) }
        let envs = try await BlockingWork.run { () throws -> [WrappedEnvironment] in
            try bridge.make(envID, kwargs: kwargs, count: count)
        }
        return try build(call, envs: envs, owner: owner, idStyle: idStyle)
    }

    /// A native instance made at once, without suspending (for callers in Swift; the API creates
    /// through `perform`, whose native path this is).
    @discardableResult
    public func create(
        envID: String, seed: UInt64? = nil, kwargs: [String: JSON] = [:], owner: Owner? = nil, idStyle: InstanceIDStyle = .short,
        numEnvs: Int? = nil, autoresetMode: AutoresetMode = .nextStep
    ) throws -> EnvironmentInstance {
        var call = CreateCall(envID: envID, seed: seed, kwargs: kwargs)
        call.numEnvs = numEnvs
        call.autoresetMode = autoresetMode
        try checkCreate(call, owner: owner)
        return try build(call, envs: Self.make(call.numEnvs ?? 1) { () throws in try registry.make(envID, kwargs: kwargs) }, owner: owner, idStyle: idStyle)
    }

    /// What create refuses before any environment is made.
    private func checkCreate(_ call: CreateCall, owner: Owner?) throws {
        if let numEnvs = call.numEnvs, !(1...limits.maxNumEnvs).contains(numEnvs) {
            // gymnasium.make_vec(env_id, num_envs=N, vectorization_mode="sync"): N copies.
            throw GymError("Parameter 'num_envs' must be from 1 to \(limits.maxNumEnvs) (--max-num-envs), got \(numEnvs)")
        }
    }

    /// The instance of made environments: one, or a vector of them; registered, or closed.
    private func build(_ call: CreateCall, envs: [WrappedEnvironment], owner: Owner?, idStyle: InstanceIDStyle) throws -> EnvironmentInstance {
        let core: EnvironmentInstance.Core
        if call.numEnvs != nil {
            var vector = VectorEnvironment(envs: envs, mode: call.autoresetMode)
            vector.pendingSeed = call.seed
            core = .vector(vector)
        } else {
            var environment = envs[0]
            environment.pendingSeed = call.seed
            core = .single(environment)
        }
        do {
            return try register(core, owner: owner, idStyle: idStyle)
        } catch {
            for env in envs { env.close() }
            throw error
        }
    }

    /// `count` environments from `make`; those made are closed if one fails.
    private static func make(_ count: Int, _ make: () throws -> WrappedEnvironment) throws -> [WrappedEnvironment] {
        var envs: [WrappedEnvironment] = []
        envs.reserveCapacity(count)
        do {
            for _ in 0..<count { envs.append(try make()) }
        } catch {
            for env in envs { env.close() }
            throw error
        }
        return envs
    }

    /// `perform(CreateCall)` with its parameters spelled out.
    public func createInstance(
        envID: String, seed: UInt64? = nil, kwargs: [String: JSON] = [:], owner: Owner? = nil, idStyle: InstanceIDStyle = .short,
        numEnvs: Int? = nil, autoresetMode: AutoresetMode = .nextStep, backend: Backend? = nil
    ) async throws -> EnvironmentInstance {
        var call = CreateCall(envID: envID, seed: seed, kwargs: kwargs)
        call.numEnvs = numEnvs
        call.autoresetMode = autoresetMode
        call.backend = backend
        return try await perform(call, owner: owner, idStyle: idStyle)
    }

    /// Whether `envID` goes to the bridge: forced with `.gymnasium`, else when the registry does
    /// not have it and a bridge is there.
    private func usesBridge(_ envID: String, backend: Backend?) throws(GymError) -> Bool {
        switch backend {
        case .native: return false
        case .gymnasium:
            guard bridge != nil else {
                throw GymError("\"backend\": \"gymnasium\" needs a Python: start gym-server with --python /path/to/python (a Python with gymnasium installed)")
            }
            return true
        case nil:
            return bridge != nil && (try? registry.spec(for: envID)) == nil
        }
    }

    /// Every id this server can make, with its backend: the registry's, then the bridge's that
    /// the registry lacks (their workers' `list`).
    public func registryListing() async throws -> [(id: String, backend: Backend, maxEpisodeSteps: Int?)] {
        var listing: [(id: String, backend: Backend, maxEpisodeSteps: Int?)] = registry.ids.map { id in
            (id, .native, (try? registry.spec(for: id))?.maxEpisodeSteps)
        }
        guard let bridge else { return listing }
        let native = Set(registry.ids)
        let bridged = try await BlockingWork.run { try bridge.ids() }
        for entry in bridged where entry.makeable && !native.contains(entry.id) {
            listing.append((entry.id, .gymnasium, entry.maxEpisodeSteps))
        }
        return listing
    }

    /// Gives a made environment its instance id and puts it in the table, within the limits.
    private func register(_ core: EnvironmentInstance.Core, owner: Owner?, idStyle: InstanceIDStyle) throws -> EnvironmentInstance {
        let space = space(for: owner)
        let now = clock()
        let counters: EnvironmentMetrics?
        switch core {
        case .single(let environment): counters = metrics?.environment(environment.id)
        case .vector(let vector): counters = metrics?.environment(vector.id)
        case .taken: counters = nil
        }
        let instance = try table.withLock { table throws -> EnvironmentInstance in
            try checkLimits(table, owner: owner)
            var id: String
            repeat {
                id = Self.randomID(hexDigits: idStyle.hexDigits, prefix: fleet.idPrefix)
            } while table.instances[id] != nil || table.expired.contains(id)
            let instance = EnvironmentInstance(
                id: id, core: core, directory: space.appendingPathComponent(id, isDirectory: true),
                owner: owner, hub: frames, now: now, metrics: counters)
            table.instances[id] = instance
            table.perOwner[owner?.name ?? "", default: 0] += 1
            return instance
        }
        counters?.created.increment()
        counters?.live.increment()
        return instance
    }

    private func checkLimits(_ table: Table, owner: Owner?) throws {
        if table.instances.count >= limits.maxInstances {
            throw LimitReached(
                message: "This server holds at most \(limits.maxInstances) live instances (--max-instances): close one (POST /v1/envs/<instance_id>/close/) or wait for idle ones to expire")
        }
        if let owner, table.perOwner[owner.name, default: 0] >= limits.maxInstancesPerKey {
            throw LimitReached(
                message: "The API key '\(owner.name)' holds its limit of \(limits.maxInstancesPerKey) live instances (--max-instances-per-key): close one (POST /v1/envs/<instance_id>/close/) first")
        }
    }

    /// `hexDigits` random lower-case hex characters; in a fleet the first two are the replica's
    /// (`Fleet.idPrefix`), so that a front routes by them (docs/SCALING.md).
    private static func randomID(hexDigits: Int, prefix: String?) -> String {
        var id = prefix ?? ""
        while id.count < hexDigits {
            let part = String(UInt32.random(in: .min ... .max), radix: 16)
            id += String(repeating: "0", count: 8 - part.count) + part
        }
        return String(id.prefix(hexDigits))
    }

    /// The instance with this id, if `owner` may see it (its owner, or anyone with keys off);
    /// counts as a use for idle expiry. Anyone else's instance does not exist for `owner`.
    public func instance(_ id: String, for owner: Owner?) throws(InstanceLookupError) -> EnvironmentInstance {
        let found = table.withLock { table -> (EnvironmentInstance?, Int?) in
            if let instance = table.instances[id], instance.owner == owner { return (instance, nil) }
            return (nil, table.expired.idleSeconds(of: id, owner: owner))
        }
        guard let instance = found.0 else {
            throw InstanceLookupError(instanceID: id, expiredAfterSeconds: found.1, fleet: fleet)
        }
        instance.touch(clock())
        return instance
    }

    /// The instance with this id whoever owns it, without counting a use (the live renderer).
    package func anyInstance(_ id: String) -> EnvironmentInstance? {
        table.withLock { $0.instances[id] }
    }

    /// `{instance_id: env_id}` for every live instance `owner` may see.
    public func list(for owner: Owner?) -> [String: String] {
        table.withLock { table in
            var all: [String: String] = [:]
            for (id, instance) in table.instances where instance.owner == owner { all[id] = instance.envID }
            return all
        }
    }

    /// Where the live instances `owner` may see record (those that started a monitor).
    public func monitorStatuses(for owner: Owner?) -> [String: EnvironmentInstance.MonitorStatus] {
        let instances = table.withLock { table in table.instances.values.filter { $0.owner == owner } }
        var all: [String: EnvironmentInstance.MonitorStatus] = [:]
        for instance in instances {
            if let status = instance.monitorStatus { all[instance.id] = status }
        }
        return all
    }

    /// Live instances, all owners together.
    public var liveCount: Int { table.withLock { $0.instances.count } }

    /// Closes an instance, finishing its monitor, and forgets it.
    public func close(_ id: String, for owner: Owner?) async throws {
        let removed = try table.withLock { table throws(InstanceLookupError) -> EnvironmentInstance in
            guard let instance = table.instances[id], instance.owner == owner else {
                throw InstanceLookupError(instanceID: id, expiredAfterSeconds: table.expired.idleSeconds(of: id, owner: owner), fleet: fleet)
            }
            Self.remove(instance, from: &table)
            return instance
        }
        removed.metrics?.closed.increment()
        try await finish(removed)
    }

    private static func remove(_ instance: EnvironmentInstance, from table: inout Table) {
        instance.metrics?.live.decrement()
        table.instances[instance.id] = nil
        let key = instance.owner?.name ?? ""
        table.perOwner[key, default: 1] -= 1
        if table.perOwner[key] == 0 { table.perOwner[key] = nil }
    }

    /// What closing means, for close/, expiry and shutdown alike: the live viewers are told and
    /// the monitor finishes its video and writes its files.
    private func finish(_ instance: EnvironmentInstance) async throws {
        frames.instanceClosed(instance.id)
        defer { releaseFreedMemory() }
        try await instance.shutDown()
    }

    /// After instances close, hands the memory they freed back to the system (glibc keeps freed
    /// pages in its arenas otherwise, and a server left running for days would keep its peak):
    /// once a second at most, on `BlockingWork`'s threads.
    private func releaseFreedMemory() {
        guard !trimScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        Task.detached { [self] in
            try? await Task.sleep(for: .seconds(1))
            self.trimScheduled.store(false, ordering: .releasing)
            _ = try? await BlockingWork.run { gym_release_free_memory() }
        }
    }

    /// Closes every instance no client used for `--instance-ttl` seconds, as `close/` closes
    /// them, and remembers their ids so that a client using one learns it expired. Returns the
    /// ids closed.
    @discardableResult
    public func expireIdle() async -> [String] {
        guard let ttl = limits.instanceTTLSeconds, ttl > 0 else { return [] }
        let now = clock()
        let limit = UInt64(ttl) * 1_000_000_000
        let expired = table.withLock { table -> [EnvironmentInstance] in
            let idle = table.instances.values.filter { now &- $0.lastUsedTime > limit && $0.lastUsedTime <= now }
            for instance in idle {
                Self.remove(instance, from: &table)
                table.expired.add(instance.id, owner: instance.owner, idleSeconds: ttl)
            }
            return idle
        }
        for instance in expired {
            instance.metrics?.expired.increment()
            try? await finish(instance)
        }
        return expired.map(\.id)
    }

    /// Closes every instance and finishes every monitor: nothing recorded is lost on a clean stop.
    public func closeAll() async {
        let all = table.withLock { table in
            let all = Array(table.instances.values)
            table.instances.removeAll()
            table.perOwner.removeAll()
            return all
        }
        for instance in all {
            instance.metrics?.live.decrement()
            instance.metrics?.closed.increment()
            try? await finish(instance)
        }
        await monitors.finishAll()
    }

    // MARK: monitors

    /// `monitor/start/`: records the instance's episodes into `directory`, a path relative to
    /// the owner's space (default `<instance_id>/simulation`; an absolute path is taken relative
    /// to it too: `/tmp/x` is `tmp/x`); nothing outside is ever written. Returns the directory
    /// as the files port serves it to the owner.
    @discardableResult
    public func startMonitor(_ instance: EnvironmentInstance, _ call: MonitorStartCall) async throws -> String {
        let relative = try Self.relativeDirectory(call.directory ?? "\(instance.id)/simulation")
        let resolved = try await resolve(relative, for: instance.owner, create: true)
        try await instance.startMonitor(
            directory: resolved, displayDirectory: relative, call: call, registry: monitors, onProblem: onMonitorProblem,
            frames: metrics?.videoFrames, replica: fleet.replicaID)
        return relative
    }

    /// A client's directory as a path relative to its space: leading slashes dropped (the old
    /// clients' absolute directories land inside the space), the rest checked by `MonitorRoot`.
    package static func relativeDirectory(_ path: String) throws(GymError) -> String {
        let relative = String(path.drop(while: { $0 == "/" }))
        guard !relative.isEmpty else {
            throw GymError("The directory '\(path)' names the monitor root itself: give the name of a directory below it, e.g. 'cartpole-run-1'")
        }
        return relative
    }

    /// Resolves `relative` under `owner`'s space (creating it when asked), on `BlockingWork`'s
    /// threads: nothing outside the space is ever reached.
    package func resolve(_ relative: String, for owner: Owner?, create: Bool) async throws -> URL {
        let space = space(for: owner)
        do {
            return try await BlockingWork.run { () throws -> URL in
                try MonitorRoot(space).resolve(relative, create: create)
            }
        } catch let error as MonitorPathError {
            throw GymError(error.message)
        }
    }
}

/// Ids of instances that expired, remembered (the newest `capacity`) so that a client using one
/// is told so rather than "unknown".
struct ExpiredInstances {
    static let capacity = 100_000
    private var byID: [String: (owner: Owner?, idleSeconds: Int)] = [:]
    private var order: [String] = []
    private var head = 0

    func contains(_ id: String) -> Bool { byID[id] != nil }

    func idleSeconds(of id: String, owner: Owner?) -> Int? {
        guard let entry = byID[id], entry.owner == owner else { return nil }
        return entry.idleSeconds
    }

    mutating func add(_ id: String, owner: Owner?, idleSeconds: Int) {
        if byID[id] == nil { order.append(id) }
        byID[id] = (owner, idleSeconds)
        if order.count - head > Self.capacity {
            byID[order[head]] = nil
            head += 1
            if head > Self.capacity {
                order.removeFirst(head)
                head = 0
            }
        }
    }
}
