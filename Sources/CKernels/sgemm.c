// masknet's single-precision GEMM, BLIS-style: C is cut into NC-column and MC-row blocks, K into KC
// slices; op(B)'s slice is packed into NR-wide micro-panels and op(A)'s into MR-tall ones, and a
// register-blocked micro-kernel multiplies one MR×NR tile of C at a time.
//
// Determinism is the point of owning this code. Every path computes each element of C the same way:
//     acc = (beta == 0) ? 0 : beta * C[i, j]
//     for p in 0 ..< K (in order):  acc = fma(alpha * op(A)[i, p], op(B)[p, j], acc)
// Between KC slices the running sum is stored in C and reloaded, which is exact in float. No path
// splits K or reorders it, so AVX2, AVX-512 and the portable path agree bit for bit, and so does any
// split of C over threads. (Padding rows and columns of partial tiles add fma(0, x, acc) = acc, and
// their results are thrown away.) This file is compiled with -ffp-contract=off so the compiler never
// fuses or splits a multiply-add that is written out separately.
#include "CKernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CK_X86 1
#endif

enum { KC = 256, MC = 168, NC = 4096 };    // MC is a multiple of 6 and 14, NC of 16 and 32

int ck_gemm_register_rows(ck_gemm_path path) {
    switch (path) {
    case ck_gemm_path_avx512: return 14;
    case ck_gemm_path_avx2: return 6;
    default: return 1;
    }
}

int ck_gemm_register_columns(ck_gemm_path path) {
    switch (path) {
    case ck_gemm_path_avx512: return 32;
    case ck_gemm_path_avx2: return 16;
    default: return 1;
    }
}

// How a micro-kernel starts its accumulators: the first K slice starts from 0 or beta·C, later
// slices continue from the partial sum stored in C.
enum { START_ZERO = 0, START_SCALED = 1, START_LOAD = 2 };

// MARK: - Packing (shared by the vector paths, so both see identical operands)

// Ap[p·MR + r] = alpha · op(A)[row0 + r, p0 + p] for p < kc; rows past m are zero.
static void pack_a(int mr, bool trans, const float *a, ptrdiff_t lda, ptrdiff_t row0, ptrdiff_t rows,
                   ptrdiff_t p0, ptrdiff_t kc, float alpha, float *ap) {
    for (ptrdiff_t panel = 0; panel < rows; panel += mr) {
        ptrdiff_t live = rows - panel < mr ? rows - panel : mr;
        float *dst = ap + panel * kc;
        if (trans) {
            // op(A)[i, p] = a[p·lda + i]: each p reads `live` consecutive floats.
            const float *src = a + p0 * lda + row0 + panel;
            for (ptrdiff_t p = 0; p < kc; p++) {
                const float *s = src + p * lda;
                float *d = dst + p * mr;
                ptrdiff_t r = 0;
                if (alpha == 1) for (; r < live; r++) d[r] = s[r];
                else for (; r < live; r++) d[r] = alpha * s[r];
                for (; r < mr; r++) d[r] = 0;
            }
        } else {
            // op(A)[i, p] = a[i·lda + p]: `live` row streams interleaved.
            for (ptrdiff_t r = 0; r < mr; r++) {
                if (r >= live) {
                    for (ptrdiff_t p = 0; p < kc; p++) dst[p * mr + r] = 0;
                    continue;
                }
                const float *s = a + (row0 + panel + r) * lda + p0;
                if (alpha == 1) for (ptrdiff_t p = 0; p < kc; p++) dst[p * mr + r] = s[p];
                else for (ptrdiff_t p = 0; p < kc; p++) dst[p * mr + r] = alpha * s[p];
            }
        }
    }
}

// Bp[p·NR + c] = op(B)[p0 + p, col0 + c] for p < kc; columns past n are zero.
static void pack_b(int nr, bool trans, const float *b, ptrdiff_t ldb, ptrdiff_t p0, ptrdiff_t kc,
                   ptrdiff_t col0, ptrdiff_t cols, float *bp) {
    for (ptrdiff_t panel = 0; panel < cols; panel += nr) {
        ptrdiff_t live = cols - panel < nr ? cols - panel : nr;
        float *dst = bp + panel * kc;
        if (!trans) {
            // op(B)[p, j] = b[p·ldb + j]: each p copies `live` consecutive floats.
            const float *src = b + p0 * ldb + col0 + panel;
            if (live == nr) {
                for (ptrdiff_t p = 0; p < kc; p++) memcpy(dst + p * nr, src + p * ldb, sizeof(float) * (size_t)nr);
            } else {
                for (ptrdiff_t p = 0; p < kc; p++) {
                    ptrdiff_t c = 0;
                    for (; c < live; c++) dst[p * nr + c] = src[p * ldb + c];
                    for (; c < nr; c++) dst[p * nr + c] = 0;
                }
            }
        } else {
            // op(B)[p, j] = b[j·ldb + p]: `live` column streams interleaved.
            for (ptrdiff_t c = 0; c < nr; c++) {
                if (c >= live) {
                    for (ptrdiff_t p = 0; p < kc; p++) dst[p * nr + c] = 0;
                    continue;
                }
                const float *s = b + (col0 + panel + c) * ldb + p0;
                for (ptrdiff_t p = 0; p < kc; p++) dst[p * nr + c] = s[p];
            }
        }
    }
}

