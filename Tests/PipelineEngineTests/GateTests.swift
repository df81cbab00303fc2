import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

/// A test kind whose metric moves with its seed, like a training run: `value = level + spread · (u − ½)`
/// with u in [0, 1) taken from the seed; `accuracy` is the same number and `slices` its trial count.
struct NoisyKind: StageKind {
    var name: String { "noisy" }
    var version: String { "1" }
    var summary: String { "Test kind: a seeded metric around a level." }
    var parameters: [ParameterSpec] {
        [
            ParameterSpec("level", .number, default: 0.5, description: "Centre of the metric."),
            ParameterSpec("spread", .number, default: 0.0, minimum: 0, description: "Width of the seeded noise."),
            ParameterSpec("trials", .integer, default: 100, minimum: 1, description: "Slices behind accuracy."),
        ]
    }
    var inputSlots: [InputSlot] { [InputSlot("source", description: "Anything.", optional: true)] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["out"] }
    var determinism: Determinism { .seeded }
    var reportedMetrics: [String] { ["value", "accuracy", "slices"] }

    static func value(level: Double, spread: Double, seed: UInt64) -> Double {
        level + spread * (Double(seed % 10_007) / 10_007 - 0.5)
    }

    func execute(_ context: StageContext) throws -> StageResult {
        let v = NoisyKind.value(level: context.parameters.double("level"), spread: context.parameters.double("spread"), seed: UInt64(context.seed))
        try "\(v)\n".write(to: context.outputURL("out"), atomically: false, encoding: .utf8)
        return StageResult(metrics: ["value": v, "accuracy": min(1, max(0, v)), "slices": Double(context.parameters.int("trials"))])
    }
}

/// Seed replicates, aggregate gates over a swept stage's cells and baseline gates.
final class GateTests: XCTestCase {
    func workspace() throws -> Workspace {
        let ws = try Workspace()
        ws.kinds.append(NoisyKind())
        return ws
    }

    func replicated(_ n: Int, expect: String = "{}", level: Double = 0.5, spread: Double = 0.1) -> String {
        """
        pipeline: t
        seed: 7
        stages:
          train:
            kind: noisy
            replicates: \(n)
            params: {level: \(level), spread: \(spread)}
            expect: \(expect)
          eval:
            kind: scale
            inputs: {source: train.out}
            params: {steps: 1}
        """
    }

    func testReplicatesAreCellsWithStableNamesAndDerivedSeeds() throws {
        let ws = try workspace()
        let g = try ws.graph(replicated(3))
        XCTAssertEqual(g.stages.filter { $0.baseName == "train" }.map(\.name), ["train[replicate=1]", "train[replicate=2]", "train[replicate=3]"])
        XCTAssertEqual(g.stages.filter { $0.baseName == "eval" }.map(\.name), ["eval[replicate=1]", "eval[replicate=2]", "eval[replicate=3]"])
        XCTAssertEqual(g["eval[replicate=2]"]!.inputs["source"], .output(stage: "train[replicate=2]", output: "out"))
        let seeds = (1...3).map { g["train[replicate=\($0)]"]!.seed }
        XCTAssertEqual(Set(seeds).count, 3, "every replicate has its own seed")
        XCTAssertEqual(seeds[1], PipelineGraph.deriveSeed(7, stage: "train", replicate: 2))
        XCTAssertNotEqual(seeds[0], PipelineGraph.deriveSeed(7, stage: "train"), "replicate seeds differ from the unreplicated stage's")
        // Independent of N, and of the pipeline seed.
        let g5 = try ws.graph(replicated(5))
        XCTAssertEqual((1...3).map { g5["train[replicate=\($0)]"]!.seed }, seeds)
        let other = try ws.graph(replicated(3), overrides: ["seed=8"])
        XCTAssertNotEqual(other["train[replicate=1]"]!.seed, seeds[0])
        XCTAssertNil(g["train[replicate=1]"]!.parameters["replicate"], "the replicate index is no parameter: only the seed differs")
    }

