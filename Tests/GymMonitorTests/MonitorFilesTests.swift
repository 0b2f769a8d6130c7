import Foundation
import GymMonitor
import Testing

@Suite("Monitor files, statistics and directory rules")
struct MonitorFilesTests {
    static func start(
        _ directory: TemporaryDirectory, registry: MonitorRegistry = MonitorRegistry(), force: Bool = false,
        resume: Bool = false, videos: VideoSchedule = .never, display: String? = nil,
        clock: TickingClock = TickingClock()
    ) throws(MonitorError) -> EpisodeRecorder {
        try EpisodeRecorder.start(
            directory: directory.url, force: force, resume: resume, videoSchedule: videos, envID: "CartPole-v1",
            renderFPS: 50, registry: registry, uid: "4242", displayDirectory: display,
            options: RecordingOptions(clock: clock.function))
    }

    @Test("file names follow 0.21: <prefix>.<monitor id>.<uid>, monitor ids count up per registry")
    func fileNames() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let registry = MonitorRegistry()
        let first = try Self.start(directory, registry: registry, resume: true)
        let second = try Self.start(directory, registry: registry, resume: true)
        #expect(first.monitorID == 0)
        #expect(second.monitorID == 1)
        #expect(first.fileNames.manifest == "openaigym.manifest.0.4242.manifest.json")
        #expect(first.fileNames.stats == "openaigym.episode_batch.0.4242.stats.json")
        #expect(second.fileNames.video(episodeID: 27) == "openaigym.video.1.4242.video000027.mp4")
        #expect(second.fileNames.videoMetadata(episodeID: 1000) == "openaigym.video.1.4242.video001000.meta.json")
        #expect(registry.openMonitorIDs == [0, 1])
        try first.closeAndWait()
        try second.closeAndWait()
        #expect(registry.openMonitorIDs == [])
        #expect(
            directory.fileNames == [
                "openaigym.episode_batch.0.4242.stats.json", "openaigym.episode_batch.1.4242.stats.json",
                "openaigym.manifest.0.4242.manifest.json", "openaigym.manifest.1.4242.manifest.json",
            ])
    }

    @Test("a step that waits for its episode's statistics after their write already failed goes on")
    func waitAfterFailedWrite() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try FileManager.default.removeItem(at: directory.url)
        try recorder.checkReset()
        recorder.recordReset()
        recorder.recordStep(reward: 1, done: true)
        // The recording thread tries the stats file and fails (the directory is gone) ...
        let deadline = ContinuousClock.now + .seconds(10)
        while recorder.problems.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(!recorder.problems.isEmpty, "the failed write is reported")
        // ... before the wait for that episode starts: the wait returns instead of waiting for a
        // write that only the next episode would bring (a test that hung CI once).
        // (Polled: a wait that never returns must fail this test, not hang it.)
        let returned = Flag()
        Task {
            await recorder.statisticsWritten(through: 1)
            returned.set()
        }
        let waitDeadline = ContinuousClock.now + .seconds(10)
        while !returned.isSet, ContinuousClock.now < waitDeadline { try await Task.sleep(for: .milliseconds(5)) }
        #expect(returned.isSet, "statisticsWritten(through: 1) returned")
        _ = try? await recorder.close()
    }

    @Test("the default uid is the process id")
    func defaultUID() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try EpisodeRecorder.start(
            directory: directory.url, videoSchedule: .never, envID: "Pendulum-v1", renderFPS: 30,
            registry: MonitorRegistry())
        #expect(recorder.fileNames.uid == String(getpid()))
        try recorder.closeAndWait()
    }

    @Test("stats and manifest: 0.21's keys, layout and episode semantics, byte for byte")
    func statsAndManifestText() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        // reset twice without steps: two episode types, no episode
        try recorder.checkReset()
        recorder.recordReset()
        try recorder.checkReset()
        recorder.recordReset()
        try play(recorder, episodeLengths: [3, 2])
        #expect(recorder.totalSteps == 5)
        #expect(recorder.nextEpisodeID == 4)
        try recorder.closeAndWait()

        let stats = try readText(directory.path("openaigym.episode_batch.0.4242.stats.json"))
        #expect(
            stats
                == #"{"initial_reset_timestamp": 100.5, "timestamps": [101.5, 102.5], "episode_lengths": [3, 2], "#
                + #""episode_rewards": [3.0, 2.0], "episode_types": ["t", "t", "t", "t"]}"#)
        let manifest = try readText(directory.path("openaigym.manifest.0.4242.manifest.json"))
        #expect(
            manifest
                == #"{"stats": "openaigym.episode_batch.0.4242.stats.json", "videos": [], "#
                + #""env_info": {"gym_version": "0.21.0", "env_id": "CartPole-v1"}}"#)
    }

    @Test("stats are written at each episode end, before close")
    func writtenAtEpisodeEnd() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: [4])
        let statsPath = directory.path(recorder.fileNames.stats)
        let deadline = Date().addingTimeInterval(5)
        while !FileManager.default.fileExists(atPath: statsPath) && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        let stats = try readJSON(statsPath)
        #expect(stats["episode_lengths"] as? [Int] == [4])
        #expect(FileManager.default.fileExists(atPath: directory.path(recorder.fileNames.manifest)))
        // only complete files, no temporaries left behind
        try recorder.closeAndWait()
        #expect(directory.fileNames.allSatisfy { !$0.hasPrefix(".") })
    }

    @Test("an episode in progress at close is not saved; its reset still counted a type")
    func closeMidEpisode() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: [2])
        try recorder.checkReset()
        recorder.recordReset()
        recorder.recordStep(reward: 5, done: false)
        try recorder.closeAndWait()
        let stats = try readJSON(directory.path(recorder.fileNames.stats))
        #expect(stats["episode_lengths"] as? [Int] == [2])
        #expect(stats["episode_types"] as? [String] == ["t", "t"])
    }

    @Test("a monitor that never saw a reset writes a null initial_reset_timestamp")
    func neverReset() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        recorder.recordStep(reward: 1, done: true)  // ignored: no reset yet
        try recorder.closeAndWait()
        let stats = try readText(directory.path(recorder.fileNames.stats))
        #expect(
            stats
                == #"{"initial_reset_timestamp": null, "timestamps": [], "episode_lengths": [], "#
                + #""episode_rewards": [], "episode_types": []}"#)
    }

    @Test("old gym's refusals: reset mid-episode, step after done, step before reset")
    func refusals() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        #expect(throws: MonitorError.stepBeforeReset(envID: "CartPole-v1")) { try recorder.checkStep() }
        #expect(
            MonitorError.stepBeforeReset(envID: "CartPole-v1").message
                == "Trying to step an environment before reset. While the monitor is active for CartPole-v1, "
                + "you must call 'env.reset()' before taking an initial step.")
        try recorder.checkReset()
        recorder.recordReset()
        try recorder.checkReset()  // no steps yet: allowed
        try recorder.checkStep()
        recorder.recordStep(reward: 1, done: false)
        #expect(throws: MonitorError.resetBeforeDone(envID: "CartPole-v1")) { try recorder.checkReset() }
        #expect(
            MonitorError.resetBeforeDone(envID: "CartPole-v1").message
                == "Tried to reset environment which is not done. While the monitor is active for CartPole-v1, "
                + "you cannot call reset() unless the episode is over.")
        recorder.recordStep(reward: 1, done: true)
        #expect(throws: MonitorError.stepAfterDone(envID: "CartPole-v1")) { try recorder.checkStep() }
        #expect(
            MonitorError.stepAfterDone(envID: "CartPole-v1").message
                == "Trying to step environment which is currently done. While the monitor is active for CartPole-v1, "
                + "you cannot step beyond the end of an episode. Call 'env.reset()' to start the next episode.")
        try recorder.checkReset()
        try recorder.closeAndWait()
        // after close nothing is refused and nothing is recorded (old gym: the monitor is disabled)
        try recorder.checkStep()
        recorder.recordReset()
        #expect(recorder.statistics.episodeLengths == [2])
    }

    @Test("rewards are written as Python writes floats")
    func floatLayout() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let rewards: [Double] = [
            0.1 + 0.2, 1e-05, -0.5, 1e16, 1234.5, 1e22, Double.leastNonzeroMagnitude, 100.0, 0.0001, 123456789.123,
            1.7976931348623157e308, 2.5e-5, 0.001, 9007199254740993.0, .infinity, -.infinity, -0.0, 1e15,
            12345678901234567.0, 1e16.nextDown, 9007199254740994.0, 1e-4.nextDown, 1e-4.nextUp,
        ]
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: Array(repeating: 1, count: rewards.count)) { episode, _ in rewards[episode] }
        try recorder.closeAndWait()
        let stats = try readText(directory.path(recorder.fileNames.stats))
        // json.dumps of the same list in CPython 3.11 (-0.0 becomes 0.0: old gym summed from int 0)
        let python =
            "[0.30000000000000004, 1e-05, -0.5, 1e+16, 1234.5, 1e+22, 5e-324, 100.0, 0.0001, 123456789.123, "
            + "1.7976931348623157e+308, 2.5e-05, 0.001, 9007199254740992.0, Infinity, -Infinity, 0.0, "
            + "1000000000000000.0, 1.2345678901234568e+16, 9999999999999998.0, 9007199254740994.0, "
            + "9.999999999999999e-05, 0.00010000000000000002]"
        #expect(stats.contains(#""episode_rewards": "# + python))
    }

    @Test("random floats are written exactly as CPython's json writes them (needs python3)")
    func randomFloatsAgainstPython() throws {
        guard let python = executableOnPath("python3") else {
            print("skipped: python3 is not on PATH, cannot compare float layout with CPython")
            return
        }
        var generator = SystemRandomNumberGenerator()
        var rewards: [Double] = []
        for _ in 0..<3000 {
            let bits = generator.next() as UInt64
            let value = Double(bitPattern: bits)
            if value.isFinite { rewards.append(value) }
            rewards.append(Double.random(in: -1000...1000))
            rewards.append(Double(Int.random(in: -100...100)) * pow(10, Double(Int.random(in: -12...20))))
            rewards.append(pow(10, Double.random(in: -6...18)))  // dense around Python's notation switches
        }
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: Array(repeating: 1, count: rewards.count)) { episode, _ in rewards[episode] }
        try recorder.closeAndWait()
        let statsPath = directory.path(recorder.fileNames.stats)
        let script = """
            import json, sys
            text = open(sys.argv[1]).read()
            again = json.dumps(json.loads(text))
            if again != text:
                for ours, theirs in zip(text.split(', '), again.split(', ')):
                    if ours != theirs:
                        print('swift wrote', ours, 'python writes', theirs)
                        break
                sys.exit(1)
            """
        let result = try run(python, ["-c", script, statsPath])
        #expect(result.status == 0, "CPython writes the stats file differently: \(result.output) \(result.error)")
    }

    @Test("a long run of short episodes keeps every episode")
    func longRun() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        let episodes = 20_000
        for episode in 0..<episodes {
            try recorder.checkReset()
            recorder.recordReset()
            recorder.recordStep(reward: 0, done: false)
            recorder.recordStep(reward: Double(episode % 2), done: true)
        }
        #expect(recorder.episodeCount == episodes)
        #expect(recorder.totalSteps == 2 * episodes)
        try recorder.closeAndWait()
        #expect(recorder.statistics.episodeLengths.count == episodes)
        let stats = try readJSON(directory.path(recorder.fileNames.stats))
        #expect((stats["episode_lengths"] as? [Int])?.count == episodes)
        #expect((stats["episode_rewards"] as? [Double])?.reduce(0, +) == Double(episodes / 2))
        #expect((stats["timestamps"] as? [Double])?.count == episodes)
    }

    @Test("writes put off while episodes end quickly still happen once the run pauses, without close")
    func deferredWrite() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        let episodes = 30_000
        for episode in 0..<episodes {
            recorder.recordReset()
            recorder.recordStep(reward: Double(episode), done: true)
        }
        let path = directory.path(recorder.fileNames.stats)
        let deadline = Date().addingTimeInterval(20)
        var written = 0
        while written != episodes && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
            written = ((try? readJSON(path))?["episode_lengths"] as? [Int])?.count ?? 0
        }
        #expect(written == episodes)
        // merged updates keep the episodes in order
        #expect(try readJSON(path)["episode_rewards"] as? [Double] == (0..<episodes).map(Double.init))
        try recorder.closeAndWait()
    }

    @Test("evaluation mode writes 'e' from the next reset on")
    func evaluationMode() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: [1])
        recorder.setMode(.evaluation)
        try play(recorder, episodeLengths: [1])
        // two resets with different types before one episode end
        recorder.recordReset()
        recorder.setMode(.training)
        recorder.recordReset()
        recorder.recordStep(reward: 1, done: true)
        try recorder.closeAndWait()
        #expect(recorder.statistics.episodeTypes == ["t", "e", "e", "t"])
        let stats = try readJSON(directory.path(recorder.fileNames.stats))
        #expect(stats["episode_types"] as? [String] == ["t", "e", "e", "t"])
        #expect(stats["episode_lengths"] as? [Int] == [1, 1, 1])
    }

    // MARK: force / resume / conflict

    static func writeOldRun(in directory: TemporaryDirectory) throws {
        let files = [
            "openaigym.manifest.0.1.manifest.json":
                #"{"stats": "openaigym.episode_batch.0.1.stats.json", "videos": [], "env_info": {"gym_version": "0.21.0", "env_id": "CartPole-v1"}}"#,
            "openaigym.episode_batch.0.1.stats.json":
                #"{"initial_reset_timestamp": 1.0, "timestamps": [2.0], "episode_lengths": [9], "episode_rewards": [9.0], "episode_types": ["t"]}"#,
            "notes.txt": "mine",
        ]
        for (name, text) in files {
            try text.write(toFile: directory.path(name), atomically: false, encoding: .utf8)
        }
        try FileManager.default.createDirectory(
            atPath: directory.path("openaigym.keep"), withIntermediateDirectories: true)
    }

    @Test("neither force nor resume on a used directory: old gym's error, and no monitor id is used up")
    func conflict() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.writeOldRun(in: directory)
        let registry = MonitorRegistry()
        do {
            _ = try Self.start(directory, registry: registry, display: "runs/a/")
            Issue.record("start should have refused the directory")
        } catch {
            #expect(
                error
                    == .existingMonitorFiles(
                        directory: "runs/a/", files: ["runs/a/openaigym.manifest.0.1.manifest.json"]))
            #expect(
                error.message
                    == "Trying to write to monitor directory runs/a/ with existing monitor files: "
                    + "runs/a/openaigym.manifest.0.1.manifest.json.\n You should use a unique directory for each "
                    + "training run, or use 'force=True' to automatically clear previous monitor files.")
        }
        let next = try Self.start(directory, registry: registry, resume: true)
        #expect(next.monitorID == 0)
        try next.closeAndWait()
    }

    @Test("force deletes the openaigym.* files and nothing else")
    func force() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.writeOldRun(in: directory)
        try ".x".write(
            toFile: directory.path(".openaigym.video.0.1.video000000.mp4.tmp"), atomically: false, encoding: .utf8)
        let recorder = try Self.start(directory, force: true)
        #expect(directory.fileNames == ["notes.txt", "openaigym.keep"])
        try play(recorder, episodeLengths: [1])
        try recorder.closeAndWait()
        #expect(
            directory.fileNames == [
                "notes.txt", "openaigym.episode_batch.0.4242.stats.json", "openaigym.keep",
                "openaigym.manifest.0.4242.manifest.json",
            ])
    }

    @Test("resume keeps the old files and adds new ones")
    func resume() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        try Self.writeOldRun(in: directory)
        let recorder = try Self.start(directory, resume: true)
        try play(recorder, episodeLengths: [3])
        try recorder.closeAndWait()
        #expect(
            directory.fileNames == [
                "notes.txt", "openaigym.episode_batch.0.1.stats.json", "openaigym.episode_batch.0.4242.stats.json",
                "openaigym.keep", "openaigym.manifest.0.1.manifest.json", "openaigym.manifest.0.4242.manifest.json",
            ])
    }

    // MARK: closing

    @Test("close is safe to call twice, also concurrently, async and blocking")
    func closeTwice() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try Self.start(directory)
        try play(recorder, episodeLengths: [2])
        async let first: Void = recorder.close()
        async let second: Void = recorder.close()
        try await first
        try await second
        try recorder.closeAndWait()
        #expect(recorder.isClosed)
    }

    @Test("the registry finishes every open monitor at shutdown")
    func finishAll() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let registry = MonitorRegistry()
        let a = try Self.start(directory, registry: registry, resume: true)
        let b = try Self.start(directory, registry: registry, resume: true)
        try play(a, episodeLengths: [2, 3])
        try play(b, episodeLengths: [1])
        let problems = await registry.finishAll()
        #expect(problems.isEmpty)
        #expect(a.isClosed && b.isClosed)
        #expect(registry.openMonitorIDs.isEmpty)
        #expect(try readJSON(directory.path(a.fileNames.stats))["episode_lengths"] as? [Int] == [2, 3])
        #expect(try readJSON(directory.path(b.fileNames.manifest))["stats"] as? String == b.fileNames.stats)
    }
}

/// A flag one task sets and another reads.
private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
