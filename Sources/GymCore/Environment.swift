/// What one step of an environment produced.
public struct StepResult: Sendable, Equatable {
    public var observation: SpaceValue
    public var reward: Double
    /// The episode reached a terminal state of the task.
    public var terminated: Bool
    /// The episode was cut short (a time limit).
    public var truncated: Bool
    public var info: [String: JSON]

    public init(observation: SpaceValue, reward: Double, terminated: Bool, truncated: Bool = false, info: [String: JSON] = [:]) {
        self.observation = observation
        self.reward = reward
        self.terminated = terminated
        self.truncated = truncated
        self.info = info
    }

    /// Old gym's `done`.
    public var done: Bool { terminated || truncated }
}

/// An environment, as Gymnasium's `Env` without wrappers: it knows nothing of HTTP, JSON bodies,
/// files or time limits. Each conforming type is a plain value; the server serialises calls.
public protocol Environment: Sendable {
    var actionSpace: Space { get }
    var observationSpace: Space { get }
    /// `metadata["render_fps"]`.
    var renderFPS: Int { get }

    /// Starts an episode. A seed reseeds the environment's random stream as Gymnasium's
    /// `reset(seed=)` does; `nil` continues the stream (seeded from OS entropy the first time).
    mutating func reset(seed: UInt64?, options: [String: JSON]?) throws(GymError) -> (observation: SpaceValue, info: [String: JSON])

    /// Advances one step. The action has been accepted by `actionSpace` (`Space.accepts`: a
    /// float Box's may lie past its bounds, for the environment to clip). Native
    /// environments never throw; a bridged one throws what its worker answered.
    mutating func step(_ action: SpaceValue) throws(GymError) -> StepResult

    /// Gymnasium's `ansi` render, for the environments that have one.
    func renderANSI() -> String?

    /// Whether the environment applies its own time limit and sets `truncated` itself (a
    /// bridged one: its worker runs Gymnasium's TimeLimit wrapper).
    var appliesTimeLimit: Bool { get }

    /// Whether a call may block its thread for a while (a bridged one waits on its worker's
    /// pipe): the server then makes its calls on a serial queue of its own, never on Swift's
    /// cooperative pool, and never answers them on an event loop.
    var callsBlock: Bool { get }

    /// Releases what the environment holds outside this process (a bridged one's worker).
    func close()
}

extension Environment {
    public func renderANSI() -> String? { nil }
    public var appliesTimeLimit: Bool { false }
    public var callsBlock: Bool { false }
    public func close() {}
}

/// An environment whose calls wait on another process (a bridged one's worker) and can be made in
/// two halves: start the call, do something else, finish it. A vector of them starts every
/// sub-environment's call before finishing any (`VectorEnvironment`), so that their processes
/// work at once: one round of messages in flight, not one after another. `reset` and `step` are
/// a start and a finish.
///
/// An environment may hold started calls back to send several in one go (a worker process
/// holding several sub-environments takes their round in one write): `sendStarted` sends them,
/// and a finish sends its own call first if it has not gone yet.
public protocol SplitCallEnvironment: Environment {
    mutating func startReset(seed: UInt64?, options: [String: JSON]?) throws(GymError)
    mutating func finishReset() throws(GymError) -> (observation: SpaceValue, info: [String: JSON])
    mutating func startStep(_ action: SpaceValue) throws(GymError)
    mutating func finishStep() throws(GymError) -> StepResult
    /// Sends the calls started and held back; a failure to send is what their finishes throw.
    mutating func sendStarted()
    /// Where the answers of the calls started arrive, for a caller that waits for them on an
    /// event loop rather than in a finish that blocks; nil if they cannot be watched.
    var answerWatch: (any AnswerWatch)? { get }
}

extension SplitCallEnvironment {
    public mutating func sendStarted() {}
    public var answerWatch: (any AnswerWatch)? { nil }
}

/// The answers of a `SplitCallEnvironment`'s calls, watched from an event loop: the caller
/// sends the calls started (if that cannot block), waits until a descriptor of its own is
/// readable, reads it and delivers what it read, and finishes the calls once their answers are
/// all here, so that no finish blocks. Used by one thread at a time, as the environment is.
public protocol AnswerWatch: AnyObject, Sendable {
    /// A new descriptor that is readable when answers arrive (the caller reads it, delivers what
    /// it read, and closes it); nil if there can be none.
    func openWatchDescriptor() -> Int32?
    /// Writes the calls started and held back, if that cannot block (no other call in flight, a
    /// short write): true. False when it could; what was not written is then sent by the finish.
    func sendStartedWithoutWaiting() -> Bool
    /// Bytes read from a watch descriptor, in the order read.
    func deliver(_ bytes: UnsafeRawBufferPointer)
    /// Whether the answers of all the calls in flight are here: their finishes will not block.
    var answersReady: Bool { get }
    /// Seconds a call may take before its finish gives up on it.
    var callTimeout: Double { get }
    /// Whether calls can be started without blocking (false: the process behind it failed,
    /// and a reset would start another, waiting for it).
    var isAvailable: Bool { get }
}