// MARK: - Micro-kernels: C[MR×NR] (row stride ldc) from kc steps of packed A and B

#if CK_X86
__attribute__((target("avx2,fma")))
static void kernel_avx2_6x16(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                             int start, float beta) {
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (start == START_ZERO) {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    } else {
        __m256 s = _mm256_set1_ps(start == START_SCALED ? beta : 1.0f);
#define LOAD(r) c##r##0 = _mm256_mul_ps(s, _mm256_loadu_ps(c + r * ldc)); \
                c##r##1 = _mm256_mul_ps(s, _mm256_loadu_ps(c + r * ldc + 8));
        LOAD(0) LOAD(1) LOAD(2) LOAD(3) LOAD(4) LOAD(5)
#undef LOAD
    }
    for (ptrdiff_t p = 0; p < kc; p++) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 x;
#define STEP(r) x = _mm256_broadcast_ss(a + r); \
                c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0); c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1);
        STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5)
#undef STEP
        a += 6;
        b += 16;
    }
#define STORE(r) _mm256_storeu_ps(c + r * ldc, c##r##0); _mm256_storeu_ps(c + r * ldc + 8, c##r##1);
    STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5)
#undef STORE
}

__attribute__((target("avx512f")))
static void kernel_avx512_14x32(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                                int start, float beta) {
    // 28 accumulators + 2 B vectors + 1 broadcast = 31 of the 32 zmm registers.
    __m512 acc[14][2];
    if (start == START_ZERO) {
        for (int r = 0; r < 14; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    } else {
        __m512 s = _mm512_set1_ps(start == START_SCALED ? beta : 1.0f);
        for (int r = 0; r < 14; r++) {
            acc[r][0] = _mm512_mul_ps(s, _mm512_loadu_ps(c + r * ldc));
            acc[r][1] = _mm512_mul_ps(s, _mm512_loadu_ps(c + r * ldc + 16));
        }
    }
    for (ptrdiff_t p = 0; p < kc; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma clang loop unroll(full)
        for (int r = 0; r < 14; r++) {
            __m512 x = _mm512_set1_ps(a[r]);
            acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
        }
        a += 14;
        b += 32;
    }
    for (int r = 0; r < 14; r++) {
        _mm512_storeu_ps(c + r * ldc, acc[r][0]);
        _mm512_storeu_ps(c + r * ldc + 16, acc[r][1]);
    }
}
#endif

typedef void (*micro_kernel)(ptrdiff_t, const float *, const float *, float *, ptrdiff_t, int, float);

// MARK: - Packed driver

// Per-thread packing buffers, grown on demand and kept for the thread's life (a few MiB per worker).
static _Thread_local float *packed_a, *packed_b;
static _Thread_local size_t packed_a_capacity, packed_b_capacity;

static float *buffer(float **storage, size_t *capacity, size_t count) {
    if (count > *capacity) {
        free(*storage);
        size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
        *storage = aligned_alloc(64, bytes);
        if (!*storage) abort();     // a few MiB: failure here means the machine is out of memory
        *capacity = bytes / sizeof(float);
    }
    return *storage;
}

static void packed_sgemm(int mr, int nr, micro_kernel kernel, bool ta, bool tb, ptrdiff_t m, ptrdiff_t n,
                         ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                         float beta, float *c, ptrdiff_t ldc) {
    ptrdiff_t ncMax = n < NC ? (n + nr - 1) / nr * nr : NC;
    ptrdiff_t kcMax = k < KC ? k : KC;
    ptrdiff_t mcMax = m < MC ? (m + mr - 1) / mr * mr : MC;
    float *bp = buffer(&packed_b, &packed_b_capacity, (size_t)(ncMax * kcMax));
    float *ap = buffer(&packed_a, &packed_a_capacity, (size_t)(mcMax * kcMax));
    _Alignas(64) float tile[14 * 32];    // partial tiles of C go through here
    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        ptrdiff_t nc = n - jc < NC ? n - jc : NC;
        for (ptrdiff_t pc = 0; pc < k; pc += KC) {
            ptrdiff_t kc = k - pc < KC ? k - pc : KC;
            int start = pc > 0 ? START_LOAD : (beta == 0 ? START_ZERO : START_SCALED);
            pack_b(nr, tb, b, ldb, pc, kc, jc, nc, bp);
            for (ptrdiff_t ic = 0; ic < m; ic += MC) {
                ptrdiff_t mc = m - ic < MC ? m - ic : MC;
                pack_a(mr, ta, a, lda, ic, mc, pc, kc, alpha, ap);
                for (ptrdiff_t jr = 0; jr < nc; jr += nr) {
                    ptrdiff_t cols = nc - jr < nr ? nc - jr : nr;
                    for (ptrdiff_t ir = 0; ir < mc; ir += mr) {
                        ptrdiff_t rows = mc - ir < mr ? mc - ir : mr;
                        float *cTile = c + (ic + ir) * ldc + jc + jr;
                        const float *aPanel = ap + ir * kc, *bPanel = bp + jr * kc;
                        if (rows == mr && cols == nr) {
                            kernel(kc, aPanel, bPanel, cTile, ldc, start, beta);
                            continue;
                        }
                        // Partial tile: run the full kernel on a copy; padding lanes start at 0.
                        memset(tile, 0, sizeof(float) * (size_t)(mr * nr));
                        if (start != START_ZERO)
                            for (ptrdiff_t r = 0; r < rows; r++)
                                memcpy(tile + r * nr, cTile + r * ldc, sizeof(float) * (size_t)cols);
                        kernel(kc, aPanel, bPanel, tile, nr, start, beta);
                        for (ptrdiff_t r = 0; r < rows; r++)
                            memcpy(cTile + r * ldc, tile + r * nr, sizeof(float) * (size_t)cols);
                    }
                }
            }
        }
    }
}

