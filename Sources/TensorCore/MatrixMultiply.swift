import CKernels
import Dispatch
import Foundation
import Synchronization

/// Single-precision matrix products for every layer: masknet's own GEMM (CKernels) by default,
/// OpenBLAS with `MASKNET_GEMM=openblas` for comparison.
///
/// Our GEMM gives the same bits on every machine and for every thread count: each element of C
/// accumulates its K products in order with one fused multiply-add each (`ck_sgemm` in CKernels), and
/// threads split only the rows or columns of C. The AVX2 and AVX-512 micro-kernels and the portable
/// scalar path share that definition; which one runs depends only on the CPU. OpenBLAS's kernels
/// block and vectorise K differently per CPU, so its results vary with the machine.
public enum MatrixMultiply {
    /// Where products run.
    public enum Backend: Equatable, Sendable, CustomStringConvertible {
        /// Our GEMM on the given instruction-set path.
        case masknet(Path)
        /// OpenBLAS's `cblas_sgemm` (machine-dependent rounding).
        case openblas

        public var description: String {
            switch self {
            case .masknet(let path): return "masknet \(path)"
            case .openblas: return "OpenBLAS \(BLAS.kernelDescription)"
            }
        }
    }

    /// An instruction-set path of our GEMM; all give bit-identical results.
    public enum Path: Int, CaseIterable, Sendable, CustomStringConvertible {
        /// Scalar C `fmaf` loops: the definition, and the path for CPUs without FMA (slow: no
        /// blocking, and `fmaf` is emulated in software where the CPU lacks FMA).
        case portable = 0
        /// AVX2 + FMA, 6×16 register block.
        case avx2 = 1
        /// AVX-512F, 14×32 register block.
        case avx512 = 2

        public var description: String {
            let block = "\(ck_gemm_register_rows(cPath))×\(ck_gemm_register_columns(cPath))"
            switch self {
            case .portable: return "portable scalar fmaf (exact, slow)"
            case .avx2: return "AVX2+FMA \(block)"
            case .avx512: return "AVX-512F \(block)"
            }
        }

        var cPath: ck_gemm_path { ck_gemm_path(rawValue: UInt32(rawValue)) }

        /// Whether this CPU can run the path.
        public func isSupported(by features: CPUFeatures) -> Bool {
            switch self {
            case .portable: return true
            case .avx2: return features.avx2 && features.fma
            case .avx512: return features.avx512f
            }
        }

        /// The fastest path `features` supports.
        public static func best(for features: CPUFeatures) -> Path {
            allCases.last { $0.isSupported(by: features) } ?? .portable
        }
    }

    /// Environment variable choosing the backend: `masknet` (default), `openblas`, or one of our paths
    /// (`avx2`, `avx512`, `portable`) to compare them.
    public static let backendVariable = "MASKNET_GEMM"

    /// Parses a `MASKNET_GEMM` value for a CPU with `features`; the error names the variable and the choices.
    public static func backend(named value: String?, features: CPUFeatures) throws -> Backend {
        guard let value, !value.isEmpty, value != "masknet" else { return .masknet(.best(for: features)) }
        if value == "openblas" { return .openblas }
        guard let path = [("portable", Path.portable), ("avx2", .avx2), ("avx512", .avx512)]
            .first(where: { $0.0 == value })?.1 else {
            throw BackendError(message: "\(backendVariable)=\(value) is not a GEMM backend: use masknet (default), "
                               + "openblas, or one of masknet's paths avx2, avx512, portable")
        }
        guard path.isSupported(by: features) else {
            throw BackendError(message: "\(backendVariable)=\(value): this CPU (\(features.summary)) cannot run that path; "
                               + "unset it to use \(Path.best(for: features))")
        }
        return .masknet(path)
    }

    /// A bad `MASKNET_GEMM` value.
    public struct BackendError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The backend in use: from `MASKNET_GEMM` when set, else our fastest path for this CPU. A bad value
    /// stops the process with a message naming the variable (it is read before any product runs).
    public static var backend: Backend {
        get { selectedBackend.withLock { $0 } }
        set { selectedBackend.withLock { $0 = newValue } }
    }

    static let selectedBackend = Mutex<Backend>({
        do {
            return try backend(named: ProcessInfo.processInfo.environment[backendVariable], features: .current)
        } catch {
            FileHandle.standardError.write(Data("masknet: \(error)\n".utf8))
            exit(2)
        }
    }())

    /// Whether results are the same on every machine: true for our GEMM, false for OpenBLAS.
    public static var isMachineIndependent: Bool { if case .masknet = backend { return true } else { return false } }

    /// C = alpha · op(A) · op(B) + beta · C for row-major matrices.
    /// op(A) is M×K, op(B) is K×N, C is M×N; `lda`, `ldb`, `ldc` are row strides of the stored matrices.
    /// Large products are split over the workers by rows or columns of C (never K).
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        gemm(backend, workers: ThreadingConfiguration.workerCount, transposeA: transposeA, transposeB: transposeB,
             m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// `gemm` on an explicit backend and worker count (tests compare paths and thread counts with it).
    static func gemm(
        _ backend: Backend, workers: Int, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = BLAS.configured
        let work = Double(m) * Double(n) * Double(k)
        guard m > 0, n > 0, k > 0, workers > 1, work >= 2_000_000 else {
            serialGemm(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                       a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        // One block of C per worker along the larger of M and N, in whole register tiles.
        if n >= m {
            let block = ((n + workers - 1) / workers + 31) / 32 * 32
            let blocks = (n + block - 1) / block
            concurrentIterations(blocks) { index in
                let start = index * block, width = min(block, n - start)
                // op(B) columns start..<start+width: rows of B when transposed, columns otherwise.
                let bBlock = transposeB ? b + start * ldb : b + start
                serialGemm(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: width, k: k,
                           alpha: alpha, a: a, lda: lda, b: bBlock, ldb: ldb, beta: beta, c: c + start, ldc: ldc)
            }
        } else {
            let block = ((m + workers - 1) / workers + 41) / 42 * 42    // a multiple of both 6 and 14 rows
            let blocks = (m + block - 1) / block
            concurrentIterations(blocks) { index in
                let start = index * block, height = min(block, m - start)
                // op(A) rows start..<start+height: columns of A when transposed, rows otherwise.
                let aBlock = transposeA ? a + start : a + start * lda
                serialGemm(backend, transposeA: transposeA, transposeB: transposeB, m: height, n: n, k: k,
                           alpha: alpha, a: aBlock, lda: lda, b: b, ldb: ldb, beta: beta, c: c + start * ldc, ldc: ldc)
            }
        }
    }

    /// `gemm` on the calling thread only, for callers that already spread independent products over
    /// the workers (Winograd's 36 per-point products).
    public static func serialGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        serialGemm(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                   a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    static func serialGemm(
        _ backend: Backend, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = BLAS.configured
        switch backend {
        case .masknet(let path):
            ck_sgemm(path.cPath, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        case .openblas:
            BLAS.serialGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }
}