    func testReplicatesFromTheCommandLine() throws {
        let ws = try workspace()
        // `--set train.replicates=4` replicates a stage the file runs 3 times (or once) with the same derived seeds.
        let g = try ws.graph(replicated(3), overrides: ["train.replicates=4"])
        XCTAssertEqual(g.stages.filter { $0.baseName == "train" }.map(\.name), (1...4).map { "train[replicate=\($0)]" })
        XCTAssertEqual(g["train[replicate=2]"]!.seed, PipelineGraph.deriveSeed(7, stage: "train", replicate: 2))
        let once = replicated(3).replacingOccurrences(of: "    replicates: 3\n", with: "")
        XCTAssertEqual(try ws.graph(once).stages.filter { $0.baseName == "train" }.map(\.name), ["train"])
        XCTAssertEqual(try ws.graph(once, overrides: ["train.replicates=2"]).stages.filter { $0.baseName == "eval" }.map(\.name),
                       ["eval[replicate=1]", "eval[replicate=2]"])
        // Bad counts are reported at the --set text, like every override.
        for bad in ["0", "2.5", "many", "1001"] {
            let d = ws.diagnostics(replicated(3), overrides: ["train.replicates=\(bad)"])
            XCTAssertEqual(d.count, 1, "\(bad): \(d)")
            XCTAssertEqual(d.first?.location.file, "--set train.replicates=\(bad)")
            XCTAssertEqual(d.first?.keyPath, "stages.train.replicates")
            XCTAssertTrue(d.first?.message.contains("replicates is a whole number of seeded runs from 1 to 1000") ?? false, "\(d)")
        }
        let unknown = ws.diagnostics(replicated(3), overrides: ["trian.replicates=2"]).map(\.message)
        XCTAssertTrue(unknown.contains { $0.contains("trian") && $0.contains("train") }, "\(unknown)")
    }

    /// A stage whose seed is swept: `matrix: {seed: [...]}` alone or with another axis.
    func seeded(_ matrix: String, expect: String = "{}") -> String {
        """
        pipeline: t
        seed: 7
        stages:
          train:
            kind: noisy
            params: {spread: 0.1}
            matrix: \(matrix)
            expect: \(expect)
          eval:
            kind: scale
            inputs: {source: train.out}
            params: {steps: 1}
        """
    }

    func testSeedAxisCellsUseTheirValueAsTheStageSeed() throws {
        let ws = try workspace()
        let g = try ws.graph(seeded("{seed: [11, 3, 5]}"))
        XCTAssertEqual(g.stages.filter { $0.baseName == "train" }.map(\.name), ["train[seed=11]", "train[seed=3]", "train[seed=5]"])
        XCTAssertEqual(g["train[seed=3]"]!.seed, 3)
        XCTAssertNil(g["train[seed=3]"]!.parameters["seed"], "the seed is no parameter of the kind")
        // Downstream follows cell by cell, seeded from the cell's value, and independent of the pipeline seed.
        XCTAssertEqual(g["eval[seed=3]"]!.inputs["source"], .output(stage: "train[seed=3]", output: "out"))
        XCTAssertEqual(g["eval[seed=3]"]!.seed, PipelineGraph.deriveSeed(3, stage: "eval"))
        let other = try ws.graph(seeded("{seed: [11, 3, 5]}"), overrides: ["seed=8"])
        XCTAssertEqual(other["train[seed=3]"]!.seed, 3)
        // Combined with another axis and with include:/exclude:.
        let both = try ws.graph(seeded("{seed: [1, 2], level: [0.4, 0.6], exclude: [{seed: 2, level: 0.6}], include: [{seed: 9, level: 0.5}]}"))
        XCTAssertEqual(both.stages.filter { $0.baseName == "train" }.map(\.name),
                       ["train[level=0.4,seed=1]", "train[level=0.4,seed=2]", "train[level=0.6,seed=1]", "train[level=0.5,seed=9]"])
        XCTAssertEqual(both["train[level=0.5,seed=9]"]!.seed, 9)
        XCTAssertEqual(both["train[level=0.5,seed=9]"]!.parameters["level"], .number(0.5))
    }

