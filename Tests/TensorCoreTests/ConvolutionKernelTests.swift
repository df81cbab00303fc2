import Synchronization
import XCTest
@testable import TensorCore
import TestSupport

/// The convolution kernels (banded im2col + GEMM, pointwise shortcut, col2im) against a direct
/// six-loop convolution and its adjoint, on shapes covering stride 2, padding, dilation 2, 1×1 and 7×7,
/// with the column band forced down to a single output row as well as the default band.
final class ConvolutionKernelTests: XCTestCase {
    struct Case { let input: [Int]; let weight: [Int]; let stride, padding, dilation: Int; let bias: Bool }

    static let cases: [Case] = [
        Case(input: [2, 3, 9, 7], weight: [4, 3, 3, 3], stride: 1, padding: 1, dilation: 1, bias: true),
        Case(input: [1, 5, 10, 11], weight: [6, 5, 3, 3], stride: 2, padding: 1, dilation: 1, bias: false),
        Case(input: [2, 2, 11, 9], weight: [3, 2, 3, 3], stride: 1, padding: 2, dilation: 2, bias: true),
        Case(input: [1, 3, 12, 13], weight: [2, 3, 3, 3], stride: 2, padding: 0, dilation: 2, bias: false),
        Case(input: [2, 6, 5, 6], weight: [4, 6, 1, 1], stride: 1, padding: 0, dilation: 1, bias: true),
        Case(input: [1, 6, 9, 8], weight: [5, 6, 1, 1], stride: 2, padding: 0, dilation: 1, bias: false),
        Case(input: [1, 3, 17, 15], weight: [4, 3, 7, 7], stride: 2, padding: 3, dilation: 1, bias: false),
        Case(input: [1, 2, 4, 5], weight: [3, 2, 3, 3], stride: 3, padding: 2, dilation: 1, bias: true),
        // Stride 2 on rows wide enough for im2col's vectorised even-column copy.
        Case(input: [1, 3, 9, 45], weight: [4, 3, 3, 3], stride: 2, padding: 1, dilation: 1, bias: false),
        Case(input: [1, 3, 11, 70], weight: [4, 3, 7, 7], stride: 2, padding: 3, dilation: 1, bias: true),
        // Stride 1: the input gradient runs as a convolution with the flipped kernel (padding 3 − p)…
        Case(input: [2, 3, 8, 6], weight: [5, 3, 5, 5], stride: 1, padding: 1, dilation: 1, bias: false),
        Case(input: [1, 4, 7, 9], weight: [2, 4, 3, 3], stride: 1, padding: 0, dilation: 1, bias: true),
        // …except where the padding exceeds the kernel's reach, or the kernel is not square.
        Case(input: [1, 2, 5, 6], weight: [3, 2, 3, 3], stride: 1, padding: 3, dilation: 1, bias: false),
        Case(input: [1, 2, 6, 7], weight: [3, 2, 3, 1], stride: 1, padding: 1, dilation: 1, bias: false),
    ]

