import Foundation

/// The outcome of one Slurm command.
public struct SlurmCommandResult: Sendable {
    /// Exit status (nil when the command was killed at its time limit).
    public var status: Int32?
    /// Standard output.
    public var output: String
    /// Standard error.
    public var error: String

    /// Whether the command exited with status 0.
    public var succeeded: Bool { status == 0 }
}

/// Runs Slurm's command-line tools (`sbatch`, `squeue`, `scancel`, `scontrol`) as child processes.
///
/// Slurm has no stable library API across versions, so every executor in the design notes drives the
/// commands; their output formats are fixed with explicit `--format`/`-o` options.
public struct SlurmCommandLine: Sendable {
    /// Extra environment for every command (e.g. `SLURM_CONF`); the driver's own environment is inherited.
    public var environment: [String: String]
    /// A command that takes longer is killed and reported as a transient failure (a hung controller
    /// connection must not hang the run).
    public var timeoutSeconds: Double

    /// Creates a command runner.
    public init(environment: [String: String] = [:], timeoutSeconds: Double = 60) {
        self.environment = environment; self.timeoutSeconds = timeoutSeconds
    }

    /// The full path of `tool`, searched on PATH and in the usual Slurm locations; nil when absent.
    public static func locate(_ tool: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/opt/slurm/bin"] {
            let candidate = (dir as NSString).appendingPathComponent(tool)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs `tool arguments…`, feeding `input` on standard input.
    public func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> SlurmCommandResult {
        guard let executable = SlurmCommandLine.locate(tool) else {
            throw SlurmError(.unavailable, "\(tool) is not installed or not on PATH; the Slurm executor needs Slurm's client commands on the machine that runs masknet")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input == nil ? FileHandle.nullDevice : inp
        do { try process.run() } catch {
            throw SlurmError(.unavailable, "cannot start \(executable): \(error.localizedDescription)")
        }
        // Read both pipes concurrently so a chatty command never blocks on a full pipe.
        let group = DispatchGroup()
        // Unchecked Sendable: each box is written by one reader block and read only after `group.wait()`.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box(), errBox = Box()
        for (pipe, box) in [(out, outBox), (err, errBox)] {
            group.enter()
            DispatchQueue.global().async {
                box.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        if let input {
            inp.fileHandleForWriting.write(Data(input.utf8))
            try? inp.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline { timedOut = true; process.terminate(); break }
            usleep(2_000)
        }
        process.waitUntilExit()
        group.wait()
        return SlurmCommandResult(status: timedOut ? nil : process.terminationStatus,
                                  output: String(decoding: outBox.data, as: UTF8.self),
                                  error: String(decoding: errBox.data, as: UTF8.self) + (timedOut ? "\n\(tool) timed out after \(Int(timeoutSeconds)) s" : ""))
    }
}