    func testSeedAxisCellsAreAggregatedLikeReplicates() throws {
        let ws = try workspace()
        let text = seeded("{seed: [1, 2, 3], level: [0.4, 0.6]}", expect: "{value: {mean: {min: 0.3}}}")
        let (r, _) = try ws.run(text)
        XCTAssertEqual(r.exitCode, RunExitCode.success, RunReports.verdictTable(r.verdicts))
        let aggregates = try XCTUnwrap(r.aggregateGates)
        XCTAssertEqual(aggregates.map(\.stage), ["train[level=0.4,seed=*]", "train[level=0.6,seed=*]"])
        let values = [1, 2, 3].map { NoisyKind.value(level: 0.6, spread: 0.1, seed: UInt64($0)) }
        XCTAssertEqual(aggregates[1].value!, ReplicateStatistics.mean(values), accuracy: 1e-12)
        XCTAssertEqual(aggregates[1].cells?.map(\.cell), ["train[level=0.6,seed=1]", "train[level=0.6,seed=2]", "train[level=0.6,seed=3]"])
        // Growing the seed list reuses the cells that were there.
        let (r2, _) = try ws.run(seeded("{seed: [1, 2, 3, 4], level: [0.4, 0.6]}", expect: "{value: {mean: {min: 0.3}}}"))
        XCTAssertEqual(r2.computed.count, 4, "only seed=4's train and eval cells run: \(r2.computed)")
    }

    func testSeedAxisDiagnostics() throws {
        let ws = try workspace()
        func messages(_ matrix: String, extra: String = "") -> [Diagnostic] {
            ws.diagnostics(seeded(matrix).replacingOccurrences(of: "    params: {spread: 0.1}\n", with: "    params: {spread: 0.1}\n\(extra)"))
        }
        let notInteger = messages("{seed: [1, two]}")
        XCTAssertEqual(notInteger.map(\.keyPath), ["stages.train.matrix.seed[1]"], "\(notInteger)")
        XCTAssertTrue(notInteger[0].message.contains("integer"), notInteger[0].message)
        XCTAssertEqual(messages("{seed: [1.5]}").map(\.keyPath), ["stages.train.matrix.seed[0]"])
        XCTAssertEqual(messages("{seed: [-1]}").map(\.keyPath), ["stages.train.matrix.seed[0]"])
        XCTAssertTrue(messages("{seed: [1, 1]}").contains { $0.message.contains("appears twice") })
        XCTAssertTrue(messages("{seed: []}").contains { $0.message.contains("non-empty list") })
        XCTAssertTrue(messages("{seed: [1, 2]}", extra: "    replicates: 2\n").contains { $0.message.contains("keep one") && $0.keyPath == "stages.train.matrix.seed" })
        XCTAssertTrue(messages("{seed: [1, 2]}", extra: "    seed: 4\n").contains { $0.message.contains("remove seed:") })
        XCTAssertTrue(messages("{seed: [1, 2], include: [{seed: x}]}").contains { $0.keyPath == "stages.train.matrix.include[0].seed" })
        let pipelineLevel = ws.diagnostics("""
        pipeline: t
        matrix: {seed: [1, 2]}
        stages:
          train: {kind: noisy}
        """)
        XCTAssertTrue(pipelineLevel.contains { $0.keyPath == "matrix.seed" && $0.message.contains("stages.NAME.matrix.seed") }, "\(pipelineLevel)")
    }

    func testGrowingReplicatesReusesTheCachedCells() throws {
        let ws = try workspace()
        let (r3, _) = try ws.run(replicated(3))
        XCTAssertEqual(r3.computed.count, 6)
        let (r5, _) = try ws.run(replicated(5))
        XCTAssertEqual(r5.cachedStages, Set((1...3).flatMap { ["train[replicate=\($0)]", "eval[replicate=\($0)]"] }))
        XCTAssertEqual(r5.computed, ["train[replicate=4]", "train[replicate=5]", "eval[replicate=4]", "eval[replicate=5]"])
    }

