import Foundation
import NeuralNetwork
import ObjectDetection
import ScalarLogging
import SVGPlotting

/// Where a training workflow writes what it observed: `metrics.csv` (every scalar per step), a
/// TensorBoard event file, and SVG charts.
public struct TrainingRecordOutputs {
    /// `metrics.csv`.
    public var csv: URL
    /// Folder receiving the `events.out.tfevents.*` file.
    public var tensorBoard: URL
    /// Folder receiving the charts (`1-loss.svg`, …, numbered in reading order).
    public var figures: URL

    public init(csv: URL, tensorBoard: URL, figures: URL) { self.csv = csv; self.tensorBoard = tensorBoard; self.figures = figures }
}

/// Records a training loop's scalars by global step (losses per component, learning rate, throughput,
/// per-epoch train and validation values) into a `ScalarLog` journal beside the resumable checkpoint,
/// and draws the training charts from it.
final class TrainingRecorder {
    let log: ScalarLog
    let learningRate: Double
    /// Steps per epoch as last reported (epoch-level scalars go at the epoch's last step).
    private(set) var stepsPerEpoch = 1

    /// A recorder journaling to `journal`, keeping what earlier runs logged for the `completedEpochs` and,
    /// for a run resumed inside an epoch, for that epoch's steps up to `resumePoint`.
    init(journal: URL?, completedEpochs: Int, resumePoint: TrainingResumePoint? = nil, learningRate: Double) throws {
        log = try ScalarLog(journal: journal, keepingEpochs: completedEpochs, keepingStepsThrough: resumePoint?.globalStep)
        self.learningRate = learningRate
        // A paused run knows its epoch length; otherwise the journal's last (epoch-end) entry tells it.
        if let resumePoint {
            stepsPerEpoch = max(1, resumePoint.steps)
        } else if let last = log.entries.last, last.epoch > 0 {
            stepsPerEpoch = max(1, last.step / last.epoch)
        }
    }

    /// The log line of a resumed run: after which epoch, and where inside the next one for a paused run.
    static func resumedMessage(_ checkpoint: URL, completedEpochs: Int, point: TrainingResumePoint?, unit: String) -> String {
        guard let point else { return "resumed from \(checkpoint.lastPathComponent) after epoch \(completedEpochs)" }
        return "resumed from \(checkpoint.lastPathComponent) inside epoch \(point.epoch + 1), after \(point.done) of \(point.steps) \(unit)"
    }

    /// One optimizer step.
    func step(_ progress: TrainingProgress) {
        stepsPerEpoch = max(progress.steps, 1)
        var scalars = ["learning_rate": progress.learningRate ?? learningRate, "throughput/slices_per_second": progress.slicesPerSecond]
        for (name, value) in progress.stepLosses {
            scalars[name == "total" ? "loss/total" : "loss/" + (name.hasPrefix("loss_") ? String(name.dropFirst(5)) : name)] = value
        }
        log.add(step: (progress.epoch - 1) * stepsPerEpoch + progress.step, epoch: progress.epoch, scalars)
    }

    /// The end of an epoch: its mean values (`epoch/train_loss`, `epoch/validation_loss`, …).
    func epoch(_ epoch: Int, _ scalars: [String: Double?]) {
        log.add(step: epoch * stepsPerEpoch, epoch: epoch, scalars.compactMapValues { $0 }.reduce(into: [:]) { $0["epoch/" + $1.key] = $1.value })
    }

    /// Writes `metrics.csv`, the event file and the charts.
    func publish(_ outputs: TrainingRecordOutputs, title: String) throws {
        try log.publish(csv: outputs.csv, eventDirectory: outputs.tensorBoard)
        try FileManager.default.createDirectory(at: outputs.figures, withIntermediateDirectories: true)
        for (name, chart) in charts(title: title) {
            try chart.write(to: outputs.figures.appendingPathComponent(name))
        }
    }

