import Foundation

/// The report of a run, written into its folder: `report.html`, one self-contained page (verdict, stages,
/// metrics, sweeps, figures; charts inline as SVG, images as `data:` URIs, nothing fetched), and a short
/// `report.md` (verdict, stages, headline metrics) for CI logs, which show Markdown.
///
/// The engine knows nothing about what the figures show: a stage makes a figure by writing an `.svg` or
/// `.png` output, or files under `figures/` in a folder output. Which metrics come first is the kinds'
/// `MetricPresentation`.
public enum RunReportPage {
    /// PNGs shown from the `overlays/` of a folder output without a `figures/` subfolder (inference).
    static let figuresPerDirectory = 4
    /// Figures larger than this are linked from the store instead of embedded (keeps the page openable).
    static let largestEmbeddedFigure = 4 << 20

    /// One figure of a stage.
    struct Figure {
        enum Content { case svg(String), png(Data), tooLarge(URL, Int) }
        var stage: String
        var label: String
        var content: Content
    }

    /// What was written.
    public struct Summary: Sendable {
        /// The page.
        public var html: URL
        /// The page's size in bytes.
        public var htmlBytes: Int
        /// Figures on the page.
        public var figureCount: Int
        /// Inline SVG charts on the page (figures and sweep charts).
        public var svgCount: Int
    }

    /// Writes `report.html` and `report.md` into `folder` (temp-then-rename, so a reader never sees half a page).
    @discardableResult
    public static func write(_ run: RunRecord, store: ArtifactStore, folder: URL,
                             presentations: [String: MetricPresentation] = [:]) throws -> Summary {
        let figures = try run.stages.flatMap { try self.figures(of: $0, store: store) }
        try linkTensorBoardLogs(run, store: store, folder: folder)
        let sweeps = SweepReport.groups(run, presentations: presentations)
        let html = RunReportHTML(run: run, presentations: presentations, figures: figures, sweeps: sweeps).page()
        let htmlURL = folder.appendingPathComponent("report.html")
        try store.writeAtomically(Data(html.utf8), to: htmlURL, durable: false)
        try store.writeAtomically(Data(markdown(run, presentations: presentations).utf8),
                                  to: folder.appendingPathComponent("report.md"), durable: false)
        let svgCount = html.components(separatedBy: "<svg ").count - 1
        return Summary(html: htmlURL, htmlBytes: html.utf8.count, figureCount: figures.count, svgCount: svgCount)
    }

