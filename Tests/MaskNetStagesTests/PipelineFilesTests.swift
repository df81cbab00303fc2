import Foundation
import MaskNetStages
import PipelineEngine
import XCTest

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The committed schema and pipeline files against every registered kind (built-in and ML).
final class PipelineFilesTests: XCTestCase {
    func testSchemaIsUpToDate() throws {
        let committed = try String(contentsOf: repositoryRoot.appendingPathComponent("Schemas/pipeline.schema.json"), encoding: .utf8)
        let generated = PipelineSchema.generate(MaskNetStageKinds.registry)
        XCTAssertEqual(committed, generated, "Schemas/pipeline.schema.json is out of date: run `masknet schema -o Schemas/pipeline.schema.json`")
    }

    func testPipelinesValidateAgainstSchemaAndEngine() throws {
        let schema = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: repositoryRoot.appendingPathComponent("Schemas/pipeline.schema.json")))
        let dir = repositoryRoot.appendingPathComponent("Pipelines")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }
        XCTAssertTrue(files.contains("quickstart.yaml"))
        let registry = MaskNetStageKinds.registry
        for f in files {
            let url = dir.appendingPathComponent(f)
            let text = try String(contentsOf: url, encoding: .utf8)
            let problems = MiniSchemaValidator(root: schema).validate(try PipelineParser.documentValue(text))
            XCTAssertEqual(problems, [], "\(f) does not match the schema")
            XCTAssertNoThrow(try PipelineGraph(try PipelineParser(registry: registry).parse(file: url), registry: registry), f)
        }
        // The validator is not vacuous: a misspelled key and a wrong type are rejected.
        let bad = try PipelineParser.documentValue("pipeline: x\nstages:\n  a: {kind: train_segmentation, params: {epochs: many}, inptus: {}}\n")
        XCTAssertFalse(MiniSchemaValidator(root: schema).validate(bad).isEmpty)
    }

    func testBackboneSweepHasSevenCellsPerSweptStage() throws {
        let registry = MaskNetStageKinds.registry
        let url = repositoryRoot.appendingPathComponent("Pipelines/sweep-backbones.yaml")
        let graph = try PipelineGraph(try PipelineParser(registry: registry).parse(file: url), registry: registry)
        let cells = ["backbone=resnet18,truncation=0", "backbone=resnet18,truncation=1", "backbone=resnet18,truncation=2",
                     "backbone=resnet34,truncation=0", "backbone=resnet34,truncation=1", "backbone=resnet34,truncation=2",
                     "backbone=resnet50,truncation=0"]
        for stage in ["segmentation", "segmentation_map", "classifier_init", "classifier_frozen", "classifier", "classifier_eval"] {
            XCTAssertEqual(graph.stages.filter { $0.baseName == stage }.map(\.name), cells.map { "\(stage)[\($0)]" }, stage)
        }
        XCTAssertEqual(Set(graph.stages.map(\.baseName)).count, 9, "one stage per step, no per-backbone copies")
        XCTAssertEqual(graph["segmentation[backbone=resnet50,truncation=0]"]!.parameters["backbone"], .string("resnet50"))
        XCTAssertEqual(graph["classifier_eval[backbone=resnet50,truncation=0]"]!.dependencies.filter { $0.hasPrefix("classifier[") },
                       ["classifier[backbone=resnet50,truncation=0]"])
    }
}
