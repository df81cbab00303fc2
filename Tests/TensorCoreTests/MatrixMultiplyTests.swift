import XCTest
@testable import TensorCore

/// Our GEMM: every instruction-set path and every thread count gives the bits of the portable
/// definition (K accumulated in order, one FMA per step), and the values are right.
final class MatrixMultiplyTests: XCTestCase {
    /// (m, n, k) covering partial register tiles, several MC/NC blocks, op(B) in chunks (m ≤ MC), K in equal
    /// slices (KC = 256) and tiny cases.
    let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (5, 17, 3), (6, 16, 256), (7, 33, 257), (13, 31, 64), (14, 32, 9), (29, 65, 600),
        (170, 40, 20), (3, 4130, 2), (64, 300, 72), (20, 1000, 300), (200, 50, 576), (0, 5, 5), (4, 4, 0),
    ]

    struct Case {
        var m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float
        var a: [Float], b: [Float], c: [Float]
        var lda: Int { transposeA ? m + 3 : k + 2 }     // padded strides: the kernels must honour them
        var ldb: Int { transposeB ? k + 1 : n + 5 }
        var ldc: Int { n + 4 }
    }

    func makeCase(_ m: Int, _ n: Int, _ k: Int, transposeA: Bool, transposeB: Bool, alpha: Float, beta: Float,
                  seed: UInt64) -> Case {
        var generator = SeededGenerator(seed: seed)
        var c = Case(m: m, n: n, k: k, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta,
                     a: [], b: [], c: [])
        let aRows = transposeA ? k : m, bRows = transposeB ? n : k
        c.a = (0..<max(1, aRows * c.lda)).map { _ in generator.nextNormal() }
        c.b = (0..<max(1, bRows * c.ldb)).map { _ in generator.nextNormal() }
        // beta = 0 must ignore C entirely, NaN included.
        c.c = (0..<max(1, m * c.ldc)).map { _ in beta == 0 ? .nan : generator.nextNormal() }
        return c
    }

    func run(_ t: Case, _ backend: MatrixMultiply.Backend, workers: Int) -> [Float] {
        var out = t.c
        t.a.withUnsafeBufferPointer { a in
            t.b.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { c in
                    MatrixMultiply.gemm(backend, workers: workers, transposeA: t.transposeA, transposeB: t.transposeB,
                                        m: t.m, n: t.n, k: t.k, alpha: t.alpha, a: a.baseAddress!, lda: t.lda,
                                        b: b.baseAddress!, ldb: t.ldb, beta: t.beta, c: c.baseAddress!, ldc: t.ldc)
                }
            }
        }
        // Only C's m×n window is defined output; padding must be untouched.
        return out
    }

    func allCases() -> [Case] {
        var cases: [Case] = []
        var seed: UInt64 = 1
        for (m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                for (alpha, beta) in [(Float(1), Float(0)), (1, 1), (0.5, 0.75)] {
                    seed += 1
                    cases.append(makeCase(m, n, k, transposeA: ta, transposeB: tb, alpha: alpha, beta: beta, seed: seed))
                }
            }
        }
        return cases
    }

    func assertBitIdentical(_ x: [Float], _ y: [Float], _ message: String) {
        XCTAssertEqual(x.count, y.count, message)
        let differing = zip(x, y).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
        XCTAssertEqual(differing, 0, "\(differing) elements differ: \(message)")
    }

    func testVectorPathsMatchPortableDefinitionBitForBit() throws {
        let paths = MatrixMultiply.Path.allCases.filter { $0 != .portable && $0.isSupported(by: .current) }
        guard !paths.isEmpty else { throw XCTSkip("this CPU has neither AVX2+FMA nor AVX-512F: only the portable path runs") }
        for t in allCases() {
            let reference = run(t, .masknet(.portable), workers: 1)
            for path in paths {
                assertBitIdentical(run(t, .masknet(path), workers: 1), reference,
                                   "\(path) m \(t.m) n \(t.n) k \(t.k) tA \(t.transposeA) tB \(t.transposeB) beta \(t.beta)")
            }
        }
    }

    func testAVX512PathWhereTheCPUHasIt() throws {
        guard MatrixMultiply.Path.avx512.isSupported(by: .current) else {
            throw XCTSkip("no AVX-512F on this CPU (\(CPUFeatures.current.summary)): the AVX-512 path is compiled but cannot run here")
        }
        for t in allCases().prefix(24) {
            assertBitIdentical(run(t, .masknet(.avx512), workers: 2), run(t, .masknet(.avx2), workers: 1), "AVX-512 vs AVX2")
        }
    }

    func testThreadCountsGiveIdenticalBits() {
        let path = MatrixMultiply.Path.best(for: .current)
        // Large enough to be split over workers (≥ 2 M multiply-adds), both along N and along M.
        for (m, n, k) in [(64, 1500, 40), (700, 96, 50), (97, 301, 260)] {
            for (ta, tb) in [(false, false), (true, false), (false, true)] {
                let t = makeCase(m, n, k, transposeA: ta, transposeB: tb, alpha: 1, beta: 1, seed: UInt64(m * n + k))
                let one = run(t, .masknet(path), workers: 1)
                for workers in [2, 3, 5] {
                    assertBitIdentical(run(t, .masknet(path), workers: workers), one, "\(workers) workers, \(m)×\(n)×\(k)")
                }
            }
        }
    }

    func testValuesAgreeWithDoublePrecisionProduct() {
        let path = MatrixMultiply.Path.best(for: .current)
        for t in allCases() {
            let out = run(t, .masknet(path), workers: 2)
            for i in 0..<t.m {
                for j in 0..<t.n {
                    var sum = 0.0, magnitude = 0.0
                    for p in 0..<t.k {
                        let x = Double(t.transposeA ? t.a[p * t.lda + i] : t.a[i * t.lda + p])
                        let y = Double(t.transposeB ? t.b[j * t.ldb + p] : t.b[p * t.ldb + j])
                        sum += x * y
                        magnitude += abs(x * y)
                    }
                    let old = t.beta == 0 ? 0 : Double(t.c[i * t.ldc + j])
                    let expected = Double(t.alpha) * sum + Double(t.beta) * old
                    let scale = Double(t.alpha) * magnitude + abs(Double(t.beta) * old) + 1e-30
                    let error = abs(Double(out[i * t.ldc + j]) - expected) / scale
                    XCTAssertLessThan(error, 1e-6 * Double(max(1, t.k)).squareRoot() + 1e-7,
                                      "m \(t.m) n \(t.n) k \(t.k) at (\(i), \(j))")
                }
                // Columns past n in each row of C are not written.
                for j in t.n..<t.ldc {
                    let before = t.c[i * t.ldc + j], after = out[i * t.ldc + j]
                    XCTAssertTrue(before.bitPattern == after.bitPattern, "padding written at (\(i), \(j))")
                }
            }
        }
    }

    func testBackendNames() throws {
        let avx2Machine = CPUFeatures(avx2: true, fma: true, avx512f: false)
        XCTAssertEqual(try MatrixMultiply.backend(named: nil, features: avx2Machine), .masknet(.avx2))
        XCTAssertEqual(try MatrixMultiply.backend(named: "masknet", features: avx2Machine), .masknet(.avx2))
        XCTAssertEqual(try MatrixMultiply.backend(named: "openblas", features: avx2Machine), .openblas)
        XCTAssertEqual(try MatrixMultiply.backend(named: "portable", features: avx2Machine), .masknet(.portable))
        XCTAssertEqual(try MatrixMultiply.backend(named: nil, features: CPUFeatures(avx2: true, fma: true, avx512f: true)),
                       .masknet(.avx512))
        XCTAssertEqual(try MatrixMultiply.backend(named: nil, features: CPUFeatures(avx2: false, fma: false, avx512f: false)),
                       .masknet(.portable))
        XCTAssertThrowsError(try MatrixMultiply.backend(named: "avx512", features: avx2Machine)) { error in
            XCTAssertTrue("\(error)".contains("MASKNET_GEMM=avx512"), "\(error)")
        }
        XCTAssertThrowsError(try MatrixMultiply.backend(named: "mkl", features: avx2Machine)) { error in
            XCTAssertTrue("\(error)".contains("openblas"), "\(error)")
        }
    }
}
