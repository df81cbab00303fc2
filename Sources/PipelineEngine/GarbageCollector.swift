import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which runs `gc` keeps; everything not reachable from a kept run is removed.
public struct GCOptions: Sendable {
    /// Keep only the newest N runs of each pipeline.
    public var keepLast: Int?
    /// Remove runs that started more than this many days ago.
    public var olderThanDays: Double?
    /// Apply the rules only to this pipeline (alone: remove all its runs).
    public var pipeline: String?
    /// Report without deleting.
    public var dryRun = false

    /// Keep every run (removes only unreachable objects and records).
    public init() {}
}

/// What `gc` removed.
public struct GCReport: Sendable {
    /// Removed run ids.
    public var removedRuns: [String] = []
    /// Removed action records.
    public var removedActions = 0
    /// Removed objects.
    public var removedObjects = 0
    /// Bytes freed.
    public var freedBytes: Int64 = 0
    /// Paths dropped from the file state table (deleted or changed since they were hashed).
    public var prunedStateEntries = 0
    /// Kept runs.
    public var keptRuns = 0
}

extension ArtifactStore {
    /// Removes runs by the options, then every record, spec and object not reachable from kept runs,
    /// plus leftovers of killed runs (temporary files, scratch directories). Refuses while a run is in
    /// progress on this store.
    public func collectGarbage(_ options: GCOptions) throws -> GCReport {
        guard let guardLock = try StoreGuard.exclusive(self) else {
            throw EngineError("a run is in progress on \(root.path); run gc when it has finished")
        }
        defer { guardLock.release() }
        var report = GCReport()
        let all = runs()
        let cutoff = options.olderThanDays.map { Date().addingTimeInterval(-$0 * 86400) }
        let iso = ISO8601DateFormatter()
        iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        var byPipeline: [String: Int] = [:]
        var kept: [RunRecord] = []
        for r in all {  // newest first
            var remove = false
            if options.pipeline == nil || options.pipeline == r.pipeline {
                let n = byPipeline[r.pipeline, default: 0]
                byPipeline[r.pipeline] = n + 1
                if let k = options.keepLast, n >= k { remove = true }
                if let cutoff, let started = iso.date(from: r.startedAt), started < cutoff { remove = true }
                if options.pipeline != nil && options.keepLast == nil && options.olderThanDays == nil { remove = true }
            }
            if remove { report.removedRuns.append(r.id) } else { kept.append(r) }
        }
        report.keptRuns = kept.count
        func sizeOf(_ url: URL) -> Int64 {
            var total: Int64 = 0
            var st = stat()
            if lstat(url.path, &st) == 0 {
                if (st.st_mode & S_IFMT) == S_IFDIR {
                    for rel in (try? FileManager.default.subpathsOfDirectory(atPath: url.path)) ?? [] {
                        if lstat(url.appendingPathComponent(rel).path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { total += Int64(st.st_size) }
                    }
                } else { total = Int64(st.st_size) }
            }
            return total
        }
        func remove(_ url: URL) {
            report.freedBytes += sizeOf(url)
            if !options.dryRun { _removeTree(url) }
        }
        for id in report.removedRuns { remove(runFolder(id)) }

        // Mark.
        var keys = Set<String>()
        var objects = Set<String>()
        func mark(_ a: Artifact) {
            objects.insert(a.digest)
            if a.type == .tree, let entries = try? treeEntries(a) { for e in entries { objects.insert(e.digest) } }
        }
        for r in kept { for s in r.stages { if let k = s.key { keys.insert(k) } } }
        for k in keys {
            if let rec = actionRecord(k) { rec.outputs.values.forEach(mark); rec.log.map(mark) }
            if let spec = try? StageSpec(storedIn: self, key: k) { for b in spec.inputs.values { b.artifacts.forEach(mark) } }
        }
        // Sweep.
        func sweep(_ sub: String, keep: (String) -> Bool) -> Int {
            var n = 0
            let base = dir(sub)
            for shard in (try? FileManager.default.contentsOfDirectory(atPath: base.path)) ?? [] {
                let shardURL = base.appendingPathComponent(shard)
                for name in (try? FileManager.default.contentsOfDirectory(atPath: shardURL.path)) ?? [] where !keep(name) {
                    remove(shardURL.appendingPathComponent(name)); n += 1
                }
            }
            return n
        }
        report.removedActions = sweep("actions") { keys.contains(String($0.dropLast(5))) }
        _ = sweep("specs") { keys.contains(String($0.dropLast(5))) }
        report.removedObjects = sweep("objects") { objects.contains($0) }
        for sub in ["tmp", "scratch"] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: dir(sub).path)) ?? [] { remove(dir(sub).appendingPathComponent(name)) }
        }
        report.prunedStateEntries = stateTable.prune(dryRun: options.dryRun)
        return report
    }
}

/// Bytes as `12.3 MB`.
public func formatBytes(_ n: Int64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"]
    var v = Double(n), i = 0
    while v >= 1000 && i < units.count - 1 { v /= 1000; i += 1 }
    return i == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[i])
}
