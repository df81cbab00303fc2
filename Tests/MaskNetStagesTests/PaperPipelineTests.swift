import Foundation
import MaskNetStages
import PipelineEngine
import TestSupport
import XCTest

/// The whole paper pipeline through the engine on a tiny generated data set: every ML kind runs, reports
/// its metrics, and a rerun is served from the cache.
final class PaperPipelineTests: XCTestCase {
    static let pipeline = """
    pipeline: tiny-paper
    seed: 5
    params: {min_size: 64, max_size: 128, area_threshold: 10, image_size: 64}
    stages:
      data: {kind: synthesize_dataset, params: {count: 20, size: 64}}
      seg_split:
        kind: split_dataset
        inputs: {dataset: data.dataset}
        params: {layout: segmentation, parts: [train, test], fractions: [0.5, 0.5]}
      cls_split:
        kind: split_dataset
        inputs: {dataset: data.dataset}
        params: {layout: classification, parts: [train, test], fractions: [0.5, 0.5]}
      seg:
        kind: train_segmentation
        inputs: {dataset: data.dataset, splits: seg_split.splits}
        params: {epochs: 1, learning_rate: 0.0005, validation_split: ""}
      seg_map:
        kind: evaluate_map
        inputs: {checkpoint: seg.checkpoint.safetensors, dataset: data.dataset, splits: seg_split.splits}
        params: {overlays: 2}
        expect: {seed_map: {min: 0}}
      infer:
        kind: infer_segmentation
        inputs: {checkpoint: seg.checkpoint.safetensors, images: data.dataset}
        params: {overlays: 1, score_threshold: -1, detections_per_image: 3}
      init: {kind: transfer_weights, inputs: {checkpoint: seg.checkpoint.safetensors}, params: {roi_batch_size: 8, s_features: 16}}
      frozen: {kind: freeze_bn_stats, inputs: {checkpoint: init.checkpoint.safetensors}}
      cls:
        kind: train_classifier
        inputs: {checkpoint: frozen.checkpoint.safetensors, dataset: data.dataset, splits: cls_split.splits}
        params: {epochs: 1, batch_size: 5, learning_rate: 0.001, validation_split: ""}
      cls_eval:
        kind: evaluate_classifier
        inputs: {checkpoint: cls.checkpoint.safetensors, dataset: data.dataset, splits: cls_split.splits}
        expect: {accuracy: {min: 0, max: 1}}
    """

    func testTinyPaperPipelineRunsThenHitsTheCache() throws {
        let workspace = try PipelineWorkspace(kinds: KindRegistry.builtIn + MaskNetStageKinds.all)
        func run() throws -> RunRecord { try workspace.run(Self.pipeline, name: "tiny.yaml").0 }
        let first = try run()
        XCTAssertEqual(first.status, .succeeded, "\(first.stages.map { "\($0.name): \($0.status)" })")
        let metrics = Dictionary(uniqueKeysWithValues: first.stages.map { ($0.name, $0.metrics) })
        XCTAssertEqual(metrics["seg_split"]?["train_slices"].map { $0 + (metrics["seg_split"]?["test_slices"] ?? 0) }, 20)
        XCTAssertNotNil(metrics["seg"]?["train_loss"])
        XCTAssertNotNil(metrics["seg_map"]?["seed_ap50"])
        XCTAssertNotNil(metrics["seg_map"]?["coco_segm_ap"])
        XCTAssertEqual(metrics["infer"]?["images"], 20)
        // S(D = 8, s = 16) = 5·8·16 + 16 + 16² + 16 + 3·16 + 3 = 979, plus the bn1/bn2 affine of ResNet18 up to
        // layer3: 2·(64 + 4·64 + 4·128 + 4·256) = 3,712 (spec §2.4's rule: 596,099 − 592,387 for D = 128, s = 512).
        XCTAssertEqual(metrics["frozen"]?["trainable_parameters"], 979 + 3_712)
        XCTAssertNotNil(metrics["cls_eval"]?["accuracy"])
        let second = try run()
        XCTAssertEqual(second.status, .succeeded)
        XCTAssertTrue(second.stages.allSatisfy { $0.status == .cached }, "\(second.stages.map { "\($0.name): \($0.status)" })")
    }
}
