import Foundation
import GymMonitor
import Testing

/// Old gym 0.21 reads what we write: `scripts/test/monitor_conformance.py` runs its `load_results`.
/// Needs `GYM021_PYTHON`, a Python with gym==0.21.0 installed; skipped (with a note) without it.
@Suite("Conformance with gym 0.21's load_results")
struct ConformanceTests {
    static let python = ProcessInfo.processInfo.environment["GYM021_PYTHON"].flatMap { $0.isEmpty ? nil : $0 }

    /// scripts/test/monitor_conformance.py next to this package's Tests folder (the folder may be
    /// reached through a symbolic link, so both the resolved and the literal path are tried).
    static var script: String? {
        if let override = ProcessInfo.processInfo.environment["GYM_MONITOR_CONFORMANCE_SCRIPT"] { return override }
        let file = URL(fileURLWithPath: #filePath)
        for start in [file.resolvingSymlinksInPath(), file] {
            let candidate = start.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("scripts/test/monitor_conformance.py").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    static func runScript(directory: TemporaryDirectory, expected: [String: Any]) throws -> (
        status: Int32, output: String
    ) {
        guard let python = python, let script = script else { throw TestFailure("no python or script") }
        let expectedPath = directory.url.deletingLastPathComponent()
            .appendingPathComponent(directory.url.lastPathComponent + "-expected.json").path
        try JSONSerialization.data(withJSONObject: expected).write(to: URL(fileURLWithPath: expectedPath))
        defer { try? FileManager.default.removeItem(atPath: expectedPath) }
        let result = try run(python, [script, directory.url.path, expectedPath])
        return (result.status, result.output + result.error)
    }

    @Test("two interleaved monitors with videos, resumed into one directory, read back by gym 0.21")
    func loadResults() throws {
        guard let python = Self.python else {
            print(
                "note: GYM021_PYTHON is not set; skipping the check with gym 0.21's load_results "
                    + "(set it to a python with gym==0.21.0 installed)")
            return
        }
        guard let script = Self.script else {
            Issue.record("scripts/test/monitor_conformance.py not found")
            return
        }
        print("checking with \(python) \(script)")
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let clock = TickingClock()
        let registry = MonitorRegistry()
        func start(_ schedule: VideoSchedule) throws(MonitorError) -> EpisodeRecorder {
            try EpisodeRecorder.start(
                directory: directory.url, resume: true, videoSchedule: schedule, envID: "CartPole-v1", renderFPS: 50,
                registry: registry, options: RecordingOptions(clock: clock.function))
        }
        let first = try start(.cappedCubic)
        let second = try start(.never)
        // first: lengths 3, 5, 2 (rewards 0.1 per step); second: lengths 4, 1 (reward -1 per step)
        try play(first, episodeLengths: [3], width: 60, height: 40) { _, _ in 0.1 }
        try play(second, episodeLengths: [4]) { _, _ in -1 }
        try play(first, episodeLengths: [5], width: 60, height: 40) { _, _ in 0.1 }
        try play(second, episodeLengths: [1]) { _, _ in -1 }
        try play(first, episodeLengths: [2], width: 60, height: 40) { _, _ in 0.1 }
        try first.closeAndWait()
        try second.closeAndWait()

        let names = first.fileNames
        let expected: [String: Any] = [
            "episode_lengths": [3, 4, 5, 1, 2],
            "episode_rewards": [0.1 + 0.1 + 0.1, -4.0, 0.1 + 0.1 + 0.1 + 0.1 + 0.1, -1.0, 0.1 + 0.1],
            "episode_types": ["t", "t", "t", "t", "t"],
            // clock: first's reset 100.5, first's end 101.5, second's reset 102.5, its end 103.5, ...
            "initial_reset_timestamp": 100.5,
            "timestamps": [101.5, 103.5, 104.5, 105.5, 106.5],
            "env_info": ["gym_version": "0.21.0", "env_id": "CartPole-v1"],
            "manifests": 2,
            "videos": [
                [names.video(episodeID: 0), names.videoMetadata(episodeID: 0)],
                [names.video(episodeID: 1), names.videoMetadata(episodeID: 1)],
            ],
        ]
        let result = try Self.runScript(directory: directory, expected: expected)
        print(result.output)
        #expect(result.status == 0, "\(result.output)")

        // and the script does catch a difference
        var wrong = expected
        wrong["episode_lengths"] = [3, 4, 5, 1, 3]
        let mismatch = try Self.runScript(directory: directory, expected: wrong)
        #expect(mismatch.status == 1, "\(mismatch.output)")
        #expect(mismatch.output.contains("episode_lengths"))
    }

    @Test("a directory without monitor files is reported as a mismatch")
    func emptyDirectory() throws {
        guard Self.python != nil, Self.script != nil else {
            print("note: GYM021_PYTHON is not set; skipping the empty-directory check with gym 0.21")
            return
        }
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let result = try Self.runScript(directory: directory, expected: ["episode_lengths": [Int]()])
        #expect(result.status == 1, "\(result.output)")
    }

    /// Scripts resets and steps (including the ones old gym refuses) through gym 0.21's Monitor
    /// (scripts/test/monitor_replay_gym021.py) and through an EpisodeRecorder, and compares.
    @Test("the same resets and steps give old gym's errors, episodes and totals", arguments: [1, 2, 3, 4])
    func replay(seed: UInt64) throws {
        guard let python = Self.python, let script = Self.script else {
            print("note: GYM021_PYTHON is not set; skipping the replay through gym 0.21's Monitor")
            return
        }
        let replayScript = URL(fileURLWithPath: script).deletingLastPathComponent()
            .appendingPathComponent("monitor_replay_gym021.py").path
        // A hand-written prefix with every refusal, then a random tail.
        var operations: [[Any]] = [
            ["step", 1.0, false], ["reset"], ["reset"], ["step", 0.5, false], ["reset"], ["step", 0.25, true],
            ["step", 1.0, false], ["reset"], ["step", 1.0, true], ["reset"],
        ]
        var state = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        func next(_ bound: UInt64) -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (state >> 33) % bound
        }
        let rewards = [1.0, 0.1, -0.5, 2.25, 0.0]
        for _ in 0..<400 {
            if next(100) < 20 {
                operations.append(["reset"])
            } else {
                operations.append(["step", rewards[Int(next(UInt64(rewards.count)))], next(100) < 12])
            }
        }

        let scratch = TemporaryDirectory()
        defer { scratch.remove() }
        let operationsPath = scratch.path("operations.json")
        try JSONSerialization.data(withJSONObject: operations).write(to: URL(fileURLWithPath: operationsPath))
        let gymDirectory = scratch.path("gym")
        let result = try run(python, [replayScript, operationsPath, gymDirectory])
        #expect(result.status == 0, "\(result.error)")
        guard
            let gym = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
            let gymErrors = gym["errors"] as? [Any], let gymStats = gym["stats"] as? [String: Any]
        else {
            Issue.record("unreadable replay output: \(result.output) \(result.error)")
            return
        }

        let ours = TemporaryDirectory()
        defer { ours.remove() }
        let recorder = try EpisodeRecorder.start(
            directory: ours.url, videoSchedule: .never, envID: "Replay-v0", renderFPS: 30, registry: MonitorRegistry())
        var errors: [String?] = []
        for operation in operations {
            do throws(MonitorError) {
                if operation[0] as? String == "reset" {
                    try recorder.checkReset()
                    recorder.recordReset()
                } else {
                    try recorder.checkStep()
                    recorder.recordStep(reward: operation[1] as? Double ?? .nan, done: operation[2] as? Bool ?? false)
                }
                errors.append(nil)
            } catch {
                errors.append(error.message)
            }
        }
        try recorder.closeAndWait()
        let stats = try readJSON(ours.path(recorder.fileNames.stats))

        #expect(errors == gymErrors.map { $0 as? String })
        #expect(stats["episode_lengths"] as? [Int] == gymStats["episode_lengths"] as? [Int])
        #expect(stats["episode_rewards"] as? [Double] == gymStats["episode_rewards"] as? [Double])
        #expect(stats["episode_types"] as? [String] == gymStats["episode_types"] as? [String])
        #expect((stats["timestamps"] as? [Double])?.count == (gymStats["timestamps"] as? [Double])?.count)
        #expect((stats["initial_reset_timestamp"] is NSNull) == (gymStats["initial_reset_timestamp"] is NSNull))
        #expect(recorder.totalSteps == gym["total_steps"] as? Int)
        #expect(recorder.nextEpisodeID == gym["episode_id"] as? Int)
        #expect((stats["episode_lengths"] as? [Int])?.isEmpty == false)
    }
}
