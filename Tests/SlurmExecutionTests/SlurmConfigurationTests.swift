import Foundation
import PipelineEngine
import XCTest
@testable import SlurmExecution

/// Resources, profiles, array splitting, retry classification and the poll schedule: pure logic, no Slurm.
final class SlurmConfigurationTests: XCTestCase {
    func testMemoryAndTimeFollowSlurmSyntax() {
        XCTAssertEqual(StageResources.parseMemory("16G"), 16384)
        XCTAssertEqual(StageResources.parseMemory("512M"), 512)
        XCTAssertEqual(StageResources.parseMemory("1.5GB"), 1536)
        XCTAssertEqual(StageResources.parseMemory("2048"), 2048)
        XCTAssertNil(StageResources.parseMemory("lots"))
        XCTAssertNil(StageResources.parseMemory("-1G"))
        XCTAssertEqual(StageResources.parseTime("12:00:00"), 720)
        XCTAssertEqual(StageResources.parseTime("1-00:00:00"), 1440)
        XCTAssertEqual(StageResources.parseTime("2-03"), 2 * 1440 + 180)
        XCTAssertEqual(StageResources.parseTime("30"), 30)
        XCTAssertEqual(StageResources.parseTime("1:30"), 2, "seconds round up to a minute")
        XCTAssertNil(StageResources.parseTime("soon"))
        XCTAssertNil(StageResources.parseTime("0"))
        XCTAssertEqual(StageResources.formatTime(minutes: 1441), "1-00:01:00")
        XCTAssertEqual(StageResources.formatTime(minutes: 90), "01:30:00")
    }

    func testResourcesBlockBecomesSbatchOptions() throws {
        let r = try StageResources(mapping: ["cpus": 8, "mem": "16G", "time": "12:00:00", "gpus": 1, "partition": "gpu",
                                             "account": "lab", "qos": "long", "constraint": "a100", "extra": ["--exclusive"]],
                                   origin: "p.yaml: stages.train.resources")
        XCTAssertEqual(r.sbatchOptions(gpuSpelling: .gres),
                       ["--cpus-per-task=8", "--mem=16384M", "--time=12:00:00", "--gres=gpu:1", "--partition=gpu",
                        "--account=lab", "--qos=long", "--constraint=a100", "--exclusive"])
        XCTAssertTrue(r.sbatchOptions(gpuSpelling: .gpus).contains("--gpus=1"))
    }

    func testBadResourcesNameTheKeyAndWhatToWrite() {
        XCTAssertThrowsError(try StageResources(mapping: ["memory": "4G"], origin: "p.yaml: stages.t.resources")) { e in
            XCTAssertTrue("\(e)".contains("p.yaml: stages.t.resources: unknown resource 'memory' (did you mean 'mem'?)"), "\(e)")
        }
        XCTAssertThrowsError(try StageResources(mapping: ["time": "forever"], origin: "p.yaml: stages.t.resources")) { e in
            XCTAssertTrue("\(e)".contains("stages.t.resources.time"), "\(e)")
        }
        XCTAssertThrowsError(try StageResources(mapping: ["extra": ["exclusive"]], origin: "x")) { e in
            XCTAssertTrue("\(e)".contains("not an sbatch option"), "\(e)")
        }
    }

    func testProfileLayersResourcesStageOverWorkloadOverSiteOverBuiltIn() throws {
        let profile = try SlurmProfile(yaml: """
            executor: slurm
            account: lab
            partition: cpu
            gpu_spelling: gpus
            poll: {initial_seconds: 0.5, max_seconds: 20, growth: 2}
            resources:
              training: {mem: 32G, partition: long}
            """, file: "site.yaml")
        XCTAssertEqual(profile.executor, "slurm")
        XCTAssertEqual(profile.gpuSpelling, .gpus)
        XCTAssertEqual(profile.poll, PollSchedule(initialSeconds: 0.5, maxSeconds: 20, growth: 2))
        let training = profile.resources(for: .training, stage: StageResources(cpus: 8))
        XCTAssertEqual(training.cpus, 8)
        XCTAssertEqual(training.memoryMiB, 32768)
        XCTAssertEqual(training.partition, "long")
        XCTAssertEqual(training.account, "lab")
        XCTAssertEqual(training.timeMinutes, SlurmProfile.builtInResources(.training).timeMinutes)
        let cheap = profile.resources(for: .cheap, stage: StageResources())
        XCTAssertEqual(cheap.partition, "cpu")
        XCTAssertLessThan(cheap.memoryMiB!, training.memoryMiB!)
        XCTAssertGreaterThan(SlurmProfile.builtInResources(.training).timeMinutes!, SlurmProfile.builtInResources(.evaluation).timeMinutes!)
    }

