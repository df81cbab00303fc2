import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

final class ExecutionTests: XCTestCase {
    let chain = chainPipeline

    func keys(_ ws: Workspace, _ text: String, overrides: [String] = []) throws -> [String: String] {
        let (r, _) = try ws.run(text, overrides: overrides)
        return Dictionary(uniqueKeysWithValues: r.stages.map { ($0.name, $0.key!) })
    }

    func testCacheHitMissAndKeyStability() throws {
        let ws = try Workspace()
        let (r1, _) = try ws.run(chain)
        XCTAssertEqual(r1.computed, ["a", "b", "c", "d"])
        XCTAssertEqual(r1.exitCode, 0)
        let (r2, _) = try ws.run(chain)
        XCTAssertEqual(r2.cachedStages, ["a", "b", "c", "d"])
        XCTAssertEqual(ws.counter.total, 4)

        // Reordering keys, maps and stages, and changing layout, changes no key.
        let reordered = """
        stages:
          d:
            inputs: {source: a}
            params: {steps: 4}
            kind: scale
          c: {params: {steps: 3}, kind: scale, inputs: {source: b.out}}
          b: {inputs: {source: a.out}, kind: scale, params: {steps: 2}}
          a:
            params:
              steps: 1
            kind: scale
        seed: 3
        pipeline: chain
        """
        let k1 = Dictionary(uniqueKeysWithValues: r1.stages.map { ($0.name, $0.key!) })
        XCTAssertEqual(try keys(ws, reordered), k1)
        XCTAssertEqual(ws.counter.total, 4)

        // Changing one parameter changes exactly that stage and what depends on it.
        let (r3, _) = try ws.run(chain, overrides: ["b.factor=2"])
        XCTAssertEqual(r3.computed, ["b", "c"])
        XCTAssertEqual(r3.cachedStages, ["a", "d"])
        // Writing the default explicitly is the same key (defaults are resolved before hashing).
        let (r4, _) = try ws.run(chain, overrides: ["b.factor=1.0", "c.mode=fast"])
        XCTAssertEqual(r4.computed, [])
        // The seed and the kind version are key components.
        let (r5, _) = try ws.run(chain, overrides: ["seed=4"])
        XCTAssertEqual(r5.computed, ["a", "b", "c", "d"])
        ws.kinds = [CommandStageKind(), ScaleKind(version: "2", counter: ws.counter)]
        let (r6, _) = try ws.run(chain)
        XCTAssertEqual(r6.computed, ["a", "b", "c", "d"])
        let plan = try Planner(store: try ws.store()).plan(try ws.graph(chain, overrides: ["c.steps=5"]))
        XCTAssertEqual(plan.map(\.willRun), [false, false, true, false])
        XCTAssertEqual(plan[2].reasons, ["params changed: steps (3 → 5)"])
    }

    func testPlanReasonsAndWhy() throws {
        let ws = try Workspace()
        try ws.run(chain)
        ws.kinds = [CommandStageKind(), ScaleKind(version: "2", counter: ws.counter)]
        let planner = Planner(store: try ws.store())
        let plan = try planner.plan(try ws.graph(chain), force: ["d"])
        XCTAssertEqual(plan[0].reasons, ["code version changed: 1 → 2"])
        XCTAssertTrue(plan[1].reasons[0].hasPrefix("input changed: upstream 'a' will run first"), "\(plan[1].reasons)")
        // No parameter changed: the recorded factor 1.0 reads back from JSON as 1, which is no change.
        XCTAssertEqual(plan[1].reasons.dropFirst(), ["code version changed: 1 → 2"])
        XCTAssertTrue(plan[3].reasons.contains("forced"))
        let (lastRun, rows, _) = try planner.why(try ws.graph(chain), stage: "a")
        XCTAssertNotNil(lastRun)
        XCTAssertEqual(rows.filter(\.changed).map(\.component), ["version"])
        XCTAssertEqual(rows.first { $0.component == "params.steps" }?.now, "1")
    }

