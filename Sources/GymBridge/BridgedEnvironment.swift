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

    /// Starts a worker and makes `envID` in it with `kwargs` (`gymnasium.make`'s). Blocks.
    public init(envID: String, kwargs: [String: JSON], configuration: WorkerConfiguration) throws(GymError) {
        var request: [String: JSON] = ["env_id": .string(envID), "render_mode": "auto"]
        if !kwargs.isEmpty { request["kwargs"] = .object(kwargs) }
        let makeRequest = JSONWriter.encode(.object(request))
        let worker = try WorkerProcess(configuration)
        let answer: JSON
        do {
            answer = try JSONParser.parse(try worker.request(WorkerMessage.make, makeRequest, timeout: configuration.startTimeout))
        } catch let error as GymError {
            worker.stop()
            throw error
        } catch {
            worker.stop()
            throw GymError.unavailable("The Python worker's make answer is not JSON: \(error)")
        }
        guard let details = answer.objectValue, let observation = details["observation_space"], let action = details["action_space"] else {
            worker.stop()
            throw GymError.unavailable("The Python worker's make answer has no spaces")
        }
        do {
            observationWire = try WireSpace(description: observation)
            actionWire = try WireSpace(description: action)
        } catch {
            worker.stop()
            throw GymError("\(envID) cannot be served: \(error.message)")
        }
        self.worker = worker
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
        try worker.start(WorkerMessage.reset, request.isEmpty ? [] : JSONWriter.encode(.object(request)))
    }

    public mutating func finishReset() throws(GymError) -> (observation: SpaceValue, info: [String: JSON]) {
        let payload = try worker.finish()
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
        try worker.start(WorkerMessage.step, request)
    }

    public mutating func finishStep() throws(GymError) -> StepResult {
        let payload = try worker.finish()
        return try Self.reading(payload) { (bytes) throws(GymError) in
            guard bytes.count >= 14 else { throw GymError.unavailable("The Python worker's step answer is too short") }
            var offset = 10
            let reward = Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt64.self)))
            let info = try Self.info(bytes, &offset)
            let observation = try observationWire.decode(bytes, offset: &offset)
            return StepResult(observation: observation, reward: reward, terminated: bytes[0] != 0, truncated: bytes[1] != 0, info: info)
        }
    }

    /// A new worker with the environment made again (after the old one died or hung).
    private mutating func restart() throws(GymError) {
        worker.stop()
        let fresh = try WorkerProcess(worker.configuration)
        do {
            _ = try fresh.request(WorkerMessage.make, makeRequest, timeout: fresh.configuration.startTimeout)
        } catch {
            fresh.stop()
            throw error
        }
        worker = fresh
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
        let payload = try worker.request(WorkerMessage.render)
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
        guard renderMode == "ansi", let payload = try? worker.request(WorkerMessage.render), payload.first == 2 else { return nil }
        return String(decoding: payload.dropFirst(), as: UTF8.self)
    }

    public func close() { worker.stop() }
}