    func testProfileErrorsNameFileAndKey() {
        XCTAssertThrowsError(try SlurmProfile(yaml: "acount: lab\n", file: "site.yaml")) { e in
            XCTAssertTrue("\(e)".contains("site.yaml: unknown setting 'acount' (did you mean 'account'?)"), "\(e)")
        }
        XCTAssertThrowsError(try SlurmProfile(yaml: "gpu_spelling: cuda\n", file: "site.yaml")) { e in
            XCTAssertTrue("\(e)".contains("site.yaml: gpu_spelling"), "\(e)")
        }
        XCTAssertThrowsError(try SlurmProfile(yaml: "poll: {initial_seconds: 10, max_seconds: 1}\n", file: "site.yaml")) { e in
            XCTAssertTrue("\(e)".contains("poll.max_seconds"), "\(e)")
        }
        XCTAssertThrowsError(try SlurmProfile(yaml: "resources: {gpu_heavy: {cpus: 1}}\n", file: "site.yaml")) { e in
            XCTAssertTrue("\(e)".contains("resources.gpu_heavy: unknown workload"), "\(e)")
        }
        XCTAssertNoThrow(try SlurmProfile(yaml: "", file: "empty.yaml"))
    }

    /// The profile's JSON Schema and the parser accept the same keys.
    func testProfileSchemaListsExactlyTheParsedKeys() throws {
        let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Schemas/slurm-profile.schema.json")
        let schema = try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as! [String: Any]
        XCTAssertEqual(schema["additionalProperties"] as? Bool, false)
        let properties = schema["properties"] as! [String: Any]
        XCTAssertEqual(Set(properties.keys), Set(SlurmProfile.keys))
        let defs = schema["$defs"] as! [String: Any]
        let resources = (defs["resources"] as! [String: Any])["properties"] as! [String: Any]
        XCTAssertEqual(Set(resources.keys), Set(StageResources.keys))
    }

    func testArraysSplitByIndexNotOnlyByCount() {
        let plan = JobArrayPlan(count: 2500, maxArraySize: 1001)
        XCTAssertEqual(plan.chunks.map(\.offset), [0, 1001, 2002])
        XCTAssertEqual(plan.chunks.map(\.count), [1001, 1001, 498])
        XCTAssertEqual(plan.chunks[1].arrayOption(parallelism: 50), "--array=0-1000%50")
        XCTAssertEqual(plan.chunks[2].arrayOption(parallelism: 0), "--array=0-497")
        XCTAssertEqual(JobArrayPlan(count: 0, maxArraySize: 8).chunks, [])
        XCTAssertEqual(JobArrayPlan(count: 3, maxArraySize: 8).chunks, [.init(offset: 0, count: 3)])
    }

    func testTransientErrorsAreRetriedAndLimitsNamed() {
        XCTAssertTrue(SubmissionRetry.isTransient("sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"))
        XCTAssertTrue(SubmissionRetry.isTransient("sbatch: error: Slurm temporarily unable to accept job, sleeping and retrying"))
        XCTAssertFalse(SubmissionRetry.isTransient("sbatch: error: Batch job submission failed: Invalid qos specification"))
        XCTAssertEqual(SubmissionRetry.limit(in: "sbatch: error: QOSMaxSubmitJobPerUserLimit"), "QOSMaxSubmitJobPerUserLimit")
        XCTAssertEqual(SubmissionRetry.limit(in: "sbatch: error: Batch job submission failed: Invalid qos specification"), "Invalid qos specification")
        var rng = SeededGenerator(seed: 7)
        let policy = SubmissionRetry(maxRetries: 6, baseDelaySeconds: 1, maxDelaySeconds: 8)
        let delays = (0..<6).map { policy.delay(beforeRetry: $0, using: &rng) }
        for (i, d) in delays.enumerated() {
            let nominal = min(8, pow(2, Double(i)))
            XCTAssertGreaterThanOrEqual(d, 0.5 * nominal)
            XCTAssertLessThan(d, 1.5 * nominal)
        }
        XCTAssertEqual(Set(delays.map { ($0 * 1e6).rounded() }).count, 6, "jitter makes every delay distinct")
    }

