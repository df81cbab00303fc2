import ArgumentParser
import Dispatch
import Foundation
import MaskNetStages
import PipelineEngine
import SlurmExecution
import TensorCore
#if canImport(Glibc)
import Glibc
#endif

extension Masknet {
    /// `masknet run`: runs a pipeline, reusing every verified cached stage.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a pipeline (only what is not already in the store).",
            discussion: """
            Exit codes: 0 success; 1 a stage failed; 2 invalid pipeline (nothing ran); 3 every stage succeeded \
            but a metric gate (expect:) failed; 130 interrupted.
            """)

        @Argument(help: "Pipeline file (YAML).") var pipeline: String
        @Option(name: .customLong("stage"), help: "Run only this stage (and what it needs); repeatable.") var stages: [String] = []
        @Option(name: .customLong("force"), help: "Recompute this stage even if cached; repeatable.") var force: [String] = []
        @Option(name: .long, help: "Stages run at once (default 1; with --executor slurm, the profile's max_jobs_in_queue).") var jobs: Int?
        @Option(name: .long, help: "Where stages execute: local (in this process), process (each as a `masknet stage exec` child: a crash fails only its stage) or slurm (each as a Slurm job; see --profile).")
        var executor: String?
        @OptionGroup var threads: ThreadsOption
        @Flag(name: .long, help: "After a failure, continue with stages that do not depend on it.") var keepGoing = false
        @Option(name: .customLong("set"), help: "Override a parameter: stage.param=value, param=value (shared) or seed=N; repeatable.") var overrides: [String] = []
        @Option(name: .long, help: "Also write the JUnit XML report here.") var junit: String?
        @Option(name: .long, help: "What no_worse_than: baseline gates compare with: a run id (prefix, 'last') or a file from `masknet metrics export`.") var baseline: String?
        @Flag(name: .long, help: "Print only failures.") var quiet = false
        @Flag(name: .long, help: "Print one JSON event per line on stdout.") var json = false
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup(title: "Slurm") var slurm: SlurmRunOptions

        func validate() throws {
            if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
            if let executor, !["local", "process", "slurm"].contains(executor) { throw ValidationError("--executor must be local, process or slurm, not '\(executor)'") }
        }

        func run() throws {
            threads.apply()
            let graph = try loadGraph(pipeline, overrides: overrides)
            let store = try storeOptions.open()
            let baselineSnapshot: MetricsSnapshot?
            do { baselineSnapshot = try baseline.map { try MetricsSnapshot.resolve($0, store: store) } } catch let e as EngineError {
                throw EngineError("--baseline: \(e.message)")
            }
            let profile = try slurm.loadProfile()
            let executorName = executor ?? profile.executor ?? "local"
            if slurm.detach {
                guard executorName == "slurm" else { throw ValidationError("--detach needs --executor slurm") }
                return try slurm.detachRun(graph, stages: stages, force: force, overrides: overrides, store: store, profile: profile)
            }
            let runner = PipelineRunner(store: store)
            var style = ConsoleReporter.Style.plain
            if json { style = .json } else if quiet { style = .quiet } else if isatty(2) != 0 { style = .live }
            let reporter: ConsoleReporter
            if json {
                reporter = ConsoleReporter(style: style, write: { s in FileHandle.standardOutput.write(Data(s.utf8)) })
            } else {
                reporter = ConsoleReporter(style: style)
            }
            // SIGINT/SIGTERM: cancel running stages, record the run as interrupted, exit 130.
            var sources: [DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                src.setEventHandler { runner.cancel() }
                src.resume()
                sources.append(src)
            }
            var options = RunOptions()
            options.stages = stages
            options.force = force
            options.jobs = jobs ?? (executorName == "slurm" ? profile.maxJobsInQueue : 1)
            options.keepGoing = keepGoing
            options.junit = junit.map { URL(fileURLWithPath: $0) }
            options.environment = RunEnvironment.record()
            switch executorName {
            case "process": options.executor = ProcessExecutor(executable: RunEnvironment.executable())
            case "slurm": options.executor = try slurm.executor(for: graph, profile: profile)
            default: options.executor = LocalExecutor()
            }
            options.baseline = baselineSnapshot
            let record = try runner.run(graph, options: options, events: { reporter.handle($0) })
            _ = sources
            if !json && !record.verdicts.isEmpty && (!quiet || record.verdicts.contains { !$0.passed }) {
                FileHandle.standardError.write(Data(("\n" + RunReports.verdictTable(record.verdicts)).utf8))
            }
            if !json && !quiet {
                let folder = store.runFolder(record.id)
                for base in Set(record.stages.filter { !$0.cell.isEmpty }.map(\.baseName)).sorted() {
                    FileHandle.standardError.write(Data("sweep summary of \(base): \(folder.path)/sweep-\(base).md (and .csv)\n".utf8))
                }
                FileHandle.standardError.write(Data("run record: \(folder.path)\n".utf8))
            }
            if let code = record.exitCode, code != 0 { throw ExitCode(code) }
        }
    }
}
