import Foundation

/// A gate's verdict in a run.
public struct GateVerdict: Codable, Sendable, Equatable {
    /// The stage (resolved name).
    public var stage: String
    /// The metric.
    public var metric: String
    /// The condition as text.
    public var condition: String
    /// The value, if the stage reported it.
    public var value: Double?
    /// Whether it passed.
    public var passed: Bool
    /// Why it failed (empty when passed).
    public var message: String
    /// The reference value, if given.
    public var reference: Double?
    /// The reference's source, if given.
    public var source: String?
    /// For aggregate and baseline gates: every cell's value behind the aggregate.
    public var cells: [CellValue]? = nil
    /// For aggregate and baseline gates: the numbers behind the verdict (interval, test statistic).
    public var detail: String? = nil
    /// For aggregate and baseline gates: the same numbers for reports to draw.
    public var statistics: AggregateStatistics? = nil
}

/// One stage's part in a run.
public struct StageRunRecord: Codable, Sendable {
    /// The reason shown to a person: why it ran (as `plan` says it), else why it was skipped or failed,
    /// else "up to date" for a cache hit.
    public var whyText: String {
        if let runReasons, !runReasons.isEmpty { return runReasons.joined(separator: "; ") }
        return reason ?? (status == .cached ? "up to date" : "")
    }

    /// Resolved name.
    public var name: String
    /// Name in the file.
    public var baseName: String
    /// Sweep coordinates.
    public var cell: [String: JSONValue]
    /// Kind name.
    public var kind: String
    /// Kind implementation version.
    public var version: String
    /// The determinism statement.
    public var determinism: String
    /// What became of it.
    public var status: StageStatus
    /// Why it ran, or why it was skipped/failed.
    public var reason: String?
    /// Why it had to run (as `plan` says it), for stages handed to an executor; nil for cache hits.
    public var runReasons: [String]?
    /// The stage key, once known.
    public var key: String?
    /// The key components, once known.
    public var components: JSONValue?
    /// Output name → artifact.
    public var outputs: [String: Artifact]
    /// Metrics.
    public var metrics: [String: Double]
    /// Gate verdicts.
    public var gates: [GateVerdict]
    /// Wall seconds of the computation (of the original computation for cache hits).
    public var wallSeconds: Double?
    /// Peak memory of the computation in bytes.
    public var peakMemoryBytes: Int?
    /// Log path relative to the run folder.
    public var log: String?
    /// Where a batch executor ran it (job, node, queue wait, the batch system's elapsed time and MaxRSS).
    public var placement: StagePlacement? = nil
}

/// Everything about one `masknet run`: stored as `runs/<id>/run.json` beside the pipeline file copy,
/// `lock.json`, per-stage logs and the optional JUnit report.
public struct RunRecord: Codable, Sendable {
    /// Run id (`YYYYMMDD-HHMMSS-<pipeline>-<random>`).
    public var id: String
    /// Pipeline name.
    public var pipeline: String
    /// The pipeline file path as given.
    public var file: String
    /// Pipeline seed.
    public var seed: String
    /// `--set` overrides.
    public var overrides: [String]
    /// Start and end (ISO 8601).
    public var startedAt: String
    /// End time.
    public var finishedAt: String?
    /// The state of the run.
    public var status: RunStatus
    /// The process exit code.
    public var exitCode: Int32?
    /// Process id of the runner.
    public var pid: Int32
    /// The executor that ran the stages (`local`, `process`…).
    public var executor: String?
    /// Tool version, OS, CPU, threads… as given by the caller.
    public var environment: [String: String]
    /// Stages in topological order.
    public var stages: [StageRunRecord]

    /// Aggregate and baseline gate verdicts, one per swept stage's group of cells (nil in older records).
    public var aggregateGates: [GateVerdict]? = nil

    /// All gate verdicts: each cell's, then the aggregate and baseline ones.
    public var verdicts: [GateVerdict] { stages.flatMap(\.gates) + (aggregateGates ?? []) }
}

/// Exit codes of `masknet run` (documented in `masknet run --help`).
public enum RunExitCode {
    /// Everything ran and every gate passed.
    public static let success: Int32 = 0
    /// A stage failed.
    public static let stageFailed: Int32 = 1
    /// The pipeline file is invalid (nothing ran).
    public static let invalidPipeline: Int32 = 2
    /// Every stage succeeded but a metric gate failed.
    public static let gateFailed: Int32 = 3
    /// Interrupted by SIGINT/SIGTERM.
    public static let interrupted: Int32 = 130
}

