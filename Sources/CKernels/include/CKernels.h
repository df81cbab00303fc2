// CKernels: masknet's own CPU kernels in C (intrinsics need C). Imported by TensorCore only.
#ifndef CKERNELS_H
#define CKERNELS_H

#include <stdbool.h>
#include <stddef.h>

/// What the CPU and the operating system together support (cpuid plus xgetbv for the register state).
typedef struct {
    bool sse2;
    bool avx;
    bool fma;
    bool avx2;
    bool avx512f;
} ck_cpu_features;

/// Queries cpuid once per call; cheap enough for start-up.
ck_cpu_features ck_query_cpu_features(void);

/// Instruction-set paths of `ck_sgemm`. Every path gives bit-identical results: each element of C is
/// `acc = beta == 0 ? 0 : beta * C`, then `acc = fma(alpha * op(A)[i, p], op(B)[p, j], acc)` for p = 0, 1, …,
/// K − 1 in sequence, with single rounding per step (hardware FMA or C's fmaf).
typedef enum {
    ck_gemm_path_portable = 0,   ///< scalar fmaf loops: any CPU, slow where fmaf is emulated
    ck_gemm_path_avx2 = 1,       ///< AVX2 + FMA, 6×16 register block
    ck_gemm_path_avx512 = 2,     ///< AVX-512F, 14×32 register block
} ck_gemm_path;

/// Micro-kernel rows (MR) and columns (NR) of a path.
int ck_gemm_register_rows(ck_gemm_path path);
int ck_gemm_register_columns(ck_gemm_path path);

/// C = alpha · op(A) · op(B) + beta · C on the calling thread, row-major; op(A) is m×k, op(B) k×n,
/// lda/ldb/ldc are row strides of the stored matrices. Threads split C by rows or columns, never K.
/// The path must be one the CPU supports (the caller dispatches on `ck_query_cpu_features`).
void ck_sgemm(ck_gemm_path path, bool transposeA, bool transposeB, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
              float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
              float beta, float *c, ptrdiff_t ldc);

/// Peak-rate probe: runs `iterations` rounds of independent FMAs on `lanes`-wide vectors (8 for AVX2,
/// 16 for AVX-512) and returns a value that depends on all of them (so nothing is optimised away).
/// Floating-point operations performed: iterations × 2 × lanes × 12 (AVX2) or × 24 (AVX-512).
float ck_fma_peak_probe(ck_gemm_path path, long iterations);

#endif
