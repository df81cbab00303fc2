import Foundation
import XCTest
@testable import SlurmExecution

/// The one-node Slurm the tests run against: the one `Tools/test.sh` started (SLURM_CONF), or else one
/// started here with `Tools/slurm-cluster.sh` and stopped when the test process ends.
///
/// Tests skip (with "SLURM TESTS SKIPPED", which `Tools/test.sh` turns into a failure under CI=true) only
/// when slurmctld is not installed; a cluster that is installed but does not come up is a failure.
enum SlurmTestCluster {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The environment for Slurm commands (SLURM_CONF), or a skip/failure.
    static func environment() throws -> [String: String] {
        guard SlurmCommandLine.locate("slurmctld") != nil else {
            throw XCTSkip("SLURM TESTS SKIPPED: slurmctld is not installed (bash Tools/setup.sh --tests installs it)")
        }
        return try shared.get()
    }

    private static let shared: Result<[String: String], Error> = {
        if let conf = ProcessInfo.processInfo.environment["SLURM_CONF"], FileManager.default.fileExists(atPath: conf) {
            let client = SlurmClient(commandLine: SlurmCommandLine(environment: ["SLURM_CONF": conf]))
            if client.controllerIsUp() { return .success(["SLURM_CONF": conf]) }
            return .failure(SlurmError(.unavailable, "SLURM_CONF=\(conf) but its controller does not answer `scontrol ping`"))
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-slurm-tests-\(getpid())")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [repositoryRoot.appendingPathComponent("Tools/slurm-cluster.sh").path, "start", dir.path]
        var env = ProcessInfo.processInfo.environment
        env["SLURM_CLUSTER_MAX_ARRAY_SIZE"] = env["SLURM_CLUSTER_MAX_ARRAY_SIZE"] ?? "8"
        env["SLURM_CLUSTER_OWNER_PID"] = String(getpid())  // Stopped by the watchdog if the test process dies by a signal.
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        do { try process.run() } catch { return .failure(error) }
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(SlurmError(.unavailable, "Tools/slurm-cluster.sh start failed (status \(process.terminationStatus)); see \(dir.path)/log"))
        }
        startedHere = dir
        atexit {
            guard let dir = SlurmTestCluster.startedHere else { return }
            let stop = Process()
            stop.executableURL = URL(fileURLWithPath: "/bin/bash")
            stop.arguments = [SlurmTestCluster.repositoryRoot.appendingPathComponent("Tools/slurm-cluster.sh").path, "stop", dir.path]
            try? stop.run()
            stop.waitUntilExit()
        }
        _ = text
        return .success(["SLURM_CONF": dir.appendingPathComponent("slurm.conf").path])
    }()

    nonisolated(unsafe) static var startedHere: URL?

    /// A client for the test cluster.
    static func client() throws -> SlurmClient {
        SlurmClient(commandLine: SlurmCommandLine(environment: try environment()))
    }

    /// A job name no other test uses.
    static func uniqueName(_ prefix: String) -> String { "\(prefix)-\(getpid())-\(UUID().uuidString.prefix(6))" }

    /// Polls `condition` every 0.2 s until true or `seconds` pass.
    /// The id of the running job of a run's `stage` (the run's job name contains `name`; the stage's job, not
    /// the run's shared-filesystem probe of the same name, is the one whose log is under `slurm/<stage>/`).
    static func runningJob(of name: String, stage: String, seconds: Double = 60) throws -> String {
        let client = try SlurmTestCluster.client()
        var jobID = ""
        try wait(seconds: seconds, "the \(stage) job of \(name) to run") {
            for row in try client.allJobs() where row.name.contains(name) && row.state.isRunning {
                if (try client.jobDetails(row.jobID)?["StdOut"] ?? "").contains("/slurm/\(stage)/") { jobID = row.jobID; return true }
            }
            return false
        }
        return jobID
    }

    static func wait(seconds: Double, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return }
            usleep(200_000)
        }
        XCTFail("timed out after \(Int(seconds)) s waiting for \(what)")
        throw SlurmError(.transient, "timed out waiting for \(what)")
    }
}