    func testCorruptedAndMissingObjectsAreDetectedAndRecomputed() throws {
        let ws = try Workspace()
        let (r1, _) = try ws.run(chain)
        let store = try ws.store()
        let digest = r1.stage("b")!.outputs["out"]!.digest
        let url = store.objectURL(digest)
        chmod(url.path, 0o644)
        try "tampered\n".write(to: url, atomically: false, encoding: .utf8)
        let (r2, events) = try ws.run(chain)
        XCTAssertTrue(events.contains { if case .damaged(let s, let p) = $0 { return s == "b" && p.contains("corrupt") }; return false })
        XCTAssertEqual(r2.computed, ["b"])
        XCTAssertEqual(r2.stage("b")!.outputs["out"]!.digest, digest, "recomputed output is identical, so c stays cached")
        XCTAssertEqual(r2.stage("c")!.status, .cached)
        XCTAssertNil(store.verify(r2.stage("b")!.outputs["out"]!))

        unlink(store.objectURL(r2.stage("a")!.outputs["out"]!.digest).path)
        let (r3, ev3) = try ws.run(chain)
        XCTAssertTrue(ev3.contains { if case .damaged(let s, let p) = $0 { return s == "a" && p.contains("missing") }; return false })
        XCTAssertEqual(r3.computed, ["a"])
    }

    func testFailuresAreNeverCached() throws {
        let ws = try Workspace()
        let marker = ws.root.appendingPathComponent("fail-marker")
        try "x".write(to: marker, atomically: true, encoding: .utf8)
        let text = """
        pipeline: f
        stages:
          ok: {kind: command, params: {run: "echo hi > out", outputs: [out]}}
          flaky:
            kind: command
            params:
              run: |
                echo partial > out
                test ! -e "\(marker.path)"
              outputs: [out]
          after: {kind: command, inputs: {x: flaky.out}, params: {run: "cp $IN_x out", outputs: [out]}}
          missing: {kind: command, params: {run: "true", outputs: [never]}}
        """
        var options = RunOptions()
        options.keepGoing = true
        let (r1, _) = try ws.run(text, options: options)
        XCTAssertEqual(r1.exitCode, RunExitCode.stageFailed)
        XCTAssertEqual(r1.stage("flaky")!.status, .failed)
        XCTAssertTrue(r1.stage("flaky")!.reason!.contains("exited with status 1"), r1.stage("flaky")!.reason!)
        XCTAssertEqual(r1.stage("after")!.status, .skipped)
        XCTAssertEqual(r1.stage("missing")!.status, .failed)
        XCTAssertTrue(r1.stage("missing")!.reason!.contains("did not create its declared output 'never'"))
        XCTAssertEqual(r1.stage("ok")!.status, .computed)
        let store = try ws.store()
        XCTAssertNil(store.actionRecord(r1.stage("flaky")!.key!), "a failure must not be cached")
        let log = try String(contentsOf: store.runFolder(r1.id).appendingPathComponent(r1.stage("flaky")!.log!), encoding: .utf8)
        XCTAssertEqual(log, "", "the failed stage's log is kept in the run folder")
        unlink(marker.path)
        let (r2, _) = try ws.run(text, options: options)
        XCTAssertEqual(r2.stage("flaky")!.status, .computed)
        XCTAssertEqual(r2.stage("after")!.status, .computed)
        XCTAssertEqual(r2.stage("ok")!.status, .cached)
    }

    func testStopsSchedulingAfterFailureWithoutKeepGoing() throws {
        let ws = try Workspace()
        let text = """
        pipeline: s
        stages:
          bad: {kind: command, params: {run: "exit 2"}}
          later: {kind: scale, params: {steps: 1}}
        """
        let (r, _) = try ws.run(text)
        XCTAssertEqual(r.stage("bad")!.status, .failed)
        XCTAssertEqual(r.stage("later")!.status, .skipped)
        XCTAssertTrue(r.stage("later")!.reason!.contains("--keep-going"))
        XCTAssertEqual(ws.counter.total, 0)
    }

