import XCTest
@testable import TensorCore

/// The pool that recycles large tensor blocks between training steps.
final class LargeBlockPoolTests: XCTestCase {
    func testSizeClassesRoundUpByAtMostAnEighth() {
        for bytes in [1 << 20, (1 << 20) + 4, 3_000_000, 16_777_216, 37_748_736, 123_456_789] {
            let size = LargeBlockPool.sizeClass(bytes)
            XCTAssertGreaterThanOrEqual(size, bytes)
            XCTAssertLessThanOrEqual(Double(size), Double(bytes) * 1.125 + 64, "\(bytes) -> \(size)")
            XCTAssertEqual(size % 64, 0)
        }
        XCTAssertEqual(LargeBlockPool.sizeClass(1 << 20), 1 << 20)
    }

    func testReleasedBlockIsReusedAndTensorsStayIndependent() {
        let count = 300_000  // 1.2 MB: pooled
        var first: UnsafeRawPointer?
        do {
            let a = Tensor(shape: [count], repeating: 3)
            first = a.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }
        }
        // A tensor of the same size class gets the parked block, with its own contents.
        let b = Tensor(shape: [count - 1000], repeating: 5)
        XCTAssertEqual(b.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }, first)
        XCTAssertTrue(b.scalars.allSatisfy { $0 == 5 })
        // A live tensor's block is never handed out twice.
        let c = Tensor(shape: [count], repeating: 7)
        XCTAssertNotEqual(c.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) }, first)
        XCTAssertTrue(b.scalars.allSatisfy { $0 == 5 })
        XCTAssertTrue(c.scalars.allSatisfy { $0 == 7 })
    }
}
