import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet metrics show|diff|export`.
    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show, compare or export run metrics.",
                                                        subcommands: [Show.self, Diff.self, Export.self])

        /// `masknet metrics show [RUN]`.
        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Metrics and gate verdicts of a run.")
            @Argument(help: "Run id, unique prefix, or 'last'.") var runID: String = "last"
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                emit(RunReports.metricsTable(try storeOptions.open().run(runID)))
            }
        }

        /// `masknet metrics diff A B`.
        struct Diff: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Compare the metrics of two runs or metrics files, replicates against replicates.",
                discussion: """
                Cells of a replicated stage are compared as groups (stage[replicate=*]): B regresses when its mean \
                is below A's by more than --margin and Welch's one-sided t test at 0.05 agrees, the rule of \
                no_worse_than: baseline gates. Exit code 3 when any metric regresses and --fail-on-regression is given.
                """)
            @Argument(help: "Baseline: run (id, prefix or 'last') or metrics file.") var runA: String
            @Argument(help: "Run or metrics file to compare with it.") var runB: String
            @Option(name: .long, help: "Allowed drop of the mean before a regression is tested.") var margin: Double = 0
            @Flag(name: .long, help: "Exit with 3 when a metric regresses.") var failOnRegression = false
            @Option(help: "Also write the comparison of two runs as a self-contained HTML page to this file.") var html: String?
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                let store = try storeOptions.open()
                let a = try MetricsSnapshot.resolve(runA, store: store), b = try MetricsSnapshot.resolve(runB, store: store)
                let table = AggregateGates.diffTable(a, b, margin: margin)
                emit(table)
                if let html {
                    let page = MetricsDiffPage.html(try store.run(runA), try store.run(runB),
                                                    presentations: registeredStageKinds().metricPresentations)
                    do { try Data(page.utf8).write(to: URL(fileURLWithPath: html), options: .atomic) } catch {
                        throw EngineError("cannot write \(html): \(error.localizedDescription)")
                    }
                    emit("wrote \(html)\n")
                }
                if failOnRegression && table.contains("**regression**") { throw ExitCode(RunExitCode.gateFailed) }
            }
        }

        /// `masknet metrics export RUN -o FILE`.
        struct Export: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Write a run's metrics to a file to commit as a baseline (run --baseline FILE, metrics diff).")
            @Argument(help: "Run id, unique prefix, or 'last'.") var runID: String = "last"
            @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                let data = try MetricsSnapshot(run: try storeOptions.open().run(runID)).encoded() + Data("\n".utf8)
                if let output { try data.write(to: URL(fileURLWithPath: output), options: .atomic) } else { FileHandle.standardOutput.write(data) }
            }
        }
    }
}
