import GymCore
import GymEnvs
import GymRender

/// A Gymnasium environment run by a Python worker process: one more `Environment`, so the
/// server's instances, vectors, monitor, frames and live view treat it as they treat a native
/// one. Every call is a blocking round trip to the worker: the server makes them on threads of
/// their own (`EnvironmentInstance`'s worker queue), never on Swift's cooperative pool.
///
/// The worker applies the environment's own wrappers, its time limit included; a worker that
/// died or hung makes every call throw a 503 (`GymError.unavailable`) until a reset, which starts
/// a new worker and makes the environment again.
public struct BridgedEnvironment: SplitCallEnvironment, FrameSourceEnvironment {
    public private(set) var worker: WorkerProcess
    /// The worker's slot that holds this environment (a vector's sub-environments share workers).
    public private(set) var slot: UInt32
    /// The ticket of the call started and not yet finished.
    private var pending: Int?
    /// The `make` request, kept to make the environment again in a new worker.
    let makeRequest: [UInt8]
    public let envID: String
    public let actionWire: WireSpace
    public let observationWire: WireSpace
    public let actionSpace: Space
    public let observationSpace: Space
    public let renderFPS: Int
    /// The mode the environment was made with: "rgb_array", "ansi" or nil.
    public let renderMode: String?
    /// The `make` answer (wrappers, time limit, spec), as the worker gave it.
    public let details: [String: JSON]

    /// Makes `envID` with `kwargs` (`gymnasium.make`'s) in a new slot of `worker` (which the
    /// caller stops if this throws). Blocks.
    public init(envID: String, kwargs: [String: JSON], in worker: WorkerProcess) throws(GymError) {
        var request: [String: JSON] = ["env_id": .string(envID)]  // (render_mode "auto", or kwargs')
        if !kwargs.isEmpty { request["kwargs"] = .object(kwargs) }
        let makeRequest = JSONWriter.encode(.object(request))
        let (slot, payload) = try Self.make(makeRequest, in: worker)
        let answer: JSON
        do {
            answer = try JSONParser.parse(payload)
        } catch {
            throw GymError.unavailable("The Python worker's make answer is not JSON: \(error)")
        }
        guard let details = answer.objectValue, let observation = details["observation_space"], let action = details["action_space"] else {
            throw GymError.unavailable("The Python worker's make answer has no spaces")
        }
        do {
            observationWire = try WireSpace(description: observation)
            actionWire = try WireSpace(description: action)
        } catch {
            throw GymError("\(envID) cannot be served: \(error.message)")
        }
        self.worker = worker
        self.slot = slot
        self.makeRequest = makeRequest
        self.envID = envID
        self.details = details
        observationSpace = observationWire.space
        actionSpace = actionWire.space
        renderFPS = details["render_fps"]?.intValue ?? details["render_fps"]?.doubleValue.map { Int($0.rounded()) } ?? 30
        renderMode = details["render_mode"]?.stringValue
    }

    /// `max_episode_steps` of the worker's TimeLimit wrapper, if it has one.
    public var maxEpisodeSteps: Int? {
        details["time_limit"]?.boolValue == true ? details["max_episode_steps"]?.intValue : nil
    }

    public var appliesTimeLimit: Bool { true }
    public var callsBlock: Bool { true }

