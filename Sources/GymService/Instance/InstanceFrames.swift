import Foundation
import GymCore
import GymRender

/// Frames of an instance drawn without stepping it: `render` (PNG or text) and the live view's.
/// The environment is copied under the lock and drawn outside it, so steps never wait on a frame.
extension EnvironmentInstance {
    /// The current frame as PNG, written nowhere. The environment is copied under the lock and
    /// drawn outside it.
    public func renderPNG() async throws(GymError) -> [UInt8] {
        let canvas = try await onWorkerQueue { () throws(GymError) -> Canvas in
            try Self.frame(of: self.state.withLock { $0.core })
        }
        metrics?.framesRendered.increment()
        return try Self.encode(canvas)
    }

    /// The frame of a state: the environment's, or a vector's mosaic.
    static func frame(of core: Core) throws(GymError) -> Canvas {
        switch core {
        case .single(let env): return try env.renderFrame()
        case .vector(let vector): return try vector.renderMosaic()
        case .taken: throw GymError("The instance is busy")
        }
    }

    /// Gymnasium's `ansi` render of the current state.
    public func renderANSI() async throws(GymError) -> String {
        try await onWorkerQueue { () throws(GymError) -> String in
            let core = self.state.withLock { $0.core }
            let envID = self.envID
            let envs: [WrappedEnvironment]
            switch core {
            case .single(let env): envs = [env]
            case .vector(let vector): envs = vector.envs
            case .taken: throw GymError("The instance is busy")
            }
            var texts: [String] = []
            for env in envs {
                guard let text = env.renderANSI() else {
                    throw GymError("\(envID) has no ansi render; ask for mode=rgb_array (the default)")
                }
                guard env.hasReset else {
                    throw GymError("Cannot render \(envID) before calling env.reset(): reset the environment first")
                }
                texts.append(text)
            }
            // A vector's sub-environments one after the other, as Gymnasium returns them in a tuple.
            return texts.joined(separator: "\n")
        }
    }

    // MARK: the live view

    /// Resets plus steps so far: changes whenever the state may have.
    public var stepCounter: Int {
        state.withLock { $0.stepCounter }
    }

    /// The state the live renderer should draw if no newer frame was published: the current one,
    /// unless a client's `render: true` frame of it is on its way (nil then).
    package var stateWithoutFrame: Int? {
        state.withLock { $0.clientFrameState == $0.stepCounter ? nil : $0.stepCounter }
    }

    /// The current state as a PNG frame with the instance's status; throws before the first
    /// reset. The environment is copied under the lock and drawn and encoded outside it, so steps
    /// never wait on the live view.
    public func renderLiveFrame() async throws(GymError) -> LiveFrame {
        let (core, count, canvas) = try await onWorkerQueue { () throws(GymError) -> (Core, Int, Canvas) in
            let (core, count) = self.state.withLock { ($0.core, $0.stepCounter) }
            return (core, count, try Self.frame(of: core))
        }
        metrics?.framesRendered.increment()
        let status = Self.status(of: core, envID: envID)
        return LiveFrame(
            png: try Self.encode(canvas), envID: envID, episode: status.episode, step: status.step,
            episodeReward: status.reward, stateCount: count)
    }

    static func encode(_ canvas: Canvas) throws(GymError) -> [UInt8] {
        do {
            return try canvas.pngData()
        } catch {
            throw GymError("Could not encode the frame as PNG: \(error)")
        }
    }

    /// The live view's status line of an instance: episode, step and reward of the environment,
    /// or of sub-environment 0 of a vector.
    static func status(of core: Core, envID: String) -> (episode: Int, step: Int, reward: Double) {
        let env: WrappedEnvironment
        switch core {
        case .single(let single): env = single
        case .vector(let vector): env = vector.envs[0]
        case .taken: return (0, 0, 0)
        }
        return (env.resets - 1, env.elapsedSteps, env.episodeReward)
    }
}
