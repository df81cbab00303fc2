import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The built-in `command` kind: runs a shell script that turns declared inputs into declared outputs.
///
/// The script runs under `/bin/sh -e -c` in the stage's (initially empty) output directory, with
/// stdin from /dev/null and stdout/stderr going to the stage log. It sees:
/// - `IN_<slot>`: path of each bound input (read-only),
/// - `OUT_<output>`: path where each declared output must be created (`.`/`-` become `_`),
/// - `MASKNET_SEED`, `MASKNET_CHECKPOINT_DIR`, `MASKNET_TMPDIR`, `MASKNET_METRICS`,
/// - every `env:` entry.
/// Metrics: if the script writes `$MASKNET_METRICS` (lines `name value`, or a JSON object of numbers),
/// they become the stage's metrics for `expect:` gates.
public struct CommandStageKind: StageKind {
    /// Creates the kind.
    public init() {}
    /// `command`.
    public var name: String { "command" }
    /// Bumped when the execution environment given to scripts changes.
    public var version: String { "1" }
    /// One line.
    public var summary: String { "Run a shell script (sh -e -c) that turns declared inputs into declared outputs." }
    /// `run`, `outputs`, `env`.
    public var parameters: [ParameterSpec] {
        [
            ParameterSpec("run", .string, description: "Shell script run with /bin/sh -e -c in the output directory; inputs are $IN_<name>, outputs $OUT_<name>."),
            ParameterSpec("outputs", .list(.string), default: .array([]),
                          description: "Names of the files or directories the script creates in its working directory; referenced as stage.name."),
            ParameterSpec("env", .table(.string), default: .object([:]),
                          description: "Extra environment variables for the script (part of the stage key)."),
        ]
    }
    /// Inputs are named freely in the pipeline.
    public var inputSlots: [InputSlot] { [] }
    /// Any input name is accepted and exported as `IN_<name>`.
    public var acceptsAdditionalInputs: Bool { true }
    /// The `outputs` parameter.
    public func outputNames(for parameters: ParameterValues) -> [String] {
        (parameters["outputs"]?.arrayValue ?? []).compactMap(\.stringValue)
    }
    /// Scripts get the seed; whether they are deterministic is up to them.
    public var determinism: Determinism { .seeded }

    /// The environment variable name for an input or output name.
    public static func variableName(_ prefix: String, _ name: String) -> String {
        prefix + String(name.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }

    /// Runs the script and waits for it; interruption kills its process group.
    public func execute(_ context: StageContext) throws -> StageResult {
        for output in context.outputNames where output.isEmpty || output.contains("/") || output.hasPrefix(".") {
            throw EngineError("stage \(context.stageName): output name '\(output)' must be a plain file name (no '/', not starting with '.')")
        }
        let metricsURL = context.temporaryDirectory.appendingPathComponent("metrics.txt")
        var env = ProcessInfo.processInfo.environment
        for (k, v) in context.parameters["env"]?.objectValue ?? [:] { env[k] = v.stringValue ?? v.canonicalText }
        for (slot, url) in context.inputs { env[CommandStageKind.variableName("IN_", slot)] = url.path }
        for output in context.outputNames { env[CommandStageKind.variableName("OUT_", output)] = context.outputURL(output).path }
        env["MASKNET_SEED"] = String(context.seed)
        env["MASKNET_CHECKPOINT_DIR"] = context.checkpointDirectory.path
        env["MASKNET_TMPDIR"] = context.temporaryDirectory.path
        env["MASKNET_METRICS"] = metricsURL.path
        env["MASKNET_STAGE"] = context.stageName

        let script = context.parameters.string("run")
        let status = try _spawnAndWait(arguments: ["/bin/sh", "-e", "-c", script], environment: env,
                                       directory: context.outputDirectory, logURL: context.logURL, context: context)
        if context.isCancelled { throw StageCancelled() }
        if status != 0 {
            let tail = (try? String(contentsOf: context.logURL, encoding: .utf8))?
                .split(separator: "\n", omittingEmptySubsequences: false).suffix(8).joined(separator: "\n") ?? ""
            throw EngineError("command \(status > 128 ? "killed by signal \(status - 128)" : "exited with status \(status)")"
                              + (tail.isEmpty ? "" : "; last log lines:\n\(tail)"))
        }
        return StageResult(metrics: try CommandStageKind.readMetrics(metricsURL))
    }

    /// Reads `name value` lines (or a JSON object of numbers) into metrics.
    static func readMetrics(_ url: URL) throws -> [String: Double] {
        guard let data = FileManager.default.contents(atPath: url.path), !data.isEmpty else { return [:] }
        if let obj = try? JSONDecoder().decode([String: Double].self, from: data) { return obj }
        var metrics: [String: Double] = [:]
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() {
            let parts = line.replacingOccurrences(of: ":", with: " ").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "=" })
            if parts.isEmpty { continue }
            guard parts.count == 2, let v = Double(parts[1]), v.isFinite else {
                throw EngineError("metrics file line \(n + 1) '\(line)' is not 'name value' with a finite number")
            }
            metrics[String(parts[0])] = v
        }
        return metrics
    }
}

/// Spawns a process in its own process group with stdout/stderr appended to `logURL`, waits for it,
/// records its peak memory in the context, and returns the exit status (128+signal when killed).
func _spawnAndWait(arguments: [String], environment: [String: String], directory: URL, logURL: URL,
                   context: StageContext) throws -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, logURL.path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)

    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, s) }
    var empty = sigset_t()
    sigemptyset(&empty)
    posix_spawnattr_setsigdefault(&attr, &defaults)
    posix_spawnattr_setsigmask(&attr, &empty)
    // Own process group: interruption kills the whole script tree with one kill(-pgid).
    posix_spawnattr_setpgroup(&attr, 0)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

    // posix_spawn_file_actions_addchdir_np is not exported to Swift on every glibc, so a tiny shell
    // trampoline changes directory and then execs the real program with its arguments unchanged.
    var environment = environment
    environment["_MASKNET_CWD"] = directory.path
    let full = ["/bin/sh", "-c", "cd \"$_MASKNET_CWD\" || exit 127; exec \"$@\"", "sh"] + arguments
    let argv: [UnsafeMutablePointer<CChar>?] = full.map { strdup($0) } + [nil]
    let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv { free(p) }; for p in envp { free(p) } }

    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, envp)
    guard rc == 0 else { throw EngineError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
    let group = pid
    // Recorded so that a later run can stop this process if our runner is killed (see removeScratch).
    try? "\(pid)\n".write(to: context.temporaryDirectory.deletingLastPathComponent().appendingPathComponent("pgid"), atomically: false, encoding: .utf8)
    context.onCancel {
        kill(-group, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + 3) { kill(-group, SIGKILL) }
    }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 {
        if errno != EINTR { throw EngineError("waiting for \(arguments[0]) failed: \(String(cString: strerror(errno)))") }
    }
    // ru_maxrss is in kilobytes on Linux, bytes on macOS.
    #if os(Linux)
    context.notePeakMemory(Int(usage.ru_maxrss) * 1024)
    #else
    context.notePeakMemory(Int(usage.ru_maxrss))
    #endif
    let low = status & 0x7f
    if low == 0 { return (status >> 8) & 0xff }
    return 128 + low
}

extension KindRegistry {
    /// The kinds built into the engine (only `command`).
    public static var builtIn: [any StageKind] { [CommandStageKind()] }
}
