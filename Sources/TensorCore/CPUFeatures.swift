import CKernels

/// The vector instruction sets this CPU and operating system support, from cpuid and xgetbv.
public struct CPUFeatures: Equatable, Sendable {
    public var avx2: Bool
    public var fma: Bool
    public var avx512f: Bool

    public init(avx2: Bool, fma: Bool, avx512f: Bool) {
        self.avx2 = avx2
        self.fma = fma
        self.avx512f = avx512f
    }

    /// The features of the machine this process runs on.
    public static let current: CPUFeatures = {
        let f = ck_query_cpu_features()
        return CPUFeatures(avx2: f.avx2, fma: f.fma, avx512f: f.avx512f)
    }()

    /// "AVX2 FMA AVX-512F" style list for logs and run records ("none" when the CPU has none of them).
    public var summary: String {
        let names = [(avx2, "AVX2"), (fma, "FMA"), (avx512f, "AVX-512F")].filter(\.0).map(\.1)
        return names.isEmpty ? "none" : names.joined(separator: " ")
    }
}