    /// The charts: loss per step (raw, faint; smoothed) with the per-epoch means and the validation loss
    /// when there is one; each loss component smoothed (Mask R-CNN's five); accuracy per epoch when
    /// logged; learning rate; throughput. The x axis is epochs (fractional within an epoch) throughout.
    func charts(title: String) -> [(String, SVGDocument)] {
        let perEpoch = Double(stepsPerEpoch)
        func points(_ tag: String) -> [(x: Double, y: Double)] { log.series(tag).map { (Double($0.step) / perEpoch, $0.value) } }
        // The x axis ends at the last epoch (not at the next round number: 12 epochs would get 15).
        let epochs = max(1, Double(log.entries.map(\.epoch).max() ?? 1))
        let raw = points("loss/total")
        let smoothing = raw.count > 400 ? 0.98 : raw.count > 60 ? 0.9 : 0.6
        var lossSeries: [LinePlot.Series] = [
            .init(name: "per step", points: raw, faint: true, colorIndex: 0),
            .init(name: "per step, smoothed", points: LinePlot.Series.smoothed(raw, weight: smoothing), colorIndex: 0),
            .init(name: "train (epoch mean)", points: points("epoch/train_loss"), markers: true, colorIndex: 2),
        ]
        let validation = points("epoch/validation_loss")
        if !validation.isEmpty { lossSeries.append(.init(name: "validation", points: validation, markers: true, colorIndex: 1)) }
        var lossPlot = LinePlot(title: "\(title) loss", xLabel: "epoch", yLabel: "loss", series: lossSeries)
        lossPlot.xRange = 0...epochs
        // The range follows the smoothed and per-epoch curves; early raw spikes would flatten them.
        let shown = lossSeries.filter { !$0.faint }.flatMap(\.points).map(\.y).filter(\.isFinite)
        if let low = shown.min(), let high = shown.max(), high > low {
            lossPlot.yRange = min(0, low)...(high + 0.05 * (high - min(0, low)))
        }
        var charts = [("1-loss.svg", lossPlot.render())]
        let components = log.tags.filter { $0.hasPrefix("loss/") && $0 != "loss/total" }
        if !components.isEmpty {
            let series = components.enumerated().map { index, tag in
                LinePlot.Series(name: String(tag.dropFirst(5)), points: LinePlot.Series.smoothed(points(tag), weight: smoothing), colorIndex: index)
            }
            var plot = LinePlot(title: "Loss components (smoothed)", xLabel: "epoch", yLabel: "loss", series: series)
            plot.xRange = 0...epochs
            plot.logarithmicY = series.flatMap(\.points).allSatisfy { $0.y > 0 }
            charts.append(("2-loss-components.svg", plot.render()))
        }
        let accuracy = [("train", points("epoch/train_accuracy"), 2), ("validation", points("epoch/validation_accuracy"), 1)]
            .filter { !$0.1.isEmpty }
        if !accuracy.isEmpty {
            var plot = LinePlot(title: "\(title) accuracy", xLabel: "epoch", yLabel: "accuracy",
                                series: accuracy.map { .init(name: $0.0, points: $0.1, markers: true, colorIndex: $0.2) })
            plot.yRange = 0...1
            plot.xRange = 0...epochs
            charts.append(("3-accuracy.svg", plot.render()))
        }
        var rate = LinePlot(title: "Learning rate", xLabel: "epoch", yLabel: "learning rate",
                            series: [.init(name: "Adam", points: points("learning_rate"))])
        rate.xRange = 0...epochs
        charts.append(("4-learning-rate.svg", rate.render(width: 400, height: 240)))
        var throughput = LinePlot(title: "Throughput (epoch running mean)", xLabel: "epoch", yLabel: "slices / s",
                                  series: [.init(name: "slices / s", points: points("throughput/slices_per_second"))])
        throughput.xRange = 0...epochs
        charts.append(("5-throughput.svg", throughput.render(width: 400, height: 240)))
        return charts
    }
}
