import Foundation

/// What one stage asks of the cluster: the `resources:` block of a pipeline stage, a profile's defaults, or a
/// workload's built-in defaults. Every field is optional so the layers merge field by field (`merged(over:)`).
///
/// Never part of a stage key: a result computed with any resources is the same result.
public struct StageResources: Sendable, Equatable, Hashable {
    /// CPUs per task (`--cpus-per-task`).
    public var cpus: Int?
    /// Memory in MiB (`--mem`); written `16G`, `512M` or a bare number of MiB.
    public var memoryMiB: Int?
    /// Wall-time limit in minutes (`--time`); written `HH:MM:SS`, `D-HH:MM:SS`, `MM` or `MM:SS`.
    public var timeMinutes: Int?
    /// GPUs (spelled `--gres=gpu:N` or `--gpus=N` by the profile).
    public var gpus: Int?
    /// Partition (`--partition`).
    public var partition: String?
    /// Account (`--account`).
    public var account: String?
    /// Quality of service (`--qos`).
    public var qos: String?
    /// Node features (`--constraint`).
    public var constraint: String?
    /// Further `sbatch` options, passed as written.
    public var extra: [String]?

    /// Creates resources; nil fields are filled by the layer underneath.
    public init(cpus: Int? = nil, memoryMiB: Int? = nil, timeMinutes: Int? = nil, gpus: Int? = nil, partition: String? = nil,
                account: String? = nil, qos: String? = nil, constraint: String? = nil, extra: [String]? = nil) {
        self.cpus = cpus; self.memoryMiB = memoryMiB; self.timeMinutes = timeMinutes; self.gpus = gpus
        self.partition = partition; self.account = account; self.qos = qos; self.constraint = constraint; self.extra = extra
    }

    /// The keys of a `resources:` block, in the order the schema lists them.
    public static let keys = ["cpus", "mem", "time", "gpus", "partition", "account", "qos", "constraint", "extra"]

    /// These resources with every nil field taken from `base`.
    public func merged(over base: StageResources) -> StageResources {
        StageResources(cpus: cpus ?? base.cpus, memoryMiB: memoryMiB ?? base.memoryMiB, timeMinutes: timeMinutes ?? base.timeMinutes,
                       gpus: gpus ?? base.gpus, partition: partition ?? base.partition, account: account ?? base.account,
                       qos: qos ?? base.qos, constraint: constraint ?? base.constraint, extra: extra ?? base.extra)
    }

    /// The `sbatch` options for these resources.
    public func sbatchOptions(gpuSpelling: GPUSpelling) -> [String] {
        var out: [String] = []
        if let cpus { out.append("--cpus-per-task=\(cpus)") }
        if let memoryMiB { out.append("--mem=\(memoryMiB)M") }
        if let timeMinutes { out.append("--time=\(StageResources.formatTime(minutes: timeMinutes))") }
        if let gpus, gpus > 0 { out.append(gpuSpelling.option(gpus)) }
        if let partition { out.append("--partition=\(partition)") }
        if let account { out.append("--account=\(account)") }
        if let qos { out.append("--qos=\(qos)") }
        if let constraint { out.append("--constraint=\(constraint)") }
        out += extra ?? []
        return out
    }