    /// Really kills a stage's process with SIGKILL mid-write, then checks the partial output was not
    /// taken for a result and the next run recomputes it.
    func testKilledStageLeavesNothingAndNextRunRecomputes() throws {
        let ws = try Workspace()
        let pidFile = ws.root.appendingPathComponent("pid")
        let hang = ws.root.appendingPathComponent("hang")
        try "x".write(to: hang, atomically: true, encoding: .utf8)
        let text = """
        pipeline: k
        stages:
          slow:
            kind: command
            params:
              run: |
                echo partial > out
                echo $$ > "\(pidFile.path)"
                if [ -e "\(hang.path)" ]; then sleep 30; fi
                echo complete >> out
              outputs: [out]
          next: {kind: command, inputs: {x: slow.out}, params: {run: "cp $IN_x out", outputs: [out]}}
        """
        let graph = try ws.graph(text)
        let store = try ws.store()
        let runner = PipelineRunner(store: store)
        let done = expectation(description: "run finished")
        let box = EventLog()
        nonisolated(unsafe) var record: RunRecord?
        Thread.detachNewThread {
            record = try? runner.run(graph, options: RunOptions(), events: { box.add($0) })
            done.fulfill()
        }
        var pid: Int32 = 0
        for _ in 0..<500 where pid == 0 {
            usleep(10_000)
            pid = Int32((try? String(contentsOf: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
        }
        XCTAssertGreaterThan(pid, 0)
        XCTAssertEqual(kill(pid, SIGKILL), 0)
        wait(for: [done], timeout: 30)
        XCTAssertEqual(record?.stage("slow")?.status, .failed)
        XCTAssertTrue(record?.stage("slow")?.reason?.contains("killed by signal 9") ?? false, "\(String(describing: record?.stage("slow")?.reason))")
        XCTAssertNil(store.actionRecord(record!.stage("slow")!.key!))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.root.appendingPathComponent("scratch").path), [])
        unlink(hang.path)
        let (r2, _) = try ws.run(text)
        XCTAssertEqual(r2.computed, ["slow", "next"])
        let out = r2.stage("next")!.outputs["out"]!
        XCTAssertEqual(try String(contentsOf: store.objectURL(out.digest), encoding: .utf8), "partial\ncomplete\n")
    }

    /// A runner killed with SIGKILL leaves a scratch directory with partial outputs, temporary files and
    /// a lease naming a dead pid; the next run ignores and cleans them.
    func testLeftoversOfAKilledRunnerAreIgnored() throws {
        let ws = try Workspace()
        let text = "pipeline: l\nstages:\n  a: {kind: scale, params: {steps: 2}}\n"
        let key = try Planner(store: try ws.store()).plan(try ws.graph(text))[0].key!
        let store = try ws.store()
        let scratch = store.root.appendingPathComponent("scratch/\(key).99999.deadbeef/out")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        try "partial".write(to: scratch.appendingPathComponent("out"), atomically: false, encoding: .utf8)
        try "half an object".write(to: store.root.appendingPathComponent("tmp/99999-x"), atomically: false, encoding: .utf8)
        try StageLeaseTests.lease(host: localHostName(), pid: StageLeaseTests.deadPID(), expires: Date().addingTimeInterval(60))
            .write(to: store.root.appendingPathComponent("locks/\(key).lock"))
        let (r, events) = try ws.run(text)
        XCTAssertEqual(r.computed, ["a"])
        XCTAssertFalse(events.contains { if case .waiting = $0 { return true }; return false }, "a lock file without a live holder must not block")
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch.path))
        let out = try String(contentsOf: store.objectURL(r.stage("a")!.outputs["out"]!.digest), encoding: .utf8)
        XCTAssertTrue(out.hasPrefix("a factor=1.0 steps=2"), out)
        let gc = try store.collectGarbage(GCOptions())
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.root.appendingPathComponent("tmp/99999-x").path))
        XCTAssertGreaterThan(gc.freedBytes, 0)
    }

    /// A lease held by a live process on this host makes the run wait; killing the holder breaks it at once
    /// (a dead pid on the same host proves the heartbeat stopped).
    func testLockHeldByAProcessIsBrokenWhenItDies() throws {
        let ws = try Workspace()
        let text = "pipeline: w\nstages:\n  a: {kind: scale, params: {steps: 2}}\n"
        let key = try Planner(store: try ws.store()).plan(try ws.graph(text))[0].key!
        let lockPath = try ws.store().root.appendingPathComponent("locks/\(key).lock").path
        // A live holder with a fresh lease: a process of its own, as another masknet would be.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sleep")
        holder.arguments = ["60"]
        try holder.run()
        try StageLeaseTests.lease(host: localHostName(), pid: holder.processIdentifier, expires: Date().addingTimeInterval(60))
            .write(to: URL(fileURLWithPath: lockPath))
        XCTAssertNil(try StageLock.tryAcquire(URL(fileURLWithPath: lockPath)), "the helper process holds the lock")
        let events = EventLog()
        let done = expectation(description: "run")
        let graph = try ws.graph(text)
        let runner = PipelineRunner(store: try ws.store())
        nonisolated(unsafe) var record: RunRecord?
        Thread.detachNewThread {
            record = try? runner.run(graph, options: RunOptions(), events: { events.add($0) })
            done.fulfill()
        }
        var waited = false
        for _ in 0..<300 where !waited {
            usleep(10_000)
            waited = events.all.contains { if case .waiting = $0 { return true }; return false }
        }
        XCTAssertTrue(waited, "the run must wait while a live process holds the key's lock")
        XCTAssertEqual(ws.counter.total, 0)
        kill(holder.processIdentifier, SIGKILL)
        wait(for: [done], timeout: 20)
        XCTAssertEqual(record?.computed, ["a"])
    }

    /// Pipeline lines for independent `command` stages s0, s1, … writing `out`, each running `script(i)`.
    private func commandStages(_ count: Int, script: (Int) -> String) -> String {
        (0..<count).map { i in "  s\(i): {kind: command, params: {run: '\(script(i))', outputs: [out]}}" }.joined(separator: "\n")
    }

    /// Two runners (separate store objects, as two processes would have) on one store compute each key once.
    func testConcurrentRunnersComputeEachKeyOnce() throws {
        let ws = try Workspace()
        let counter = ws.root.appendingPathComponent("count")
        let text = """
        pipeline: c
        stages:
        \(commandStages(4) { i in "echo \(i) >> \"\(counter.path)\"; sleep 0.2; echo \(i) > out" })
          join: {kind: command, inputs: {a: s0.out, b: s3.out}, params: {run: 'cat $IN_a $IN_b > out; echo j >> "\(counter.path)"', outputs: [out]}}
        """
        let graph = try ws.graph(text)
        let group = DispatchGroup()
        let results = EventLog()
        nonisolated(unsafe) var records: [RunRecord] = []
        let lock = NSLock()
        for _ in 0..<2 {
            group.enter()
            let store = try ws.store()
            Thread.detachNewThread {
                var o = RunOptions(); o.jobs = 2
                if let r = try? PipelineRunner(store: store).run(graph, options: o, events: { results.add($0) }) {
                    lock.lock(); records.append(r); lock.unlock()
                }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(records.count, 2)
        XCTAssertTrue(records.allSatisfy { $0.exitCode == 0 })
        let lines = try String(contentsOf: counter, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.sorted(), ["0", "1", "2", "3", "j"], "every key computed exactly once")
        XCTAssertEqual(records.map { $0.computed.count }.reduce(0, +), 5)
    }

    /// `--jobs N` keeps N independent stages in flight, never more (each logs its start and end).
    func testJobsRunsThatManyIndependentStagesAtOnce() throws {
        let ws = try Workspace()
        let log = ws.root.appendingPathComponent("events")
        let text = """
        pipeline: j
        stages:
        \(commandStages(4) { i in "echo + >> \"\(log.path)\"; sleep 0.4; echo - >> \"\(log.path)\"; echo \(i) > out" })
        """
        for jobs in [1, 2, 3] {
            try? FileManager.default.removeItem(at: log)
            var options = RunOptions(); options.jobs = jobs; options.force = ["s0", "s1", "s2", "s3"]
            let (record, _) = try ws.run(text, options: options)
            XCTAssertEqual(record.exitCode, 0)
            var running = 0, most = 0
            for event in try String(contentsOf: log, encoding: .utf8).split(separator: "\n") {
                running += event == "+" ? 1 : -1
                most = max(most, running)
            }
            XCTAssertEqual(most, jobs, "--jobs \(jobs): stages in flight at once")
        }
    }

    func testGatesExitCodeAndJUnit() throws {
        let ws = try Workspace()
        let text = """
        pipeline: g
        stages:
          m:
            kind: scale
            params: {steps: 4, factor: 0.5}
            expect:
              value: {target: 2, tolerance: 0.01, reference: 2.1, source: "Table 1"}
          n:
            kind: scale
            params: {steps: 4}
            expect:
              value: {max: 3}
        """
        var options = RunOptions()
        options.junit = ws.root.appendingPathComponent("junit.xml")
        let (r, _) = try ws.run(text, options: options)
        XCTAssertEqual(r.status, .gatesFailed)
        XCTAssertEqual(r.exitCode, RunExitCode.gateFailed)
        let v = r.verdicts
        XCTAssertEqual(v.map(\.metric), ["value", "value"])
        XCTAssertEqual(v.map(\.passed), [true, false])
        XCTAssertEqual(v[1].message, "4.0 > max 3.0")
        let xml = try String(contentsOf: options.junit!, encoding: .utf8)
        XCTAssertTrue(xml.contains("tests=\"4\" failures=\"1\""), xml)
        XCTAssertTrue(xml.contains("<testcase classname=\"g.gates\" name=\"n: value ≤ 3\"><failure message=\"4.0 &gt; max 3.0\">"), xml)
        XCTAssertTrue(RunReports.verdictTable(v).contains("| m | value | 2 | 2 ± 0.01 | pass | 2.1 (Table 1) |"))
        // Gates are re-evaluated on cache hits.
        let (r2, _) = try ws.run(text.replacingOccurrences(of: "{max: 3}", with: "{max: 5}"))
        XCTAssertEqual(r2.exitCode, 0)
        XCTAssertEqual(r2.computed, [])
        // A gate on a metric the stage never reports fails the gate (command kinds declare no metrics)…
        let (r3, _) = try ws.run("pipeline: g2\nstages:\n  c: {kind: command, params: {run: 'true'}, expect: {loss: {min: 0}}}\n")
        XCTAssertEqual(r3.exitCode, RunExitCode.gateFailed)
        XCTAssertTrue(r3.verdicts[0].message.contains("metric 'loss' was not reported"))
        // …and for kinds that declare their metrics it is rejected before anything runs.
        let d = ws.diagnostics(text.replacingOccurrences(of: "value: {max: 3}", with: "valeu: {max: 3}")).map(\.description)
        XCTAssertTrue(d.contains { $0.contains("stages.n.expect.valeu: kind 'scale' does not report a metric 'valeu' (did you mean 'value'?)") }, "\(d)")
    }

    func testGarbageCollectionKeepsReachableAndFreesTheRest() throws {
        let ws = try Workspace()
        try ws.run(chain)
        try ws.run(chain, overrides: ["a.steps=7"])
        let store = try ws.store()
        var o = GCOptions(); o.keepLast = 1
        let report = try store.collectGarbage(o)
        XCTAssertEqual(report.removedRuns.count, 1)
        XCTAssertEqual(report.removedActions, 4)
        XCTAssertEqual(report.removedObjects, 4, "the 4 outputs of the old run (the scale kind writes no log)")
        XCTAssertGreaterThan(report.freedBytes, 0)
        let before = ws.counter.total
        let (r, _) = try ws.run(chain, overrides: ["a.steps=7"])
        XCTAssertEqual(r.computed, [], "the kept run's results survive gc")
        XCTAssertEqual(ws.counter.total, before)
        var p = GCOptions(); p.pipeline = "chain"
        XCTAssertEqual(try store.collectGarbage(p).keptRuns, 0)
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: store.root.appendingPathComponent("objects").path).filter { $0.count > 3 }, [])
    }

    /// `stage exec`: a stage runs from nothing but its spec and input objects in the store.
    func testStageRunsFromTheStoreAlone() throws {
        let ws = try Workspace()
        let (r, _) = try ws.run(chain)
        let store = try ws.store()
        let key = r.stage("c")!.key!
        store.removeActionRecord(key)
        let record = try StageRunner.execute(key: key, name: "c", store: try ws.store(), registry: ws.registry)
        XCTAssertEqual(record.outputs, r.stage("c")!.outputs)
        XCTAssertNotNil(store.actionRecord(key))
        XCTAssertThrowsError(try StageRunner.execute(key: String(repeating: "0", count: 64), name: nil, store: store, registry: ws.registry))
    }

    func testCanonicalJSONIgnoresKeyOrder() {
        let a: JSONValue = ["b": 1, "a": ["y": 2.5, "x": "s\"\n"]]
        let b: JSONValue = ["a": ["x": "s\"\n", "y": 2.5], "b": 1]
        XCTAssertEqual(a.canonicalText, "{\"a\":{\"x\":\"s\\\"\\n\",\"y\":2.5},\"b\":1}")
        XCTAssertEqual(a.canonicalText, b.canonicalText)
        XCTAssertEqual(JSONValue.number(3).canonicalText, "3.0")
    }
}

