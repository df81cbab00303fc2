import Foundation
import FuzzHarnesses

/// The harness named by MASKNET_FUZZ_TARGET (one of `FuzzHarness`'s raw values), read once.
nonisolated(unsafe) private var selected: FuzzHarness?

public typealias Arguments = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

/// libFuzzer's driver, for programs that have their own `main` (SwiftPM gives every executable one).
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<Arguments?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> Int32 {
    guard let bytes else { selected?.run(Data()); return 0 }
    selected?.run(Data(bytes: bytes, count: count))
    return 0
}

/// SwiftPM links an executable's entry point as `<module>_main`; this one hands over to libFuzzer.
@_cdecl("masknet_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: Arguments) -> Int32 {
    let name = ProcessInfo.processInfo.environment["MASKNET_FUZZ_TARGET"] ?? ""
    guard let harness = FuzzHarness(rawValue: name) else {
        let names = FuzzHarness.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("set MASKNET_FUZZ_TARGET to one of: \(names)\n".utf8))
        return 2
    }
    selected = harness
    var count = argc
    var arguments: Arguments? = argv
    return runDriver(&count, &arguments) { bytes, size in testOneInput(bytes, size) }
}
