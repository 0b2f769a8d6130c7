import CGymSystem
import Foundation
import GymCore
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOPosix
import Testing

@testable import GymServer

/// Waits (at most 10 s) until `condition`, read on the spinner's loop, holds.
private func until(_ spin: LoopSpin, _ what: String, _ condition: @escaping @Sendable (LoopSpin) -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while ContinuousClock.now < deadline {
        if try await spin.loop.submit({ condition(spin) }).get() { return }
        try await Task.sleep(for: .milliseconds(2))
    }
    Issue.record("\(what) did not happen within 10 s")
}

private func counts(_ spin: LoopSpin) async throws -> LoopSpin.Counts {
    try await spin.loop.submit { spin.counts }.get()
}

/// A loop of its own for `body`, shut down after.
private func withLoop(_ body: (any EventLoop) async throws -> Void) async throws {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    do {
        try await body(group.next())
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
    try await group.shutdownGracefully()
}

/// Runs `body` on the loop (`arm` is the loop's own call).
private func onLoop(_ spin: LoopSpin, _ body: @escaping @Sendable (LoopSpin) -> Void) async throws {
    try await spin.loop.submit { body(spin) }.get()
}

/// Arms the spinner `times` times on the loop and reads its counts and state in the same turn
/// (read later, a short spin may have run out meanwhile on a busy machine).
private func arm(_ spin: LoopSpin, times: Int = 1) async throws -> (LoopSpin.Counts, spinning: Bool) {
    try await spin.loop.submit {
        for _ in 0..<times { spin.arm() }
        return (spin.counts, spin.spinning)
    }.get()
}

@Suite("LoopSpin: an event loop polls for a while after it answers, then blocks")
struct LoopSpinTests {
    @Test("armed, the loop turns until the budget has passed, then it stops; budget 0 makes no spinner")
    func spinsForTheBudget() async throws {
        try await withLoop { loop in
            #expect(LoopSpin.on(loop, budgetMicroseconds: 0) == nil)
            let spin = try #require(LoopSpin.on(loop, budgetMicroseconds: 30_000))
            #expect(LoopSpin.on(loop, budgetMicroseconds: 30_000) === spin, "one spinner a loop and budget")
            #expect(try await counts(spin) == LoopSpin.Counts(), "nothing before the first answer")
            let armed = ContinuousClock.now
            try await onLoop(spin) { $0.arm() }
            try await until(spin, "the end of the spin") { !$0.spinning }
            let took = ContinuousClock.now - armed
            let after = try await counts(spin)
            #expect(took >= .milliseconds(30), "it spun \(took), the budget is 30 ms")
            #expect(after.spins == 1 && after.missed == 1 && after.caught == 0, "\(after)")
            // Polling: turn after turn for 30 ms (each a read of the pipe; a busy machine may give
            // the yielded CPU away for a few milliseconds at a time), none after.
            #expect(after.turns >= 3, "\(after.turns) turns in \(took)")
            try await Task.sleep(for: .milliseconds(20))
            #expect(try await counts(spin).turns == after.turns, "the loop turns no more once the spin is over")
        }
    }

    @Test("an answer while the loop spins is caught; two misses in a row skip 1, then 2 answers; a caught one resets that")
    func backsOff() async throws {
        try await withLoop { loop in
            let spin = try #require(LoopSpin.on(loop, budgetMicroseconds: 2_000))
            // Two spins that run out: the next answer starts none.
            for _ in 0..<2 {
                try await onLoop(spin) { $0.arm() }
                try await until(spin, "a spin's end") { !$0.spinning }
            }
            var seen = try await counts(spin)
            #expect(seen.spins == 2 && seen.missed == 2 && seen.skipped == 0, "\(seen)")
            var spinning: Bool
            (seen, spinning) = try await arm(spin)
            #expect(seen.skipped == 1 && !spinning, "the third answer starts no spin: \(seen)")
            // The next spin misses too: now 2 answers are skipped.
            try await onLoop(spin) { $0.arm() }
            try await until(spin, "a spin's end") { !$0.spinning }
            (seen, spinning) = try await arm(spin, times: 2)
            #expect(seen.spins == 3 && seen.missed == 3 && seen.skipped == 3 && !spinning, "\(seen)")
            // An answer that comes while it spins resets the backoff: after one more miss, the next
            // answer spins again.
            (seen, spinning) = try await arm(spin, times: 2)  // (the second an answer during the spin)
            #expect(seen.spins == 4 && seen.caught == 1, "\(seen)")
            try await until(spin, "a spin's end") { !$0.spinning }
            (seen, spinning) = try await arm(spin)
            #expect(seen.spins == 5 && seen.skipped == 3 && seen.missed == 4 && spinning, "after a caught answer, one miss skips nothing: \(seen)")
        }
    }

    @Test("the backoff doubles up to 1,024 answers")
    func backoffLimit() async throws {
        try await withLoop { loop in
            let spin = try #require(LoopSpin.on(loop, budgetMicroseconds: 200))
            var skips: [Int] = []
            for _ in 0..<14 {
                let before = try await counts(spin).skipped
                // Answers until one starts a spin, then let it run out.
                try await onLoop(spin) { spin in
                    while !spin.spinning { spin.arm() }
                }
                skips.append(try await counts(spin).skipped - before)
                try await until(spin, "a spin's end") { !$0.spinning }
            }
            #expect(skips == [0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 1024])
        }
    }

    @Test("when its loop ends, the spinner closes its pipe and leaves the table; arming it then does nothing")
    func endsWithItsLoop() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let spin = try #require(LoopSpin.on(loop, budgetMicroseconds: 3_331))
        try await onLoop(spin) { $0.arm() }
        #expect(LoopSpin.spinners(budgetMicroseconds: 3_331).count == 1)
        try await group.shutdownGracefully()
        #expect(LoopSpin.spinners(budgetMicroseconds: 3_331).isEmpty)
        spin.arm()  // (its loop is gone; nothing is written to a closed descriptor)
        #expect(!spin.spinning)
    }

    @Test("the default budget follows the CPUs the process may use: its affinity, or fewer under a cgroup's CPU quota")
    func usableCPUs() {
        for (text, cpus) in [("max 100000\n", 0), ("100000 100000\n", 1), ("50000 100000", 1), ("150000 100000", 2),
                             ("400000 100000\n", 4), ("0 100000", 0), ("-1 100000", 0), ("abc 100000", 0), ("", 0), ("100000", 0)] {
            #expect(gym_cpu_max_cpus(text) == Int32(cpus), "\(text.debugDescription)")
        }
        let usable = Int(gym_usable_cpus())
        #expect(usable >= 1 && usable <= ProcessInfo.processInfo.activeProcessorCount)
        #expect(LoopSpin.automaticMicroseconds == (usable > 1 ? LoopSpin.defaultMicroseconds : 0))
    }
}
