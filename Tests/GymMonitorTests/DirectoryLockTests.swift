import Foundation
import Testing

@testable import GymMonitor

@Suite("One directory, many monitors: the directory's lock")
struct DirectoryLockTests {
    private func start(_ directory: TemporaryDirectory, _ registry: MonitorRegistry, force: Bool = false, resume: Bool = false, holder: String) throws(MonitorError) -> EpisodeRecorder {
        var options = RecordingOptions()
        options.holder = holder
        return try EpisodeRecorder.start(
            directory: directory.url, force: force, resume: resume, videoSchedule: .never, envID: "CartPole-v1", renderFPS: 50,
            registry: registry, displayDirectory: "run", options: options)
    }

    @Test("a fresh start (with force or not) is refused while another monitor records; resume records beside it; close frees it")
    func freshStartsWaitForTheDirectory() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Two registries: two servers (replicas) sharing the directory.
        let mine = MonitorRegistry(defaultUID: "r1-7-a")
        let theirs = MonitorRegistry(defaultUID: "r2-7-b")
        let first = try start(directory, mine, holder: "instance 01aaaaaa, replica 1")
        #expect(directory.allFileNames.contains(DirectoryLock.fileName))
        for (force, resume) in [(false, false), (true, false), (true, true)] {
            for registry in [mine, theirs] {
                #expect(throws: MonitorError.directoryInUse(directory: "run", holder: "instance 01aaaaaa, replica 1")) {
                    try start(directory, registry, force: force, resume: resume, holder: "instance 02bbbbbb, replica 2")
                }
            }
        }
        let message = MonitorError.directoryInUse(directory: "run", holder: "instance 01aaaaaa, replica 1").message
        #expect(message.contains("run is being recorded into by another monitor (instance 01aaaaaa, replica 1)") && message.contains("resume"))
        let beside = try start(directory, theirs, resume: true, holder: "instance 02bbbbbb, replica 2")
        try first.closeAndWait()
        // Still one monitor there.
        #expect(throws: MonitorError.self) { try start(directory, mine, force: true, holder: "instance 01cccccc, replica 1") }
        try beside.closeAndWait()
        #expect(directory.fileNames.contains("openaigym.manifest.0.r1-7-a.manifest.json"))
        #expect(directory.fileNames.contains("openaigym.manifest.0.r2-7-b.manifest.json"))
        let again = try start(directory, mine, force: true, holder: "instance 01cccccc, replica 1")
        #expect(directory.fileNames.isEmpty, "force cleared the files once nobody recorded")
        try again.closeAndWait()
    }

    @Test("a refusal says nothing it cannot read: an unreadable or foreign lock file names no holder")
    func holderText() throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let recorder = try start(directory, MonitorRegistry(), holder: "instance 01aaaaaa\u{7}\nsecond line")
        #expect(throws: MonitorError.directoryInUse(directory: "run", holder: "instance 01aaaaaa")) {
            try start(directory, MonitorRegistry(), holder: "x")
        }
        try recorder.closeAndWait()
        #expect(MonitorError.directoryInUse(directory: "run", holder: nil).message.hasPrefix("The monitor directory run is being recorded into by another monitor: close"))
    }
}
