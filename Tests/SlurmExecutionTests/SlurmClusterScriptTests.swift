import Foundation
import XCTest
@testable import SlurmExecution

/// `Tools/slurm-cluster.sh` leaves no daemon behind when its owner is killed by a signal no trap sees.
final class SlurmClusterScriptTests: XCTestCase {
    func testTheWatchdogStopsTheClusterWhenItsOwnerIsKilled() throws {
        _ = try SlurmTestCluster.environment()
        let owner = Process()
        owner.executableURL = URL(fileURLWithPath: "/bin/sleep")
        owner.arguments = ["300"]
        try owner.run()
        defer { if owner.isRunning { owner.terminate() } }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-slurm-watchdog-\(UUID().uuidString.prefix(8))")
        let start = Process()
        start.executableURL = URL(fileURLWithPath: "/bin/bash")
        start.arguments = [SlurmTestCluster.repositoryRoot.appendingPathComponent("Tools/slurm-cluster.sh").path, "start", dir.path]
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CLUSTER_OWNER_PID"] = String(owner.processIdentifier)
        env["PATH"] = (env["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin"
        start.environment = env
        start.standardOutput = FileHandle.nullDevice
        try start.run()
        start.waitUntilExit()
        XCTAssertEqual(start.terminationStatus, 0, "see \(dir.path)/log")
        let pidFiles = ["run/slurmctld.pid", "run/slurmd.pid", "munge/munged.pid", "run/watchdog.pid"]
        let pids = pidFiles.compactMap { Int32((try? String(contentsOf: dir.appendingPathComponent($0), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "") }
        XCTAssertEqual(pids.count, 4, "every daemon and the watchdog have a pid file")
        XCTAssertTrue(pids.allSatisfy { kill($0, 0) == 0 })
        kill(owner.processIdentifier, SIGKILL)
        owner.waitUntilExit()  // Reaped, as a shell reaps a killed test.sh: a zombie would still answer kill -0.
        try SlurmTestCluster.wait(seconds: 30, "the watchdog to stop the cluster") {
            pids.allSatisfy { kill($0, 0) != 0 } && !FileManager.default.fileExists(atPath: dir.path)
        }
    }
}
