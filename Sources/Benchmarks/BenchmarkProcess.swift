import Foundation

/// One side of a benchmark measured in a child process: a masknet worker (one model per process, so its peak
/// memory is that model's alone; one GEMM backend per process, since OpenBLAS reads its core type only when
/// it loads) or a PyTorch reference script. The child prints one JSON document on standard output.
public struct BenchmarkProcess {
    /// The program and its arguments.
    public var executable: String, arguments: [String]
    /// The child's environment (nil: this process's own).
    public var environment: [String: String]?
    /// What this side's environment selects, named when it fails (e.g. `MASKNET_GEMM=openblas`).
    public var setting: String?

    public init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, setting: String? = nil) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.setting = setting
    }

    /// The command line as a reader would retype it, with the setting it ran under.
    public var commandLine: String {
        ([executable] + arguments).joined(separator: " ") + (setting.map { " (\($0))" } ?? "")
    }

    /// Runs the child to its end and returns its standard output (its standard error passes through).
    /// - Throws: `BenchmarkFailure` naming the command when it cannot start or exits with a non-zero status.
    public func output() throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        do {
            try process.run()
        } catch {
            throw BenchmarkFailure("\(commandLine) did not start: \(error.localizedDescription)")
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchmarkFailure("\(commandLine) exited with \(process.terminationStatus)")
        }
        return data
    }

    /// The child's output decoded as `T` (a masknet worker's result).
    public func decoded<T: Decodable>(_ type: T.Type) throws -> T {
        let data = try output()
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw BenchmarkFailure("\(commandLine) printed no \(type) result: \(error)")
        }
    }

    /// The child's output as a JSON object (a reference script's result).
    public func jsonObject() throws -> [String: Any] {
        guard let object = (try? JSONSerialization.jsonObject(with: try output())) as? [String: Any] else {
            throw BenchmarkFailure("\(commandLine) printed no JSON object")
        }
        return object
    }
}
