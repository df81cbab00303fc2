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

// KC·16 floats of B (16 KiB) stay in L1 while an MC×KC block of A (168 KiB) stays in L2; when A is a
// single block, B is packed NB columns at a time (384 KiB, L2) and used at once.
enum { KC = 256, MC = 168, NC = 4096, NB = 384 };    // MC is a multiple of 6 and 14; NC, NB of 16 and 32

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
//
// Packing copies each operand once per block and must run at memory speed, or it costs as much as the
// arithmetic (measured: element-by-element packing took half the micro-kernel's time). So whole rows
// move as 256-bit vectors and strided operands are turned around with 8×8 register transposes. The
// packers are always inlined into per-path wrappers, so MR and NR are constants there. They use only
// AVX (a subset of both vector paths).

#if CK_X86
// Transposes the 8×8 block r[0..7] (rows) in place into columns.
#define CK_TRANSPOSE8(r) do {                                                                         \
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);                   \
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);                   \
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);                   \
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);                   \
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);                 \
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);                 \
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);                 \
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);                 \
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);          \
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);          \
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);          \
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);          \
} while (0)

// Copies `count` (≤ 8) rows of 8 consecutive floats from rows[i] + p into r (rows past count are zero),
// scaled by alpha, and transposes them: r[q] then holds element p + q of every row.
__attribute__((target("avx"), always_inline))
static inline void gather_transpose8(const float *const *rows, int count, ptrdiff_t p, float alpha, __m256 r[8]) {
    __m256 scale = _mm256_set1_ps(alpha);
    for (int i = 0; i < 8; i++) {
        r[i] = i < count ? _mm256_loadu_ps(rows[i] + p) : _mm256_setzero_ps();
        if (alpha != 1) r[i] = _mm256_mul_ps(scale, r[i]);
    }
    CK_TRANSPOSE8(r);
}

// Ap[p·MR + r] = alpha · op(A)[row0 + r, p0 + p] for p < kc, one MR-tall micro-panel after another;
// rows past `rows` are zero. Writes up to 8 floats past the end (the buffer has room for them).
__attribute__((target("avx"), always_inline))
static inline void pack_a(const int mr, bool trans, const float *a, ptrdiff_t lda, ptrdiff_t row0, ptrdiff_t rows,
                          ptrdiff_t p0, ptrdiff_t kc, float alpha, float *ap) {
    if (trans) {
        // op(A)[i, p] = a[p·lda + i]: row p of a holds step p of every row of the block, so it is read
        // once, front to back, and dealt out MR floats to each micro-panel (reading each micro-panel's
        // few floats from every row instead would defeat the prefetchers with a long stride).
        __m256 scale = _mm256_set1_ps(alpha);
        ptrdiff_t full = rows / mr * mr;
        for (ptrdiff_t p = 0; p < kc; p++) {
            const float *s = a + (p0 + p) * lda + row0;
            ptrdiff_t panel = 0;
            for (; panel < full; panel += mr) {
                float *d = ap + panel * kc + p * mr;
                if (mr % 8 == 0) {
                    for (int r = 0; r < mr; r += 8)
                        _mm256_storeu_ps(d + r, _mm256_mul_ps(scale, _mm256_loadu_ps(s + panel + r)));
                } else {
                    for (int r = 0; r < mr; r++) d[r] = alpha * s[panel + r];
                }
            }
            if (panel < rows) {
                float *d = ap + panel * kc + p * mr;
                int r = 0;
                for (; r < rows - panel; r++) d[r] = alpha * s[panel + r];
                for (; r < mr; r++) d[r] = 0;
            }
        }
        return;
    }
    for (ptrdiff_t panel = 0; panel < rows; panel += mr) {
        int live = rows - panel < mr ? (int)(rows - panel) : mr;
        float *dst = ap + panel * kc;
        // op(A)[i, p] = a[i·lda + p]: MR row streams, turned around 8 rows × 8 steps of p at a time.
        // The 8-wide stores of one p overlap the next p's slots, so stores go in ascending order.
        const float *streams[16];
        for (int r = 0; r < mr; r++) streams[r] = a + (row0 + panel + (r < live ? r : 0)) * lda + p0;
        ptrdiff_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            __m256 g0[8], g1[8];
            gather_transpose8(streams, live < 8 ? live : 8, p, alpha, g0);
            if (mr > 8) gather_transpose8(streams + 8, live - 8, p, alpha, g1);
            for (int q = 0; q < 8; q++) {
                _mm256_storeu_ps(dst + (p + q) * mr, g0[q]);
                if (mr > 8) _mm256_storeu_ps(dst + (p + q) * mr + 8, g1[q]);
            }
        }
        for (; p < kc; p++)
            for (int r = 0; r < mr; r++) dst[p * mr + r] = r < live ? alpha * streams[r][p] : 0;
    }
}

