import ObjectDetection
import TensorCore
import TestSupport
import XCTest

/// Box utilities: hand cases for the threshold and grouping rules, and parity with torchvision 0.29's
/// nms / box_iou and the seed's batched_nms (fixture nms.safetensors). Tolerance for IoU: rtol 1e-6,
/// atol 1e-7 (same float32 operation order); kept index lists must be identical.
final class BoxOperationsTests: XCTestCase {
    func testAreaAndIoUHandCases() {
        let a = boxes([[0, 0, 4, 2], [1, 1, 3, 3]]), b = boxes([[0, 0, 2, 2], [10, 10, 12, 11], [2, 0, 2, 5]])
        XCTAssertEqual(BoxOperations.area(a), [8, 4])
        XCTAssertEqual(BoxOperations.area(b), [4, 2, 0])
        let iou = BoxOperations.iou(a, b)
        XCTAssertEqual(iou.shape, [2, 3])
        XCTAssertEqual(iou.scalars, [4.0 / 8.0, 0, 0, 1.0 / 7.0, 0, 0])
        // Two zero-area boxes: 0/0, NaN as in torchvision.
        XCTAssertTrue(BoxOperations.iou(boxes([[1, 1, 1, 1]]), boxes([[1, 1, 1, 1]])).scalars[0].isNaN)
    }

    func testNMSDiscardsOnlyStrictlyGreaterIoU() {
        // IoU([0,0,4,1], [0,0,2,1]) = 2/4 = 0.5 exactly.
        let pair = boxes([[0, 0, 4, 1], [0, 0, 2, 1]])
        XCTAssertEqual(BoxOperations.nms(boxes: pair, scores: [0.9, 0.8], iouThreshold: 0.5), [0, 1],
                       "IoU equal to the threshold is kept")
        XCTAssertEqual(BoxOperations.nms(boxes: pair, scores: [0.9, 0.8], iouThreshold: 0.49), [0])
        XCTAssertEqual(BoxOperations.nms(boxes: pair, scores: [0.1, 0.8], iouThreshold: 0.49), [1],
                       "the higher score wins")
    }

    func testNMSIsGreedyAndSortedByScore() {
        // 0 suppresses 1; 1 would have suppressed 2, but 1 is gone, so 2 survives.
        let chain = boxes([[0, 0, 10, 10], [3, 0, 13, 10], [6, 0, 16, 10], [50, 50, 60, 60]])
        XCTAssertEqual(BoxOperations.nms(boxes: chain, scores: [0.9, 0.8, 0.7, 0.95], iouThreshold: 0.5), [3, 0, 2])
        // Equal scores: visited in index order (stable), so the lower index survives.
        let twins = boxes([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]])
        XCTAssertEqual(BoxOperations.nms(boxes: twins, scores: [0.5, 0.5, 0.5], iouThreshold: 0.5), [0])
        XCTAssertEqual(BoxOperations.nms(boxes: Tensor(shape: [0, 4]), scores: [], iouThreshold: 0.5), [])
    }

    func testBatchedNMSGroupsAreIndependent() {
        let same = boxes([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [1, 0, 11, 10]])
        let scores: [Float] = [0.9, 0.8, 0.7, 0.95]
        XCTAssertEqual(BoxOperations.batchedNMS(boxes: same, scores: scores, groups: [0, 0, 1, 1], iouThreshold: 0.5),
                       [3, 0], "one survivor per group, merged by score")
        XCTAssertEqual(BoxOperations.batchedNMS(boxes: same, scores: scores, groups: [0, 1, 2, 3], iouThreshold: 0.5),
                       [3, 0, 1, 2], "different groups never suppress each other")
        XCTAssertEqual(BoxOperations.batchedNMS(boxes: same, scores: scores, groups: [5, 5, 5, 5], iouThreshold: 0.5),
                       BoxOperations.nms(boxes: same, scores: scores, iouThreshold: 0.5))
    }

    func testClipAndRemoveSmall() {
        let raw = boxes([[-5, -2, 30, 50], [3, 4, 5, 4], [10, 12, 8, 20]])
        XCTAssertEqual(BoxOperations.clip(raw, height: 40, width: 20).scalars, [0, 0, 20, 40, 3, 4, 5, 4, 10, 12, 8, 20])
        XCTAssertEqual(BoxOperations.removeSmall(raw, minSize: 0), [0, 1], "zero height kept at min size 0")
        XCTAssertEqual(BoxOperations.removeSmall(raw, minSize: 2), [0])
        let nan = BoxOperations.clip(boxes([[Float.nan, 1, 2, 3]]), height: 5, width: 5)
        XCTAssertTrue(nan.scalars[0].isNaN, "clip keeps NaN like torch.clamp")
    }

    func testParityWithTorchvision() throws {
        let fixture = try Fixture("nms")
        let boxTensor = fixture.tensor("boxes"), scores = fixture.tensor("scores").scalars
        let groups = fixture.integers("groups")
        for (threshold, tag) in [(Float(0.5), "050"), (0.7, "070"), (0.3, "030")] {
            XCTAssertEqual(BoxOperations.nms(boxes: boxTensor, scores: scores, iouThreshold: threshold),
                           fixture.integers("keep_\(tag)"), "nms at \(threshold)")
        }
        for (threshold, tag) in [(Float(0.5), "050"), (0.7, "070")] {
            XCTAssertEqual(BoxOperations.batchedNMS(boxes: boxTensor, scores: scores, groups: groups,
                                                    iouThreshold: threshold),
                           fixture.integers("batched_keep_\(tag)"), "batched nms at \(threshold)")
        }
        let values = boxTensor.scalars
        let first = Tensor(shape: [20, 4], scalars: Array(values[0..<80]))
        let second = Tensor(shape: [30, 4], scalars: Array(values[80..<200]))
        assertClose(BoxOperations.iou(first, second), fixture.tensor("iou"), rtol: 1e-6, atol: 1e-7, "box_iou")
    }
}
