import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet metrics show|diff`.
    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show or compare run metrics as Markdown tables.",
                                                        subcommands: [Show.self, Diff.self])

        /// `masknet metrics show [RUN]`.
        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Metrics and gate verdicts of a run.")
            @Argument(help: "Run id, unique prefix, or 'last'.") var runID: String = "last"
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                do { emit(RunReports.metricsTable(try storeOptions.open().run(runID))) } catch let e as EngineError { throw ValidationError(e.message) }
            }
        }

        /// `masknet metrics diff A B`.
        struct Diff: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Compare the metrics of two runs.")
            @Argument(help: "First run (id, prefix or 'last').") var runA: String
            @Argument(help: "Second run.") var runB: String
            @Option(help: "Also write the comparison as a self-contained HTML page to this file.") var html: String?
            @OptionGroup var storeOptions: StoreOptions

            func run() throws {
                do {
                    let store = try storeOptions.open()
                    let (a, b) = (try store.run(runA), try store.run(runB))
                    emit(RunReports.metricsDiff(a, b))
                    if let html {
                        let page = MetricsDiffPage.html(a, b, presentations: registeredStageKinds().metricPresentations)
                        do { try Data(page.utf8).write(to: URL(fileURLWithPath: html), options: .atomic) } catch {
                            throw ValidationError("cannot write \(html): \(error.localizedDescription)")
                        }
                        emit("wrote \(html)\n")
                    }
                } catch let e as EngineError { throw ValidationError(e.message) }
            }
        }
    }
}
