import Foundation
import XCTest
@testable import PipelineEngine

/// The per-key lease (`StageLock`): when a waiter breaks it and when it waits. The real-Slurm cases (a
/// holder's job queried with squeue, two drivers on one store) are in SlurmExecutionTests.SlurmLeaseTests.
final class StageLeaseTests: XCTestCase {
    /// A lease file's bytes as another holder would have written them.
    static func lease(host: String, pid: Int32, job: String? = nil, expires: Date) throws -> Data {
        try JSONEncoder().encode(StageLock.Lease(host: host, pid: pid, job: job, token: UUID().uuidString, since: "2026-01-01T00:00:00Z",
                                                 expires: expires.timeIntervalSince1970))
    }

    /// The pid of a process that has ended (and was reaped).
    static func deadPID() throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        return p.processIdentifier
    }

    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-lease-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // Fake job ids for the liveness probe; any other id is "cannot tell", as without Slurm.
        StageLockLiveness.install { job in
            switch job {
            case "test-job-running": return true
            case "test-job-ended": return false
            default: return nil
            }
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    func testAStaleLeaseOfADeadHolderOnThisHostIsBroken() throws {
        let url = folder.appendingPathComponent("k.lock")
        try Self.lease(host: localHostName(), pid: try Self.deadPID(), expires: Date().addingTimeInterval(-5)).write(to: url)
        let lock = try XCTUnwrap(try StageLock.tryAcquire(url))
        XCTAssertEqual(StageLock.read(url)?.pid, getpid(), "the new lease is ours")
        lock.release()
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    func testAStaleLeaseOfALiveHolderOnThisHostIsWaitedOn() throws {
        // A holder whose heartbeat stopped (stalled, not dead) keeps the key: computing twice is worse than waiting.
        let sleeper = Process()
        sleeper.executableURL = URL(fileURLWithPath: "/bin/sleep")
        sleeper.arguments = ["30"]
        try sleeper.run()
        defer { sleeper.terminate() }
        let url = folder.appendingPathComponent("k.lock")
        try Self.lease(host: localHostName(), pid: sleeper.processIdentifier, expires: Date().addingTimeInterval(-600)).write(to: url)
        XCTAssertNil(try StageLock.tryAcquire(url))
        XCTAssertTrue(StageLock.isHeld(url))
        XCTAssertEqual(StageLock.read(url)?.pid, sleeper.processIdentifier, "the holder's lease is untouched")
    }

    func testALeaseOnAnotherHostIsBrokenOnlyWhenStaleAndItsJobEnded() throws {
        let url = folder.appendingPathComponent("k.lock")
        // Fresh: held, whatever the job says.
        try Self.lease(host: "node-elsewhere", pid: 1, job: "test-job-ended", expires: Date().addingTimeInterval(30)).write(to: url)
        XCTAssertNil(try StageLock.tryAcquire(url))
        // Stale but its job still runs: held.
        try Self.lease(host: "node-elsewhere", pid: 1, job: "test-job-running", expires: Date().addingTimeInterval(-3600)).write(to: url)
        XCTAssertNil(try StageLock.tryAcquire(url))
        // Stale and its job ended: broken.
        try Self.lease(host: "node-elsewhere", pid: 1, job: "test-job-ended", expires: Date().addingTimeInterval(-1)).write(to: url)
        let lock = try XCTUnwrap(try StageLock.tryAcquire(url))
        lock.release()
    }

    func testALeaseOnAnotherHostWithoutAJobWaitsOutTheOrphanGrace() throws {
        let url = folder.appendingPathComponent("k.lock")
        let lease = StageLock.leaseSeconds
        try Self.lease(host: "node-elsewhere", pid: 1, expires: Date().addingTimeInterval(-lease)).write(to: url)
        XCTAssertNil(try StageLock.tryAcquire(url), "stale for less than the grace: the holder cannot be asked, so wait")
        try Self.lease(host: "node-elsewhere", pid: 1, job: "unknown-to-the-probe",
                       expires: Date().addingTimeInterval(-lease * (StageLock.orphanGraceLeases + 1))).write(to: url)
        let lock = try XCTUnwrap(try StageLock.tryAcquire(url), "stale beyond the grace and no scheduler answer: broken")
        lock.release()
    }

    func testTheHeartbeatRenewsTheLeaseWhileHeld() throws {
        setenv("MASKNET_LEASE_SECONDS", "0.4", 1)
        defer { unsetenv("MASKNET_LEASE_SECONDS") }
        let url = folder.appendingPathComponent("k.lock")
        let lock = try XCTUnwrap(try StageLock.tryAcquire(url))
        let first = try XCTUnwrap(StageLock.read(url)).expires
        usleep(1_000_000)  // Two and a half lease lengths: without renewal it would be stale.
        let later = try XCTUnwrap(StageLock.read(url))
        XCTAssertGreaterThan(later.expires, first)
        XCTAssertGreaterThan(later.expires, Date().timeIntervalSince1970)
        XCTAssertNil(try StageLock.tryAcquire(url), "a renewed lease is held")
        lock.release()
        XCTAssertNotNil(try StageLock.tryAcquire(url)?.release())
    }

    func testOnlyOneOfManyThreadsGetsTheLease() throws {
        let url = folder.appendingPathComponent("k.lock")
        let winners = NSLock()
        nonisolated(unsafe) var held: [StageLock] = []
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let l = try? StageLock.tryAcquire(url) { winners.lock(); held.append(l); winners.unlock() }
        }
        XCTAssertEqual(held.count, 1)
        held.forEach { $0.release() }
    }

    func testAnUnreadableLeaseIsHeldUntilItIsOneLeaseOld() throws {
        let url = folder.appendingPathComponent("k.lock")
        try "pid 99999 on nowhere since 2020-01-01\n".write(to: url, atomically: false, encoding: .utf8)
        XCTAssertNil(try StageLock.tryAcquire(url))
        let old = Date().addingTimeInterval(-StageLock.leaseSeconds - 5)
        try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: url.path)
        XCTAssertNotNil(try StageLock.tryAcquire(url)?.release())
    }
}
