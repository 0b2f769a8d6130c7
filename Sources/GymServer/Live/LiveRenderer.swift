import GymCore
import Synchronization
import GymService

/// Keeps a watched instance's live view moving when its client does not render: while anyone
/// watches an instance, a task wakes at the environment's `render_fps`, and when the state has
/// changed since the last frame (its `stepCounter` moved) and no client-rendered frame arrived in
/// the meantime, renders the current state and publishes it. The task stops when the last viewer
/// leaves.
final class LiveRenderer: Sendable {
    let manager: EnvironmentManager
    let frames: FrameHub
    /// Bounds on the polling rate, whatever an environment's `render_fps` says.
    static let fpsRange = 1...60

    private struct Loop {
        /// The frame rate each viewer asked for (`.infinity`: as fast as the environment's).
        var viewerRates: [Double]
        let task: Task<Void, Never>
    }

    private let loops = Mutex<[String: Loop]>([:])

    init(manager: EnvironmentManager, frames: FrameHub) {
        self.manager = manager
        self.frames = frames
    }

    /// A viewer started watching `instanceID`, wanting at most `maximumFPS` frames a second.
    func watch(_ instanceID: String, maximumFPS: Double = .infinity) {
        loops.withLock { loops in
            if loops[instanceID] != nil {
                loops[instanceID]?.viewerRates.append(maximumFPS)
            } else {
                let task = Task { [self] in await run(instanceID) }
                loops[instanceID] = Loop(viewerRates: [maximumFPS], task: task)
            }
        }
    }

    /// A viewer of `instanceID` (who asked for `maximumFPS`) left.
    func unwatch(_ instanceID: String, maximumFPS: Double = .infinity) {
        let finished = loops.withLock { loops -> Task<Void, Never>? in
            guard var loop = loops[instanceID] else { return nil }
            if let index = loop.viewerRates.firstIndex(of: maximumFPS) {
                loop.viewerRates.remove(at: index)
            } else {
                loop.viewerRates.removeLast()
            }
            if !loop.viewerRates.isEmpty {
                loops[instanceID] = loop
                return nil
            }
            loops[instanceID] = nil
            return loop.task
        }
        finished?.cancel()
    }

    /// Instances with a render loop running.
    var watchedInstances: [String] { loops.withLock { Array($0.keys) } }

    /// The fastest rate any viewer of `instanceID` wants.
    private func wantedFPS(_ instanceID: String) -> Double {
        loops.withLock { $0[instanceID]?.viewerRates.max() ?? .infinity }
    }

    private func run(_ instanceID: String) async {
        var wasPresent = false
        while !Task.isCancelled {
            guard let instance = manager.anyInstance(instanceID) else {
                // Not created yet, or closed: say so once, then look again now and then.
                if wasPresent { frames.instanceClosed(instanceID) }
                wasPresent = false
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            wasPresent = true
            // The environment's render_fps, or less when every viewer wants fewer frames (the
            // dashboard's thumbnails).
            let renderFPS = Double(min(max(instance.renderFPS, Self.fpsRange.lowerBound), Self.fpsRange.upperBound))
            let fps = max(min(renderFPS, wantedFPS(instanceID)), Double(Self.fpsRange.lowerBound))
            let interval = Duration.milliseconds(Int64((1000 / fps).rounded()))

            // Draw when the newest frame in the hub shows an older state than the instance's
            // (a client that renders with render: true keeps it current by itself).
            // (The last viewer may have left before this loop is cancelled: then draw nothing.)
            if frames.hasViewers(instanceID), let count = instance.stateWithoutFrame, count > frames.latestStateCount(instanceID) ?? -1,
                let frame = try? await instance.renderLiveFrame(), frames.hasViewers(instanceID)
            {
                frames.publish(instanceID, frame: frame)
            }
            try? await Task.sleep(for: interval)
        }
    }
}