/// A kind that counts steps in its checkpoint directory and fails once midway, like an interrupted training.
struct ResumableKind: StageKind {
    let failAt: Int
    let attempts: ExecutionCounter
    var name: String { "resumable" }
    var version: String { "1" }
    var summary: String { "Test kind: resumes from its checkpoint." }
    var parameters: [ParameterSpec] { [ParameterSpec("steps", .integer, default: 6, minimum: 1, description: "Steps.")] }
    var inputSlots: [InputSlot] { [] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["log"] }
    var determinism: Determinism { .deterministic }
    func execute(_ context: StageContext) throws -> StageResult {
        attempts.hit("attempt")
        let ckpt = context.checkpointDirectory.appendingPathComponent("step")
        var step = Int((try? String(contentsOf: ckpt, encoding: .utf8)) ?? "0") ?? 0
        let resumedFrom = step
        let steps = context.parameters.int("steps")
        while step < steps {
            step += 1
            context.report(StageProgress(epoch: 1, epochs: 1, step: step, steps: steps, loss: 1 / Double(step), throughput: 10, unit: "images", fraction: Double(step) / Double(steps)))
            try String(step).write(to: ckpt, atomically: true, encoding: .utf8)
            if step == failAt && attempts.count("attempt") == 1 { throw EngineError("simulated crash at step \(step)") }
        }
        try "resumed from \(resumedFrom)\n".write(to: context.outputURL("log"), atomically: false, encoding: .utf8)
        return StageResult(metrics: ["resumed_from": Double(resumedFrom)])
    }
}

