import CTDatasets
import Foundation
import MaskNetWorkflows
import PipelineEngine

/// `synthesize_dataset`: the synthetic CT generator (issue 3) as a stage.
struct SynthesizeDatasetStage: StageKind {
    let name = "synthesize_dataset"
    let version = "1+generator\(SyntheticCTGenerator.version)"
    let summary = "Generate synthetic chest CT slices in the CNCB segmentation and COVIDx-CT classification layouts."
    let parameters: [ParameterSpec] = [
        ParameterSpec("count", .integer, default: 400, minimum: 1, maximum: 1_000_000,
                      description: "Slices per layout."),
        ParameterSpec("size", .integer, default: 128, minimum: 32, maximum: 2048, description: "Slice width and height, pixels."),
        ParameterSpec("layout", .choice(["segmentation", "classification", "both"]), default: "both",
                      description: "Which layouts to write."),
        ParameterSpec("slices_per_scan", .integer, default: 5, minimum: 1, maximum: 100,
                      description: "Slices per synthetic scan (splits keep a scan or patient on one side)."),
        ParameterSpec("segmentation_class_fractions", .list(.number), default: [0.6, 0.3, 0.1], minimum: 0, maximum: 1,
                      description: "Fractions of COVID-19, common-pneumonia and control scans in the segmentation layout."),
    ]
    let inputSlots: [InputSlot] = []
    let determinism = Determinism.seeded
    func outputNames(for parameters: ParameterValues) -> [String] { ["dataset"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        var configuration = SyntheticCTConfiguration(
            seed: context.seed, size: p.int("size"), count: p.int("count"),
            layout: SyntheticLayout(rawValue: p.string("layout"))!, slicesPerScan: p.int("slices_per_scan"),
            segmentationClassFractions: p["segmentation_class_fractions"]!.arrayValue!.map { $0.doubleValue! })
        configuration.fastCompression = true
        let manifest = try SyntheticCTGenerator(configuration).write(to: context.outputURL("dataset"))
        context.log("wrote \(p.int("count")) slices of \(p.int("size"))² per layout (\(p.string("layout")))")
        _ = manifest
        return StageResult(metrics: ["slices": Double(p.int("count") * (p.string("layout") == "both" ? 2 : 1))])
    }
}

/// `split_dataset`: a seeded split by scan (segmentation) or patient (classification), or the given
/// split files checked against the data set.
struct SplitDatasetStage: StageKind {
    let name = "split_dataset"
    let workload = StageWorkload.cheap
    let version = "1"
    let summary = "Split a data set into named parts by scan or patient, or check and adopt given split files."
    let parameters: [ParameterSpec] = [
        ParameterSpec("layout", .choice(["segmentation", "classification"]), description: "Which layout to split."),
        ParameterSpec("parts", .list(.string), default: ["train", "validation", "test"],
                      description: "Names of the parts, written as <name>.txt."),
        ParameterSpec("fractions", .list(.number), default: [0.7, 0.1, 0.2], minimum: 0, maximum: 1,
                      description: "Fraction of slices per part (same order as parts; must sum to 1)."),
        ParameterSpec("lists", .table(.string), default: [:],
                      description: "Split files to adopt instead of a random split: part name → path of a file with one slice name per line (the seed's format). Every listed name must exist."),
    ]

    func externalState(for parameters: ParameterValues) -> JSONValue? {
        let lists = parameters["lists"]?.objectValue ?? [:]
        return lists.isEmpty ? nil : ExternalState.fingerprint(lists.keys.sorted().compactMap { lists[$0]?.stringValue })
    }
    let inputSlots: [InputSlot] = [
        InputSlot("dataset", description: "A data set folder (synthesize_dataset or import_dataset output)."),
    ]
    let determinism = Determinism.seeded
    func outputNames(for parameters: ParameterValues) -> [String] { ["splits"] }

