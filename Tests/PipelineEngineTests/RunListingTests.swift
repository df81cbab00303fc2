import Foundation
import XCTest
@testable import PipelineEngine

/// `masknet status`'s decisions: a `running` record whose runner is gone reads as interrupted, a run on
/// another host is not probed, and the table counts stages and gates.
final class RunListingTests: XCTestCase {
    func record(_ id: String, status: RunStatus, pid: Int32 = 4242, host: String = "here",
                stages: [StageStatus] = []) -> RunRecord {
        RunRecord(id: id, pipeline: "p", file: "p.yaml", seed: "1", overrides: [], startedAt: "2026-01-01T00:00:00Z",
                  finishedAt: nil, status: status, exitCode: nil, pid: pid, environment: ["host": host],
                  stages: stages.enumerated().map { index, status in
                      StageRunRecord(name: "s\(index)", baseName: "s\(index)", cell: [:], kind: "command", version: "1",
                                     determinism: "deterministic", status: status, reason: nil, key: nil, components: nil,
                                     outputs: [:], metrics: [:], gates: [], wallSeconds: nil, peakMemoryBytes: nil, log: nil)
                  })
    }

    func testRunningRecordOfAGoneRunnerReadsAsInterrupted() {
        let running = record("r", status: .running, pid: 4242)
        XCTAssertEqual(RunListing.displayedStatus(of: running, localHost: "here", processExists: { $0 == 4242 }), "running")
        XCTAssertEqual(RunListing.displayedStatus(of: running, localHost: "here", processExists: { _ in false }),
                       "interrupted (runner gone)")
        // Another host's pid means nothing here: never probed.
        let remote = record("r", status: .running, host: "node7")
        XCTAssertEqual(RunListing.displayedStatus(of: remote, localHost: "here", processExists: { _ in XCTFail("probed"); return false }),
                       "running (on node7)")
        // A finished record is what it says, whatever the pid.
        XCTAssertEqual(RunListing.displayedStatus(of: record("r", status: .gatesFailed), localHost: "here",
                                                  processExists: { _ in false }), "gates_failed")
    }

    func testProcessExistsProbesThisMachine() {
        XCTAssertTrue(RunListing.processExists(getpid()))
        XCTAssertTrue(RunListing.processExists(1), "pid 1 exists even where it is not ours (EPERM)")
        XCTAssertFalse(RunListing.processExists(0))
        XCTAssertFalse(RunListing.processExists(-5))
    }

    func testTableCountsStagesAndHonoursTheLimit() {
        let runs = [record("new", status: .running, pid: 1, stages: [.computed, .cached, .cached, .failed]),
                    record("old", status: .succeeded)]
        let text = RunListing.text(runs: runs, storeRoot: URL(fileURLWithPath: "/store"), heldLocks: [("abcdef0123456789", "pid 1")],
                                   limit: 1, localHost: "here", processExists: { _ in false })
        XCTAssertTrue(text.hasPrefix("store /store: 2 runs\ncomputing now: abcdef012345 (pid 1)\n"), text)
        XCTAssertTrue(text.contains("| new | p | interrupted (runner gone) | 1 | 2 | 1 |  |"), text)
        XCTAssertFalse(text.contains("| old |"), "limit 1 lists the newest run only")
    }
}
