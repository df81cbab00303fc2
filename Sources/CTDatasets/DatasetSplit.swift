import Foundation
import TensorCore

/// What a random split keeps together, so that no group appears on two sides (spec §1.4).
public enum SplitUnit: String, Sendable, Codable {
    /// Segmentation names `<scan>_<slice>.ext`: all slices of a scan stay together.
    case segmentationScan
    /// COVIDx-CT names: all scans and slices of a patient stay together; each class is split separately,
    /// so every side keeps the class balance.
    case classificationPatient

    /// The group a name belongs to, and its stratum (class) if any; `nil` if the name does not parse.
    public func group(of name: String) -> (group: String, stratum: Int)? {
        switch self {
        case .segmentationScan:
            let parts = FolderListing.stem(name).split(separator: "_", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
            return (String(parts[0]), 0)
        case .classificationPatient:
            guard let parsed = COVIDxSliceName(name) else { return nil }
            return (parsed.patient, parsed.label.rawValue)
        }
    }

    /// The naming rule, for error messages.
    public var convention: String {
        self == .segmentationScan ? "<scan>_<slice>.jpg" : COVIDxSliceName.convention
    }
}

/// Split files in the seed's format: one file name per line, LF-terminated, no header, paths or labels.
public enum DatasetSplit {
    /// The names in a split file, in file order. Blank lines are ignored; duplicates are an error.
    public static func read(from url: URL) throws -> [String] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw DatasetError.splitFileUnreadable(path: url.path, reason: error.localizedDescription)
        }
        let names = text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        var seen: Set<String> = [], duplicates: Set<String> = []
        for name in names where !seen.insert(name).inserted { duplicates.insert(name) }
        guard duplicates.isEmpty else { throw DatasetError.duplicateSplitNames(splitFile: url.path, names: duplicates.sorted()) }
        return names
    }

    /// The names in a split file, checked against `folder`: every listed name must be a file there,
    /// or the error lists every missing name.
    public static func read(from url: URL, checkingFolder folder: URL) throws -> [String] {
        let names = try read(from: url)
        let missing = names.filter { !FileManager.default.fileExists(atPath: folder.appendingPathComponent($0).path) }
        guard missing.isEmpty else { throw DatasetError.missingSplitNames(splitFile: url.path, folder: folder.path, names: missing) }
        return names
    }

    /// Writes names one per line, LF-terminated (atomically).
    public static func write(_ names: [String], to url: URL) throws {
        let text = names.map { $0 + "\n" }.joined()
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw DatasetError.splitFileUnreadable(path: url.path, reason: error.localizedDescription)
        }
    }

    /// A seeded random split of `names` into `fractions.count` parts whose sizes approach the fractions,
    /// keeping every group of `unit` (scan or patient) on one side.
    ///
    /// Groups are sorted, shuffled with `SeededGenerator(seed:stream: "split")`, and each in turn goes to the
    /// part furthest below its target slice count (per class for `.classificationPatient`). Each part is
    /// returned sorted. Fractions must be positive and sum to 1.
    public static func random(names: [String], fractions: [Double], seed: UInt64, unit: SplitUnit) throws -> [[String]] {
        guard !fractions.isEmpty, fractions.allSatisfy({ $0 > 0 }),
              abs(fractions.reduce(0, +) - 1) < 1e-9 else { throw DatasetError.invalidFractions(fractions) }
        var groups: [Int: [String: [String]]] = [:]  // stratum → group → names
        var bad: [String] = []
        for name in names {
            guard let (group, stratum) = unit.group(of: name) else { bad.append(name); continue }
            groups[stratum, default: [:]][group, default: []].append(name)
        }
        guard bad.isEmpty else {
            throw DatasetError.unparsableNames(folder: "<split input>", names: bad, expected: unit.convention)
        }
        var generator = SeededGenerator(seed: seed, stream: "split")
        var parts = [[String]](repeating: [], count: fractions.count)
        for stratum in groups.keys.sorted() {
            let members = groups[stratum]!
            var order = members.keys.sorted()
            generator.shuffle(&order)
            let total = Double(members.values.reduce(0) { $0 + $1.count })
            var filled = [Double](repeating: 0, count: fractions.count)
            for group in order {
                let deficits = fractions.indices.map { fractions[$0] * total - filled[$0] }
                let target = deficits.indices.max { deficits[$0] < deficits[$1] || (deficits[$0] == deficits[$1] && $0 > $1) }!
                parts[target].append(contentsOf: members[group]!)
                filled[target] += Double(members[group]!.count)
            }
        }
        return parts.map { $0.sorted() }
    }
}
