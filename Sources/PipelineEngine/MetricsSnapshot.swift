import Foundation

/// The metrics of a run's stages, detached from the store: what `masknet metrics export` writes and
/// `run --baseline FILE` / `metrics diff` read, so a lab can commit a baseline beside its pipeline.
///
/// Cells are grouped for aggregate and baseline gates: a replicated stage's cells that differ only in
/// `replicate` (or only in a swept `seed`) form one group (`segmentation_map[replicate=*]`, or
/// `…[backbone=resnet18,replicate=*]` when also swept over another axis); the cells of a sweep without replicates form one group
/// (`train[lr=*]`); a stage that is not swept is a group of one (`evaluate`).
public struct MetricsSnapshot: Codable, Sendable {
    /// The file format tag.
    public static let currentFormat = "masknet-metrics/1"

    /// One stage cell's metrics.
    public struct Stage: Codable, Sendable {
        /// Resolved name (`segmentation_map[replicate=2]`).
        public var name: String
        /// Name in the pipeline file.
        public var baseName: String
        /// Sweep coordinates.
        public var cell: [String: JSONValue]
        /// Status in the run it came from.
        public var status: String
        /// Metrics.
        public var metrics: [String: Double]
    }

    /// A group of cells that aggregate and baseline gates treat as replicates of one measurement.
    public struct Group: Sendable {
        /// `stage`, `stage[replicate=*]`, `stage[lr=*]`.
        public var name: String
        /// The stage's name in the file.
        public var baseName: String
        /// The cells in run order.
        public var cells: [Stage]

        /// (cell name, value) of every cell that reported the metric, in run order.
        public func values(_ metric: String) -> [CellValue] {
            cells.compactMap { c in c.metrics[metric].map { CellValue(cell: c.name, value: $0) } }
        }
    }

    /// `masknet-metrics/1`.
    public var format: String
    /// Pipeline name.
    public var pipeline: String
    /// The run the metrics come from.
    public var run: String
    /// Its pipeline seed.
    public var seed: String
    /// Its stage cells in run order.
    public var stages: [Stage]

    /// The metrics of a run record.
    public init(run: RunRecord) {
        format = MetricsSnapshot.currentFormat
        pipeline = run.pipeline
        self.run = run.id
        seed = run.seed
        stages = run.stages.map { Stage(name: $0.name, baseName: $0.baseName, cell: $0.cell, status: $0.status.rawValue, metrics: $0.metrics) }
    }

    /// Reads a file `masknet metrics export` wrote; errors name the file and what is wrong.
    public static func load(_ url: URL) throws -> MetricsSnapshot {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw EngineError("cannot read metrics file \(url.path)") }
        let snapshot: MetricsSnapshot
        do { snapshot = try _JSON.decode(MetricsSnapshot.self, from: data) } catch {
            throw EngineError("\(url.path) is not a metrics file written by `masknet metrics export` (\(error)); export one with `masknet metrics export RUN -o \(url.lastPathComponent)`")
        }
        guard snapshot.format == currentFormat else {
            throw EngineError("\(url.path): format '\(snapshot.format)' is not \(currentFormat); export it again with this masknet")
        }
        return snapshot
    }

    /// The snapshot as pretty, key-sorted JSON (stable diffs when committed).
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The cells grouped as described on the type, in run order of each group's first cell.
    public var groups: [Group] {
        var order: [String] = []
        var byName: [String: Group] = [:]
        let replicaAxes = [PipelineGraph.replicateAxis, PipelineGraph.seedAxis]
        let replicated = Set(stages.filter { s in replicaAxes.contains { s.cell[$0] != nil } }.map(\.baseName))
        for s in stages {
            let name: String
            if replicated.contains(s.baseName) {
                var rest = s.cell
                for axis in replicaAxes where rest[axis] != nil { rest[axis] = .string("*") }
                name = PipelineGraph.cellName(s.baseName, rest)
            } else {
                name = PipelineGraph.cellName(s.baseName, s.cell.mapValues { _ in .string("*") })
            }
            if byName[name] == nil { order.append(name); byName[name] = Group(name: name, baseName: s.baseName, cells: []) }
            byName[name]!.cells.append(s)
        }
        return order.map { byName[$0]! }
    }
}

/// One cell's value of a metric, for verdicts that show every cell behind an aggregate.
public struct CellValue: Codable, Sendable, Equatable {
    /// The resolved cell name.
    public var cell: String
    /// The value.
    public var value: Double
}

extension MetricsSnapshot {
    /// A run's metrics by id (prefix, `last`) or, when `reference` names an existing file, that file's.
    public static func resolve(_ reference: String, store: ArtifactStore) throws -> MetricsSnapshot {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: reference, isDirectory: &isDirectory), !isDirectory.boolValue {
            return try load(URL(fileURLWithPath: reference))
        }
        do { return MetricsSnapshot(run: try store.run(reference)) } catch let e as EngineError {
            throw EngineError("'\(reference)' is neither a metrics file nor a run: \(e.message)")
        }
    }
}
