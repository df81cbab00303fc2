import CKernels
import Dispatch
import Foundation
import TensorCore

/// GFLOP/s of matrix products at the model's shapes, and the machine's FMA peak (`masknet bench gemm`).
/// Timings only: never run as tests.
public struct GEMMBenchmark {
    /// One product C[m×n] = op(A)[m×k] · op(B)[k×n] as the model runs it, or a batch of `batch` such
    /// independent products spread over the workers one product per worker at a time (Winograd's 36).
    public struct Shape: Codable, Sendable {
        public var name: String
        public var m: Int, n: Int, k: Int
        public var transposeA: Bool, transposeB: Bool
        public var batch = 1
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(batch) }
    }

    /// The products timed: a large square one (the "large product" of the peak target) and the model's
    /// main kinds at R18/R50 sizes for 512² inputs and the quickstart's 256² inputs. Winograd's tile
    /// counts are its chunk sizes (`WinogradConvolution.Tiling`): 448 tiles at 64 channels, 224 at 128, 64 at 256.
    public static let modelShapes: [Shape] = [
        Shape(name: "square 2048³", m: 2048, n: 2048, k: 2048, transposeA: false, transposeB: false),
        Shape(name: "im2col 3×3 64→64 at 128² (forward)", m: 64, n: 16384, k: 576, transposeA: false, transposeB: false),
        Shape(name: "im2col 3×3 256→256 at 32² (forward)", m: 256, n: 1024, k: 2304, transposeA: false, transposeB: false),
        Shape(name: "im2col stem 7×7 3→64 at 128² (forward)", m: 64, n: 16384, k: 147, transposeA: false, transposeB: false),
        Shape(name: "1×1 1024→256 at 32² (forward)", m: 256, n: 1024, k: 1024, transposeA: false, transposeB: false),
        Shape(name: "im2col 3×3 64 ch weight gradient (dY·colᵀ)", m: 64, n: 576, k: 16384, transposeA: false, transposeB: true),
        Shape(name: "im2col 3×3 64 ch column gradient (Wᵀ·dY)", m: 576, n: 16384, k: 64, transposeA: true, transposeB: false),
        Shape(name: "Winograd 36× U·V 64 ch, 448 tiles", m: 64, n: 448, k: 64, transposeA: false, transposeB: false, batch: 36),
        Shape(name: "Winograd 36× E·Vᵀ 64 ch (weight grad)", m: 64, n: 64, k: 448, transposeA: false, transposeB: true, batch: 36),
        Shape(name: "Winograd 36× Uᵀ·E 64 ch (input grad)", m: 64, n: 448, k: 64, transposeA: true, transposeB: false, batch: 36),
        Shape(name: "Winograd 36× U·V 128 ch, 224 tiles", m: 128, n: 224, k: 128, transposeA: false, transposeB: false, batch: 36),
        Shape(name: "Winograd 36× U·V 256 ch, 64 tiles", m: 256, n: 64, k: 256, transposeA: false, transposeB: false, batch: 36),
        Shape(name: "Winograd 36× U·V 256 ch FPN/heads, 256 tiles", m: 256, n: 256, k: 256, transposeA: false, transposeB: false, batch: 36),
        Shape(name: "box head fc6 512 RoIs 12544→1024 (x·Wᵀ)", m: 512, n: 1024, k: 12544, transposeA: false, transposeB: true),
        Shape(name: "box head fc6 weight gradient (dYᵀ·x)", m: 1024, n: 12544, k: 512, transposeA: true, transposeB: false),
    ]

    /// Median GFLOP/s of `runs` products of `shape` on the current backend and worker count.
    public static func gigaflops(_ shape: Shape, runs: Int) -> Double {
        let aCount = shape.m * shape.k, bCount = shape.k * shape.n, cCount = shape.m * shape.n
        var generator = SeededGenerator(seed: 7)
        let a = (0..<aCount * shape.batch).map { _ in Float(generator.nextInt(below: 1000)) / 1000 - 0.5 }
        let b = (0..<bCount * shape.batch).map { _ in Float(generator.nextInt(below: 1000)) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: cCount * shape.batch)
        // Small products are repeated so that each timing covers about 0.05 s or more.
        let repeats = max(1, Int(5e8 / shape.flops))
        let (lda, ldb) = (shape.transposeA ? shape.m : shape.k, shape.transposeB ? shape.k : shape.n)
        var times: [Double] = []
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    let (aBase, bBase, cBase) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
                    for run in 0...runs {
                        let start = DispatchTime.now().uptimeNanoseconds
                        for _ in 0..<repeats {
                            if shape.batch == 1 {
                                MatrixMultiply.gemm(
                                    transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n,
                                    k: shape.k, a: aBase, lda: lda, b: bBase, ldb: ldb, c: cBase, ldc: shape.n)
                            } else {
                                // As WinogradConvolution runs them: whole products on the workers.
                                parallelFor(shape.batch) { index in
                                    MatrixMultiply.serialGemm(
                                        transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n,
                                        k: shape.k, a: aBase + index * aCount, lda: lda, b: bBase + index * bCount, ldb: ldb,
                                        beta: 0, c: cBase + index * cCount, ldc: shape.n)
                                }
                            }
                        }
                        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        if run > 0 { times.append(seconds / Double(repeats)) }   // run 0 warms caches and buffers
                    }
                }
            }
        }
        times.sort()
        return shape.flops / times[times.count / 2] / 1e9
    }

    /// The machine's single-precision FMA peak in GFLOP/s over `workers` threads, measured by a tight loop
    /// of independent FMAs on the widest vectors the CPU has (nil without FMA).
    public static func fmaPeak(workers: Int) -> Double? {
        let features = CPUFeatures.current
        let (path, lanes, chains): (ck_gemm_path, Double, Double)
        if features.avx512f { (path, lanes, chains) = (ck_gemm_path_avx512, 16, 24) }
        else if features.avx2 && features.fma { (path, lanes, chains) = (ck_gemm_path_avx2, 8, 12) }
        else { return nil }
        let iterations = 20_000_000
        var best = 0.0
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            DispatchQueue.concurrentPerform(iterations: workers) { _ in
                _ = ck_fma_peak_probe(path, iterations)
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, Double(workers) * Double(iterations) * chains * lanes * 2 / seconds / 1e9)
        }
        return best
    }
}