// MARK: - Portable path: the definition, in plain C

static void portable_sgemm(bool ta, bool tb, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                           const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                           float beta, float *c, ptrdiff_t ldc) {
    for (ptrdiff_t i = 0; i < m; i++) {
        for (ptrdiff_t j = 0; j < n; j++) {
            float acc = beta == 0 ? 0 : beta * c[i * ldc + j];
            for (ptrdiff_t p = 0; p < k; p++) {
                float x = ta ? a[p * lda + i] : a[i * lda + p];
                if (alpha != 1) x = alpha * x;
                float y = tb ? b[j * ldb + p] : b[p * ldb + j];
                acc = fmaf(x, y, acc);
            }
            c[i * ldc + j] = acc;
        }
    }
}

void ck_sgemm(ck_gemm_path path, bool transposeA, bool transposeB, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
              float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
              float beta, float *c, ptrdiff_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        // The empty sum: C = beta · C (and 0 for beta = 0, whatever C held).
        for (ptrdiff_t i = 0; i < m; i++)
            for (ptrdiff_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return;
    }
    switch (path) {
#if CK_X86
    case ck_gemm_path_avx512:
        packed_sgemm(14, 32, kernel_avx512_14x32, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    case ck_gemm_path_avx2:
        packed_sgemm(6, 16, kernel_avx2_6x16, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
#endif
    default:
        portable_sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
}

// MARK: - FMA peak probe

#if CK_X86
__attribute__((target("avx2,fma"), noinline))
static float probe_avx2(long iterations) {
    // 12 independent chains hide the FMA latency (4-5 cycles) on two FMA pipes.
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps(0.001f * (float)i);
    __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (long it = 0; it < iterations; it++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
    }
    __m256 sum = acc[0];
    for (int i = 1; i < 12; i++) sum = _mm256_add_ps(sum, acc[i]);
    float out[8];
    _mm256_storeu_ps(out, sum);
    return out[0] + out[7];
}

__attribute__((target("avx512f"), noinline))
static float probe_avx512(long iterations) {
    __m512 acc[24];
    for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps(0.001f * (float)i);
    __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (long it = 0; it < iterations; it++) {
#pragma clang loop unroll(full)
        for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
    }
    __m512 sum = acc[0];
    for (int i = 1; i < 24; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}
#endif

float ck_fma_peak_probe(ck_gemm_path path, long iterations) {
#if CK_X86
    if (path == ck_gemm_path_avx512) return probe_avx512(iterations);
    if (path == ck_gemm_path_avx2) return probe_avx2(iterations);
#endif
    (void)path;
    (void)iterations;
    return 0;
}