    func testAggregateGatesShowEveryCellAndTheStatistic() throws {
        let ws = try workspace()
        let text = replicated(4, expect: "{value: {min: 0.3, mean: {min: 0.45}, ci95_low: {min: 0.3}, std: {max: 0.2}, max: {max: 0.9}}}")
        let (r, _) = try ws.run(text)
        XCTAssertEqual(r.exitCode, RunExitCode.success, RunReports.verdictTable(r.verdicts))
        let g = try ws.graph(text)
        let values = (1...4).map { NoisyKind.value(level: 0.5, spread: 0.1, seed: g["train[replicate=\($0)]"]!.seed) }
        XCTAssertEqual(r.stages.flatMap(\.gates).count, 4, "the plain min applies to each replicate")
        let aggregates = try XCTUnwrap(r.aggregateGates)
        XCTAssertEqual(aggregates.map(\.condition), ["mean ≥ 0.45", "max ≤ 0.9", "std ≤ 0.2", "ci95_low ≥ 0.3"])
        XCTAssertEqual(Set(aggregates.map(\.stage)), ["train[replicate=*]"])
        XCTAssertEqual(aggregates[0].value!, ReplicateStatistics.mean(values), accuracy: 1e-12)
        XCTAssertEqual(aggregates[0].cells?.map(\.value), values)
        XCTAssertEqual(aggregates[3].value!, ReplicateStatistics.studentInterval95(values)!.low, accuracy: 1e-12)
        let table = RunReports.verdictTable(r.verdicts)
        XCTAssertTrue(table.contains("train[replicate=*]"), table)
        XCTAssertTrue(table.contains("over train[replicate=1] "), table)
        XCTAssertTrue(table.contains("Student t 95 %"), table)
        let junit = RunReports.junit(r)
        XCTAssertTrue(junit.contains("classname=\"t.aggregate-gates\" name=\"train[replicate=*]: value mean ≥ 0.45\""), junit)
        let report = try String(contentsOf: try ws.store().runFolder(r.id).appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(report.contains("ci95_low ≥ 0.3"), report)
    }

    func testFailingAggregateGateFailsTheRun() throws {
        let ws = try workspace()
        // Each replicate (0.35 … 0.65) passes min 0.3; the interval's lower end, at most the largest value, is below 0.66.
        let (r, _) = try ws.run(replicated(3, expect: "{value: {min: 0.3, ci95_low: {min: 0.66}}}", spread: 0.3))
        XCTAssertEqual(r.exitCode, RunExitCode.gateFailed)
        XCTAssertTrue(r.stages.flatMap(\.gates).allSatisfy(\.passed))
        let v = try XCTUnwrap(r.aggregateGates?.first)
        XCTAssertFalse(v.passed)
        XCTAssertTrue(v.message.hasPrefix("ci95_low ") && v.message.contains("< min 0.66"), v.message)
        XCTAssertTrue(RunReports.junit(r).contains("<failure message=\"ci95_low"))
    }

    func testStatisticsThatNeedTwoCellsFailOnOne() throws {
        let ws = try workspace()
        let (r, _) = try ws.run(replicated(1, expect: "{value: {mean: {min: 0.1}, std: {max: 1}}}"))
        let v = try XCTUnwrap(r.aggregateGates)
        XCTAssertTrue(v[0].passed, "a mean of one cell is its value")
        XCTAssertFalse(v[1].passed)
        XCTAssertTrue(v[1].message.contains("needs at least 2 cells"), v[1].message)
    }

    func testWilsonIntervalPoolsTheTrials() throws {
        let ws = try workspace()
        let (r, _) = try ws.run(replicated(3, expect: "{accuracy: {wilson95_low: {min: 0.5}, trials: slices}}", level: 0.9, spread: 0.04))
        let g = try ws.graph(replicated(3, level: 0.9, spread: 0.04))
        let successes = (1...3).map { (NoisyKind.value(level: 0.9, spread: 0.04, seed: g["train[replicate=\($0)]"]!.seed) * 100).rounded() }.reduce(0, +)
        let v = try XCTUnwrap(r.aggregateGates?.first)
        XCTAssertEqual(v.value!, ReplicateStatistics.wilsonInterval95(successes: successes, trials: 300)!.low, accuracy: 1e-12)
        XCTAssertTrue(v.detail!.contains("of 300 slices"), v.detail!)
        XCTAssertTrue(v.passed)
    }

    func testBaselineGateCatchesARealDropAndPassesTheSameCode() throws {
        let ws = try workspace()
        let gate = "{value: {no_worse_than: baseline, margin: 0.02}}"
        let (base, _) = try ws.run(replicated(3, expect: "{}", level: 0.6, spread: 0.02))
        let file = ws.root.appendingPathComponent("baseline.json")
        try MetricsSnapshot(run: base).encoded().write(to: file)
        var options = RunOptions()
        options.baseline = try MetricsSnapshot.load(file)

        // Same code, same seeds: no change, passes.
        let (same, _) = try ws.run(replicated(3, expect: gate, level: 0.6, spread: 0.02), options: options)
        XCTAssertEqual(same.exitCode, RunExitCode.success, RunReports.verdictTable(same.verdicts))
        // A real drop of 0.1 with replicates that agree to 0.02: a regression, with the numbers behind it.
        let (drop, _) = try ws.run(replicated(3, expect: gate, level: 0.5, spread: 0.02), options: options)
        XCTAssertEqual(drop.exitCode, RunExitCode.gateFailed)
        let v = try XCTUnwrap(drop.aggregateGates?.first)
        XCTAssertTrue(v.message.contains("→ regression") && v.message.contains("Welch one-sided t"), v.message)
        XCTAssertEqual(v.reference!, ReplicateStatistics.mean(base.stages.filter { $0.baseName == "train" }.map { $0.metrics["value"]! }), accuracy: 1e-12)
        // (A drop inside the noise is StatisticsTests.testDropInsideTheNoisePasses, with explicit values.)
        // Without --baseline the gate fails and says how to give one.
        let (none, _) = try ws.run(replicated(3, expect: gate, level: 0.6, spread: 0.02))
        XCTAssertTrue(none.aggregateGates!.first!.message.contains("--baseline"))
        // metrics diff shows the same comparison.
        let diff = AggregateGates.diffTable(MetricsSnapshot(run: base), MetricsSnapshot(run: drop), margin: 0.02)
        XCTAssertTrue(diff.contains("| train[replicate=*] | value |") && diff.contains("**regression**"), diff)
    }

    func testMetricsFileErrorsNameTheFile() throws {
        let ws = try workspace()
        let bad = try ws.write("{\"format\": \"something\"}", name: "bad.json")
        XCTAssertThrowsError(try MetricsSnapshot.load(bad)) { e in
            XCTAssertTrue("\(e)".contains("bad.json") && "\(e)".contains("metrics export"), "\(e)")
        }
        XCTAssertThrowsError(try MetricsSnapshot.resolve("no-such-run", store: try ws.store())) { e in
            XCTAssertTrue("\(e)".contains("neither a metrics file nor a run"), "\(e)")
        }
    }

    func testDiagnosticsForTheNewForms() throws {
        let ws = try workspace()
        func messages(_ expect: String, replicates: String = "3") -> [String] {
            ws.diagnostics(replicated(3, expect: expect).replacingOccurrences(of: "replicates: 3", with: "replicates: \(replicates)")).map(\.message)
        }
        XCTAssertTrue(messages("{}", replicates: "0").contains { $0.contains("replicates is a whole number") })
        XCTAssertTrue(messages("{value: {mean: 0.3}}").contains { $0.contains("give its bounds as a mapping, e.g. mean: {min: 0.3}") })
        XCTAssertTrue(messages("{value: {margin: 0.1}}").contains { $0.contains("add no_worse_than: baseline") })
        XCTAssertTrue(messages("{value: {no_worse_than: main}}").contains { $0.contains("write no_worse_than: baseline") })
        XCTAssertTrue(messages("{accuracy: {wilson95_low: {min: 0.8}}}").contains { $0.contains("trials: slices") })
        XCTAssertTrue(messages("{accuracy: {wilson95_low: {min: 0.8}, trials: slice}}").contains { $0.contains("did you mean 'slices'") })
        XCTAssertTrue(messages("{value: {meen: {min: 0.3}}}").contains { $0.contains("meen") && $0.contains("mean") })
        XCTAssertTrue(messages("{value: {mean: {min: 0.3, ci95_low: 2}}}").contains { $0.contains("ci95_low") })
        let nested = ws.diagnostics("""
        pipeline: t
        stages:
          a: {kind: noisy, replicates: 2}
          b: {kind: noisy, replicates: 2, inputs: {source: a.out}}
        """).map(\.message)
        XCTAssertTrue(nested.contains { $0.contains("already replicated") }, "\(nested)")
    }
}