extension ArtifactStore {
    /// All run records, newest first (unreadable ones skipped).
    public func runs() -> [RunRecord] { runs(matching: { _ in true }) }

    /// The run records whose folder name (run id) passes `include`, newest first.
    public func runs(matching include: (String) -> Bool) -> [RunRecord] {
        let dir = self.dir("runs")
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter(include)
        let records: [RunRecord] = names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: dir.appendingPathComponent("\(name)/run.json").path) else { return nil }
            return try? _JSON.decode(RunRecord.self, from: data)
        }
        // Ids share a second-resolution prefix; the start time (with fractions) orders runs in one second.
        return records.sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
    }

    /// A run by id, unique id prefix, or `last`/`latest`.
    public func run(_ idOrPrefix: String) throws -> RunRecord {
        let all = runs()
        if idOrPrefix == "last" || idOrPrefix == "latest" {
            guard let r = all.first else { throw EngineError("no runs in \(root.path)/runs") }
            return r
        }
        if let r = all.first(where: { $0.id == idOrPrefix }) { return r }
        let m = all.filter { $0.id.hasPrefix(idOrPrefix) }
        if m.count == 1 { return m[0] }
        if m.isEmpty { throw EngineError("no run '\(idOrPrefix)' in \(root.path)/runs\(_suggestion(idOrPrefix, among: all.prefix(50).map(\.id)))") }
        throw EngineError("'\(idOrPrefix)' matches \(m.count) runs; give more of the id")
    }

    /// The folder of a run.
    public func runFolder(_ id: String) -> URL { dir("runs").appendingPathComponent(id) }

    /// The most recent record of a stage of a pipeline (for `plan` and `why`).
    public func lastStageRecord(pipeline: String, stage: String, history: [RunRecord]? = nil) -> (run: RunRecord, stage: StageRunRecord)? {
        for r in history ?? runs() where r.pipeline == pipeline {
            if let s = r.stages.first(where: { $0.name == stage && $0.components != nil }) { return (r, s) }
        }
        return nil
    }
}

