import XCTest
@testable import TensorCore

/// The start-up decision that keeps OpenBLAS from silently running kernels below the CPU.
final class OpenBLASCoreCheckTests: XCTestCase {
    let avx2 = CPUFeatures(avx2: true, fma: true, avx512f: false)
    let avx512 = CPUFeatures(avx2: true, fma: true, avx512f: true)
    let sse = CPUFeatures(avx2: false, fma: false, avx512f: false)

    func testFallbackOnAVX2MachineReexecutesWithHaswell() {
        for core in ["Prescott", "Core2", "Nehalem", "Sandybridge", "Unknown"] {
            XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: core, features: avx2, environment: [:]),
                           .reexecute(coreType: "Haswell"), core)
        }
    }

    func testAVX512MachineGetsSkylakeXUnlessAlreadyThere() {
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Prescott", features: avx512, environment: [:]),
                       .reexecute(coreType: "SkylakeX"))
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Haswell", features: avx512, environment: [:]),
                       .reexecute(coreType: "SkylakeX"))
        for core in ["SkylakeX", "Cooperlake", "SapphireRapids"] {
            XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: core, features: avx512, environment: [:]), .keep, core)
        }
    }

    func testMatchingCoresAreKept() {
        for core in ["Haswell", "Zen", "ZEN", "haswell", "Excavator", "SkylakeX"] {
            XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: core, features: avx2, environment: [:]), .keep, core)
        }
        // Nothing better exists below AVX2 + FMA.
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Prescott", features: sse, environment: [:]), .keep)
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Sandybridge",
                                                features: CPUFeatures(avx2: true, fma: false, avx512f: false),
                                                environment: [:]), .keep)
    }

    func testUserSetCoreTypeIsRespected() {
        let environment = ["OPENBLAS_CORETYPE": "Prescott"]
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Prescott", features: avx2, environment: environment),
                       .belowCPU(coreType: "Haswell"))
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Zen", features: avx2, environment: environment), .keep)
        // An empty value is unset as far as OpenBLAS is concerned.
        XCTAssertEqual(OpenBLASCoreCheck.decide(coreName: "Prescott", features: avx2, environment: ["OPENBLAS_CORETYPE": ""]),
                       .reexecute(coreType: "Haswell"))
    }

    func testDescriptionSaysWhoChoseTheKernels() {
        XCTAssertEqual(OpenBLASCoreCheck.describe(coreName: "Zen", environment: [:]), "Zen (picked by OpenBLAS)")
        XCTAssertTrue(OpenBLASCoreCheck.describe(coreName: "Haswell", environment: [
            "OPENBLAS_CORETYPE": "Haswell", "MASKNET_OPENBLAS_CORETYPE_CHOSEN": "1"]).contains("set by masknet"))
        XCTAssertTrue(OpenBLASCoreCheck.describe(coreName: "Prescott", environment: [
            "OPENBLAS_CORETYPE": "Prescott"]).contains("set by the user"))
    }

    func testThisMachineReportsConsistentFeatures() {
        let f = CPUFeatures.current
        // AVX-512F without AVX2 or FMA without AVX2 does not exist on x86-64 CPUs we run on.
        if f.avx512f { XCTAssertTrue(f.avx2 && f.fma) }
        XCTAssertFalse(f.summary.isEmpty)
    }
}
