// CPU feature detection by cpuid and xgetbv: an instruction set counts only when the CPU has it and the
// operating system saves its registers on context switches.
#include "CKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

ck_cpu_features ck_query_cpu_features(void) {
    ck_cpu_features f = {0};
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
    f.sse2 = (edx >> 26) & 1;
    bool osxsave = (ecx >> 27) & 1;
    bool cpuAVX = (ecx >> 28) & 1;
    bool cpuFMA = (ecx >> 12) & 1;
    unsigned long long xcr0 = osxsave ? read_xcr0() : 0;
    bool ymmSaved = (xcr0 & 0x6) == 0x6;            // SSE and AVX state
    bool zmmSaved = (xcr0 & 0xE6) == 0xE6;          // plus opmask, ZMM_Hi256, Hi16_ZMM
    f.avx = cpuAVX && ymmSaved;
    f.fma = cpuFMA && f.avx;
    if (__get_cpuid_max(0, 0) >= 7) {
        __cpuid_count(7, 0, eax, ebx, ecx, edx);
        f.avx2 = ((ebx >> 5) & 1) && f.avx;
        f.avx512f = ((ebx >> 16) & 1) && zmmSaved;
    }
    return f;
}
#else
ck_cpu_features ck_query_cpu_features(void) {
    ck_cpu_features f = {0};
    return f;
}
#endif
