import ObjectDetection
import TensorCore
import XCTest

/// Matcher and sampler: hand cases for thresholds, low-quality ties, counts and seeded determinism;
/// matcher parity with torchvision (fixture nms.safetensors, identical integer output required).
final class MatcherSamplerTests: XCTestCase {
    func testThresholdsWithoutLowQualityMatches() {
        let iou = Tensor(shape: [2, 5], scalars: [0.80, 0.50, 0.10, 0.75, 0.00,
                                                  0.20, 0.60, 0.29, 0.75, 0.30])
        let matcher = Matcher(highThreshold: 0.75, lowThreshold: 0.5, allowLowQualityMatches: false)
        // Anchor 3 ties between the gts (0.75 ≥ high): the lower index wins.
        XCTAssertEqual(matcher(iou), [0, -2, -1, 0, -1])
        XCTAssertEqual(Matcher.belowLowThreshold, -1)
        XCTAssertEqual(Matcher.betweenThresholds, -2)
    }

    func testLowQualityMatchesRestoreEveryTiedAnchor() {
        // gt 0's best IoU 0.4 is reached by anchors 1 and 3; anchor 3 prefers gt 1 (0.45) and gets gt 1.
        // gt 1's best is 0.45 at anchor 3 only. Anchor 0 (0.1) stays negative, anchor 2 stays ignored.
        let iou = Tensor(shape: [2, 4], scalars: [0.10, 0.40, 0.35, 0.40,
                                                  0.00, 0.20, 0.10, 0.45])
        let matcher = Matcher(highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true)
        XCTAssertEqual(matcher(iou), [-1, 0, -2, 1])
        let strict = Matcher(highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: false)
        XCTAssertEqual(strict(iou), [-1, -2, -2, -2])
    }

    func testMatcherParityWithTorchvision() throws {
        let fixture = try Fixture("nms")
        let anchors = Tensor(shape: [200, 4], scalars: Array(fixture.tensor("boxes").scalars[0..<800]))
        let iou = BoxOperations.iou(fixture.tensor("matcher_gt"), anchors)
        XCTAssertEqual(Matcher(highThreshold: 0.7, lowThreshold: 0.3, allowLowQualityMatches: true)(iou),
                       fixture.integers("matcher_lowquality"))
        XCTAssertEqual(Matcher(highThreshold: 0.5, lowThreshold: 0.3, allowLowQualityMatches: false)(iou),
                       fixture.integers("matcher_plain"))
    }

    func testSamplerCounts() {
        let sampler = BalancedPositiveNegativeSampler(batchSizePerImage: 256, positiveFraction: 0.75)
        var generator = SeededGenerator(seed: 7)
        func labels(pos: Int, neg: Int, ignored: Int) -> [Int] {
            var l = [Int](repeating: 1, count: pos) + [Int](repeating: 0, count: neg) + [Int](repeating: -1, count: ignored)
            generator.shuffle(&l)
            return l
        }
        for (pos, neg, expectedPos, expectedNeg) in [(10, 1000, 10, 246), (300, 1000, 192, 64), (5, 3, 5, 3),
                                                     (0, 500, 0, 256), (400, 0, 192, 0)] {
            let l = labels(pos: pos, neg: neg, ignored: 50)
            let (positive, negative) = sampler(l, generator: &generator)
            XCTAssertEqual(positive.count, expectedPos, "\(pos) positives, \(neg) negatives")
            XCTAssertEqual(negative.count, expectedNeg, "\(pos) positives, \(neg) negatives")
            XCTAssertTrue(positive.allSatisfy { l[$0] >= 1 } && negative.allSatisfy { l[$0] == 0 })
            XCTAssertEqual(Set(positive).count, positive.count)
            XCTAssertEqual(Set(negative).count, negative.count)
            XCTAssertEqual(positive, positive.sorted())
        }
        // Labels ≥ 1 (class labels in the RoI heads) are positives too.
        let classes = sampler([2, 0, 1, -1, 3], generator: &generator)
        XCTAssertEqual(classes.positive, [0, 2, 4])
        XCTAssertEqual(classes.negative, [1])
    }

    func testSamplerIsSeededAndUniform() {
        let sampler = BalancedPositiveNegativeSampler(batchSizePerImage: 16, positiveFraction: 0.25)
        let labels = (0..<1000).map { $0 % 10 == 0 ? 1 : 0 }
        var a = SeededGenerator(seed: 42), b = SeededGenerator(seed: 42), c = SeededGenerator(seed: 43)
        let first = sampler(labels, generator: &a), second = sampler(labels, generator: &b)
        XCTAssertEqual(first.positive, second.positive)
        XCTAssertEqual(first.negative, second.negative)
        XCTAssertEqual(first.positive.count, 4)
        XCTAssertEqual(first.negative.count, 12)
        XCTAssertNotEqual(sampler(labels, generator: &c).negative, first.negative)
        // Every negative gets drawn with roughly equal frequency.
        var counts = [Int](repeating: 0, count: 1000)
        var generator = SeededGenerator(seed: 1)
        for _ in 0..<3000 { for i in sampler(labels, generator: &generator).negative { counts[i] += 1 } }
        let negatives = (0..<1000).filter { labels[$0] == 0 }.map { counts[$0] }
        // Expected 3000·12/900 = 40 per negative; Poisson-like spread.
        XCTAssertEqual(Double(negatives.reduce(0, +)) / Double(negatives.count), 40, accuracy: 0.01)
        XCTAssertGreaterThan(negatives.min()!, 10)
        XCTAssertLessThan(negatives.max()!, 80)
    }
}
