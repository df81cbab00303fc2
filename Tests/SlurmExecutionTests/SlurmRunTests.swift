import Foundation
import PipelineEngine
import XCTest
@testable import SlurmExecution

/// `masknet run --executor slurm` end to end against the real one-node Slurm, with tiny `command` stages.
final class SlurmRunTests: XCTestCase {
    /// A scratch workspace: pipeline files, a profile, stores.
    var workspace: URL!

    override func setUpWithError() throws {
        _ = try SlurmTestCluster.environment()
        guard FileManager.default.isExecutableFile(atPath: MasknetProcess.executable.path) else {
            return XCTFail("\(MasknetProcess.executable.path) is missing: build masknet first (swift build -c release)")
        }
        workspace = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-slurm-run-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        // Small memory asks so the one node fits many jobs; a fast poll for short tests; a short grace.
        try """
            poll: {initial_seconds: 0.2, max_seconds: 2, growth: 1.5}
            lost_job_grace_seconds: 2
            submits_per_second: 50
            local_cheap: false
            resources:
              cheap: {mem: 200M, time: 10}
              evaluation: {mem: 200M, time: 10}
              training: {mem: 400M, time: 10}
            """.write(to: workspace.appendingPathComponent("profile.yaml"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        if let workspace { try? FileManager.default.removeItem(at: workspace) }
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = workspace.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static let sweep = """
        pipeline: %NAME%
        seed: 3
        stages:
          data:
            kind: command
            params:
              run: |
                awk -v seed="$MASKNET_SEED" 'BEGIN { srand(seed % 2147483647); for (i = 0; i < 50; i++) printf "%d\\n", int(rand() * 1000) }' > data.txt
              outputs: [data.txt]
          scale:
            kind: command
            inputs: {data: data.data.txt}
            matrix:
              env.FACTOR: ["1", "2", "3"]
            resources: {cpus: 1}
            params:
              run: |
                awk -v f="$FACTOR" '{ s += $1 * f } END { printf "sum %d\\n", s }' "$IN_data" > "$MASKNET_METRICS"
                cp "$MASKNET_METRICS" sum.txt
              outputs: [sum.txt]
        """

    func testSweepOnSlurmEqualsLocalAndIsACacheHitLocallyAfterwards() throws {
        let name = "slurm-sweep-\(UUID().uuidString.prefix(6).lowercased())"
        let pipeline = try write("sweep.yaml", SlurmRunTests.sweep.replacingOccurrences(of: "%NAME%", with: name))
        let localStore = workspace.appendingPathComponent("local-store").path
        let slurmStore = workspace.appendingPathComponent("slurm-store").path
        let local = try MasknetProcess.run(["run", pipeline, "--store", localStore], in: workspace)
        XCTAssertEqual(local.status, 0, local.error)
        let started = Date()
        let slurm = try MasknetProcess.run(["run", pipeline, "--store", slurmStore, "--executor", "slurm", "--profile",
                                            workspace.appendingPathComponent("profile.yaml").path, "--jobs", "20"], in: workspace)
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertEqual(slurm.status, 0, slurm.error)
        let localLock = try RunFolder.latest(in: localStore).lock()
        let slurmRun = try RunFolder.latest(in: slurmStore)
        let slurmLock = try slurmRun.lock()
        XCTAssertEqual(localLock.count, 4)
        for (stage, entry) in localLock {
            XCTAssertEqual(slurmLock[stage]?.key, entry.key, "key of \(stage)")
            XCTAssertEqual(slurmLock[stage]?.outputs, entry.outputs, "outputs of \(stage)")
        }
        XCTAssertEqual(try slurmRun.statuses().values.filter { $0 == "computed" }.count, 4)
        let accounting = try slurmRun.accounting()
        XCTAssertGreaterThanOrEqual(accounting["arrays"] as? Int ?? 0, 1, "the three cells went out as a job array")
        let jobs = accounting["jobs"] as? [[String: Any]] ?? []
        XCTAssertEqual(jobs.count, 4)
        XCTAssertEqual(Set(jobs.compactMap { ($0["job"] as? String)?.contains("_") == true ? $0["stage"] as? String : nil }).count, 3)
        for job in jobs {
            let log = job["log"] as? String ?? ""
            XCTAssertTrue(FileManager.default.fileExists(atPath: log), "job log \(log)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: slurmRun.url.appendingPathComponent("slurm/data").path))
        // The run record and both reports carry each stage's job, node, queue wait and Slurm's own figures.
        let stages = try slurmRun.json("run.json")["stages"] as? [[String: Any]] ?? []
        XCTAssertEqual(stages.count, 4)
        for stage in stages {
            let placement = stage["placement"] as? [String: Any] ?? [:]
            XCTAssertEqual(placement["executor"] as? String, "slurm", "\(stage)")
            XCTAssertFalse((placement["node"] as? String ?? "").isEmpty, "node of \(stage["name"] ?? "")")
            XCTAssertGreaterThanOrEqual(placement["queueWaitSeconds"] as? Double ?? -1, 0)
            XCTAssertTrue((placement["source"] as? String ?? "").contains("squeue"), "\(placement)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: slurmRun.url.appendingPathComponent(placement["log"] as? String ?? "-").path))
        }
        let markdown = try String(contentsOf: slurmRun.url.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| batch job |") && markdown.contains("queued "), markdown)
        let html = try String(contentsOf: slurmRun.url.appendingPathComponent("report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("<th>batch job</th>") && html.contains("job log</a>"))
        // One query per poll for the whole run: never more than the schedule allows, whatever the job count.
        let queries = accounting["status_queries"] as? Int ?? 0
        XCTAssertGreaterThan(queries, 0)
        XCTAssertLessThanOrEqual(queries, PollSchedule(initialSeconds: 0.2, maxSeconds: 2, growth: 1.5).maximumQueries(overSeconds: elapsed))
        // Computed on Slurm, a cache hit locally.
        let before = RunFolder.all(in: slurmStore)
        let rerun = try MasknetProcess.run(["run", pipeline, "--store", slurmStore], in: workspace)
        XCTAssertEqual(rerun.status, 0, rerun.error)
        XCTAssertEqual(Set(try RunFolder.new(in: slurmStore, before: before).statuses().values), ["cached"])
    }

    func testDetachThenStatusWatchCompletesAndALaterRunFindsEverything() throws {
        let name = "slurm-detach-\(UUID().uuidString.prefix(6).lowercased())"
        let pipeline = try write("detach.yaml", SlurmRunTests.sweep.replacingOccurrences(of: "%NAME%", with: name))
        let store = workspace.appendingPathComponent("store").path
        let submit = try MasknetProcess.run(["run", pipeline, "--store", store, "--executor", "slurm", "--detach", "--profile",
                                             workspace.appendingPathComponent("profile.yaml").path], in: workspace)
        XCTAssertEqual(submit.status, 0, submit.error)
        let id = submit.output.trimmingCharacters(in: .whitespacesAndNewlines)
        let detached = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: store)
            .appendingPathComponent("runs/\(id)/detached.json"))) as? [String: Any] ?? [:]
        let jobs = detached["jobs"] as? [[String: Any]] ?? []
        XCTAssertEqual(jobs.count, 4)
        let cells = jobs.filter { ($0["stage"] as? String ?? "").hasPrefix("scale[") }
        XCTAssertEqual(Set(cells.compactMap { $0["job_id"] as? String }).count, 1, "the cells are one array")
        XCTAssertEqual(cells.compactMap { $0["after"] as? [String] }.first, ["data"])
        let watch = try MasknetProcess.run(["status", id, "--watch", "--store", store], in: workspace, timeout: 150)
        XCTAssertEqual(watch.status, 0, watch.output + watch.error)
        XCTAssertTrue(watch.output.contains("every stage is done"), watch.output)
        let before = RunFolder.all(in: store)
        let rerun = try MasknetProcess.run(["run", pipeline, "--store", store], in: workspace)
        XCTAssertEqual(rerun.status, 0, rerun.error)
        XCTAssertEqual(Set(try RunFolder.new(in: store, before: before).statuses().values), ["cached"])
    }

    func testUSR2CheckpointsResubmitsOnceAndGivesTheUninterruptedResult() throws {
        let name = "slurm-usr2-\(UUID().uuidString.prefix(6).lowercased())"
        let (driver, jobID, store) = try startStepwise(name)
        usleep(1_500_000)  // A few steps in.
        _ = try SlurmTestCluster.client().commandLine.run("scancel", ["--signal=USR2", "--batch", jobID])
        let result = driver.wait(timeout: 120)
        XCTAssertEqual(result.status, 0, result.error)
        let outcome = try stepwiseOutcome(store)
        XCTAssertEqual(outcome.jobs, 2, "submitted once more after USR2")
        XCTAssertEqual(outcome.result, "9455", "the sum of the squares 1…30, as an uninterrupted run gives")
    }

    /// Without USR2 (`signal_seconds: 0`) a stage that outlives its one-minute limit is killed by Slurm
    /// (TIMEOUT); the runner resubmits it once and the new job continues from the state the first one kept
    /// in the stage's checkpoint directory. About two minutes, mostly sleeping. 100 one-second steps: Slurm
    /// enforces limits every 30 s or so, so the first job ends after 60–90 s with at least ~55 steps done
    /// (never all 100), and the second needs at most ~45 s of its minute (with 120 steps it could need 63 s
    /// and was killed too on a loaded machine).
    func testATimedOutJobIsResubmittedAndContinuesFromItsCheckpoint() throws {
        let name = "slurm-timeout-\(UUID().uuidString.prefix(6).lowercased())"
        let profile = try write("timeout-profile.yaml", """
            poll: {initial_seconds: 0.5, max_seconds: 2, growth: 1.5}
            lost_job_grace_seconds: 2
            local_cheap: false
            signal_seconds: 0
            """)
        let pipeline = try write("timeout.yaml", SlurmRunTests.stepwise(name, steps: 100, secondsPerStep: "1",
                                                                      resources: "{mem: 200M, time: 1}"))
        let store = workspace.appendingPathComponent("store").path
        let result = try MasknetProcess.run(["run", pipeline, "--store", store, "--executor", "slurm", "--profile", profile],
                                            in: workspace, timeout: 400)
        XCTAssertEqual(result.status, 0, result.output + result.error)
        let run = try RunFolder.latest(in: store)
        let jobs = (try run.accounting()["jobs"] as? [[String: Any]] ?? []).filter { $0["stage"] as? String == "train" }
        XCTAssertEqual(jobs.map { $0["state"] as? String ?? "" }, ["TIMEOUT", "COMPLETED"], "\(jobs)")
        // The sum of the squares 1…100, as an uninterrupted run gives.
        XCTAssertEqual(try stepwiseOutcome(store).result, "338350")
    }

    /// A job must never publish results of another masknet: when the binary the driver runs is replaced
    /// during a run (a rebuild, or a node that sees another file at that path), the next job refuses to run
    /// its stage, naming both digests, and the stage fails with that message; nothing is published.
    func testAJobThatSeesAnotherMasknetBinaryRefusesToRunItsStage() throws {
        let name = "slurm-binary-\(UUID().uuidString.prefix(6).lowercased())"
        let binary = workspace.appendingPathComponent("bin/masknet")
        try FileManager.default.createDirectory(at: binary.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: MasknetProcess.executable, to: binary)
        // The first stage's job swaps the driver's binary for a different file (rename: the running driver keeps
        // its own inode), as a rebuild during the run would.
        let pipeline = try write("binary.yaml", """
            pipeline: \(name)
            stages:
              rebuild:
                kind: command
                params:
                  run: |
                    cp \(BatchScript.quote(binary.path)) swapped && echo "another build" >> swapped && mv swapped \(BatchScript.quote(binary.path))
                    echo done > done.txt
                  outputs: [done.txt]
              after:
                kind: command
                inputs: {marker: rebuild.done.txt}
                params:
                  run: echo never > never.txt
                  outputs: [never.txt]
            """)
        let store = workspace.appendingPathComponent("store").path
        let result = try MasknetProcess.run(["run", pipeline, "--store", store, "--executor", "slurm", "--profile",
                                             workspace.appendingPathComponent("profile.yaml").path], in: workspace, executable: binary)
        XCTAssertEqual(result.status, 1, result.output + result.error)
        let run = try RunFolder.latest(in: store)
        XCTAssertEqual(try run.statuses()["rebuild"], "computed")
        XCTAssertEqual(try run.statuses()["after"], "failed")
        let reason = try run.reasons()["after"] ?? ""
        XCTAssertTrue(reason.contains("not the driver's") && reason.contains("do not rebuild it during a run"), reason)
        XCTAssertTrue(try run.lock()["after"]?.outputs.isEmpty ?? true, "nothing published for the refused stage")
    }

    /// A stand-in for a training loop: `steps` steps, its state (step, running sum of squares) saved in the
    /// stage's checkpoint directory after each, so a new attempt continues where the last one stopped.
    static func stepwise(_ name: String, steps: Int = 30, secondsPerStep: String = "0.2", resources: String? = nil) -> String {
        """
        pipeline: \(name)
        stages:
          train:
            kind: command\(resources.map { "\n    resources: \($0)" } ?? "")
            params:
              run: |
                state="$MASKNET_CHECKPOINT_DIR/state"
                step=0; sum=0
                if [ -f "$state" ]; then read step sum < "$state"; echo "resumed after step $step"; fi
                while [ "$step" -lt \(steps) ]; do
                  step=$((step + 1)); sum=$((sum + step * step))
                  echo "$step $sum" > "$state.tmp" && mv "$state.tmp" "$state"
                  sleep \(secondsPerStep)
                done
                echo "$sum" > result.txt
              outputs: [result.txt]
        """
    }

    /// Starts the stepwise stage on Slurm and returns the driver and the running job's id.
    func startStepwise(_ name: String) throws -> (MasknetProcess, String, String) {
        let pipeline = try write("\(name).yaml", SlurmRunTests.stepwise(name))
        let store = workspace.appendingPathComponent("store").path
        let driver = try MasknetProcess.start(["run", pipeline, "--store", store, "--executor", "slurm", "--profile",
                                               workspace.appendingPathComponent("profile.yaml").path], in: workspace)
        return (driver, try SlurmTestCluster.runningJob(of: name, stage: "train"), store)
    }

    /// The stage's result and how many jobs ran it.
    func stepwiseOutcome(_ store: String) throws -> (result: String, jobs: Int) {
        let run = try RunFolder.latest(in: store)
        let jobs = try run.accounting()["jobs"] as? [[String: Any]] ?? []
        let digest = try run.lock()["train"]?.outputs["result.txt"] ?? ""
        let object = try ArtifactStore(root: URL(fileURLWithPath: store)).objectURL(digest)
        let text = (try? String(contentsOf: object, encoding: .utf8)) ?? ""
        return (text.trimmingCharacters(in: .whitespacesAndNewlines), jobs.filter { $0["stage"] as? String == "train" }.count)
    }

    func testScontrolRequeueIsRefusedForOurJobsSoOnlyMasknetResubmits() throws {
        let name = "slurm-requeue-\(UUID().uuidString.prefix(6).lowercased())"
        let (driver, jobID, store) = try startStepwise(name)
        let client = try SlurmTestCluster.client()
        let requeue = try client.commandLine.run("scontrol", ["requeue", jobID])
        XCTAssertFalse(requeue.succeeded, "jobs carry --no-requeue")
        XCTAssertTrue(requeue.error.contains("disabled"), requeue.error)
        let result = driver.wait(timeout: 120)
        XCTAssertEqual(result.status, 0, result.error)
        let outcome = try stepwiseOutcome(store)
        XCTAssertEqual(outcome.jobs, 1, "no duplicate job")
        XCTAssertEqual(outcome.result, "9455")
    }

    func testScancelOfARunningJobFailsTheStageWithCancelledAndTheLogTail() throws {
        let name = "slurm-cancel-\(UUID().uuidString.prefix(6).lowercased())"
        let pipeline = try write("cancel.yaml", """
            pipeline: \(name)
            stages:
              slow:
                kind: command
                params:
                  run: sleep 300
                  outputs: [never.txt]
            """)
        let store = workspace.appendingPathComponent("store").path
        let driver = try MasknetProcess.start(["run", pipeline, "--store", store, "--executor", "slurm", "--profile",
                                               workspace.appendingPathComponent("profile.yaml").path], in: workspace)
        let jobID = try SlurmTestCluster.runningJob(of: name, stage: "slow")
        _ = try SlurmTestCluster.client().commandLine.run("scancel", [jobID])
        let result = driver.wait(timeout: 90)
        XCTAssertEqual(result.status, 1, result.error)
        let run = try RunFolder.latest(in: store)
        let reason = try run.reasons()["slow"] ?? ""
        XCTAssertTrue(reason.contains("CANCELLED"), reason)
        XCTAssertTrue(reason.contains("Slurm job \(jobID)"), reason)
        XCTAssertTrue(reason.contains("*** JOB \(jobID) ON"), "the log tail: \(reason)")
    }

    func testSIGINTToTheDriverLeavesNoJobOfTheRunInTheQueue() throws {
        let name = "slurm-sigint-\(UUID().uuidString.prefix(6).lowercased())"
        let pipeline = try write("sigint.yaml", """
            pipeline: \(name)
            stages:
              slow:
                kind: command
                matrix:
                  env.N: ["1", "2", "3", "4", "5", "6"]
                params:
                  run: sleep 300
                  outputs: [never.txt]
            """)
        let store = workspace.appendingPathComponent("store").path
        let driver = try MasknetProcess.start(["run", pipeline, "--store", store, "--executor", "slurm", "--jobs", "10", "--profile",
                                               workspace.appendingPathComponent("profile.yaml").path], in: workspace)
        let client = try SlurmTestCluster.client()
        // The six stage jobs, queued or running (the run's probe job has ended by then).
        try SlurmTestCluster.wait(seconds: 60, "the run's jobs to be queued") {
            try client.allJobs().filter { $0.name.contains(name) && !$0.state.isTerminal }.count == 6
        }
        kill(driver.process.processIdentifier, SIGINT)
        let result = driver.wait(timeout: 60)
        XCTAssertEqual(result.status, 130, result.error)
        XCTAssertTrue(result.error.contains("scancel"), result.error)
        let left = try client.allJobs().filter { $0.name.contains(name) && !$0.state.isTerminal }
        XCTAssertEqual(left, [], "jobs of the run still queued or running after SIGINT")
        XCTAssertEqual(Set(try RunFolder.latest(in: store).statuses().values), ["interrupted"])
    }

    func testAStageOverItsMemoryLimitIsReportedOutOfMemory() throws {
        let name = "slurm-oom-\(UUID().uuidString.prefix(6).lowercased())"
        // dash keeps a command substitution's whole output in memory: ~400 MB against a 64 MB limit.
        let pipeline = try write("oom.yaml", """
            pipeline: \(name)
            stages:
              greedy:
                kind: command
                resources: {mem: 64M}
                params:
                  run: |
                    x=$(head -c 400000000 /dev/zero | tr '\\0' a)
                    sleep 20
                    echo "${#x}" > size.txt
                  outputs: [size.txt]
            """)
        let store = workspace.appendingPathComponent("store").path
        let result = try MasknetProcess.run(["run", pipeline, "--store", store, "--executor", "slurm", "--profile",
                                             workspace.appendingPathComponent("profile.yaml").path], in: workspace, timeout: 120)
        XCTAssertEqual(result.status, 1, result.error)
        let reason = try RunFolder.latest(in: store).reasons()["greedy"] ?? ""
        XCTAssertTrue(reason.contains("OUT_OF_MEMORY"), reason)
    }
}

extension SlurmClient {
    /// Every job this user has in the cluster's memory (tests only: the executor always filters by name).
    func allJobs() throws -> [SlurmJobStatus] {
        let r = try commandLine.run("squeue", ["--noheader", "--array", "--states=all", "--me", "--format=\(SlurmClient.queueFormat)"])
        return SlurmClient.parseQueue(r.output)
    }
}

/// A run folder of a store, read as the tests need it.
struct RunFolder {
    let url: URL

    /// The run folders of a store.
    static func all(in store: String) -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: URL(fileURLWithPath: store).appendingPathComponent("runs").path)) ?? [])
    }

    /// The one run of a store that is not in `before` (run ids only have second resolution, so "newest" is
    /// ambiguous when runs start within one second).
    static func new(in store: String, before: Set<String>) throws -> RunFolder {
        let added = all(in: store).subtracting(before)
        guard added.count == 1, let id = added.first else { throw SlurmError(.rejected, "expected one new run in \(store), found \(added.sorted())") }
        return RunFolder(url: URL(fileURLWithPath: store).appendingPathComponent("runs/\(id)"))
    }

    /// The newest run of a store.
    static func latest(in store: String) throws -> RunFolder {
        let runs = URL(fileURLWithPath: store).appendingPathComponent("runs")
        let names = try FileManager.default.contentsOfDirectory(atPath: runs.path).sorted()
        guard let last = names.last else { throw SlurmError(.rejected, "no run in \(store)") }
        return RunFolder(url: runs.appendingPathComponent(last))
    }

    func json(_ name: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent(name))) as? [String: Any] ?? [:]
    }

