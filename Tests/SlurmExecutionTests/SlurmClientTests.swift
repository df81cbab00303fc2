import Foundation
import XCTest
@testable import SlurmExecution

/// The client against the real one-node Slurm: submission, the one-query status of a whole run, one
/// scancel for a whole run, limits, and MaxArraySize splitting by index.
final class SlurmClientTests: XCTestCase {
    func testOneQueryShowsEveryJobOfARunAndOneScancelStopsThemAll() throws {
        let client = try SlurmTestCluster.client()
        let name = SlurmTestCluster.uniqueName("client")
        let a = try client.submit(script: "#!/bin/bash\nsleep 60\n", options: ["--job-name=\(name)", "--output=/dev/null", "--mem=32M", "--no-requeue"])
        let b = try client.submit(script: "#!/bin/bash\nsleep 60\n", options: ["--job-name=\(name)", "--output=/dev/null", "--mem=32M", "--no-requeue", "--array=0-2"])
        defer { try? client.cancelAll(named: name) }
        let rows = try client.jobStates(named: name)
        XCTAssertEqual(client.statusQueries, 1)
        XCTAssertEqual(Set(rows.filter { $0.arrayIndex == nil }.map(\.jobID)), [a])
        XCTAssertEqual(Set(rows.compactMap { $0.arrayJobID == b ? $0.arrayIndex : nil }), [0, 1, 2], "\(rows)")
        XCTAssertTrue(rows.allSatisfy { !$0.state.isTerminal && $0.name == name })
        try client.cancelAll(named: name)
        try SlurmTestCluster.wait(seconds: 20, "every job of the run to be CANCELLED") {
            // An array cancelled before its tasks started stays one row (without an index).
            let now = try client.jobStates(named: name)
            return now.count >= 2 && now.allSatisfy { $0.state == .cancelled }
        }
    }

    func testSiteRefusalsNameTheLimitAndAreNotRetried() throws {
        let client = try SlurmTestCluster.client()
        let start = Date()
        XCTAssertThrowsError(try client.submit(script: "#!/bin/bash\ntrue\n", options: ["--partition=nosuchpartition", "--output=/dev/null"])) { e in
            guard let e = e as? SlurmError else { return XCTFail("\(e)") }
            XCTAssertEqual(e.kind, .limitRejected(limit: "Invalid partition name specified"), e.message)
            XCTAssertTrue(e.message.contains("nosuchpartition") || e.message.contains("Invalid partition"), e.message)
        }
        XCTAssertEqual(client.submitRetries, 0)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    func testTransientControllerErrorsAreRetriedWithBackoff() throws {
        // A controller that does not answer (a port nobody listens on) is the real "Unable to contact slurm
        // controller" error; the client retries it, then reports it as transient.
        let env = try SlurmTestCluster.environment()
        let conf = try String(contentsOfFile: env["SLURM_CONF"]!, encoding: .utf8)
        let dead = FileManager.default.temporaryDirectory.appendingPathComponent("dead-slurm-\(getpid()).conf")
        let rewritten = conf.split(separator: "\n").map { line -> String in
            line.hasPrefix("SlurmctldPort=") ? "SlurmctldPort=9" : String(line)  // Port 9 (discard): nothing listens.
        }.joined(separator: "\n")
        try rewritten.write(to: dead, atomically: true, encoding: .utf8)
        defer { unlink(dead.path) }
        let client = SlurmClient(commandLine: SlurmCommandLine(environment: ["SLURM_CONF": dead.path], timeoutSeconds: 30),
                                 retry: SubmissionRetry(maxRetries: 1, baseDelaySeconds: 0.05, maxDelaySeconds: 0.1))
        final class Sleeps: @unchecked Sendable { let lock = NSLock(); var values: [Double] = [] }
        let sleeps = Sleeps()
        client.sleep = { s in sleeps.lock.lock(); sleeps.values.append(s); sleeps.lock.unlock() }
        XCTAssertThrowsError(try client.submit(script: "#!/bin/bash\ntrue\n", options: ["--output=/dev/null"])) { e in
            XCTAssertEqual((e as? SlurmError)?.kind, .transient, "\(e)")
        }
        // sbatch itself spends ~9 s trying to connect, so one retry keeps this test short.
        XCTAssertEqual(client.submitRetries, 1)
        XCTAssertEqual(sleeps.values.filter { $0 >= 0.025 }.count, 1, "one back-off sleep: \(sleeps.values)")
    }

    func testMaxArraySizeCapsTheIndexSoChunksStartAtZero() throws {
        let client = try SlurmTestCluster.client()
        let maxArray = try client.maxArraySize()
        let conf = try String(contentsOfFile: try SlurmTestCluster.environment()["SLURM_CONF"]!, encoding: .utf8)
        if let line = conf.split(separator: "\n").first(where: { $0.hasPrefix("MaxArraySize=") }) {
            XCTAssertEqual(maxArray, Int(line.dropFirst("MaxArraySize=".count)))
        }
        let name = SlurmTestCluster.uniqueName("array")
        defer { try? client.cancelAll(named: name) }
        // Indices at or above MaxArraySize are refused even for a short array…
        XCTAssertThrowsError(try client.submit(script: "#!/bin/bash\ntrue\n",
                                               options: ["--job-name=\(name)", "--output=/dev/null", "--array=\(maxArray)-\(maxArray + 1)"]))
        // …so the plan splits by index: every chunk starts at 0 and is accepted.
        let plan = JobArrayPlan(count: maxArray + 3, maxArraySize: maxArray)
        XCTAssertEqual(plan.chunks.count, 2)
        for chunk in plan.chunks {
            XCTAssertNoThrow(try client.submit(script: "#!/bin/bash\ntrue\n",
                                               options: ["--job-name=\(name)", "--output=/dev/null", "--mem=16M", chunk.arrayOption(parallelism: 2)]))
        }
        XCTAssertEqual(try client.jobStates(named: name).count, maxArray + 3)
    }
}
