import Foundation
import FuzzHarnesses

/// The harness named by MASKNET_FUZZ_TARGET (one of `FuzzHarness`'s raw values), read once.
nonisolated(unsafe) private var selected: FuzzHarness?

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    let name = ProcessInfo.processInfo.environment["MASKNET_FUZZ_TARGET"] ?? ""
    guard let harness = FuzzHarness(rawValue: name) else {
        let names = FuzzHarness.allCases.map(\.rawValue).joined(separator: ", ")
        FileHandle.standardError.write(Data("set MASKNET_FUZZ_TARGET to one of: \(names)\n".utf8))
        exit(2)
    }
    selected = harness
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> Int32 {
    selected?.run(Data(bytes: bytes, count: count))
    return 0
}
