import Foundation
import MaskNetStages
import PipelineEngine
import TestSupport
import XCTest

/// The report of a tiny real pipeline run (every ML kind, one stage swept over two truncations) opened
/// in headless Chromium: screenshot kept beside the page, the page's own content checked in the browser
/// (verdict text, SVG charts, no broken image), no console message (the page's content security policy
/// turns any attempted request into one), and the HTML validated by tidy.
///
/// Chromium and tidy come from `bash Tools/setup.sh --tests`. Without them the test skips, except under
/// CI=true where it fails. The run folder stays in `.build/report-check/` for CI to keep as an artifact.
final class ReportBrowserTests: XCTestCase {
    static let pipeline = """
    pipeline: tiny-report
    seed: 5
    params: {min_size: 64, max_size: 128, area_threshold: 10, image_size: 64}
    stages:
      data: {kind: synthesize_dataset, params: {count: 20, size: 64}}
      seg_split:
        kind: split_dataset
        inputs: {dataset: data.dataset}
        params: {layout: segmentation, parts: [train, validation, test], fractions: [0.5, 0.2, 0.3]}
      cls_split:
        kind: split_dataset
        inputs: {dataset: data.dataset}
        params: {layout: classification, parts: [train, test], fractions: [0.5, 0.5]}
      seg:
        kind: train_segmentation
        inputs: {dataset: data.dataset, splits: seg_split.splits}
        matrix: {truncation: [1, 2]}
        params: {epochs: 2, learning_rate: 0.0005}
      seg_map:
        kind: evaluate_map
        inputs: {checkpoint: seg.checkpoint.safetensors, dataset: data.dataset, splits: seg_split.splits}
        params: {overlays: 0, figure_slices: 2, score_threshold: 0.05}
        expect: {seed_map: {min: 0, reference: 0.45, source: "paper, Table 2"}}
      init: {kind: transfer_weights, inputs: {checkpoint: seg.checkpoint.safetensors}, params: {roi_batch_size: 8, s_features: 16}}
      frozen: {kind: freeze_bn_stats, inputs: {checkpoint: init.checkpoint.safetensors}}
      cls:
        kind: train_classifier
        inputs: {checkpoint: frozen.checkpoint.safetensors, dataset: data.dataset, splits: cls_split.splits}
        params: {epochs: 1, batch_size: 5, learning_rate: 0.001, validation_split: ""}
      cls_eval:
        kind: evaluate_classifier
        inputs: {checkpoint: cls.checkpoint.safetensors, dataset: data.dataset, splits: cls_split.splits}
        expect: {accuracy: {min: 0, max: 1}}
    """

    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The first of the given programs on PATH (or MASKNET_CHROMIUM for the browser).
    static func program(_ names: [String]) -> URL? {
        if names.contains("chromium"), let override = ProcessInfo.processInfo.environment["MASKNET_CHROMIUM"] {
            return URL(fileURLWithPath: override)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for name in names {
            for directory in path.split(separator: ":") {
                let url = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
                if FileManager.default.isExecutableFile(atPath: url.path) { return url }
            }
        }
        return nil
    }

    func requireProgram(_ names: [String]) throws -> URL {
        if let url = Self.program(names) { return url }
        let message = "\(names[0]) is not installed: run `bash Tools/setup.sh --tests` (Debian package \(names[0]))"
        if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail(message); throw XCTSkip(message) }
        throw XCTSkip(message)
    }

