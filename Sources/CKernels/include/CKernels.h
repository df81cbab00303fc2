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

#endif
