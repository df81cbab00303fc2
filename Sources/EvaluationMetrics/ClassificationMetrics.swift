// ClassificationMetrics: confusion matrix and the per-class and overall figures of spec §7.2.

import Foundation

/// A confusion matrix `[classCount, classCount]`: rows are the true class, columns the predicted class
/// (as the seed's `confusion[true, pred]`, spec §7.2).
public struct ConfusionMatrix: Equatable, Sendable, Codable {
    /// Number of classes.
    public let classCount: Int
    /// Counts, row-major: `counts[truth * classCount + prediction]`.
    public private(set) var counts: [Int]

    /// An all-zero matrix.
    public init(classCount: Int) {
        precondition(classCount > 0, "ConfusionMatrix: classCount \(classCount) must be positive")
        self.classCount = classCount
        self.counts = [Int](repeating: 0, count: classCount * classCount)
    }

    /// A matrix from rows (one row per true class).
    public init(rows: [[Int]]) {
        precondition(!rows.isEmpty && rows.allSatisfy { $0.count == rows.count },
                     "ConfusionMatrix: rows must form a square matrix, got \(rows.map(\.count))")
        precondition(rows.allSatisfy { $0.allSatisfy { $0 >= 0 } }, "ConfusionMatrix: negative count")
        self.classCount = rows.count
        self.counts = rows.flatMap { $0 }
    }

    /// A matrix from paired labels in `0..<classCount`.
    public init(truths: [Int], predictions: [Int], classCount: Int) {
        precondition(truths.count == predictions.count,
                     "ConfusionMatrix: \(truths.count) truths vs \(predictions.count) predictions")
        self.init(classCount: classCount)
        for (t, p) in zip(truths, predictions) { add(truth: t, prediction: p) }
    }

    /// Counts one sample.
    public mutating func add(truth: Int, prediction: Int) {
        precondition((0..<classCount).contains(truth) && (0..<classCount).contains(prediction),
                     "ConfusionMatrix.add: truth \(truth) / prediction \(prediction) outside 0..<\(classCount)")
        counts[truth * classCount + prediction] += 1
    }

    /// `counts[truth, prediction]`.
    public subscript(truth: Int, prediction: Int) -> Int { counts[truth * classCount + prediction] }

    /// The matrix as rows.
    public var rows: [[Int]] { (0..<classCount).map { Array(counts[($0 * classCount)..<(($0 + 1) * classCount)]) } }

    /// Total number of samples.
    public var total: Int { counts.reduce(0, +) }

    /// Samples of true class `c` (row sum).
    public func support(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + self[c, $1] } }

    /// Samples predicted as class `c` (column sum).
    public func predicted(_ c: Int) -> Int { (0..<classCount).reduce(0) { $0 + self[$1, c] } }
}

/// A two-sided confidence interval for a proportion.
public struct ProportionInterval: Equatable, Sendable, Codable {
    /// Lower bound.
    public var lower: Double
    /// Upper bound.
    public var upper: Double

    /// The Wilson score interval for `successes` out of `trials` at normal quantile `z`
    /// (1.959963984540054 for 95%); nil when `trials` is 0.
    public static func wilson(successes: Int, trials: Int, z: Double = 1.959963984540054) -> ProportionInterval? {
        guard trials > 0 else { return nil }
        let n = Double(trials), p = Double(successes) / n, z2 = z * z
        let denominator = 1 + z2 / n
        let centre = (p + z2 / (2 * n)) / denominator
        let half = z / denominator * (p * (1 - p) / n + z2 / (4 * n * n)).squareRoot()
        return ProportionInterval(lower: Swift.max(0, centre - half), upper: Swift.min(1, centre + half))
    }
}

/// Per-class figures of a classification report.
public struct ClassMetrics: Equatable, Sendable, Codable {
    /// Class index.
    public var index: Int
    /// Class name.
    public var name: String
    /// Number of samples of this class (row sum).
    public var support: Int
    /// TP / (TP + FN), the diagonal of the row-normalised matrix; nil when the class has no samples.
    public var sensitivity: Double?
    /// Wilson 95% interval of the sensitivity; nil when the class has no samples.
    public var sensitivityInterval: ProportionInterval?
    /// TN / (TN + FP); nil when every sample belongs to this class.
    public var specificity: Double?
    /// TP / (TP + FP) (positive predictive value); nil when nothing was predicted as this class.
    public var precision: Double?
    /// 2PR / (P + R); nil when P or R is undefined, 0 when both are 0.
    public var f1: Double?
}