    /// Runs a program; returns (status, stdout, stderr). Gives up after `timeout` seconds.
    static func execute(_ program: URL, _ arguments: [String], timeout: TimeInterval = 120) throws -> (Int32, String, String) {
        let process = Process()
        process.executableURL = program
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Unchecked Sendable: `data` is read and written under `lock` (a timed-out program's children may keep
        // its pipes open, so a reader can still be running when we return).
        final class Capture: @unchecked Sendable {
            private let lock = NSLock()
            private var _data = Data()
            var data: Data {
                get { lock.withLock { _data } }
                set { lock.withLock { _data = newValue } }
            }
        }
        let stdout = Capture(), stderr = Capture()
        let group = DispatchGroup()
        group.enter(); DispatchQueue.global().async { stdout.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter(); DispatchQueue.global().async { stderr.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        if group.wait(timeout: .now() + timeout) == .timedOut { process.terminate() }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout.data, as: UTF8.self), String(decoding: stderr.data, as: UTF8.self))
    }

    static func chromiumArguments(profile: URL) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--disable-extensions",
         "--user-data-dir=\(profile.path)", "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000"]
    }

    func testReportOfATinyRunRendersInChromiumAndValidates() throws {
        let chromium = try requireProgram(["chromium", "chromium-browser", "google-chrome"])
        let tidy = try requireProgram(["tidy"])
        let root = Self.packageRoot.appendingPathComponent(".build/report-check")
        removeTree(root)
        let workspace = try PipelineWorkspace(kinds: KindRegistry.builtIn + MaskNetStageKinds.all, root: root)
        let store = try workspace.store()
        let (run, _) = try workspace.run(Self.pipeline, name: "tiny-report.yaml")
        XCTAssertEqual(run.status, .succeeded, "\(run.stages.map { "\($0.name): \($0.status) \($0.reason ?? "")" })")
        let folder = store.runFolder(run.id)
        let page = folder.appendingPathComponent("report.html")
        let html = try String(contentsOf: page, encoding: .utf8)

        // Nothing in the page points outside it: every src/href is a data: URI, a fragment or a relative path.
        let references = html.components(separatedBy: "src=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
            + html.components(separatedBy: "href=\"").dropFirst().map { $0.prefix { $0 != "\"" } }
        for reference in references where !reference.hasPrefix("data:") && !reference.hasPrefix("#") {
            XCTAssertFalse(reference.contains(":") || reference.hasPrefix("/"), "reference leaving the file: \(reference.prefix(80))")
        }

        let result = try browse(page, folder: folder, chromium: chromium, profile: root.appendingPathComponent("chromium-profile"), height: 2400)
        XCTAssertEqual(result["sections"] as? [String], ["verdict", "stages", "sweeps", "metrics", "figures"])
        let verdict = result["verdict"] as? String ?? ""
        XCTAssertTrue(verdict.contains("All 4 gates pass"), verdict)
        XCTAssertTrue(verdict.contains("paper, Table 2"), verdict)
        // Training charts (2 cells × 4 + classifier 4), evaluation charts (2 cells × 4 + 3), sweep heat maps and plots.
        XCTAssertGreaterThanOrEqual(result["svg"] as? Int ?? 0, 25, "\(result)")
        XCTAssertEqual(result["broken"] as? Int, 0)
        XCTAssertGreaterThan(result["svgImages"] as? Int ?? 0, 0, "slice panels embedded")
        XCTAssertEqual(result["svgImagesNotData"] as? Int, 0)

        try validate(page, tidy: tidy)

        // TensorBoard logs of every training stage are linked into the run folder.
        let tensorboard = folder.appendingPathComponent("tensorboard")
        let linked = try FileManager.default.contentsOfDirectory(atPath: tensorboard.path).sorted()
        XCTAssertEqual(linked.count, 4, "\(linked)")
    }

    /// Opens `page` in Chromium twice: once as shipped for a screenshot beside it (its CSP forbids every
    /// request, so an attempt would log a console error, which fails the test), once as a copy with a probe
    /// script (the CSP relaxed for it alone) that writes what the browser rendered into the DOM, read back
    /// with --dump-dom. Returns the probe's findings.
    func browse(_ page: URL, folder: URL, chromium: URL, profile: URL, height: Int) throws -> [String: Any] {
        let html = try String(contentsOf: page, encoding: .utf8)
        let screenshot = folder.appendingPathComponent("report-screenshot.png")
        let (status, _, log) = try Self.execute(chromium, Self.chromiumArguments(profile: profile)
            + ["--window-size=1280,\(height)", "--screenshot=\(screenshot.path)", page.absoluteString])
        XCTAssertEqual(status, 0, log)
        let shot = try Data(contentsOf: screenshot)
        XCTAssertGreaterThan(shot.count, 10_000, "screenshot is not blank")
        let consoleLines = log.split(separator: "\n").filter { $0.contains(":CONSOLE") || $0.contains("Content Security Policy") }
        XCTAssertTrue(consoleLines.isEmpty, "console messages: \(consoleLines.joined(separator: "\n"))")

        let probe = """
        <script>
        window.addEventListener('load', function () {
          var images = Array.from(document.images);
          var broken = images.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).length;
          var svgImages = Array.from(document.querySelectorAll('svg image'));
          var verdict = document.querySelector('#verdict');
          function big(s) { var r = s.getBoundingClientRect(); return r.width > 50 && r.height > 50; }
          var charts = Array.from(document.querySelectorAll('svg')).filter(big);
          function text(q) { var e = document.querySelector(q); return e ? e.innerText : ''; }
          var result = {svg: charts.length, images: images.length, broken: broken,
            svgImages: svgImages.length, svgImagesNotData: svgImages.filter(function (i) { return !(i.getAttribute('href') || '').startsWith('data:'); }).length,
            verdict: verdict ? verdict.innerText : '', sections: Array.from(document.querySelectorAll('section')).map(function (s) { return s.id; }),
            verdictCharts: Array.from(document.querySelectorAll('#verdict svg')).filter(big).length,
            verdictChartTitles: Array.from(document.querySelectorAll('#verdict svg > title')).map(function (t) { return t.textContent; }),
            aggregates: text('#verdict table.aggregates'), baseline: text('#verdict table.baseline'),
            verdictDots: document.querySelectorAll('#verdict svg circle > title').length};
          var pre = document.createElement('pre'); pre.id = 'masknet-probe'; pre.textContent = JSON.stringify(result); document.body.appendChild(pre);
        });
        </script>
        """
        let probed = html.replacingOccurrences(of: "default-src 'none';", with: "default-src 'none'; script-src 'unsafe-inline';")
            .replacingOccurrences(of: "</body>", with: probe + "</body>")
        let probePage = folder.appendingPathComponent("report-probe.html")
        try probed.write(to: probePage, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: probePage) }
        let (domStatus, dom, domLog) = try Self.execute(chromium, Self.chromiumArguments(profile: profile) + ["--dump-dom", probePage.absoluteString])
        XCTAssertEqual(domStatus, 0, domLog)
        let json = try XCTUnwrap(dom.components(separatedBy: "<pre id=\"masknet-probe\">").dropFirst().first?.components(separatedBy: "</pre>").first,
                                 "probe output missing: \(domLog.suffix(2000))")
        let decoded = json.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(decoded.utf8)) as? [String: Any])
    }

    /// Validates the page with tidy: exit status 2 means errors (1: warnings only, which are listed if any).
    func validate(_ page: URL, tidy: URL) throws {
        let (tidyStatus, _, tidyLog) = try Self.execute(tidy, ["-e", "-q", "--drop-empty-elements", "no", page.path])
        XCTAssertLessThan(tidyStatus, 2, tidyLog)
        XCTAssertTrue(tidyLog.isEmpty, "tidy warnings:\n\(tidyLog.prefix(3000))")
    }

    /// A replicated stage (three seeded cells of a `command` script whose accuracy comes from its seed),
    /// gated on aggregates and on a baseline run with a higher level: the verdict must show every cell,
    /// the intervals, the baseline comparison with its test and p-value, and one chart per gated metric.
    static func replicated(level: String) -> String {
        """
        pipeline: tiny-replicates
        seed: 5
        stages:
          score:
            kind: command
            replicates: 3
            params:
              outputs: [out.txt]
              env: {LEVEL: "\(level)"}
              run: |
                d=$(printf %s "$MASKNET_SEED" | cut -c1-2)
                printf 'accuracy %s%s\\nslices 100\\n' "$LEVEL" "$d" > "$MASKNET_METRICS"
                echo "$d" > "$OUT_out_txt"
            expect:
              accuracy: {min: 0.5, mean: {min: 0.6}, ci95_low: {min: 0.3}, wilson95_low: {min: 0.5}, std: {max: 0.2}, trials: slices, no_worse_than: baseline, margin: 0.02}
        """
    }

    func testReportOfAReplicatedRunShowsCellsIntervalsAndBaseline() throws {
        let chromium = try requireProgram(["chromium", "chromium-browser", "google-chrome"])
        let tidy = try requireProgram(["tidy"])
        let root = Self.packageRoot.appendingPathComponent(".build/report-check-replicates")
        try? FileManager.default.removeItem(at: root)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let registry = MaskNetStageKinds.registry
        let store = try ArtifactStore(root: root.appendingPathComponent("store"))
        func run(level: String, baseline: MetricsSnapshot?) throws -> RunRecord {
            let file = root.appendingPathComponent("tiny-replicates.yaml")
            try Self.replicated(level: level).write(to: file, atomically: true, encoding: .utf8)
            let graph = try PipelineGraph(try PipelineParser(registry: registry).parse(file: file), registry: registry)
            var options = RunOptions()
            options.baseline = baseline
            return try PipelineRunner(store: store).run(graph, options: options, events: { _ in })
        }
        // The baseline: the same replicates 0.2 higher (its own baseline gate fails for want of a baseline).
        let before = try run(level: "0.8", baseline: nil)
        let after = try run(level: "0.6", baseline: MetricsSnapshot(run: before))
        let values = after.stages.filter { $0.baseName == "score" }.compactMap { $0.metrics["accuracy"] }
        XCTAssertEqual(values.count, 3)
        let folder = store.runFolder(after.id)
        let page = folder.appendingPathComponent("report.html")
        let result = try browse(page, folder: folder, chromium: chromium, profile: root.appendingPathComponent("chromium-profile"), height: 1600)

        let verdict = result["verdict"] as? String ?? ""
        // 3 cells × min, 4 aggregate gates (mean, std, ci95_low, wilson95_low), 1 baseline gate; the baseline one fails.
        XCTAssertTrue(verdict.contains("1 of 8 gates fail"), verdict)
        let aggregates = result["aggregates"] as? String ?? ""
        for i in 1...3 { XCTAssertTrue(aggregates.contains("[replicate=\(i)] \(String(format: "%.3f", values[i - 1]))"), aggregates) }
        XCTAssertTrue(aggregates.contains("Student t 95 %") && aggregates.contains("Wilson 95 %"), aggregates)
        let ci = try XCTUnwrap(ReplicateStatistics.studentInterval95(values))
        XCTAssertTrue(aggregates.contains("\(String(format: "%.3f", ci.low)) – \(String(format: "%.3f", ci.high))"), aggregates)
        let baseline = result["baseline"] as? String ?? ""
        let baseValues = before.stages.filter { $0.baseName == "score" }.compactMap { $0.metrics["accuracy"] }
        XCTAssertTrue(baseline.contains(String(format: "%.3f (3)", ReplicateStatistics.mean(baseValues))), baseline)
        XCTAssertTrue(baseline.contains("−0.200"), baseline)
        XCTAssertTrue(baseline.contains("Welch one-sided t"), baseline)
        XCTAssertTrue(baseline.contains("FAIL"), baseline)
        let welch = try XCTUnwrap(ReplicateStatistics.welchWorse(current: values, baseline: baseValues, margin: 0.02))
        XCTAssertTrue(baseline.contains(String(format: "%.3g", welch.p)), baseline)
        // One chart for the group's accuracy: three cell dots, the gate levels and the baseline.
        XCTAssertEqual(result["verdictCharts"] as? Int, 1, "\(result)")
        XCTAssertEqual(result["verdictDots"] as? Int, 3, "\(result)")
        XCTAssertEqual(result["broken"] as? Int, 0)
        try validate(page, tidy: tidy)
    }
}
