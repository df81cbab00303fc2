import Foundation
import ObjectDetection
import TensorCore
import TestSupport
import XCTest

/// BoxCoder against hand values and torchvision's BoxCoder (fixture box_coder.safetensors, same
/// arithmetic as 0.3.0). Tolerance: rtol 1e-4, atol 1e-4 (pixel coordinates up to ~10^4 after the clamp).
final class BoxCoderTests: XCTestCase {
    func testEncodeDecodeHandCase() {
        let coder = BoxCoder(weights: (10, 10, 5, 5))
        let proposal = boxes([[0, 0, 10, 20]]), gt = boxes([[2, 4, 12, 44]])
        let deltas = coder.encode(reference: gt, proposals: proposal)
        // centres (5, 10) → (7, 24); sizes (10, 20) → (10, 40)
        XCTAssertEqual(deltas.scalars[0], 10 * 2 / 10, accuracy: 1e-6)
        XCTAssertEqual(deltas.scalars[1], 10 * 14 / 20, accuracy: 1e-6)
        XCTAssertEqual(deltas.scalars[2], 0, accuracy: 1e-6)
        XCTAssertEqual(deltas.scalars[3], 5 * Float(log(2.0)), accuracy: 1e-6)
        let decoded = coder.decode(deltas: deltas, boxes: proposal)
        XCTAssertEqual(decoded.shape, [1, 1, 4])
        for (a, e) in zip(decoded.scalars, gt.scalars) { XCTAssertEqual(a, e, accuracy: 1e-4) }
    }

    func testDecodeClampsWidthAndHeightDeltas() {
        let coder = BoxCoder(weights: (1, 1, 1, 1))
        XCTAssertEqual(coder.clampLimit, Float(log(1000.0 / 16.0)), accuracy: 1e-7)
        let decoded = coder.decode(deltas: Tensor(shape: [1, 8], scalars: [0, 0, 10, 50, 0, 0, -1, 4]),
                                   boxes: boxes([[0, 0, 2, 4]])).scalars
        // Clamped: exp(log(62.5)) = 62.5 times the size, about the centre (1, 2).
        XCTAssertEqual(decoded[0], 1 - 62.5, accuracy: 1e-3)
        XCTAssertEqual(decoded[2], 1 + 62.5, accuracy: 1e-3)
        XCTAssertEqual(decoded[1], 2 - 125, accuracy: 1e-3)
        XCTAssertEqual(decoded[3], 2 + 125, accuracy: 1e-3)
        // Below the clamp nothing changes: dw = −1, dh = 4 < 4.135.
        XCTAssertEqual(decoded[6] - decoded[4], 2 * Float(exp(-1.0)), accuracy: 1e-5)
        XCTAssertEqual(decoded[7] - decoded[5], 4 * Float(exp(4.0)), accuracy: 1e-3)
    }

    func testZeroHeightAnchorEncodesToNonFinite() {
        // Spec §3.3: the degenerate anchors (#0, #5) give inf/NaN targets; harmless because their IoU with
        // any gt is 0, so they are never positives. We keep the seed's arithmetic rather than guard it.
        let deltas = BoxCoder(weights: (1, 1, 1, 1)).encode(reference: boxes([[0, 0, 10, 10]]),
                                                             proposals: boxes([[-3, 0, 3, 0]])).scalars
        XCTAssertTrue(deltas[1].isInfinite && deltas[3].isInfinite)
        XCTAssertEqual(BoxOperations.iou(boxes([[0, 0, 10, 10]]), boxes([[-3, 0, 3, 0]])).scalars, [0])
    }

    func testParityWithTorchvision() throws {
        let fixture = try Fixture("box_coder")
        let proposals = fixture.tensor("proposals"), reference = fixture.tensor("reference")
        for (tag, weights) in [("w1111", (Float(1), Float(1), Float(1), Float(1))), ("w101055", (10, 10, 5, 5))] {
            let coder = BoxCoder(weights: weights)
            assertClose(coder.encode(reference: reference, proposals: proposals), fixture.tensor("encoded_\(tag)"),
                        rtol: 1e-4, atol: 1e-5, "encode \(tag)")
            assertClose(coder.decode(deltas: fixture.tensor("deltas_\(tag)"), boxes: proposals),
                        fixture.tensor("decoded_\(tag)"), rtol: 1e-4, atol: 1e-4, "decode \(tag)")
        }
    }
}