final class ResumeAndReportingTests: XCTestCase {
    func testCheckpointDirectorySurvivesFailureAndIsRemovedAfterSuccess() throws {
        let ws = try Workspace()
        let attempts = ExecutionCounter()
        ws.kinds.append(ResumableKind(failAt: 4, attempts: attempts))
        let text = "pipeline: r\nstages:\n  train: {kind: resumable}\n"
        let (r1, events) = try ws.run(text)
        XCTAssertEqual(r1.stage("train")!.status, .failed)
        let progress = events.compactMap { e -> StageProgress? in if case .progress(_, let p) = e { return p }; return nil }
        XCTAssertEqual(progress.map(\.step), [1, 2, 3, 4])
        let key = r1.stage("train")!.key!
        let ckpt = try ws.store().root.appendingPathComponent("checkpoints/\(key)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: ckpt.path), "checkpoints survive a failure")
        let (r2, _) = try ws.run(text)
        XCTAssertEqual(r2.stage("train")!.metrics["resumed_from"], 4)
        XCTAssertEqual(r2.stage("train")!.runReasons, ["same key as run \(r1.id), which did not finish it (failed)"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: ckpt.path), "checkpoints are removed once the result is published")
        let now = Date()
        let line = ConsoleReporter.describe(progress[1], from: ProgressOrigin(fraction: 0, time: now.addingTimeInterval(-2)), now: now)
        XCTAssertTrue(line.hasPrefix("epoch 1/1 step 2/6 loss 0.5 10 images/s 33% ETA 0m04s"), line)
        // Resumed at 1/6 two seconds ago: one sixth more in 2 s, so the four sixths left take 8 s (not the 4 s a
        // pace counted from 0 would promise).
        let resumed = ConsoleReporter.describe(progress[1], from: ProgressOrigin(fraction: 1.0 / 6, time: now.addingTimeInterval(-2)), now: now)
        XCTAssertTrue(resumed.hasSuffix("33% ETA 0m08s"), resumed)
        XCTAssertFalse(ConsoleReporter.describe(progress[1], from: ProgressOrigin(fraction: 2.0 / 6, time: now), now: now).contains("ETA"),
                       "no pace yet at the first report")
    }

    /// The progress file keeps the first fraction written, so a driver reading it times a resumed stage by
    /// its pace since resuming.
    func testProgressFileTimesTheETAFromTheFirstFractionWritten() throws {
        let ws = try Workspace()
        let file = StageProgressFile(url: ws.root.appendingPathComponent("progress/train.json"))
        XCTAssertNil(file.read(), "nothing written yet")
        let writer = StageProgressFile.Writer(file, interval: 0)
        writer.write(StageProgress(epoch: 3, epochs: 6, fraction: 0.5))
        Thread.sleep(forTimeInterval: 0.2)
        writer.write(StageProgress(epoch: 4, epochs: 6, fraction: 0.6))
        let reading = try XCTUnwrap(file.read())
        XCTAssertEqual(reading.origin?.fraction, 0.5)
        XCTAssertEqual(reading.progress.epoch, 4)
        let seconds = try XCTUnwrap(reading.etaSeconds)
        let paced = reading.updated.timeIntervalSince(reading.origin!.time) * 4  // 0.4 left at 0.1 per interval
        XCTAssertEqual(seconds, paced, accuracy: 1e-6)
        XCTAssertTrue(reading.summary.hasPrefix("epoch 4/6 60% ETA 0m"), reading.summary)
        XCTAssertGreaterThanOrEqual(seconds, 0.2 * 4 - 1e-3,
                                    "0.1 in at least 0.2 s leaves 0.8 s or more, not the pace of 0.6 done since the writer started")
    }

    func testJSONEventsAndPlainLines() throws {
        let lines = EventLog()
        let json = ConsoleReporter(style: .json, write: { s in lines.add(.stageSkipped(stage: s, reason: "")) })
        json.handle(.stageFinished(stage: "a", seconds: 1.5))
        json.handle(.progress(stage: "a", StageProgress(step: 3, loss: 0.25)))
        let texts = lines.all.compactMap { e -> String? in if case .stageSkipped(let s, _) = e { return s }; return nil }
        XCTAssertEqual(texts.count, 2)
        XCTAssertTrue(texts[0].hasPrefix("{\"event\":\"stage_finished\",\"seconds\":1.5,\"stage\":\"a\",\"time\":"), texts[0])
        XCTAssertTrue(texts[1].hasPrefix("{\"event\":\"progress\",\"loss\":0.25,\"stage\":\"a\",\"step\":3,"), texts[1])
    }

    func testCommandKindEnvironmentMetricsAndOverrides() throws {
        let ws = try Workspace()
        let text = """
        pipeline: e
        stages:
          gen:
            kind: command
            params:
              run: |
                mkdir -p "$OUT_dir_out/sub"
                echo "$GREETING $MASKNET_SEED" > "$OUT_dir_out/sub/a.txt"
                printf 'x 1.5\\ny: 2\\n' > "$MASKNET_METRICS"
              outputs: [dir.out]
              env: {GREETING: hello}
          use:
            kind: command
            inputs: {d: gen.dir.out, all: gen}
            params: {run: 'cat "$IN_d/sub/a.txt" "$IN_all/dir.out/sub/a.txt" > both', outputs: [both]}
        """
        let (r, _) = try ws.run(text, overrides: ["gen.env.GREETING=1"])
        XCTAssertEqual(r.exitCode, 0, "\(r.stages.map { $0.reason ?? "" })")
        XCTAssertEqual(r.stage("gen")!.metrics, ["x": 1.5, "y": 2])
        XCTAssertEqual(r.stage("gen")!.outputs["dir.out"]!.type, .tree)
        let store = try ws.store()
        let seed = try ws.graph(text)["gen"]!.seed
        let both = try String(contentsOf: store.objectURL(r.stage("use")!.outputs["both"]!.digest), encoding: .utf8)
        XCTAssertEqual(both, "1 \(seed)\n1 \(seed)\n", "--set gives text parameters their literal text")
    }
}

final class PlanToExecTests: XCTestCase {
    /// `plan --record-specs` records specs, so a stage can then be executed by key prefix without the
    /// pipeline file, and the following `run` finds it cached.
    func testPlannedStageExecutesByKeyPrefix() throws {
        let ws = try Workspace()
        let script = ws.root.appendingPathComponent("make.sh")
        try "echo made > out\n".write(to: script, atomically: true, encoding: .utf8)
        let text = "pipeline: x\nstages:\n  a: {kind: command, inputs: {s: 'file:\(script.path)'}, params: {run: 'sh $IN_s', outputs: [out]}}\n"
        let plan = try Planner(store: try ws.store()).plan(try ws.graph(text), recordSpecs: true)
        let key = try XCTUnwrap(plan[0].key)
        let record = try StageRunner.execute(key: String(key.prefix(10)), name: "a", store: try ws.store(), registry: ws.registry)
        XCTAssertEqual(record.key, key)
        let (r, _) = try ws.run(text)
        XCTAssertEqual(r.cachedStages, ["a"])
        // Editing the script changes the key (code changes are detected through file: inputs).
        try "echo changed > out\n".write(to: script, atomically: true, encoding: .utf8)
        let (r2, _) = try ws.run(text)
        XCTAssertEqual(r2.computed, ["a"])
        let d = ws.diagnostics("pipeline: x\nstages:\n  a: {kind: command, inputs: {s: 'file:/nonexistent/x.sh'}, params: {run: 'true'}}\n").map(\.description)
        XCTAssertTrue(d.first?.contains("p.yaml:3:34: error: stages.a.inputs.s: file:/nonexistent/x.sh does not exist") ?? false, "\(d)")
    }
}
