import Foundation
import TestSupport
import XCTest
@testable import PipelineEngine

final class ValidationTests: XCTestCase {
    func testUnknownKeysWithDidYouMeanAndPositions() throws {
        let ws = try Workspace()
        let d = ws.diagnostics("""
        pipeline: t
        stagess: {}
        stages:
          a:
            kind: scale
            parms: {steps: 2}
          b:
            kind: scael
          c:
            kind: scale
            params: {setps: 2, steps: 1}
        """)
        let text = d.map(\.description)
        XCTAssertTrue(text.contains { $0.contains("p.yaml:2:1: error: stagess: unknown top-level key 'stagess' (did you mean 'stages'?)") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("p.yaml:6:5: error: stages.a.parms: unknown stage key 'parms' (did you mean 'params'?)") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("p.yaml:8:11: error: stages.b.kind: unknown stage kind 'scael' (did you mean 'scale'?)") }, "\(text)")
        XCTAssertTrue(text.contains { $0.contains("p.yaml:11:14: error: stages.c.params.setps: unknown parameter 'setps' for kind 'scale' (did you mean 'steps'?)") }, "\(text)")
        // a's required parameter 'steps' is missing because `parms` is misspelled.
        XCTAssertTrue(text.contains { $0.contains("stages.a.params.steps: missing required parameter 'steps'") }, "\(text)")
    }

    func testTypesRangesAndBooleans() throws {
        let ws = try Workspace()
        let d = ws.diagnostics("""
        pipeline: t
        stages:
          a:
            kind: scale
            params:
              steps: two
              factor: 11
              verbose: yes
              mode: fats
          b:
            kind: scale
            params: {steps: 0, factor: .nan, verbose: "true"}
        """).map(\.description)
        XCTAssertTrue(d.contains { $0.contains("p.yaml:6:14: error: stages.a.params.steps: expected an integer, found the string 'two'") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("p.yaml:7:15: error: stages.a.params.factor: 11 is above the maximum 10") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("p.yaml:8:16: error: stages.a.params.verbose: 'yes' is not a boolean here (YAML 1.2); write true or false") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("p.yaml:9:13: error: stages.a.params.mode: 'fats' is not one of 'fast', 'slow' (did you mean 'fast'?)") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("p.yaml:12:21: error: stages.b.params.steps: 0 is below the minimum 1") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("stages.b.params.factor: '.nan' is not a finite number") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("stages.b.params.verbose: expected true or false, found the string 'true'") }, "\(d)")
    }

    func testReferencesCyclesAndDuplicates() throws {
        let ws = try Workspace()
        let refs = ws.diagnostics("""
        pipeline: t
        stages:
          a:
            kind: scale
            params: {steps: 1}
            inputs: {source: aa.out}
          b:
            kind: scale
            params: {steps: 1}
            inputs: {source: a.output}
          c:
            kind: scale
            params: {steps: 1}
            inputs: {sorce: a.out}
        """).map(\.description)
        XCTAssertTrue(refs.contains { $0.contains("p.yaml:6:22: error: stages.a.inputs.source: unknown stage 'aa' in reference 'aa.out'") }, "\(refs)")
        XCTAssertTrue(refs.contains { $0.contains("p.yaml:10:22: error: stages.b.inputs.source: stage 'a' has no output 'output' (valid: out)") }, "\(refs)")
        XCTAssertTrue(refs.contains { $0.contains("p.yaml:14:14: error: stages.c.inputs.sorce: kind 'scale' has no input 'sorce' (did you mean 'source'?)") }, "\(refs)")

        let cycle = ws.diagnostics("""
        pipeline: t
        stages:
          a:
            kind: scale
            params: {steps: 1}
            inputs: {source: c.out}
          b:
            kind: scale
            params: {steps: 1}
            inputs: {source: a.out}
          c:
            kind: scale
            params: {steps: 1}
            inputs: {source: b}
        """).map(\.description)
        XCTAssertEqual(cycle.count, 1, "\(cycle)")
        XCTAssertTrue(cycle[0].contains("cycle: a → c → b → a"), "\(cycle)")
        XCTAssertTrue(cycle[0].contains("p.yaml:3:3: error: stages.a.inputs"), "\(cycle)")

        let dup = ws.diagnostics("""
        pipeline: t
        stages:
          a: {kind: scale, params: {steps: 1}}
          a: {kind: scale, params: {steps: 2}}
        """).map(\.description)
        XCTAssertEqual(dup.count, 1)
        XCTAssertTrue(dup[0].contains("p.yaml:4:3: error: a: duplicate key 'a' (first at line 3); each name may appear once"), "\(dup)")

        let syntax = ws.diagnostics("pipeline: t\nstages:\n  a: {kind: scale\n  b: 1\n").map(\.description)
        XCTAssertEqual(syntax.count, 1)
        XCTAssertTrue(syntax[0].contains("p.yaml:4:4: error"), "\(syntax)")
        XCTAssertTrue(syntax[0].contains("YAML syntax"), "\(syntax)")
    }

