import COpenBLAS
import Dispatch
import Foundation

#if os(Linux)
/// glibc's `mallopt` (malloc.h is not part of Swift's Glibc module map).
@_silgen_name("mallopt") func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif

/// OpenBLAS: its kernel set, its thread count and its `sgemm` (selectable with `MASKNET_GEMM=openblas`
/// for comparison; `MatrixMultiply` runs our own GEMM by default). The only file that talks to CBLAS.
public enum BLAS {
    /// Sets OpenBLAS's own thread count explicitly, so that it neither oversubscribes the cores our
    /// parallel kernels use nor silently runs single-threaded.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Applied once, before the first product.
    ///
    /// OpenBLAS runs single-threaded and `MatrixMultiply` splits products over our own workers instead: OpenBLAS's
    /// idle threads spin in sched_yield after each call and starve the parallel non-BLAS kernels that
    /// run between products (measured: ~16% of a ResNet forward pass went to sched_yield).
    /// glibc is also told to keep large freed blocks instead of returning them to the kernel, so the
    /// activations of one step reuse the pages of the previous step instead of faulting in fresh zeroed
    /// pages every time.
    @usableFromInline static let configured: Bool = {
        setThreadCount(1)
        #if os(Linux)
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 1 << 30)
        _ = glibcMallopt(-1 /* M_TRIM_THRESHOLD */, Int32.max)
        #endif
        return true
    }()

    /// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", …).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// The kernel set and who chose it, for run records and benchmark output.
    public static var kernelDescription: String {
        OpenBLASCoreCheck.describe(coreName: coreName, environment: ProcessInfo.processInfo.environment)
    }

    /// OpenBLAS's current thread count.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// C = alpha · op(A) · op(B) + beta · C on the calling thread with OpenBLAS's kernels, row-major;
    /// `MatrixMultiply` calls it for `MASKNET_GEMM=openblas` and splits large products over the workers.
    static func serialGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
        a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            // BLAS leaves C untouched for beta = 1 and may not scale it otherwise: make it explicit.
            if beta != 1 { for row in 0..<m { for col in 0..<n { c[row * ldc + col] = beta == 0 ? 0 : beta * c[row * ldc + col] } } }
            return
        }
        sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @usableFromInline
    static func sgemm(_ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                      _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float,
                      _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
