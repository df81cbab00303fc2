import XCTest
@testable import TensorCore

/// Max pooling (with its unrolled 3×3 interior path) against a direct scan, and elementwise `+`.
final class PoolingAndElementwiseTests: XCTestCase {
    /// Direct max pooling with the kernel's documented tie rule (first maximum in scan order, NaN wins).
    func reference(_ x: Tensor, k: Int, s: Int, p: Int) -> (values: [Float], indices: [Int32]) {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1
        let xs = x.scalars
        var values: [Float] = [], indices: [Int32] = []
        for plane in 0..<(n * c) { for oy in 0..<ho { for ox in 0..<wo {
            var best = -Float.infinity, bestIndex = max(0, oy * s - p) * w + max(0, ox * s - p)
            for ky in 0..<k { for kx in 0..<k {
                let iy = oy * s - p + ky, ix = ox * s - p + kx
                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                let v = xs[plane * h * w + iy * w + ix]
                if v > best || v.isNaN { best = v; bestIndex = iy * w + ix }
            } }
            values.append(best); indices.append(Int32(bestIndex))
        } } }
        return (values, indices)
    }

    func testMaxPoolMatchesDirectScan() {
        var generator = SeededGenerator(seed: 3)
        let shapes = [[1, 2, 9, 9], [2, 3, 8, 11], [1, 1, 1, 1], [1, 2, 2, 3], [1, 1, 5, 1], [1, 4, 16, 16]]
        for shape in shapes {
            for (k, s, p) in [(3, 2, 1), (3, 1, 1), (2, 2, 0), (3, 2, 0)] where shape[2] + 2 * p >= k && shape[3] + 2 * p >= k {
                // Values from a small set, so ties occur often and the tie rule is exercised.
                let x = Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in Float(generator.nextInt(below: 4)) })
                let (output, indices) = MaxPoolKernels.forward(x, kernelSize: k, stride: s, padding: p)
                let expected = reference(x, k: k, s: s, p: p)
                XCTAssertEqual(output.scalars, expected.values, "\(shape) k\(k) s\(s) p\(p)")
                XCTAssertEqual(indices, expected.indices, "\(shape) k\(k) s\(s) p\(p)")
            }
        }
    }

    func testMaxPoolPropagatesNaN() {
        var x = Tensor(shape: [1, 1, 5, 5], repeating: 1)
        x[0, 0, 2, 2] = .nan
        let (output, indices) = MaxPoolKernels.forward(x, kernelSize: 3, stride: 2, padding: 1)
        XCTAssertTrue(output[0, 0, 1, 1].isNaN)
        XCTAssertEqual(indices[4], 12)
        XCTAssertEqual(output[0, 0, 0, 0], 1)
    }

    func testAddIsElementwise() {
        var generator = SeededGenerator(seed: 5)
        let count = 100_003  // more than one parallel chunk
        let a = Tensor(shape: [count], scalars: (0..<count).map { _ in generator.nextNormal() })
        let b = Tensor(shape: [count], scalars: (0..<count).map { _ in generator.nextNormal() })
        let sum = a + b
        XCTAssertEqual(sum.shape, [count])
        XCTAssertEqual(sum.scalars, zip(a.scalars, b.scalars).map { $0 + $1 })
    }
}