/// Reports derived from run records: gate tables, JUnit XML, metric tables, sweep summaries.
public enum RunReports {
    /// A Markdown table of gate verdicts.
    public static func verdictTable(_ verdicts: [GateVerdict]) -> String {
        var lines = ["| stage | metric | value | condition | verdict | reference |", "|---|---|---|---|---|---|"]
        for v in verdicts {
            let ref = v.reference.map { "\(_num($0))" + (v.source.map { " (\($0))" } ?? "") } ?? (v.source ?? "")
            let cells = v.cells.map { " over " + $0.map { "\($0.cell) \(_num4($0.value))" }.joined(separator: ", ") } ?? ""
            let detail = v.passed ? (v.detail.map { " (\($0))" } ?? "") : ""
            lines.append("| \(v.stage) | \(v.metric) | \(v.value.map(_num) ?? "—")\(cells) | \(v.condition) | \(v.passed ? "pass" : "FAIL: \(v.message)")\(detail) | \(ref) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// JUnit XML: one test case per stage (failure when the stage failed) and one per gate.
    public static func junit(_ run: RunRecord) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var cases: [String] = []
        var failures = 0, skipped = 0
        for s in run.stages {
            var body = ""
            if s.status == .failed || s.status == .interrupted { failures += 1; body = "<failure message=\"\(esc(s.reason ?? s.status.rawValue))\"/>" }
            if s.status == .skipped { skipped += 1; body = "<skipped message=\"\(esc(s.reason ?? "skipped"))\"/>" }
            cases.append("    <testcase classname=\"\(esc(run.pipeline)).stages\" name=\"\(esc(s.name))\" time=\"\(String(format: "%.3f", s.wallSeconds ?? 0))\">\(body)</testcase>")
            for g in s.gates {
                let name = "\(s.name): \(g.metric) \(g.condition)"
                let f = g.passed ? "" : "<failure message=\"\(esc(g.message))\">\(esc("value \(g.value.map(_num) ?? "missing"); reference \(g.reference.map(_num) ?? "none") \(g.source ?? "")"))</failure>"
                if !g.passed { failures += 1 }
                cases.append("    <testcase classname=\"\(esc(run.pipeline)).gates\" name=\"\(esc(name))\">\(f)</testcase>")
            }
        }
        for g in run.aggregateGates ?? [] {
            // Aggregate gates: the cells' values and the numbers behind the verdict go in the body.
            let values = (g.cells ?? []).map { "\($0.cell) = \(_num4($0.value))" }.joined(separator: "; ")
            let body = "value \(g.value.map(_num) ?? "missing") over \(values.isEmpty ? "no cells" : values)\(g.detail.map { "; \($0)" } ?? "")"
            let f = g.passed ? "<system-out>\(esc(body))</system-out>" : "<failure message=\"\(esc(g.message))\">\(esc(body))</failure>"
            if !g.passed { failures += 1 }
            cases.append("    <testcase classname=\"\(esc(run.pipeline)).aggregate-gates\" name=\"\(esc("\(g.stage): \(g.metric) \(g.condition)"))\">\(f)</testcase>")
        }
        return """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites name="masknet" tests="\(cases.count)" failures="\(failures)" skipped="\(skipped)">
          <testsuite name="\(esc(run.pipeline))" tests="\(cases.count)" failures="\(failures)" skipped="\(skipped)" timestamp="\(esc(run.startedAt))">
        \(cases.joined(separator: "\n"))
          </testsuite>
        </testsuites>

        """
    }

    /// A Markdown table of a run's metrics.
    public static func metricsTable(_ run: RunRecord) -> String {
        var lines = ["Run \(run.id) (\(run.pipeline), \(run.status))", "", "| stage | metric | value | gate |", "|---|---|---|---|"]
        for s in run.stages {
            for k in s.metrics.keys.sorted() {
                let g = s.gates.first { $0.metric == k }
                lines.append("| \(s.name) | \(k) | \(_num(s.metrics[k]!)) | \(g.map { $0.passed ? "pass (\($0.condition))" : "FAIL (\($0.condition))" } ?? "") |")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A Markdown table comparing the metrics of two runs.
    public static func metricsDiff(_ a: RunRecord, _ b: RunRecord) -> String {
        var rows: [String: (Double?, Double?)] = [:]
        for s in a.stages { for (k, v) in s.metrics { rows["\(s.name) \(k)", default: (nil, nil)].0 = v } }
        for s in b.stages { for (k, v) in s.metrics { rows["\(s.name) \(k)", default: (nil, nil)].1 = v } }
        var lines = ["| stage | metric | \(a.id) | \(b.id) | change |", "|---|---|---|---|---|"]
        for key in rows.keys.sorted() {
            let (x, y) = rows[key]!
            let parts = key.split(separator: " ", maxSplits: 1)
            let change: String
            if let x, let y { change = (y - x >= 0 ? "+" : "") + _num(y - x) } else { change = x == nil ? "new" : "removed" }
            lines.append("| \(parts[0]) | \(parts[1]) | \(x.map(_num) ?? "—") | \(y.map(_num) ?? "—") | \(change) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown and CSV tables of every cell of a swept stage: parameters and metrics.
    public static func sweepSummary(_ run: RunRecord, stage base: String) -> (markdown: String, csv: String) {
        let cells = run.stages.filter { $0.baseName == base && !$0.cell.isEmpty }
        let dims = Set(cells.flatMap { $0.cell.keys }).sorted()
        let metrics = Set(cells.flatMap { $0.metrics.keys }).sorted()
        let header = ["cell"] + dims + ["status"] + metrics
        var md = ["| " + header.joined(separator: " | ") + " |", "|" + String(repeating: "---|", count: header.count)]
        var csv = [header.joined(separator: ",")]
        for c in cells {
            let row = [c.name] + dims.map { c.cell[$0]?.displayText ?? "" } + [c.status.rawValue] + metrics.map { c.metrics[$0].map(_num) ?? "" }
            md.append("| " + row.joined(separator: " | ") + " |")
            csv.append(row.map { $0.contains(",") || $0.contains("\"") ? "\"\($0.replacingOccurrences(of: "\"", with: "\"\""))\"" : $0 }.joined(separator: ","))
        }
        return (md.joined(separator: "\n") + "\n", csv.joined(separator: "\n") + "\n")
    }
}

func _num(_ d: Double) -> String {
    if d.rounded() == d && abs(d) < 1e12 { return String(Int(d)) }
    return String(format: "%.6g", d)
}
