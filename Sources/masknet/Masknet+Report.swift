import ArgumentParser
import Foundation
import PipelineEngine

extension Masknet {
    /// `masknet report RUN [--open]`.
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "(Re)build report.html and report.md of a run.",
            discussion: "RUN is a run id, a unique prefix, 'last', or the path of a run folder (<store>/runs/<id>). The page is self-contained: charts are inline SVG, images are embedded, nothing is fetched.")
        @Argument(help: "Run id, unique prefix, 'last', or a run folder.") var runID: String = "last"
        @Flag(help: "Open the page in the default browser afterwards (xdg-open, or open on macOS).") var open = false
        @OptionGroup var storeOptions: StoreOptions

        func run() throws {
            let built: (RunReportPage.Summary, seconds: Double)
            built = try RunReportPage.rebuild(runID, storeRoot: ArtifactStore.defaultRoot(storeOptions.store),
                                                           presentations: registeredStageKinds().metricPresentations)
            let (summary, seconds) = built
            emit(String(format: "%@ (%.0f KiB, %d figures, %d SVG charts) built in %.2f s\n", summary.html.path,
                        Double(summary.htmlBytes) / 1024, summary.figureCount, summary.svgCount, seconds))
            if open {
                let opener = Process()
                #if os(macOS)
                opener.executableURL = URL(fileURLWithPath: "/usr/bin/open")
                #else
                opener.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                #endif
                opener.arguments = (opener.executableURL!.path.hasSuffix("env") ? ["xdg-open"] : []) + [summary.html.path]
                do { try opener.run(); opener.waitUntilExit() } catch {
                    throw EngineError("could not open \(summary.html.path): \(error); open it in a browser yourself")
                }
            }
        }
    }
}