    /// Reads a `resources:` mapping (values as YAML gives them: Int, String, [String]); `origin` names where it
    /// came from (e.g. `pipeline.yaml: stages.train.resources`) in every error.
    public init(mapping: [String: Any], origin: String) throws {
        self.init()
        for (key, value) in mapping {
            func bad(_ what: String) -> SlurmError {
                SlurmError(.invalidConfiguration, "\(origin).\(key): \(what)")
            }
            switch key {
            case "cpus": cpus = try StageResources._positive(value, orThrow: bad("expected a positive whole number of CPUs, e.g. 4"))
            case "gpus":
                guard let n = StageResources._integer(value), n >= 0 else { throw bad("expected a whole number of GPUs ≥ 0, e.g. 1") }
                gpus = n
            case "mem":
                guard let m = StageResources.parseMemory("\(value)") else {
                    throw bad("'\(value)' is not a memory size; write e.g. 16G, 512M or 2048 (MiB)")
                }
                memoryMiB = m
            case "time":
                guard let t = StageResources.parseTime("\(value)") else {
                    throw bad("'\(value)' is not a time limit; write e.g. \"12:00:00\", \"1-00:00:00\" or 30 (minutes)")
                }
                timeMinutes = t
            case "partition", "account", "qos", "constraint":
                guard let s = value as? String, !s.isEmpty, !s.contains(where: \.isWhitespace) else {
                    throw bad("expected a name without spaces")
                }
                switch key {
                case "partition": partition = s
                case "account": account = s
                case "qos": qos = s
                default: constraint = s
                }
            case "extra":
                guard let list = value as? [Any], list.allSatisfy({ $0 is String }) else {
                    throw bad("expected a list of sbatch options, e.g. [\"--exclusive\"]")
                }
                let options = list.map { $0 as! String }
                if let wrong = options.first(where: { !$0.hasPrefix("-") }) {
                    throw bad("'\(wrong)' is not an sbatch option (options start with -)")
                }
                extra = options
            default:
                let hint = StageResources.keys.min { _editDistanceCount($0, key) < _editDistanceCount($1, key) }
                throw SlurmError(.invalidConfiguration, "\(origin): unknown resource '\(key)'" + (hint.map { " (did you mean '\($0)'?)" } ?? "")
                                 + "; known: \(StageResources.keys.joined(separator: ", "))")
            }
        }
    }

    /// MiB from `16G`, `16GB`, `512M`, `1T`, `100K` or a bare number of MiB (Slurm's own default unit).
    public static func parseMemory(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("TB", 1_048_576), ("GB", 1024), ("MB", 1), ("KB", 1.0 / 1024),
                                         ("T", 1_048_576), ("G", 1024), ("M", 1), ("K", 1.0 / 1024)]
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            guard let v = Double(t.dropLast(suffix.count)), v > 0, v.isFinite else { return nil }
            return max(1, Int((v * factor).rounded(.up)))
        }
        guard let v = Int(t), v > 0 else { return nil }
        return v
    }

    /// Minutes from Slurm's time formats: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS`.
    /// Seconds round up to a whole minute (Slurm's own granularity).
    public static func parseTime(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        var days = 0
        var rest = Substring(t)
        if let dash = t.firstIndex(of: "-") {
            guard let d = Int(t[..<dash]), d >= 0 else { return nil }
            days = d
            rest = t[t.index(after: dash)...]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! >= 0 }) else { return nil }
        let p = parts.map { $0! }
        var seconds: Int
        if days > 0 || t.contains("-") {
            switch p.count {  // After a day count the first field is hours.
            case 1: seconds = p[0] * 3600
            case 2: seconds = p[0] * 3600 + p[1] * 60
            case 3: seconds = p[0] * 3600 + p[1] * 60 + p[2]
            default: return nil
            }
        } else {
            switch p.count {
            case 1: seconds = p[0] * 60
            case 2: seconds = p[0] * 60 + p[1]
            case 3: seconds = p[0] * 3600 + p[1] * 60 + p[2]
            default: return nil
            }
        }
        seconds += days * 86400
        guard seconds > 0 else { return nil }
        return (seconds + 59) / 60
    }

    /// `D-HH:MM:00` or `HH:MM:00`.
    public static func formatTime(minutes: Int) -> String {
        let d = minutes / 1440, h = (minutes % 1440) / 60, m = minutes % 60
        let hms = String(format: "%02d:%02d:00", h, m)
        return d > 0 ? "\(d)-\(hms)" : hms
    }

    static func _integer(_ value: Any) -> Int? {
        if let i = value as? Int { return i }
        if let s = value as? String { return Int(s) }
        return nil
    }

    static func _positive(_ value: Any, orThrow error: SlurmError) throws -> Int {
        guard let n = _integer(value), n > 0 else { throw error }
        return n
    }
}

/// How the site wants GPUs requested.
public enum GPUSpelling: String, Sendable, CaseIterable {
    /// `--gres=gpu:N` (generic resources; works on every Slurm).
    case gres
    /// `--gpus=N` (Slurm ≥ 19.05 with `select/cons_tres`).
    case gpus

    /// The option asking for `count` GPUs.
    public func option(_ count: Int) -> String {
        switch self {
        case .gres: return "--gres=gpu:\(count)"
        case .gpus: return "--gpus=\(count)"
        }
    }
}

/// Levenshtein distance, for did-you-mean hints.
func _editDistanceCount(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}
