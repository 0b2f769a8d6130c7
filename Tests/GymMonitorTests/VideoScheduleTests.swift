import GymMonitor
import Testing

@Suite("Video schedule")
struct VideoScheduleTests {
    @Test("capped cubic: perfect cubes below 1000, then every 1000th")
    func cappedCubic() {
        let filmed = (0..<5001).filter { VideoSchedule.cappedCubic.shouldRecord(episode: $0) }
        #expect(filmed == [0, 1, 8, 27, 64, 125, 216, 343, 512, 729, 1000, 2000, 3000, 4000, 5000])
    }

    @Test("true is gym's default schedule, false records nothing")
    func fromBool() {
        #expect(VideoSchedule(true) == .cappedCubic)
        #expect(VideoSchedule(false) == .never)
        #expect((0..<2000).allSatisfy { !VideoSchedule.never.shouldRecord(episode: $0) })
    }

    @Test("an integer N films every N-th episode")
    func everyN() throws {
        let schedule = try VideoSchedule(every: 3)
        #expect((0..<10).filter { schedule.shouldRecord(episode: $0) } == [0, 3, 6, 9])
        let everyEpisode = try VideoSchedule(every: 1)
        #expect((0..<5).allSatisfy { everyEpisode.shouldRecord(episode: $0) })
    }

    @Test("zero or negative N is refused with a message", arguments: [0, -2])
    func invalidN(n: Int) {
        #expect(throws: MonitorError.self) { try VideoSchedule(every: n) }
        do {
            _ = try VideoSchedule(every: n)
        } catch {
            #expect(error.message.contains("positive integer"))
        }
    }
}
