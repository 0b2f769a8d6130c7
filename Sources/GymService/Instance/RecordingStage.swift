import Foundation
import GymCore
import GymMonitor
import GymRender

/// The monitor of one instance as a stage of its step pipeline, between monitor/start and
/// monitor/close: what Gymnasium's RecordEpisodeStatistics and RecordVideo do around an env's
/// step, called by the pipeline (`StepPipeline.swift`) at fixed points:
///
/// - `check` before a plain instance's transition: old gym's monitor rules (no step after
///   done, no reset in the middle of an episode);
/// - `needsFrame`, `record` after it (under the instance's lock): the outcome and, on the
///   schedule's episodes, the frame, handed to the recorder without waiting; a vector's
///   sub-environment 0 through `vectorObserver`;
/// - `settle` after the lock: wait, suspended, while the encoder is behind, and until the stats
///   file holds the episode the step ended.
final class RecordingStage: Sendable {
    let recorder: EpisodeRecorder
    /// Where it records (confined to the monitor root).
    let directory: URL
    /// That directory as the files port shows it to the owner.
    let shownDirectory: String

    init(recorder: EpisodeRecorder, directory: URL, shownDirectory: String) {
        self.recorder = recorder
        self.directory = directory
        self.shownDirectory = shownDirectory
    }

    /// How the server's monitors record: never blocking a request's thread on a full frame queue
    /// (the request waits afterwards, suspended), and the stats file rewritten at every episode
    /// end so that a killed server loses no finished episode.
    static func options(onProblem: (@Sendable (MonitorError) -> Void)?, frames: (any VideoFrameObserver)? = nil, holder: String? = nil) -> RecordingOptions {
        var options = RecordingOptions(onProblem: onProblem, blocksWhenFull: false, writesEveryEpisode: true, frames: frames)
        if let holder { options.holder = holder }
        return options
    }

    /// Prepares `directory` (created, cleared with `force`, checked for old files) and starts
    /// recording; blocks on the disk, so callers run it on `BlockingWork`'s threads.
    static func start(
        directory: URL, shownDirectory: String, call: MonitorStartCall, envID: String, renderFPS: Int, registry: MonitorRegistry,
        onProblem: (@Sendable (MonitorError) -> Void)?, frames: (any VideoFrameObserver)?, holder: String
    ) throws(MonitorError) -> RecordingStage {
        let recorder = try EpisodeRecorder.start(
            directory: directory, force: call.force, resume: call.resume, videoSchedule: call.videoSchedule, envID: envID,
            renderFPS: Double(renderFPS), registry: registry, displayDirectory: shownDirectory,
            options: options(onProblem: onProblem, frames: frames, holder: holder))
        return RecordingStage(recorder: recorder, directory: directory, shownDirectory: shownDirectory)
    }

    /// Episodes finished so far.
    var episodeCount: Int { recorder.episodeCount }

    /// Old gym's rules before a plain instance's reset or step.
    func check(_ transition: Transition) throws(GymError) {
        do {
            transition == .reset ? try recorder.checkReset() : try recorder.checkStep()
        } catch {
            throw GymError(error.message)
        }
    }

    /// Whether the state after `transition` is filmed.
    func needsFrame(_ transition: Transition) -> Bool {
        transition == .reset ? recorder.needsResetFrame : recorder.needsStepFrame
    }

    /// A plain instance's reset (no outcome) or step, with the frame when it films. The canvas's
    /// pixel array is handed over, not copied: the recorder keeps it.
    func record(_ outcome: StepOutcome?, frame: Canvas?) {
        switch (outcome, frame) {
        case (let outcome?, let frame?):
            recorder.recordStep(reward: outcome.reward, done: outcome.done, frame: frame.pixels, width: frame.width, height: frame.height)
        case (let outcome?, nil):
            recorder.recordStep(reward: outcome.reward, done: outcome.done)
        case (nil, let frame?):
            recorder.recordReset(frame: frame.pixels, width: frame.width, height: frame.height)
        case (nil, nil):
            recorder.recordReset()
        }
    }

    /// What a vector tells its observer, recorded for sub-environment 0 (the only one whose events
    /// are made): its episodes are filmed on old gym's schedule and counted like a plain
    /// instance's.
    func vectorObserver(counting metrics: EnvironmentMetrics?) -> @Sendable (SubEnvironmentEvent) -> Void {
        { [self] event in
            switch event {
            case .reset(let sub):
                let frame = recorder.needsResetFrame ? try? sub.renderFrame() : nil
                if frame != nil { metrics?.framesRendered.increment() }
                record(nil, frame: frame)
            case .stepped(let sub, let result):
                let frame = recorder.needsStepFrame ? try? sub.renderFrame() : nil
                if frame != nil { metrics?.framesRendered.increment() }
                record(StepOutcome(reward: result.reward, done: result.done), frame: frame)
            }
        }
    }