// Bp[p·NR + c] = op(B)[p0 + p, col0 + c] for p < kc, one NR-wide micro-panel after another; columns
// past `cols` are zero.
__attribute__((target("avx"), always_inline))
static inline void pack_b(const int nr, bool trans, const float *b, ptrdiff_t ldb, ptrdiff_t p0, ptrdiff_t kc,
                          ptrdiff_t col0, ptrdiff_t cols, float *bp) {
    if (!trans) {
        // op(B)[p, j] = b[p·ldb + j]: row p is read once, front to back, and dealt out NR floats to each
        // micro-panel (a micro-panel at a time would read one cache line per row at a long stride).
        ptrdiff_t full = cols / nr * nr;
        for (ptrdiff_t p = 0; p < kc; p++) {
            const float *s = b + (p0 + p) * ldb + col0;
            ptrdiff_t panel = 0;
            for (; panel < full; panel += nr)
                for (int c = 0; c < nr; c += 8) _mm256_store_ps(bp + panel * kc + p * nr + c, _mm256_loadu_ps(s + panel + c));
            if (panel < cols) {
                float *d = bp + panel * kc + p * nr;
                int c = 0;
                for (; c < cols - panel; c++) d[c] = s[panel + c];
                for (; c < nr; c++) d[c] = 0;
            }
        }
        return;
    }
    for (ptrdiff_t panel = 0; panel < cols; panel += nr) {
        int live = cols - panel < nr ? (int)(cols - panel) : nr;
        float *dst = bp + panel * kc;
        // op(B)[p, j] = b[j·ldb + p]: NR column streams, turned around 8 columns × 8 steps of p at a time.
        const float *streams[32];
        for (int c = 0; c < nr; c++) streams[c] = b + (col0 + panel + (c < live ? c : 0)) * ldb + p0;
        ptrdiff_t p = 0;
        for (; p + 8 <= kc; p += 8) {
            for (int c = 0; c < nr; c += 8) {
                __m256 g[8];
                int count = live - c < 8 ? live - c : 8;
                gather_transpose8(streams + c, count < 0 ? 0 : count, p, 1, g);
                for (int q = 0; q < 8; q++) _mm256_store_ps(dst + (p + q) * nr + c, g[q]);
            }
        }
        for (; p < kc; p++)
            for (int c = 0; c < nr; c++) dst[p * nr + c] = c < live ? streams[c][p] : 0;
    }
}
#endif

// MARK: - Micro-kernels: C[MR×NR] (row stride ldc) from kc steps of packed A and B

