import Foundation

/// Finds the PyTorch reference scripts (`Tools/bench_*_torch.py`) of the benchmarks: in the folder given
/// with `--reference-scripts` (or `MASKNET_REFERENCE_SCRIPTS`), else in the `Tools/` folder of the masknet
/// checkout the running binary was built in (`.build/<config>/masknet`, or a link to it), found by walking
/// up from the binary. Never by the source file's compile-time path, which means nothing once the binary
/// is installed elsewhere.
public struct ReferenceScripts {
    /// The folder holding the scripts.
    public let folder: URL

    /// The folder to use, or a clear error naming where it looked and what to pass.
    public init(explicit: String?, executable: String = CommandLine.arguments[0],
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        if let given = explicit ?? environment["MASKNET_REFERENCE_SCRIPTS"] {
            let url = URL(fileURLWithPath: given)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw BenchmarkFailure("--reference-scripts \(given): no such folder; pass the Tools folder of a masknet checkout")
            }
            folder = url
            return
        }
        var searched: [String] = []
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        var directory = binary.deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = directory.appendingPathComponent("Tools")
            searched.append(candidate.path)
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("bench_backbone_torch.py").path) {
                folder = candidate
                return
            }
            directory = directory.deletingLastPathComponent()
        }
        throw BenchmarkFailure("""
            the PyTorch reference scripts (Tools/bench_*_torch.py) are not next to this masknet binary \
            (looked in \(searched.joined(separator: ", "))); pass --reference-scripts DIR with the Tools folder of a masknet checkout
            """)
    }

    /// One script, which must exist.
    public func script(_ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw BenchmarkFailure("\(url.path) does not exist; --reference-scripts must name the Tools folder of a masknet checkout of this version")
        }
        return url
    }
}

/// A benchmark that cannot run: a missing reference script, a worker or reference process that failed.
public struct BenchmarkFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