/// The classification report of spec §7.2 and issue 3: confusion matrix, per-class sensitivity
/// (recall), specificity, precision (PPV) and F1, overall and balanced accuracy, macro averages,
/// Cohen's kappa, and Wilson 95% intervals for accuracy and sensitivity.
///
/// Undefined values (a ratio with a zero denominator, e.g. the sensitivity of a class with no samples)
/// are nil, not NaN: NaN silently poisons averages and is not valid JSON, whereas nil is explicit, encodes
/// as `null`, and forces a caller to decide. Macro averages and balanced accuracy average the defined
/// per-class values only (as scikit-learn's balanced accuracy does) and are nil when none is defined.
public struct ClassificationReport: Equatable, Sendable, Codable {
    /// The confusion matrix (rows = truth).
    public var confusion: ConfusionMatrix
    /// Per-class figures, in class order.
    public var classes: [ClassMetrics]
    /// trace / total; nil for an empty matrix.
    public var accuracy: Double?
    /// Wilson 95% interval of the accuracy; nil for an empty matrix.
    public var accuracyInterval: ProportionInterval?
    /// Mean of the defined sensitivities.
    public var balancedAccuracy: Double?
    /// Mean of the defined sensitivities (equal to `balancedAccuracy`, named for the macro table).
    public var macroSensitivity: Double?
    /// Mean of the defined specificities.
    public var macroSpecificity: Double?
    /// Mean of the defined precisions.
    public var macroPrecision: Double?
    /// Mean of the defined F1 scores.
    public var macroF1: Double?
    /// Cohen's kappa (p_o − p_e) / (1 − p_e); nil for an empty matrix or when p_e = 1.
    public var cohensKappa: Double?

    /// Computes every figure from a confusion matrix; `classNames` defaults to "0", "1", ...
    public init(confusion: ConfusionMatrix, classNames: [String]? = nil) {
        let n = confusion.classCount
        let names = classNames ?? (0..<n).map(String.init)
        precondition(names.count == n, "ClassificationReport: \(names.count) names for \(n) classes")
        let total = confusion.total
        func ratio(_ a: Int, _ b: Int) -> Double? { b == 0 ? nil : Double(a) / Double(b) }
        var classes: [ClassMetrics] = []
        for c in 0..<n {
            let tp = confusion[c, c]
            let support = confusion.support(c), predicted = confusion.predicted(c)
            let fn = support - tp, fp = predicted - tp
            let tn = total - tp - fn - fp
            let sensitivity = ratio(tp, support)
            let precision = ratio(tp, predicted)
            var f1: Double? = nil
            if let p = precision, let r = sensitivity { f1 = p + r == 0 ? 0 : 2 * p * r / (p + r) }
            classes.append(ClassMetrics(index: c, name: names[c], support: support, sensitivity: sensitivity,
                                        sensitivityInterval: ProportionInterval.wilson(successes: tp, trials: support),
                                        specificity: ratio(tn, tn + fp), precision: precision, f1: f1))
        }
        func mean(_ values: [Double?]) -> Double? {
            let defined = values.compactMap { $0 }
            return defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
        }
        let trace = (0..<n).reduce(0) { $0 + confusion[$1, $1] }
        self.confusion = confusion
        self.classes = classes
        self.accuracy = ratio(trace, total)
        self.accuracyInterval = ProportionInterval.wilson(successes: trace, trials: total)
        self.macroSensitivity = mean(classes.map(\.sensitivity))
        self.balancedAccuracy = self.macroSensitivity
        self.macroSpecificity = mean(classes.map(\.specificity))
        self.macroPrecision = mean(classes.map(\.precision))
        self.macroF1 = mean(classes.map(\.f1))
        if total > 0 {
            let t = Double(total)
            let po = Double(trace) / t
            let pe = (0..<n).reduce(0.0) { $0 + Double(confusion.support($1)) * Double(confusion.predicted($1)) } / (t * t)
            self.cohensKappa = pe == 1 ? nil : (po - pe) / (1 - pe)
        } else {
            self.cohensKappa = nil
        }
    }
}