#if CK_X86
__attribute__((target("avx2,fma")))
static void kernel_avx2_6x16(ptrdiff_t kc, const float *a, const float *b, float *c, ptrdiff_t ldc,
                             int start, float beta) {
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    // C's rows are far apart (stride ldc): ask for them now so they arrive while the loop runs.
    for (int r = 0; r < 6; r++) { _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
                                  _mm_prefetch((const char *)(c + r * ldc + 15), _MM_HINT_T0); }
    if (start == START_ZERO) {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    } else {
        __m256 s = _mm256_set1_ps(start == START_SCALED ? beta : 1.0f);
#define LOAD(r) c##r##0 = _mm256_mul_ps(s, _mm256_loadu_ps(c + r * ldc)); \
                c##r##1 = _mm256_mul_ps(s, _mm256_loadu_ps(c + r * ldc + 8));
        LOAD(0) LOAD(1) LOAD(2) LOAD(3) LOAD(4) LOAD(5)
#undef LOAD
    }
    // Unrolled by 4 (measured ~5 % faster on Zen 3 than no unrolling; 8 spills accumulators).
#pragma clang loop unroll_count(4)
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

// The blocked loops around a micro-kernel; inlined into one function per path so MR, NR and the
// kernel are constants.
__attribute__((target("avx"), always_inline))
static inline void packed_sgemm(const int mr, const int nr, micro_kernel kernel, bool ta, bool tb, ptrdiff_t m, ptrdiff_t n,
                         ptrdiff_t k, float alpha, const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                         float beta, float *c, ptrdiff_t ldc) {
    ptrdiff_t ncMax = n < NC ? (n + nr - 1) / nr * nr : NC;
    ptrdiff_t kcMax = k < KC ? k : KC;
    ptrdiff_t mcMax = m < MC ? (m + mr - 1) / mr * mr : MC;
    float *bp = buffer(&packed_b, &packed_b_capacity, (size_t)(ncMax * kcMax));
    float *ap = buffer(&packed_a, &packed_a_capacity, (size_t)(mcMax * kcMax + 8));   // pack_a's overhang
    _Alignas(64) float tile[14 * 32];    // partial tiles of C go through here
    // K is cut into equal slices of at most KC (576 = 3 × 192, not 256 + 256 + 64): a short last
    // slice would pay a whole pass of loading and storing C for little arithmetic.
    ptrdiff_t slices = (k + KC - 1) / KC, sliceK = (k + slices - 1) / slices;
    // When all of op(A) fits one MC block (few rows, as in im2col's products), it is packed once per
    // K slice and op(B) in L2-sized chunks that the micro-kernels read while they are still cached;
    // otherwise op(B)'s whole NC block is packed once and each MC block of op(A) runs over it.
    bool singleA = m <= MC;
    ptrdiff_t chunkN = singleA ? NB : NC;
    for (ptrdiff_t jc = 0; jc < n; jc += NC) {
        ptrdiff_t nc = n - jc < NC ? n - jc : NC;
        for (ptrdiff_t pc = 0; pc < k; pc += sliceK) {
            ptrdiff_t kc = k - pc < sliceK ? k - pc : sliceK;
            int start = pc > 0 ? START_LOAD : (beta == 0 ? START_ZERO : START_SCALED);
            if (singleA) pack_a(mr, ta, a, lda, 0, m, pc, kc, alpha, ap);
            for (ptrdiff_t jb = 0; jb < nc; jb += chunkN) {
                ptrdiff_t nb = nc - jb < chunkN ? nc - jb : chunkN;
                pack_b(nr, tb, b, ldb, pc, kc, jc + jb, nb, bp);
                for (ptrdiff_t ic = 0; ic < m; ic += MC) {
                    ptrdiff_t mc = m - ic < MC ? m - ic : MC;
                    if (!singleA) pack_a(mr, ta, a, lda, ic, mc, pc, kc, alpha, ap);
                    for (ptrdiff_t jr = 0; jr < nb; jr += nr) {
                        ptrdiff_t cols = nb - jr < nr ? nb - jr : nr;
                        for (ptrdiff_t ir = 0; ir < mc; ir += mr) {
                            ptrdiff_t rows = mc - ir < mr ? mc - ir : mr;
                            float *cTile = c + (ic + ir) * ldc + jc + jb + jr;
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
}

__attribute__((target("avx2,fma")))
static void packed_sgemm_avx2(bool ta, bool tb, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                              const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                              float beta, float *c, ptrdiff_t ldc) {
    packed_sgemm(6, 16, kernel_avx2_6x16, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

__attribute__((target("avx512f")))
static void packed_sgemm_avx512(bool ta, bool tb, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                                const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb,
                                float beta, float *c, ptrdiff_t ldc) {
    packed_sgemm(14, 32, kernel_avx512_14x32, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif

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
        packed_sgemm_avx512(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    case ck_gemm_path_avx2:
        packed_sgemm_avx2(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
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
