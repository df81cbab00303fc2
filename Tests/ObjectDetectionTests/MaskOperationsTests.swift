import ObjectDetection
import TensorCore
import TestSupport
import XCTest

/// Mask pasting (torchvision paste_masks_in_image, the same in 0.3.0 and 0.29) and mask targets
/// (roi_align with spatial scale 1, adaptive sampling). Tolerance rtol 1e-4 / atol 1e-5.
final class MaskOperationsTests: XCTestCase {
    func testPasteParityWithTorchvision() throws {
        let fixture = try Fixture("paste_masks")
        let pasted = MaskOperations.pasteMasksInImage(fixture.tensor("masks"), boxes: fixture.tensor("boxes"),
                                                      imageHeight: 40, imageWidth: 50)
        assertClose(pasted, fixture.tensor("pasted"), rtol: 1e-4, atol: 1e-5, "paste_masks_in_image")
    }

    func testPasteAtImageBordersHandCase() {
        // A constant mask of 3 on a box covering the top-left corner and leaving the image.
        let mask = Tensor(shape: [1, 4, 4], repeating: 3)
        let pasted = MaskOperations.pasteMasksInImage(mask, boxes: boxes([[-4, -4, 4, 4]]), imageHeight: 6, imageWidth: 7)
        // Padded 6×6 map, box scaled by 6/4 about (0, 0) → [−6, −6, 6, 6] → 13×13 resize; rows/cols 0…6
        // of the image are the resize's rows/cols 6…12, written only where they fit (6×7 image: all of it
        // up to row 5, col 6).
        XCTAssertEqual(pasted.shape, [1, 6, 7])
        let values = pasted.scalars
        XCTAssertEqual(values[0], 3, accuracy: 1e-6, "centre of the padded map is the mask value")
        XCTAssertLessThan(values[5], 3, "towards the padded border the logit decays to 0")
        XCTAssertGreaterThan(values[5], 0)
        XCTAssertEqual(values[6], 0, "column 6 samples only the zero padding")
        // Entirely outside the image: nothing is written.
        let outside = MaskOperations.pasteMasksInImage(mask, boxes: boxes([[20, 20, 30, 30]]), imageHeight: 6, imageWidth: 7)
        XCTAssertEqual(outside.scalars, [Float](repeating: 0, count: 42))
        // A zero-size box pastes one pixel (h = w = 1).
        let dot = MaskOperations.pasteMasksInImage(mask, boxes: boxes([[2, 3, 2, 3]]), imageHeight: 6, imageWidth: 7)
        XCTAssertEqual(dot.scalars.filter { $0 != 0 }.count, 1)
        XCTAssertNotEqual(dot[0, 3, 2], 0)
    }

    func testMaskTargetsParityWithTorchvision() throws {
        let fixture = try Fixture("mask_targets")
        let gt = fixture.tensor("gt_masks"), proposals = fixture.tensor("proposals")
        let matched = fixture.integers("matched")
        let targets = MaskOperations.maskTargets(instanceMasks: gt, proposals: proposals, matchedGroundTruth: matched)
        assertClose(targets, fixture.tensor("targets"), rtol: 1e-4, atol: 1e-5, "mask targets")
        XCTAssertTrue(targets.scalars.allSatisfy { $0 >= 0 && $0 <= 1 + 1e-6 }, "soft targets lie in [0, 1]")
        XCTAssertTrue(targets.scalars.contains { $0 > 0.01 && $0 < 0.99 }, "targets are soft, not re-binarised")
        let bytes = (0..<3).map { g in gt.scalars[(g * 2000)..<((g + 1) * 2000)].map { UInt8($0) } }
        let fromBytes = MaskOperations.maskTargets(instanceMasks: bytes, height: 40, width: 50, proposals: proposals,
                                                   matchedGroundTruth: matched)
        XCTAssertEqual(fromBytes.scalars, targets.scalars)
    }
}
