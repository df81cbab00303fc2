import VisionBackbones
import XCTest

/// The benchmarks' one median: middle value, mean of the two middle values, 0 for none.
final class MedianTests: XCTestCase {
    func testOddEvenAndEmpty() {
        XCTAssertEqual(median([3, 1, 2]), 2)
        XCTAssertEqual(median([4, 1, 3, 2]), 2.5)  // the upper middle alone (3) was one of the old copies
        XCTAssertEqual(median([7]), 7)
        XCTAssertEqual(median([]), 0)
    }
}
