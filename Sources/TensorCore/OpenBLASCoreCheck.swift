/// Start-up check that OpenBLAS did not fall back to kernels below what the CPU can run.
///
/// OpenBLAS picks its kernel set ("core") from the CPU model when the library loads; a model it does
/// not know (seen: a recent Xeon) gets its Prescott SSE3 kernels, about a third of the speed, silently.
/// The core can only be chosen before the library loads (`OPENBLAS_CORETYPE`), so the fix is to run the
/// process again with the variable set. A value the user set is always respected.
public enum OpenBLASCoreCheck {
    /// What start-up should do.
    public enum Decision: Equatable, Sendable {
        /// OpenBLAS runs kernels matching the CPU (or the CPU has no AVX2+FMA to do better with).
        case keep
        /// OpenBLAS fell back: run this process again with `OPENBLAS_CORETYPE` set to `coreType`.
        case reexecute(coreType: String)
        /// The user's `OPENBLAS_CORETYPE` (or an OpenBLAS that ignores it) leaves kernels below the
        /// CPU's best, `coreType`: respected, but worth a warning.
        case belowCPU(coreType: String)
    }

    /// The environment variable OpenBLAS reads at load time.
    public static let coreTypeVariable = "OPENBLAS_CORETYPE"
    /// Set alongside `OPENBLAS_CORETYPE` when masknet chose the value, so records can say who did.
    public static let chosenByMasknetVariable = "MASKNET_OPENBLAS_CORETYPE_CHOSEN"

    /// Vector tier of a kernel set or a CPU: 0 below AVX2+FMA, 1 AVX2+FMA, 2 AVX-512.
    static func tier(ofCore name: String) -> Int {
        switch name.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": return 2
        // Excavator is OpenBLAS's own choice for those AMD CPUs (AVX2 + FMA), not a fallback.
        case "haswell", "zen", "excavator": return 1
        default: return 0
        }
    }

    static func tier(of features: CPUFeatures) -> Int {
        guard features.avx2 && features.fma else { return 0 }
        return features.avx512f ? 2 : 1
    }

    /// OpenBLAS's best core name for a CPU with `features`, or nil below AVX2+FMA.
    public static func bestCore(for features: CPUFeatures) -> String? {
        switch tier(of: features) {
        case 2: return "SkylakeX"
        case 1: return "Haswell"
        default: return nil
        }
    }

    /// Decides from OpenBLAS's core name, the CPU's features and the process environment.
    public static func decide(coreName: String, features: CPUFeatures, environment: [String: String]) -> Decision {
        guard let best = bestCore(for: features), tier(ofCore: coreName) < tier(of: features) else { return .keep }
        if let set = environment[coreTypeVariable], !set.isEmpty { return .belowCPU(coreType: best) }
        return .reexecute(coreType: best)
    }

    /// "Haswell (chosen by masknet: OpenBLAS fell back)" style description for run records and benchmarks.
    public static func describe(coreName: String, environment: [String: String]) -> String {
        guard let set = environment[coreTypeVariable], !set.isEmpty else { return "\(coreName) (picked by OpenBLAS)" }
        if environment[chosenByMasknetVariable] != nil {
            return "\(coreName) (OPENBLAS_CORETYPE=\(set) set by masknet: OpenBLAS had fallen back below the CPU)"
        }
        return "\(coreName) (OPENBLAS_CORETYPE=\(set) set by the user)"
    }
}