    func testSharedParamsOverridesAndGates() throws {
        let ws = try Workspace()
        let g = try ws.graph("""
        pipeline: t
        params: {steps: 3, factor: 2}
        stages:
          a: {kind: scale}
          b: {kind: scale, params: {steps: 5}, expect: {value: {target: 10, tolerance: 0.5, reference: 10, source: paper}}}
        """, overrides: ["a.factor=4", "seed=9"])
        XCTAssertEqual(g["a"]!.parameters["steps"], .integer(3))
        XCTAssertEqual(g["a"]!.parameters["factor"], .number(4))
        XCTAssertEqual(g["b"]!.parameters["steps"], .integer(5))
        XCTAssertEqual(g["b"]!.parameters["factor"], .number(2), "integers given for number parameters are normalized to reals")
        XCTAssertEqual(g.definition.seed, 9)
        XCTAssertEqual(g["b"]!.expectations.first?.source, "paper")

        let d = ws.diagnostics("""
        pipeline: t
        params: {stpes: 3}
        stages:
          a: {kind: scale, params: {steps: 1}, expect: {value: {target: 1}, other: {min: 1}}}
          b: {kind: command, params: {run: "true"}, expect: {x: {mini: 1}}}
        """, overrides: ["a.factr=1", "zz.steps=2"]).map(\.description)
        XCTAssertTrue(d.contains { $0.contains("p.yaml:2:10: error: params.stpes: shared parameter 'stpes' is not a parameter of any stage's kind (did you mean 'steps'?)") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("stages.a.expect.value: target and tolerance go together") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("p.yaml:4:69: error: stages.a.expect.other: kind 'scale' does not report a metric 'other' (valid: value)") }, "\(d)")
        XCTAssertTrue(d.contains { $0.contains("p.yaml:5:58: error: stages.b.expect.x.mini: unknown gate key 'mini' (did you mean 'min'?)") }, "\(d)")
        XCTAssertTrue(d.contains { $0.hasPrefix("--set a.factr=1: error: stages.a.params.factr: unknown parameter 'factr' for kind 'scale' (did you mean 'factor'?)") }, "\(d)")
        XCTAssertTrue(d.contains { $0.hasPrefix("--set zz.steps=2: error: zz: no stage named 'zz'") }, "\(d)")
    }

    func testSweepExpansionNamesAndInheritance() throws {
        let ws = try Workspace()
        let g = try ws.graph("""
        pipeline: t
        stages:
          data: {kind: scale, params: {steps: 1}}
          train:
            kind: scale
            inputs: {source: data.out}
            matrix: {steps: [2, 1], factor: [0.5, 3]}
          eval:
            kind: scale
            inputs: {source: train.out}
            params: {steps: 1}
        """)
        let names = g.stages.map(\.name)
        XCTAssertEqual(names.first, "data")
        let trains = names.filter { $0.hasPrefix("train[") }
        XCTAssertEqual(Set(trains), ["train[factor=0.5,steps=2]", "train[factor=0.5,steps=1]", "train[factor=3.0,steps=2]", "train[factor=3.0,steps=1]"])
        let evals = names.filter { $0.hasPrefix("eval[") }
        XCTAssertEqual(Set(evals), ["eval[factor=0.5,steps=2]", "eval[factor=0.5,steps=1]", "eval[factor=3.0,steps=2]", "eval[factor=3.0,steps=1]"])
        XCTAssertEqual(g["eval[factor=3.0,steps=1]"]!.inputs["source"], .output(stage: "train[factor=3.0,steps=1]", output: "out"))
        XCTAssertEqual(g["eval[factor=3.0,steps=1]"]!.parameters["steps"], .integer(1), "inherited coordinates select upstream cells, they do not set parameters")
        XCTAssertEqual(g["train[factor=3.0,steps=1]"]!.parameters["factor"], .number(3))
        XCTAssertEqual(g["train[factor=0.5,steps=2]"]!.seed, g["train[factor=3.0,steps=1]"]!.seed, "cells share the stage's seed")

        // Shared upstream runs once, cells run once each, and a rerun is fully cached.
        let (r1, _) = try ws.run(try String(contentsOf: ws.root.appendingPathComponent("p.yaml"), encoding: .utf8))
        XCTAssertEqual(ws.counter.count("data"), 1)
        XCTAssertEqual(r1.computed.count, 9)
        XCTAssertEqual(ws.counter.total, 9)
        let folder = try ws.store().runFolder(r1.id)
        let csv = try String(contentsOf: folder.appendingPathComponent("sweep-train.csv"), encoding: .utf8)
        XCTAssertTrue(csv.hasPrefix("cell,factor,steps,status,value\n"), csv)
        XCTAssertTrue(csv.contains("\"train[factor=3.0,steps=2]\",3.0,2,computed,6\n"), csv)
    }

    func testPipelineLevelMatrixSweepsStagesThatHaveTheParameter() throws {
        let ws = try Workspace()
        let text = """
        pipeline: t
        matrix: {factor: [1, 2]}
        stages:
          prep: {kind: command, params: {run: "echo x > out", outputs: [out]}}
          train: {kind: scale, params: {steps: 1}, inputs: {source: prep.out}}
          eval: {kind: scale, params: {steps: 1}, inputs: {source: train.out}}
          fixed: {kind: scale, params: {steps: 1, factor: 5}}
        """
        let g = try ws.graph(text)
        XCTAssertEqual(g.stages.map(\.name), ["prep", "train[factor=1.0]", "train[factor=2.0]", "eval[factor=1.0]", "eval[factor=2.0]", "fixed"])
        XCTAssertEqual(g["eval[factor=2.0]"]!.inputs["source"], .output(stage: "train[factor=2.0]", output: "out"), "one cell per value, not a cross product")
        XCTAssertEqual(g["eval[factor=2.0]"]!.parameters["factor"], .number(2))
        let (r, _) = try ws.run(text)
        XCTAssertEqual(r.computed.count, 6)
        let d = ws.diagnostics(text.replacingOccurrences(of: "matrix: {factor: [1, 2]}", with: "matrix: {facotr: [1, 2]}")).map(\.description)
        XCTAssertTrue(d.contains { $0.contains("p.yaml:2:10: error: matrix.facotr: 'facotr' is not a parameter of any stage's kind (did you mean 'factor'?)") }, "\(d)")
    }
}
