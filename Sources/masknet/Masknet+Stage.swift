import ArgumentParser
import Dispatch
import Foundation
import PipelineEngine
import SlurmExecution
#if canImport(Glibc)
import Glibc
#endif

extension Masknet {
    /// `masknet stage exec KEY`: runs one stage as its own process from its recorded spec in the store.
    struct Stage: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Operate on single stages.", subcommands: [Exec.self])

        /// `masknet stage exec`.
        struct Exec: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Run one stage from nothing but its spec and input objects in the store (e.g. as a Slurm job).",
                discussion: """
                The spec is written to STORE/specs/ by `run` (and by `plan --record-specs`). Exit status 0 means the \
                action record is published. With --status-file, the outcome is also written there as JSON \
                (format, key, stage, outcome computed|cached|failed|interrupted, exit_code, message, wall_seconds, \
                log, host, pid, finished_at). SIGINT/SIGTERM interrupt the stage (exit 130); USR2 pauses it: a training stage writes a \
                resumable checkpoint at its next step and the process exits 75, so that the next attempt continues \
                from that step.
                """)

            @Argument(help: "Stage key (64 hex digits, or a unique prefix of at least 8, as printed by `masknet plan`).") var key: String
            @Option(name: .long, help: "Name shown in the log.") var name: String?
            @Option(name: .long, help: "Write the outcome here as JSON (see above).") var statusFile: String?
            @Option(name: .long, help: "Write the stage's latest progress here as JSON, at most once a second (read by a waiting driver).") var progressFile: String?
            @Flag(name: .long, help: "Recompute even if the store holds a verified result.") var force = false
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                let store = try storeOptions.open()
                let cancellation = SignalCancellation()
                var sources: [DispatchSourceSignal] = []
                // USR2 is Slurm's warning before a time limit (--signal=B:USR2@N), or preemption: pause.
                for sig in [SIGINT, SIGTERM, SIGUSR2] {
                    signal(sig, SIG_IGN)
                    let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                    src.setEventHandler { sig == SIGUSR2 ? cancellation.pause() : cancellation.cancel() }
                    src.resume()
                    sources.append(src)
                }
                defer { _ = sources }
                let statusURL = statusFile.map { URL(fileURLWithPath: $0) }
                let progressWriter = progressFile.map { StageProgressFile.Writer(StageProgressFile(url: URL(fileURLWithPath: $0))) }
                do {
                    let record = try StageRunner.execute(key: key, name: name, store: store, registry: registeredStageKinds(),
                                                         statusFile: statusURL, force: force,
                                                         cancelled: { cancellation.isCancelled },
                                                         context: { cancellation.attach($0) },
                                                         progress: { progressWriter?.write($0) })
                    FileHandle.standardError.write(Data("\(name ?? String(key.prefix(12))): published \(record.outputs.count) output(s)\n".utf8))
                } catch {
                    // Errors before the stage could start (bad key, missing spec) still leave a status file.
                    if let statusURL, !FileManager.default.fileExists(atPath: statusURL.path) {
                        let status = StageExecStatus(key: key, stage: name ?? key, outcome: .failed, message: "\(error)")
                        try? status.write(to: statusURL, store: store)
                    }
                    FileHandle.standardError.write(Data("\(name ?? String(key.prefix(12))): \(error)\n".utf8))
                    if cancellation.isPaused { throw ExitCode(SlurmExecutor.checkpointExitCode) }
                    throw ExitCode(cancellation.isCancelled ? RunExitCode.interrupted : 1)
                }
            }
        }
    }
}

/// Cancels (SIGINT, SIGTERM) or pauses (USR2) the stage of `stage exec` when a signal arrives, possibly
/// before the stage's context exists. A paused training stage writes its resumable checkpoint at the next
/// step, and the process exits with `SlurmExecutor.checkpointExitCode`, so the Slurm executor resubmits the
/// job and the stage continues from that step.
/// Unchecked Sendable: `cancelled`, `paused` and `context` are read and written only under `lock`.
final class SignalCancellation: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    private var paused = false
    private var context: StageContext?

    var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
    var isPaused: Bool { lock.lock(); defer { lock.unlock() }; return paused }

    func attach(_ c: StageContext) {
        lock.lock(); context = c; let (stop, pause) = (cancelled, paused); lock.unlock()
        if pause { c.requestPause() } else if stop { c.cancel() }
    }

    func cancel() {
        lock.lock(); cancelled = true; let c = context; lock.unlock()
        c?.cancel()
    }

    func pause() {
        lock.lock(); paused = true; cancelled = true; let c = context; lock.unlock()
        FileHandle.standardError.write(Data("masknet stage exec: USR2 received: pausing at the next step; exit \(SlurmExecutor.checkpointExitCode) so the job is resubmitted and resumes from there\n".utf8))
        c?.requestPause()
    }
}