    func execute(_ context: StageContext) throws -> StageResult {
        let p = context.parameters
        let layout = p.string("layout")
        let folder = StageSupport.layoutFolder(StageSupport.input(context, "dataset"), layout: layout)
        let parts = p.strings("parts")
        let fractions = p["fractions"]!.arrayValue!.map { $0.doubleValue! }
        guard parts.count == fractions.count else {
            throw WorkflowError("split_dataset: \(parts.count) parts but \(fractions.count) fractions; give one fraction per part")
        }
        let names: [String]
        if layout == "segmentation" {
            names = try SegmentationDataset(root: folder).imageNames
        } else {
            names = try ClassificationDataset(folder: folder).names
        }
        let given = (p["lists"]?.objectValue ?? [:]).sorted { $0.key < $1.key }
            .map { ($0.key, URL(fileURLWithPath: $0.value.stringValue ?? "")) }
        var result: [(String, [String])] = []
        if !given.isEmpty {
            let imageFolder = layout == "segmentation" ? folder.appendingPathComponent("imgs") : folder
            for (part, file) in given {
                result.append((part, try DatasetSplit.read(from: file, checkingFolder: imageFolder)))
            }
        } else {
            let unit: SplitUnit = layout == "segmentation" ? .segmentationScan : .classificationPatient
            result = Array(zip(parts, try DatasetSplit.random(names: names, fractions: fractions, seed: context.seed, unit: unit)))
            // Groups (scans, patients) never straddle parts, so a small data set can leave a part empty, and an
            // evaluation over an empty part would report nothing. Say so instead.
            let empty = result.filter { $0.1.isEmpty }.map(\.0)
            if !empty.isEmpty {
                let groups = unit == .segmentationScan ? "scans" : "patients"
                throw WorkflowError("split_dataset: part\(empty.count == 1 ? "" : "s") \(empty.joined(separator: ", ")) would be empty: the \(names.count) slices belong to too few \(groups) for fractions \(fractions.map { "\($0)" }.joined(separator: ", ")) (all slices of one \(groups.dropLast()) stay on one side); generate or import more data, or change the fractions")
            }
        }
        let output = context.outputURL("splits")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        var metrics: [String: Double] = [:]
        for (part, members) in result {
            try DatasetSplit.write(members, to: output.appendingPathComponent("\(part).txt"))
            metrics["\(part)_slices"] = Double(members.count)
            context.log("\(part): \(members.count) slices")
        }
        return StageResult(metrics: metrics)
    }
}

/// `import_dataset`: brings a real data set (a folder named by a parameter) into the store, so that the
/// pipeline validates anywhere and every later stage keys on the data's content.
struct ImportDatasetStage: StageKind {
    let name = "import_dataset"
    let version = "1"
    let summary = "Bring a data-set folder (CNCB imgs/ and masks/, or COVIDx-CT slices) into the store."
    let parameters: [ParameterSpec] = [
        ParameterSpec("path", .string, description: "The folder to import (absolute, or relative to where masknet runs)."),
    ]
    let inputSlots: [InputSlot] = []
    let determinism = Determinism.deterministic
    var reportedMetrics: [String] { ["files"] }
    func outputNames(for parameters: ParameterValues) -> [String] { ["dataset"] }

    func externalState(for parameters: ParameterValues) -> JSONValue? {
        ExternalState.fingerprint([parameters.string("path")])
    }

    func execute(_ context: StageContext) throws -> StageResult {
        let source = URL(fileURLWithPath: context.parameters.string("path"))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw WorkflowError("import_dataset: \(source.path) is not a folder; set the stage's path to the data set (for example with --set \(context.stageName).path=/data/cncb/train)")
        }
        let output = context.outputURL("dataset")
        var count = 0
        let enumerator = FileManager.default.enumerator(at: source, includingPropertiesForKeys: [.isRegularFileKey])
        while let file = enumerator?.nextObject() as? URL {
            guard (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else { continue }
            let relative = String(file.path.dropFirst(source.path.count)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            let target = output.appendingPathComponent(relative)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            // A hard link costs no space on the same file system; the store makes its own read-only copy.
            if link(file.path, target.path) != 0 { try FileManager.default.copyItem(at: file, to: target) }
            count += 1
            if context.isCancelled { throw StageCancelled() }
        }
        context.log("imported \(count) files from \(source.path)")
        return StageResult(metrics: ["files": Double(count)])
    }
}
