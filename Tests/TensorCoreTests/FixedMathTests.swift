import Foundation
import XCTest
@testable import TensorCore

/// FixedMath's exp and log: close to libm (which rounds differently per machine) and exact where the
/// answer is exact.
final class FixedMathTests: XCTestCase {
    func testExpAgreesWithLibmToAboutAnULP() {
        var x = -745.0
        while x < 709.7 {
            let ours = FixedMath.exp(x), reference = Foundation.exp(x)
            if reference > 1e-300 {
                XCTAssertLessThan(abs(ours - reference) / reference, 4e-16, "exp(\(x))")
            }
            x += 0.3791
        }
        for x in stride(from: -1.0, to: 1.0, by: 0.00731) {
            XCTAssertLessThan(abs(FixedMath.exp(x) - Foundation.exp(x)) / Foundation.exp(x), 3e-16, "exp(\(x))")
        }
    }

    func testLogAgreesWithLibmToAboutAnULP() {
        for x in [1e-310, 1e-300, 1e-20, 0.001, 0.5, 0.70710678, 0.9999, 1.0001, 1.41421357, 2, 3, 10, 1e10, 1e300] {
            let ours = FixedMath.log(x), reference = Foundation.log(x)
            XCTAssertLessThan(abs(ours - reference), 4e-16 * max(1, abs(reference)), "log(\(x))")
        }
        var generator = SeededGenerator(seed: 11)
        for _ in 0..<2000 {
            let x = FixedMath.exp(Double(generator.nextNormal()) * 20)
            XCTAssertLessThan(abs(FixedMath.log(x) - Foundation.log(x)), 4e-16 * max(1, abs(Foundation.log(x))), "log(\(x))")
        }
    }

    func testLog1pIsAccurateForSmallArguments() {
        for x in [1e-300, 1e-17, 1e-12, 1e-8, -1e-8, 1e-4, 0.3, -0.3, 5.0] {
            let reference = Foundation.log1p(x)
            XCTAssertLessThan(abs(FixedMath.log1p(x) - reference), 4e-16 * abs(reference), "log1p(\(x))")
        }
    }

    func testSpecialValues() {
        XCTAssertEqual(FixedMath.exp(0.0), 1)
        XCTAssertEqual(FixedMath.log(1.0), 0)
        XCTAssertEqual(FixedMath.exp(710.0), .infinity)
        XCTAssertEqual(FixedMath.exp(-746.0), 0)
        XCTAssertEqual(FixedMath.exp(-Double.infinity), 0)
        XCTAssertTrue(FixedMath.exp(Double.nan).isNaN)
        XCTAssertEqual(FixedMath.log(0.0), -.infinity)
        XCTAssertTrue(FixedMath.log(-1.0).isNaN)
        XCTAssertEqual(FixedMath.log(Double.infinity), .infinity)
        XCTAssertEqual(FixedMath.log(8.0), 3 * FixedMath.log(2.0), accuracy: 1e-15)
        XCTAssertEqual(FixedMath.sigmoid(0), 0.5)
        XCTAssertEqual(FixedMath.sigmoid(100), 1)
        XCTAssertEqual(FixedMath.sigmoid(-100), FixedMath.exp(Float(-100)), accuracy: 1e-44)
        XCTAssertEqual(FixedMath.pow(0.9, 3), 0.729, accuracy: 1e-15)
    }
}