    /// Stage → (key, outputs as digest strings) from lock.json.
    func lock() throws -> [String: (key: String, outputs: [String: String])] {
        var out: [String: (key: String, outputs: [String: String])] = [:]
        for (stage, value) in try json("lock.json")["stages"] as? [String: Any] ?? [:] {
            let v = value as? [String: Any] ?? [:]
            let outputs = (v["outputs"] as? [String: Any] ?? [:]).mapValues { (($0 as? [String: Any])?["digest"] as? String) ?? "" }
            out[stage] = (v["key"] as? String ?? "", outputs)
        }
        return out
    }

    /// Stage → status from run.json.
    func statuses() throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: (try json("run.json")["stages"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["status"] as? String ?? "") })
    }

    /// Stage → reason from run.json.
    func reasons() throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: (try json("run.json")["stages"] as? [[String: Any]] ?? []).map { ($0["name"] as? String ?? "", $0["reason"] as? String ?? "") })
    }

    /// slurm/accounting.json.
    func accounting() throws -> [String: Any] { try json("slurm/accounting.json") }
}

/// The masknet executable built next to the tests, run as a child process.
struct MasknetProcess {
    static var executable: URL {
        if let path = ProcessInfo.processInfo.environment["MASKNET_BINARY"] { return URL(fileURLWithPath: path) }
        return SlurmTestCluster.repositoryRoot.appendingPathComponent(".build/release/masknet")
    }

