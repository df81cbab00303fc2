import COpenBLAS

/// Matrix products on OpenBLAS. This is the only file that talks to CBLAS.
public enum BLAS {
    /// Sets OpenBLAS's own thread count explicitly, so that it neither oversubscribes the cores our
    /// parallel kernels use nor silently runs single-threaded.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// Applied once, before the first product: OpenBLAS gets as many threads as our own kernels.
    @usableFromInline static let configured: Bool = {
        setThreadCount(ThreadingConfiguration.workerCount)
        return true
    }()

    /// OpenBLAS's current thread count.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// C = alpha · op(A) · op(B) + beta · C for row-major matrices.
    /// op(A) is M×K, op(B) is K×N, C is M×N; `lda`, `ldb`, `ldc` are row strides of the stored matrices.
    @inlinable
    public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        _ = configured
        guard m > 0, n > 0 else { return }
        if k == 0 {
            // BLAS leaves C untouched for beta = 1 and may not scale it otherwise: make it explicit.
            if beta != 1 { for row in 0..<m { for col in 0..<n { c[row * ldc + col] *= beta } } }
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