    /// The short Markdown page: verdict, stages, headline metrics, and where the full page is.
    static func markdown(_ run: RunRecord, presentations: [String: MetricPresentation]) -> String {
        var lines = ["# \(run.pipeline): run \(run.id)", "",
                     "Status **\(run.status)**, started \(run.startedAt)\(run.finishedAt.map { ", finished \($0)" } ?? ""). "
                        + "Figures, sweeps and every metric: `report.html` in this folder.", ""]
        if !run.verdicts.isEmpty {
            let failed = run.verdicts.filter { !$0.passed }.count
            lines += ["## Verdict", "", failed == 0 ? "All \(run.verdicts.count) gates pass." : "**\(failed) of \(run.verdicts.count) gates fail.**", "",
                      RunReports.verdictTable(run.verdicts)]
        }
        // A batch executor's account (Slurm job, node, queue wait, its elapsed and MaxRSS) gets a column of its own.
        let batch = run.stages.contains { $0.placement != nil }
        lines += ["## Stages", "", "| stage | status | why | wall time | peak memory |" + (batch ? " batch job |" : ""), "|---|---|---|---|---|" + (batch ? "---|" : "")]
        for stage in run.stages {
            lines.append("| \(stage.name) | \(stage.status) | \(markdownCell(stage.whyText)) | \(wallTime(stage.wallSeconds)) | \(memory(stage.peakMemoryBytes)) |"
                         + (batch ? " \(markdownCell(placementCell(stage.placement))) |" : ""))
        }
        var metricLines: [String] = []
        for stage in run.stages where !stage.metrics.isEmpty {
            let presentation = presentations[stage.kind]
            for metric in headline(stage, presentation) {
                var text = _num(stage.metrics[metric]!)
                if let interval = presentation?.intervals[metric], let lo = stage.metrics[interval.lower], let hi = stage.metrics[interval.upper] {
                    text += " (\(interval.kind) \(fixed(lo))–\(fixed(hi)))"
                }
                metricLines.append("| \(stage.name) | \(presentation?.label(metric) ?? metric) | \(text) |")
            }
        }
        if !metricLines.isEmpty {
            lines += ["", "## Headline metrics", "", "| stage | metric | value |", "|---|---|---|"] + metricLines
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The metrics of a stage shown first: the kind's headline ones that were reported, or every metric
    /// (sorted) when the kind declares none.
    static func headline(_ stage: StageRunRecord, _ presentation: MetricPresentation?) -> [String] {
        guard let presentation else { return stage.metrics.keys.sorted() }
        return presentation.headline.filter { stage.metrics[$0] != nil }
    }

    /// The figures among a stage's outputs: `.svg`/`.png` file outputs, files under `figures/` in folder
    /// outputs (sorted by path: stages number them in reading order), else the first few `overlays/` PNGs.
    static func figures(of stage: StageRunRecord, store: ArtifactStore) throws -> [Figure] {
        var figures: [Figure] = []
        for (name, artifact) in stage.outputs.sorted(by: { $0.key < $1.key }) {
            var files: [(String, URL)] = []
            if artifact.type == .tree {
                let entries = try store.treeEntries(artifact).sorted { $0.path < $1.path }
                let marked = entries.filter { (name == "figures" || $0.path.hasPrefix("figures/")) && isFigure($0.path) }
                let overlays = entries.filter { $0.path.hasPrefix("overlays/") && $0.path.lowercased().hasSuffix(".png") }
                let chosen = marked.isEmpty ? Array(overlays.prefix(figuresPerDirectory)) : marked
                files = chosen.map { ("\(name)/\($0.path)", store.objectURL($0.digest)) }
            } else if isFigure(name) {
                files = [(name, store.objectURL(artifact.digest))]
            }
            for (label, url) in files {
                let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
                if size > largestEmbeddedFigure {
                    figures.append(Figure(stage: stage.name, label: label, content: .tooLarge(url, size)))
                } else if label.lowercased().hasSuffix(".svg") {
                    var text = try String(contentsOf: url, encoding: .utf8)
                    if text.hasPrefix("<?xml"), let end = text.range(of: "?>") { text = String(text[end.upperBound...]) }
                    figures.append(Figure(stage: stage.name, label: label, content: .svg(text)))
                } else {
                    figures.append(Figure(stage: stage.name, label: label, content: .png(try Data(contentsOf: url))))
                }
            }
        }
        return figures
    }

    /// Copies every folder output named `tensorboard` to `<run folder>/tensorboard/<stage>/`, so that
    /// `tensorboard --logdir <run folder>` shows every stage's scalars (the store keeps outputs by digest).
    static func linkTensorBoardLogs(_ run: RunRecord, store: ArtifactStore, folder: URL) throws {
        let root = folder.appendingPathComponent("tensorboard")
        for stage in run.stages {
            guard let artifact = stage.outputs["tensorboard"], artifact.type == .tree else { continue }
            let target = root.appendingPathComponent(String(stage.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }))
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            for entry in try store.treeEntries(artifact) {
                let destination = target.appendingPathComponent(entry.path)
                try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
                try FileManager.default.copyItem(at: store.objectURL(entry.digest), to: destination)
            }
        }
    }

    static func isFigure(_ path: String) -> Bool {
        let lower = path.lowercased()
        return lower.hasSuffix(".svg") || lower.hasSuffix(".png")
    }

    static func wallTime(_ seconds: Double?) -> String {
        guard let seconds else { return "—" }
        if seconds >= 120 { return String(format: "%d min %02d s", Int(seconds) / 60, Int(seconds) % 60) }
        return String(format: "%.1f s", seconds)
    }

    /// A stage's batch placement for the stages table, naming where its figures come from; links the job's log.
    static func placementCell(_ placement: StagePlacement?) -> String {
        guard let placement else { return "—" }
        return placement.summary + (placement.source.map { " (\($0))" } ?? "") + (placement.log.map { "; log \($0)" } ?? "")
    }

    static func memory(_ bytes: Int?) -> String { bytes.map { String(format: "%.0f MiB", Double($0) / 1_048_576) } ?? "—" }

    static func fixed(_ value: Double) -> String { String(format: "%.3f", value) }

    static func markdownCell(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}

extension RunReportPage {
    /// Rebuilds the report of a run given by id, unique prefix, `last`, or the path of a run folder
    /// (`…/runs/<id>`, whose store is two levels up). Returns what was written and how long it took.
    public static func rebuild(_ run: String, storeRoot: URL,
                               presentations: [String: MetricPresentation]) throws -> (Summary, seconds: Double) {
        let start = Date()
        var isDirectory: ObjCBool = false
        let asFolder = URL(fileURLWithPath: run)
        let store: ArtifactStore, record: RunRecord, folder: URL
        if FileManager.default.fileExists(atPath: asFolder.path, isDirectory: &isDirectory), isDirectory.boolValue {
            let recordURL = asFolder.appendingPathComponent("run.json")
            guard let data = FileManager.default.contents(atPath: recordURL.path) else {
                throw EngineError("\(asFolder.path) is not a run folder (no run.json); give a run id or a folder under <store>/runs/")
            }
            do { record = try _JSON.decode(RunRecord.self, from: data) } catch {
                throw EngineError("\(recordURL.path) is not a readable run record (\(error)); it may be from an older masknet or damaged")
            }
            folder = asFolder.standardizedFileURL
            store = try ArtifactStore(root: folder.deletingLastPathComponent().deletingLastPathComponent())
        } else {
            store = try ArtifactStore(root: storeRoot)
            record = try store.run(run)
            folder = store.runFolder(record.id)
        }
        let summary = try write(record, store: store, folder: folder, presentations: presentations)
        return (summary, Date().timeIntervalSince(start))
    }
}