    let process: Process
    let output: URL
    let error: URL

    /// Starts masknet with SLURM_CONF set; output goes to files (read by `wait`).
    static func start(_ arguments: [String], in directory: URL, executable: URL = MasknetProcess.executable) throws -> MasknetProcess {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        for (k, v) in try SlurmTestCluster.environment() { env[k] = v }
        p.environment = env
        let id = UUID().uuidString.prefix(8)
        let out = directory.appendingPathComponent("masknet-\(id).out"), err = directory.appendingPathComponent("masknet-\(id).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return MasknetProcess(process: p, output: out, error: err)
    }

    /// Waits (killing it after `timeout` seconds) and returns status and output.
    func wait(timeout: Double) -> (status: Int32, output: String, error: String) {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(100_000) }
        if process.isRunning { process.interrupt(); usleep(2_000_000); if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        process.waitUntilExit()
        let o = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        let e = (try? String(contentsOf: error, encoding: .utf8)) ?? ""
        return (process.terminationStatus, o, e)
    }

    /// Runs masknet to completion.
    static func run(_ arguments: [String], in directory: URL, timeout: Double = 180,
                    executable: URL = MasknetProcess.executable) throws -> (status: Int32, output: String, error: String) {
        try start(arguments, in: directory, executable: executable).wait(timeout: timeout)
    }
}
