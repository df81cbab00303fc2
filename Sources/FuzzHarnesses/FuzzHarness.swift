import CTDatasets
import EvaluationMetrics
import Foundation
import ImageIO
import MaskNetStages
import NeuralNetwork
import PipelineEngine
import TorchSerialization

/// The parsers of untrusted files, each as a function of raw bytes that must return (with a value or a
/// thrown error) for every input: never trap, hang or allocate without bound. The libFuzzer entry point
/// (Fuzz/) and the XCTest that replays the committed corpora (Tests/FuzzHarnessesTests) both call these,
/// so a crash found by a campaign becomes a regression input that CI replays in seconds.
public enum FuzzHarness: String, CaseIterable, Sendable {
    case torchCheckpoint = "pth"
    case safetensors
    case png
    case jpeg
    case cocoGroundTruth = "coco-gt"
    case cocoResults = "coco-results"
    case splitList = "split-list"
    case pipeline

    /// Runs the harness on `data`; errors thrown by the parser are the expected outcome for bad input.
    public func run(_ data: Data) {
        switch self {
        case .torchCheckpoint: Self.torchCheckpoint(data)
        case .safetensors: _ = try? SafeTensorsFile.decode(data, source: "fuzz.safetensors")
        case .png, .jpeg: Self.image(data)
        case .cocoGroundTruth: Self.coco(data, resultsFirst: false)
        case .cocoResults: Self.coco(data, resultsFirst: true)
        case .splitList: Self.splitList(data)
        case .pipeline: Self.pipeline(data)
        }
    }

    /// Limits small enough that one input stays far below libFuzzer's 2 GiB RSS limit.
    static let pickleLimits: PickleLimits = {
        var limits = PickleLimits()
        limits.maximumTensorElements = 1 << 22
        limits.maximumObjects = 1 << 20
        return limits
    }()

    static func torchCheckpoint(_ data: Data) {
        guard let checkpoint = try? TorchCheckpoint.decode(data, source: "fuzz.pth", limits: pickleLimits) else { return }
        // Read every tensor's values, as an import would.
        var budget = 1 << 24
        func visit(_ value: PickleValue, depth: Int) {
            guard depth < 64, budget > 0 else { return }
            switch value {
            case .tensor(let tensor):
                budget -= tensor.elementCount
                guard budget > 0 else { return }
                _ = tensor.dtype.isFloatingPoint ? (try? tensor.floatValues()).map(\.count) : (try? tensor.integerValues()).map(\.count)
            case .tuple(let items), .list(let items): items.forEach { visit($0, depth: depth + 1) }
            case .dictionary(let entries): entries.forEach { visit($0.key, depth: depth + 1); visit($0.value, depth: depth + 1) }
            case .object(let object):
                object.arguments.forEach { visit($0, depth: depth + 1) }
                object.state.map { visit($0, depth: depth + 1) }
                object.items.forEach { visit($0.value, depth: depth + 1) }
            default: break
            }
        }
        visit(checkpoint.root, depth: 0)
    }

    static func image(_ data: Data) {
        _ = try? ImageDecoder.decode(data: data, path: "fuzz.image")
        _ = try? ImageDecoder.decodeLabels(data: data, path: "fuzz.image")
    }

    /// Ground truth and results in one input, separated by the first NUL byte; then both evaluations.
    static func coco(_ data: Data, resultsFirst: Bool) {
        let parts = data.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let gtData = parts.first.map { Data($0) } ?? Data()
        let resultsData = parts.count > 1 ? Data(parts[1]) : Data("[]".utf8)
        let groundTruth: COCOGroundTruth
        if resultsFirst {
            // A fixed, valid ground truth so the fuzzer spends its time on the results file.
            groundTruth = COCOGroundTruth(images: [COCOImage(id: 1, height: 32, width: 24), COCOImage(id: 2, height: 8, width: 8)],
                                          categoryIDs: [1, 2], annotations: [
                                              COCOAnnotation(id: 1, imageID: 1, categoryID: 1, area: 40,
                                                             bbox: COCOBox(x: 2, y: 3, width: 8, height: 5),
                                                             segmentation: .polygons([[2, 3, 10, 3, 10, 8, 2, 8]])),
                                          ])
        } else {
            guard let parsed = try? COCOGroundTruth(jsonData: gtData, source: "fuzz-gt.json") else { return }
            groundTruth = parsed
        }
        guard let detections = try? COCODetections(jsonData: resultsFirst ? gtData : resultsData, source: "fuzz-results.json",
                                                   groundTruth: groundTruth) else { return }
        for type in [COCOIoUType.bbox, .segm] {
            _ = try? COCOEvaluator.evaluate(groundTruth: groundTruth, detections: detections, iouType: type)
        }
    }

    private static let scratch: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("masknet-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    static func splitList(_ data: Data) {
        let url = scratch.appendingPathComponent("split.txt")
        guard (try? data.write(to: url)) != nil else { return }
        _ = try? DatasetSplit.read(from: url)
        _ = try? DatasetSplit.read(from: url, checkingFolder: scratch)
    }

    /// A pipeline file, then (after the first NUL byte) one `--set` override per line.
    static func pipeline(_ data: Data) {
        let parts = data.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        guard let text = parts.first.flatMap({ String(data: Data($0), encoding: .utf8) }) else { return }
        let overrides = parts.count > 1
            ? String(decoding: parts[1], as: UTF8.self).split(separator: "\n").map(String.init) : []
        let registry = MaskNetStageKinds.registry
        let file = scratch.appendingPathComponent("fuzz.yaml")
        guard let definition = try? PipelineParser(registry: registry).parse(text: text, file: file, overrides: overrides) else { return }
        _ = try? PipelineGraph(definition, registry: registry)
    }
}