    /// Episodes the other sub-environments of a vector finished, counted without video.
    func recordEpisodes(_ finished: [FinishedSubEpisode]) {
        for episode in finished where episode.index != 0 {
            recorder.recordEpisode(length: episode.length, reward: episode.reward)
        }
    }

    /// After the lock: wait while the encoder is behind, and until the stats file holds
    /// `episodes` (when the transition ended one), suspending without blocking a thread.
    func settle(episodesToWrite episodes: Int?) async {
        if recorder.framesOverCapacity { await recorder.waitForFrameRoom() }
        if let episodes { await recorder.statisticsWritten(through: episodes) }
    }

    /// Finishes the open video and writes the statistics and manifest.
    func close() async throws(GymError) {
        do {
            try await recorder.close()
        } catch {
            throw GymError(error.message)
        }
    }
}

/// What a step tells the monitor.
struct StepOutcome: Sendable {
    let reward: Double
    let done: Bool
}

extension EnvironmentInstance {
    /// Whether a monitor records this instance now.
    var hasMonitor: Bool { state.withLock { $0.recording != nil } }

    /// Starts recording episodes into `directory` (already confined to the monitor root). The
    /// directory is prepared on `BlockingWork`'s threads; the lock is taken only to install the
    /// stage.
    func startMonitor(
        directory: URL, displayDirectory: String, call: MonitorStartCall, registry: MonitorRegistry,
        onProblem: (@Sendable (MonitorError) -> Void)? = nil, frames: (any VideoFrameObserver)? = nil, replica: Int? = nil
    ) async throws(GymError) {
        try await checkNoMonitor()
        let (envID, fps) = (self.envID, renderFPS)
        let holder = "instance \(id)" + (replica.map { ", replica \($0)" } ?? "")
        let stage: RecordingStage
        do {
            stage = try await BlockingWork.run { () throws -> RecordingStage in
                try RecordingStage.start(
                    directory: directory, shownDirectory: displayDirectory, call: call, envID: envID, renderFPS: fps,
                    registry: registry, onProblem: onProblem, frames: frames, holder: holder)
            }
        } catch let error as MonitorError {
            throw GymError(error.message)
        } catch {
            throw GymError("Could not start the monitor: \(error)")
        }
        let installed = try await exclusive { state -> Bool in
            guard state.recording == nil, !state.closed else { return false }
            state.recording = stage
            state.latestRecording = stage
            return true
        }
        if !installed {
            // Another monitor/start won the race (or the instance closed meanwhile).
            try? await stage.close()
            try await checkNoMonitor()
            throw GymError("Instance_id \(id) unknown")
        }
    }

    private func checkNoMonitor() async throws(GymError) {
        let id = self.id
        try await exclusive { (state) throws(GymError) in
            if let stage = state.recording {
                throw GymError("Instance_id \(id) already has a monitor recording into \(stage.directory.lastPathComponent): close it first (monitor/close/)")
            }
        }
    }

    /// Stops recording: finishes the open video and writes the statistics and manifest. Closing
    /// an instance without a monitor does nothing.
    package func closeMonitor() async throws(GymError) {
        let stage = try await exclusive { state -> RecordingStage? in
            defer { state.recording = nil }
            return state.recording
        }
        try await stage?.close()
    }

    /// The directory the latest monitor recorded into (open or closed).
    public var monitorDirectory: URL? { state.withLock { $0.latestRecording?.directory } }

    /// Where the latest monitor records (or recorded), whether it still does, and the episodes
    /// it finished; nil before the first monitor/start.
    public struct MonitorStatus: Sendable, Equatable {
        /// The directory as the files port serves it to the owner (relative, no slash at either end).
        public let directory: String
        public let recording: Bool
        public let episodes: Int
    }

    public var monitorStatus: MonitorStatus? {
        let latest = state.withLock { state -> (RecordingStage, Bool)? in
            state.latestRecording.map { ($0, state.recording != nil) }
        }
        guard let (stage, recording) = latest else { return nil }
        // Read outside the instance's lock: the recorder has its own.
        return MonitorStatus(directory: stage.shownDirectory, recording: recording, episodes: stage.episodeCount)
    }
}
