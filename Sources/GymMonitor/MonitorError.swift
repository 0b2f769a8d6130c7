/// What can go wrong while monitoring. `message` is written for the client (old gym's own text
/// where old gym had one); it names files relative to the monitor directory, never server paths.
public enum MonitorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Neither `force` nor `resume`, and the directory already holds `openaigym.manifest.*` files.
    /// `directory` is the directory as the client named it; `files` are (at most five) of those files.
    case existingMonitorFiles(directory: String, files: [String])
    /// `reset` in the middle of an episode (steps taken, not done), which old gym refused.
    case resetBeforeDone(envID: String)
    /// `step` after the episode ended, before `reset`.
    case stepAfterDone(envID: String)
    /// `step` before the first `reset`.
    case stepBeforeReset(envID: String)
    /// A `video_callable` that is not true, false, null or a positive integer.
    case invalidVideoSchedule(String)
    /// Videos were asked for but this libavcodec cannot encode H.264 (no libx264).
    case videoEncoderUnavailable(String)
    /// Encoding one video failed; the video is dropped (its metadata says `"broken": true`).
    case videoEncoding(episodeID: Int, reason: String)
    /// Reading, writing, renaming or deleting a monitor file failed.
    case fileSystem(operation: String, file: String, reason: String)
    /// The monitor directory itself cannot be created or listed.
    case directoryUnusable(directory: String, reason: String)
    /// A monitor starting afresh (not `resume`) into a directory another monitor records into
    /// now (of this process, or of another replica sharing the monitor root); `holder` is what
    /// the lock file says of the latest to start there.
    case directoryInUse(directory: String, holder: String?)

    public var message: String {
        switch self {
        case .existingMonitorFiles(let directory, let files):
            // gym 0.21, gym/wrappers/monitor.py, Monitor._start, verbatim.
            return """
                Trying to write to monitor directory \(directory) with existing monitor files: \
                \(files.joined(separator: ", ")).
                 You should use a unique directory for each training run, or use 'force=True' \
                to automatically clear previous monitor files.
                """
        case .resetBeforeDone(let envID):
            // gym 0.21, StatsRecorder.before_reset.
            return "Tried to reset environment which is not done. While the monitor is active for \(envID), "
                + "you cannot call reset() unless the episode is over."
        case .stepAfterDone(let envID):
            // gym 0.21, StatsRecorder.before_step.
            return "Trying to step environment which is currently done. While the monitor is active for \(envID), "
                + "you cannot step beyond the end of an episode. Call 'env.reset()' to start the next episode."
        case .stepBeforeReset(let envID):
            // gym 0.21, StatsRecorder.before_step.
            return "Trying to step an environment before reset. While the monitor is active for \(envID), "
                + "you must call 'env.reset()' before taking an initial step."
        case .invalidVideoSchedule(let text):
            return text
        case .videoEncoderUnavailable(let reason):
            return "Cannot record videos: \(reason). Start the monitor with video_callable false to record "
                + "episode statistics only."
        case .videoEncoding(let episodeID, let reason):
            return "The video of episode \(episodeID) could not be written: \(reason)"
        case .fileSystem(let operation, let file, let reason):
            return "Could not \(operation) monitor file \(file): \(reason)"
        case .directoryUnusable(let directory, let reason):
            return "The monitor directory \(directory) cannot be used: \(reason)"
        case .directoryInUse(let directory, let holder):
            return "The monitor directory \(directory) is being recorded into by another monitor"
                + (holder.map { " (\($0))" } ?? "")
                + ": close that monitor first (POST /v1/envs/<instance_id>/monitor/close/), record beside it with resume: true, or record into another directory"
        }
    }

    public var description: String { message }
}
