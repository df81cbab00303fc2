import Foundation

/// The one-page report of a run (`runs/<id>/report.md`): gate verdicts, metrics, per-stage timing and
/// memory, and the figures the stages produced (every PNG output, and the first few PNGs of directory
/// outputs such as overlays), linked beside the page so it reads without any other tool.
///
/// The engine knows nothing about what the figures show; a stage makes a figure by writing a PNG.
enum RunReportPage {
    /// PNGs taken from one directory output.
    static let figuresPerDirectory = 4

    static func write(_ run: RunRecord, store: ArtifactStore, folder: URL) throws {
        let figures = folder.appendingPathComponent("figures")
        var lines = ["# \(run.pipeline): run \(run.id)", "",
                     "Status **\(run.status)**, started \(run.startedAt)\(run.finishedAt.map { ", finished \($0)" } ?? "").", ""]
        if !run.verdicts.isEmpty {
            let failed = run.verdicts.filter { !$0.passed }.count
            lines += ["## Gates", "", failed == 0 ? "All \(run.verdicts.count) gates pass." : "**\(failed) of \(run.verdicts.count) gates fail.**", "",
                      RunReports.verdictTable(run.verdicts)]
        }
        lines += ["## Stages", "", "| stage | kind | status | why it ran | wall time | peak memory |", "|---|---|---|---|---|---|"]
        for stage in run.stages {
            let wall = stage.wallSeconds.map { String(format: "%.1f s", $0) } ?? "—"
            let memory = stage.peakMemoryBytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "—"
            let why = (stage.runReasons?.joined(separator: "; ") ?? (stage.status == .cached ? "up to date" : "—")).replacingOccurrences(of: "|", with: "\\|")
            lines.append("| \(stage.name) | \(stage.kind) | \(stage.status) | \(why) | \(wall) | \(memory) |")
        }
        lines += ["", "## Metrics", "", RunReports.metricsTable(run)]
        var figureLines: [String] = []
        for stage in run.stages {
            for (name, artifact) in stage.outputs.sorted(by: { $0.key < $1.key }) {
                let pngs = try pngFiles(of: artifact, name: name, store: store)
                for (index, (label, object)) in pngs.enumerated() {
                    let safeStage = stage.name.map { $0.isLetter || $0.isNumber ? $0 : "_" }
                    let file = "\(String(safeStage))-\(name.replacingOccurrences(of: "/", with: "_"))-\(index).png"
                    try FileManager.default.createDirectory(at: figures, withIntermediateDirectories: true)
                    let target = figures.appendingPathComponent(file)
                    try? FileManager.default.removeItem(at: target)
                    try FileManager.default.copyItem(at: object, to: target)
                    figureLines.append("**\(stage.name)** · \(label)\n\n![\(stage.name) \(label)](figures/\(file))\n")
                }
            }
        }
        if !figureLines.isEmpty { lines += ["## Figures", ""] + figureLines }
        try store.writeAtomically(Data(lines.joined(separator: "\n").utf8), to: folder.appendingPathComponent("report.md"),
                                  durable: false)
    }

    /// (label, object URL) of the PNGs of one output.
    static func pngFiles(of artifact: Artifact, name: String, store: ArtifactStore) throws -> [(String, URL)] {
        if artifact.type == .tree {
            return try store.treeEntries(artifact).filter { $0.path.lowercased().hasSuffix(".png") }
                .sorted { $0.path < $1.path }.prefix(figuresPerDirectory)
                .map { ("\(name)/\($0.path)", store.objectURL($0.digest)) }
        }
        return name.lowercased().hasSuffix(".png") ? [(name, store.objectURL(artifact.digest))] : []
    }
}
