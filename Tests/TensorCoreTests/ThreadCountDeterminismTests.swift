import XCTest
@testable import TensorCore

/// Every kernel gives the same bits with 1 and 2 worker threads (and, for products, on every GEMM path).
final class ThreadCountDeterminismTests: XCTestCase {
    func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.nextNormal() })
    }

    /// Runs `body` with 1 and with 2 workers and asserts bit-identical tensors.
    func assertSameWithOneAndTwoThreads(_ label: String, _ body: () -> [Tensor]) {
        let saved = ThreadingConfiguration.workerCount
        defer { ThreadingConfiguration.workerCount = saved }
        ThreadingConfiguration.workerCount = 1
        let one = body()
        ThreadingConfiguration.workerCount = 2
        let two = body()
        XCTAssertEqual(one.count, two.count, label)
        for (index, (a, b)) in zip(one, two).enumerated() {
            XCTAssertEqual(a.shape, b.shape, label)
            let differing = zip(a.scalars, b.scalars).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(label): output \(index) differs in \(differing) elements")
        }
    }

    func convolution(_ x: Tensor, _ w: Tensor, stride: Int, padding: Int) -> [Tensor] {
        let y = ConvolutionKernels.forward(input: x, weight: w, bias: nil, stride: stride, padding: padding, dilation: 1)
        let dy = random(y.shape, seed: 9)
        let g = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: stride, padding: padding,
                                            dilation: 1, needsInput: true, needsWeight: true, needsBias: true)
        return [y, g.input!, g.weight!, g.bias!]
    }

    func testConvolutionsForwardAndBackward() {
        // Winograd (3×3 stride 1, ≥ 16 channels), im2col (stride 2), 1×1, and a big-enough product to be split.
        let x = random([2, 32, 40, 36], seed: 1)
        assertSameWithOneAndTwoThreads("winograd 3×3") { convolution(x, random([48, 32, 3, 3], seed: 2), stride: 1, padding: 1) }
        assertSameWithOneAndTwoThreads("im2col 3×3 stride 2") { convolution(x, random([40, 32, 3, 3], seed: 3), stride: 2, padding: 1) }
        assertSameWithOneAndTwoThreads("1×1") { convolution(x, random([64, 32, 1, 1], seed: 4), stride: 1, padding: 0) }
        assertSameWithOneAndTwoThreads("7×7 stem") {
            convolution(random([1, 3, 64, 64], seed: 5), random([16, 3, 7, 7], seed: 6), stride: 2, padding: 3)
        }
    }

    func testTransposedConvolutionAndBatchNorm() {
        let x = random([2, 24, 14, 14], seed: 7), w = random([24, 16, 2, 2], seed: 8)
        assertSameWithOneAndTwoThreads("transposed convolution") {
            let y = TransposedConvolutionKernels.forward(input: x, weight: w, bias: nil, stride: 2)
            let g = TransposedConvolutionKernels.backward(outputGradient: random(y.shape, seed: 10), input: x, weight: w,
                                                          stride: 2, needsInput: true, needsWeight: true, needsBias: true)
            return [y, g.input!, g.weight!, g.bias!]
        }
        assertSameWithOneAndTwoThreads("batch norm") {
            let (mean, variance) = BatchNormKernels.statistics(x)
            let weight = random([24], seed: 12), bias = random([24], seed: 13)
            let y = BatchNormKernels.normalize(x, mean: mean, variance: variance, weight: weight, bias: bias, epsilon: 1e-5)
            let g = BatchNormKernels.backward(outputGradient: random(y.shape, seed: 14), input: x, mean: mean,
                                              variance: variance, weight: weight, epsilon: 1e-5, batchStatistics: true,
                                              needsInput: true)
            return [Tensor(shape: [24], scalars: mean), Tensor(shape: [24], scalars: variance), y, g.input!, g.weight, g.bias]
        }
    }

    func testConvolutionIsTheSameOnEveryGEMMPath() {
        let x = random([1, 16, 20, 20], seed: 15), w = random([16, 16, 3, 3], seed: 16)
        let saved = MatrixMultiply.backend
        defer { MatrixMultiply.backend = saved }
        MatrixMultiply.backend = .masknet(.portable)
        let reference = convolution(x, w, stride: 1, padding: 1) + convolution(x, w, stride: 2, padding: 1)
        for path in MatrixMultiply.Path.allCases where path.isSupported(by: .current) {
            MatrixMultiply.backend = .masknet(path)
            let outputs = convolution(x, w, stride: 1, padding: 1) + convolution(x, w, stride: 2, padding: 1)
            for (a, b) in zip(outputs, reference) {
                XCTAssertEqual(a.scalars.map(\.bitPattern), b.scalars.map(\.bitPattern), "\(path)")
            }
        }
    }
}