    func testPollScheduleBacksOffAndCaps() {
        let s = PollSchedule(initialSeconds: 1, maxSeconds: 10, growth: 2)
        XCTAssertEqual((0..<6).map { s.interval(afterQuietPolls: $0) }, [1, 2, 4, 8, 10, 10])
        XCTAssertEqual(s.maximumQueries(overSeconds: 60), 61)
    }

    func testQueueRowsParse() {
        let rows = SlurmClient.parseQueue("""
            17|15|2|RUNNING|None|node7|2026-12-07T05:21:35|2026-12-07T05:21:37|1:02|mn-run1
            15|15|3|PENDING|Resources||2026-12-07T05:21:35|N/A|0:00|mn-run1
            20|20|N/A|OUT_OF_MEMORY|OutOfMemory|node2|2026-12-07T05:21:35|2026-12-07T05:21:36|1-02:03:04|mn|x
            """)
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows[0].startTime!.timeIntervalSince(rows[0].submitTime!), 2)
        XCTAssertEqual(rows[0].timeUsedSeconds, 62)
        XCTAssertNil(rows[1].startTime)
        XCTAssertEqual(rows[2].timeUsedSeconds, 93784.0, "1 day 2 h 3 min 4 s")
        XCTAssertEqual(rows[2].name, "mn|x")
        XCTAssertEqual(rows[0].arrayIndex, 2)
        XCTAssertTrue(rows[0].state.isRunning)
        XCTAssertTrue(rows[1].state.isQueued)
        XCTAssertNil(rows[2].arrayIndex)
        XCTAssertTrue(rows[2].state.isTerminal)
        XCTAssertEqual(SlurmJobState(rawValue: "CANCELLED by 0"), .cancelled)
    }

    func testSstatMemoryParsesAndTakesTheLargestStep() {
        let peaks = SlurmClient.parsePeakMemory("12.batch|63956K\n12.0|1.5G\n13.batch|0\n14.extern|2M\n")
        XCTAssertEqual(peaks["12"], Int(1.5 * 1_073_741_824))
        XCTAssertEqual(peaks["13"], 0)
        XCTAssertEqual(peaks["14"], 2 * 1_048_576)
        XCTAssertEqual(SlurmClient.parseMemory("100"), 102_400, "a bare number is KiB")
        XCTAssertNil(SlurmClient.parseMemory(""))
    }

    func testPendingReasonsThatNeverClearAreToldFromOnesThatDo() {
        for r in ["PartitionTimeLimit", "PartitionNodeLimit", "QOSMaxWallDurationPerJobLimit", "AssocMaxCpuPerJobLimit", "InvalidQOS"] {
            XCTAssertTrue(SlurmJobState.isPermanentLimit(reason: r), r)
        }
        for r in ["Resources", "Priority", "PartitionConfig", "QOSMaxJobsPerUserLimit", "AssocGrpCPULimit", "Dependency", "None"] {
            XCTAssertFalse(SlurmJobState.isPermanentLimit(reason: r), r)
        }
    }

    func testKeyValueOutputOfScontrolParses() {
        let kv = SlurmClient.parseKeyValues("JobId=12 JobName=mn x JobState=FAILED Reason=NonZeroExitCode ExitCode=1:0 NodeList=vm StdOut=/tmp/a b.log")
        XCTAssertEqual(kv["JobName"], "mn x")
        XCTAssertEqual(kv["JobState"], "FAILED")
        XCTAssertEqual(kv["StdOut"], "/tmp/a b.log")
    }
}

/// SplitMix64, so jitter tests are reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