    public mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        try startReset(seed: seed, options: options)
        return try finishReset()
    }

    public mutating func step(_ action: SpaceValue) throws(GymError) -> StepResult {
        try startStep(action)
        return try finishStep()
    }

    // MARK: split calls (SplitCallEnvironment)

    public mutating func startReset(seed: UInt64?, options: [String: JSON]?) throws(GymError) {
        if worker.hasFailed { try restart() }
        var request: [String: JSON] = [:]
        if let seed { request["seed"] = Int(exactly: seed).map(JSON.int) ?? .double(Double(seed)) }
        if let options { request["options"] = .object(options) }
        pending = try worker.start(WorkerMessage.reset, request.isEmpty ? [] : JSONWriter.encode(.object(request)), slot: slot, holdBack: true)
    }

    /// Writes the calls started and held back, this slot's and the other slots' of its worker:
    /// a vector's round goes to each worker in one write.
    public mutating func sendStarted() {
        worker.sendHeldBack()
    }

    /// The worker's answer pipe, watched from an event loop (steps made there).
    public var answerWatch: (any AnswerWatch)? { worker }

    /// The answer of the call started last.
    private mutating func finishPending() throws(GymError) -> [UInt8] {
        guard let ticket = pending else { throw GymError.unavailable("A bridged call was finished without being started") }
        pending = nil
        return try worker.finish(ticket)
    }

    public mutating func finishReset() throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        let payload = try finishPending()
        return try Self.reading(payload) { (bytes) throws(GymError) in
            var offset = 0
            let info = try Self.info(bytes, &offset)
            let observation = try observationWire.decode(bytes, offset: &offset)
            return (observation, info)
        }
    }

    public mutating func startStep(_ action: SpaceValue) throws(GymError) {
        var request = [UInt8]()
        request.reserveCapacity(actionWire.byteCount)
        try actionWire.encode(action, into: &request)
        pending = try worker.start(WorkerMessage.step, request, slot: slot, holdBack: true)
    }

    public mutating func finishStep() throws(GymError) -> StepResult {
        let payload = try finishPending()
        return try Self.reading(payload) { (bytes) throws(GymError) in
            guard bytes.count >= 14 else { throw GymError.unavailable("The Python worker's step answer is too short") }
            var offset = 10
            let reward = Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt64.self)))
            let info = try Self.info(bytes, &offset)
            let observation = try observationWire.decode(bytes, offset: &offset)
            return StepResult(observation: observation, reward: reward, terminated: bytes[0] != 0, truncated: bytes[1] != 0, info: info)
        }
    }

    /// The environment made again in a new worker, after the old one died or hung: in the
    /// worker that already replaced it for another of its slots, if one did, so that a vector's
    /// sub-environments keep sharing workers as they did.
    private mutating func restart() throws(GymError) {
        let old = worker
        old.stop()
        if let successor = old.successor, !successor.hasFailed {
            (worker, slot, pending) = (successor, try Self.make(makeRequest, in: successor).slot, nil)
            return
        }
        let fresh = try WorkerProcess(old.configuration)
        let freshSlot: UInt32
        do {
            freshSlot = try Self.make(makeRequest, in: fresh).slot
        } catch {
            fresh.stop()
            throw error
        }
        old.successor = fresh
        (worker, slot, pending) = (fresh, freshSlot, nil)
    }

    /// The `make` request sent to a new slot of `worker`: the slot and the answer's payload.
    private static func make(_ request: [UInt8], in worker: WorkerProcess) throws(GymError) -> (slot: UInt32, payload: [UInt8]) {
        let slot = worker.allocateSlot()
        return (slot, try worker.request(WorkerMessage.make, request, slot: slot, timeout: worker.configuration.startTimeout))
    }

    /// `withUnsafeBytes` keeping the body's typed error.
    private static func reading<T>(_ payload: [UInt8], _ body: (UnsafeRawBufferPointer) throws(GymError) -> T) throws(GymError) -> T {
        let result: Result<T, GymError> = payload.withUnsafeBytes { bytes in Result { () throws(GymError) -> T in try body(bytes) } }
        return try result.get()
    }

    /// The info JSON at `offset` (a uint32 length, then the text).
    private static func info(_ bytes: UnsafeRawBufferPointer, _ offset: inout Int) throws(GymError) -> [String: JSON] {
        guard offset + 4 <= bytes.count else { throw GymError.unavailable("The Python worker's answer is too short") }
        let length = Int(WireSpace.read(UInt32.self, bytes, &offset))
        guard offset + length <= bytes.count else { throw GymError.unavailable("The Python worker's answer is too short") }
        if length == 2 {
            offset += 2
            return [:]
        }
        let text = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + length)])
        offset += length
        guard let info = (try? JSONParser.parse(text))?.objectValue else {
            throw GymError.unavailable("The Python worker's info is not a JSON object")
        }
        return info
    }

    // MARK: rendering

    /// The `rgb_array` frame of the current state, of the environment's own size.
    public func currentFrame() throws(GymError) -> Canvas {
        let payload = try worker.request(WorkerMessage.render, slot: slot)
        guard let kind = payload.first else { throw GymError.unavailable("The Python worker's render answer is empty") }
        switch kind {
        case 1:
            guard payload.count >= 9 else { throw GymError.unavailable("The Python worker's frame is too short") }
            let (height, width) = payload.withUnsafeBytes { bytes in
                (Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 1, as: UInt32.self))),
                 Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 5, as: UInt32.self))))
            }
            guard let canvas = Canvas(width: width, height: height, pixels: Array(payload[9...])) else {
                throw GymError.unavailable("The Python worker's frame does not have \(width)x\(height) pixels")
            }
            return canvas
        case 2: throw GymError("\(envID) renders text only (ansi); ask for mode=ansi")
        default: throw GymError("\(envID) has no rgb_array render (made with render_mode \(renderMode ?? "None"))")
        }
    }

    public func renderANSI() -> String? {
        guard renderMode == "ansi", let payload = try? worker.request(WorkerMessage.render, slot: slot), payload.first == 2 else { return nil }
        return String(decoding: payload.dropFirst(), as: UTF8.self)
    }

    public func close() { worker.stop() }
}