    func random(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<Tensor.elementCount(shape)).map { _ in generator.nextNormal() })
    }

    /// Direct convolution in Double; returns output and, for a given dY, the adjoint gradients.
    func reference(_ x: Tensor, _ w: Tensor, _ b: Tensor?, _ c: Case, dy: Tensor?)
        -> (y: [Double], dx: [Double], dw: [Double], db: [Double]) {
        let g = Convolution2DGeometry(input: x.shape, weight: w.shape, stride: c.stride, padding: c.padding,
                                      dilation: c.dilation)
        let (n, ci, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
        let (ho, wo) = (g.outputHeight, g.outputWidth)
        let xs = x.scalars, ws = w.scalars, dys = dy?.scalars
        var y = [Double](repeating: 0, count: n * o * ho * wo)
        var dx = [Double](repeating: 0, count: xs.count), dw = [Double](repeating: 0, count: ws.count)
        var db = [Double](repeating: 0, count: o)
        for image in 0..<n { for oc in 0..<o { for oy in 0..<ho { for ox in 0..<wo {
            let yIndex = ((image * o + oc) * ho + oy) * wo + ox
            var sum = b.map { Double($0.scalars[oc]) } ?? 0
            let upstream = dys.map { Double($0[yIndex]) } ?? 0
            db[oc] += upstream
            for cc in 0..<ci { for ky in 0..<kh { for kx in 0..<kw {
                let iy = oy * c.stride - c.padding + ky * c.dilation
                let ix = ox * c.stride - c.padding + kx * c.dilation
                guard iy >= 0, iy < h, ix >= 0, ix < wd else { continue }
                let xIndex = ((image * ci + cc) * h + iy) * wd + ix
                let wIndex = ((oc * ci + cc) * kh + ky) * kw + kx
                sum += Double(xs[xIndex]) * Double(ws[wIndex])
                dx[xIndex] += Double(ws[wIndex]) * upstream
                dw[wIndex] += Double(xs[xIndex]) * upstream
            } } }
            y[yIndex] = sum
        } } } }
        return (y, dx, dw, db)
    }

    /// The shared `assertClose` against a float64 reference, with atol = 1e-5 · max(1, max|expected|): the
    /// kernels sum in float32 in another order than the reference.
    func assertClose(_ actual: Tensor?, _ expected: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let actual, actual.count == expected.count else {
            return XCTFail("\(what): \(actual.map { "\($0.count) values" } ?? "missing"), expected \(expected.count)", file: file, line: line)
        }
        let scale = max(1, expected.map(abs).max() ?? 1)
        TestSupport.assertClose(actual, Tensor(shape: actual.shape, scalars: expected.map(Float.init)), rtol: 0,
                                atol: Float(1e-5 * scale), what, file: file, line: line)
    }

    func runCases(bandBytes: Int) {
        let saved = (ConvolutionKernels.columnBlockBytes.exchange(bandBytes, ordering: .relaxed),
                     ConvolutionKernels.minimumBandColumns.exchange(1, ordering: .relaxed))
        defer {
            ConvolutionKernels.columnBlockBytes.store(saved.0, ordering: .relaxed)
            ConvolutionKernels.minimumBandColumns.store(saved.1, ordering: .relaxed)
        }
        var generator = SeededGenerator(seed: 7)
        for (index, c) in Self.cases.enumerated() {
            let x = random(c.input, &generator), w = random(c.weight, &generator)
            let b = c.bias ? random([c.weight[0]], &generator) : nil
            let y = ConvolutionKernels.forward(input: x, weight: w, bias: b, stride: c.stride, padding: c.padding,
                                               dilation: c.dilation)
            let dy = random(y.shape, &generator)
            let expected = reference(x, w, b, c, dy: dy)
            assertClose(y, expected.y, "case \(index) forward")
            let grads = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: c.stride,
                                                    padding: c.padding, dilation: c.dilation,
                                                    needsInput: true, needsWeight: true, needsBias: c.bias)
            assertClose(grads.input, expected.dx, "case \(index) input gradient")
            assertClose(grads.weight, expected.dw, "case \(index) weight gradient")
            if c.bias { assertClose(grads.bias, expected.db, "case \(index) bias gradient") }
            // Requesting only one gradient must give the same values.
            let onlyInput = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: c.stride,
                                                        padding: c.padding, dilation: c.dilation,
                                                        needsInput: true, needsWeight: false, needsBias: false)
            XCTAssertNil(onlyInput.weight)
            assertClose(onlyInput.input, expected.dx, "case \(index) input gradient alone")
        }
    }

    func testMatchesDirectConvolutionWithDefaultBands() { runCases(bandBytes: 8 << 20) }

    func testMatchesDirectConvolutionWithOneRowBands() { runCases(bandBytes: 1) }

    func testMatchesDirectConvolutionWithTwoRowBands() {
        // Bands of a few rows whose last band is shorter than the others.
        runCases(bandBytes: 2 * 6 * 9 * 6 * 4)
    }

    /// 3×3 stride-1 convolutions with 16+ channels run by Winograd F(4×4, 3×3): output sizes that are
    /// and are not multiples of the 4×4 tile, paddings 0–2 (the input gradient of padding 0 runs with
    /// padding 2), several images, and chunks forced down to one tile row so that the tiles of one image
    /// span chunks and the weight gradient accumulates over them.
    static let winogradCases: [Case] = [
        Case(input: [2, 16, 9, 7], weight: [17, 16, 3, 3], stride: 1, padding: 1, dilation: 1, bias: true),
        Case(input: [1, 20, 16, 16], weight: [16, 20, 3, 3], stride: 1, padding: 1, dilation: 1, bias: false),
        Case(input: [3, 16, 6, 11], weight: [18, 16, 3, 3], stride: 1, padding: 0, dilation: 1, bias: true),
        Case(input: [1, 16, 5, 5], weight: [16, 16, 3, 3], stride: 1, padding: 2, dilation: 1, bias: false),
        // Rows wide enough for the vectorised (four slots at a time) gathers and scatters.
        Case(input: [1, 16, 9, 41], weight: [16, 16, 3, 3], stride: 1, padding: 1, dilation: 1, bias: true),
        Case(input: [2, 16, 6, 38], weight: [16, 16, 3, 3], stride: 1, padding: 0, dilation: 1, bias: false),
    ]

    func testWinogradMatchesDirectConvolution() {
        for chunkBytes in [4 << 20, 1] {
            // Chunks of one tile row, so that an image's tiles span several chunks.
            let saved = (WinogradConvolution.chunkBytes.exchange(chunkBytes, ordering: .relaxed),
                         WinogradConvolution.minimumChunkTiles.exchange(1, ordering: .relaxed))
            defer {
                WinogradConvolution.chunkBytes.store(saved.0, ordering: .relaxed)
                WinogradConvolution.minimumChunkTiles.store(saved.1, ordering: .relaxed)
            }
            var generator = SeededGenerator(seed: 5)
            for (index, c) in Self.winogradCases.enumerated() {
                let g = Convolution2DGeometry(input: c.input, weight: c.weight, stride: 1, padding: c.padding, dilation: 1)
                XCTAssertTrue(WinogradConvolution.applies(g), "case \(index) should run by Winograd")
                let x = random(c.input, &generator), w = random(c.weight, &generator)
                let b = c.bias ? random([c.weight[0]], &generator) : nil
                let y = ConvolutionKernels.forward(input: x, weight: w, bias: b, stride: 1, padding: c.padding, dilation: 1)
                let dy = random(y.shape, &generator)
                let expected = reference(x, w, b, c, dy: dy)
                let label = "Winograd case \(index), chunk \(chunkBytes) B"
                assertClose(y, expected.y, "\(label) forward")
                let grads = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: 1,
                                                        padding: c.padding, dilation: 1,
                                                        needsInput: true, needsWeight: true, needsBias: c.bias)
                assertClose(grads.input, expected.dx, "\(label) input gradient")
                assertClose(grads.weight, expected.dw, "\(label) weight gradient")
                let onlyWeight = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: 1,
                                                             padding: c.padding, dilation: 1,
                                                             needsInput: false, needsWeight: true, needsBias: false)
                XCTAssertNil(onlyWeight.input)
                assertClose(onlyWeight.weight, expected.dw, "\(label) weight gradient alone")
                // With the transforms the forward pass kept, as on a gradient tape.
                for (forInput, forWeight) in [(true, true), (true, false), (false, true)] {
                    let workspace = ConvolutionWorkspace(forInputGradient: forInput, forWeightGradient: forWeight)
                    let kept = ConvolutionKernels.forward(input: x, weight: w, bias: b, stride: 1, padding: c.padding,
                                                          dilation: 1, workspace: workspace)
                    XCTAssertEqual(kept.scalars, y.scalars, "\(label) forward keeping transforms")
                    XCTAssertEqual(workspace.winograd?.transformedWeight != nil, forInput)
                    XCTAssertEqual(workspace.winograd?.transformedInput != nil, forWeight)
                    let reused = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: 1,
                                                             padding: c.padding, dilation: 1, needsInput: true,
                                                             needsWeight: true, needsBias: false, workspace: workspace)
                    assertClose(reused.input, expected.dx, "\(label) input gradient, kept transforms \(forInput)/\(forWeight)")
                    assertClose(reused.weight, expected.dw, "\(label) weight gradient, kept transforms \(forInput)/\(forWeight)")
                }
            }
        }
    }

    func testFlippedKernelAppliesOnlyWhereValid() {
        func geometry(_ k: Int, _ stride: Int, _ padding: Int, _ dilation: Int) -> Convolution2DGeometry {
            Convolution2DGeometry(input: [1, 2, 9, 9], weight: [3, 2, k, k], stride: stride, padding: padding, dilation: dilation)
        }
        let weight = Tensor(shape: [3, 2, 3, 3], scalars: (0..<54).map(Float.init))
        let transposed = ConvolutionKernels.transposedForInputGradient(weight, geometry(3, 1, 1, 1))
        XCTAssertEqual(transposed?.padding, 1)
        XCTAssertEqual(transposed?.weight.shape, [2, 3, 3, 3])
        // W̃[c, o, ky, kx] = W[o, c, 2 − ky, 2 − kx]
        XCTAssertEqual(transposed?.weight[1, 2, 0, 1], weight[2, 1, 2, 1])
        XCTAssertEqual(ConvolutionKernels.transposedForInputGradient(weight, geometry(3, 1, 2, 2))?.padding, 2)
        XCTAssertNil(ConvolutionKernels.transposedForInputGradient(weight, geometry(3, 2, 1, 1)))
        XCTAssertNil(ConvolutionKernels.transposedForInputGradient(weight, geometry(3, 1, 3, 1)))
    }

    /// Convolution is linear in x, so the central difference of L = Σ dY ⊙ conv(x) is exact up to rounding:
    /// checks the backward against the forward itself, independent of the reference above.
    func testInputGradientMatchesFiniteDifferences() {
        var generator = SeededGenerator(seed: 11)
        let c = Case(input: [1, 2, 6, 5], weight: [3, 2, 3, 3], stride: 2, padding: 1, dilation: 1, bias: false)
        let x = random(c.input, &generator), w = random(c.weight, &generator)
        let y = ConvolutionKernels.forward(input: x, weight: w, bias: nil, stride: 2, padding: 1, dilation: 1)
        let dy = random(y.shape, &generator)
        let dx = ConvolutionKernels.backward(outputGradient: dy, input: x, weight: w, stride: 2, padding: 1, dilation: 1,
                                             needsInput: true, needsWeight: false, needsBias: false).input!
        func loss(_ input: Tensor) -> Double {
            let out = ConvolutionKernels.forward(input: input, weight: w, bias: nil, stride: 2, padding: 1, dilation: 1)
            return zip(out.scalars, dy.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        for index in stride(from: 0, to: x.count, by: 7) {
            var plus = x, minus = x
            plus.withUnsafeMutableBufferPointer { $0[index] += 0.5 }
            minus.withUnsafeMutableBufferPointer { $0[index] -= 0.5 }
            let numeric = loss(plus) - loss(minus)
            XCTAssertEqual(Double(dx.scalars[index]), numeric, accuracy: 1e-3 * max(1, abs(numeric)), "element \(index)")
        }
    }
}
