import ObjectDetection
import VisionBackbones
import XCTest

/// Spec §2.4: segmentation model sizes with n_c = 2 for all seven configurations, params and state.
final class ModelSummaryTests: XCTestCase {
    func testSegmentationTotalsMatchSpec() {
        let expected: [(ResNetDepth, Int, Int, Int)] = [
            (.resnet18, 0, 14_511_074, 14_520_674), (.resnet18, 1, 6_051_810, 6_056_290),
            (.resnet18, 2, 3_919_330, 3_921_250), (.resnet34, 0, 24_619_234, 24_636_258),
            (.resnet34, 1, 11_439_330, 11_449_186), (.resnet34, 2, 4_584_162, 4_587_362),
            (.resnet50, 0, 31_727_842, 31_780_962),
        ]
        for (depth, truncation, parameters, state) in expected {
            let configuration = MaskRCNNConfiguration(backbone: BackboneConfiguration(depth: depth, truncation: truncation),
                                                      maskType: .merge)
            let summary = MaskRCNN(configuration: configuration, seed: 0).summary
            XCTAssertEqual(summary.totalParameters, parameters, "\(depth) t\(truncation) params")
            XCTAssertEqual(summary.totalState, state, "\(depth) t\(truncation) state")
        }
    }

    func testComponentSizes() {
        let light = MaskRCNN(configuration: MaskRCNNConfiguration(
            backbone: BackboneConfiguration(depth: .resnet18, truncation: 1), maskType: .both), seed: 0).summary
        let rows = Dictionary(uniqueKeysWithValues: light.rows.map { ($0.component, $0.parameters) })
        XCTAssertEqual(rows["rpn.head"], 628_630)
        XCTAssertEqual(rows["roi_heads.box_head"], 1_622_272)
        XCTAssertEqual(rows["roi_heads.box_predictor"], 1_935)
        XCTAssertEqual(rows["roi_heads.mask_head"], 295_040)
        XCTAssertEqual(rows["roi_heads.mask_predictor"], 65_664 + 128 * 3 + 3)
    }
}
