import Foundation

/// The table every benchmark prints when it has a reference side: one row per measured pass, masknet's value,
/// the reference's and their ratio (masknet ÷ reference: under 1 means masknet needs less time or memory).
public struct ComparisonTable {
    /// A measured quantity's unit, which fixes how its values are printed.
    public enum Unit: String {
        case seconds = "s", mebibytes = "MiB"
    }

    /// One measured pass.
    public struct Row {
        public var label: String
        public var ours: Double, reference: Double
        public var unit: Unit

        public init(_ label: String, ours: Double, reference: Double, unit: Unit) {
            self.label = label
            self.ours = ours
            self.reference = reference
            self.unit = unit
        }

        /// masknet ÷ reference.
        public var ratio: Double { ours / reference }
    }

    /// What the reference is called in the header (e.g. `pytorch`).
    public var referenceName: String
    public var rows: [Row]

    public init(referenceName: String = "pytorch", rows: [Row]) {
        self.referenceName = referenceName
        self.rows = rows
    }

    /// The header and one line per row, indented by two spaces, columns aligned.
    public var lines: [String] {
        let width = max(rows.map(\.label.count).max() ?? 0, 4) + 1
        func cell(_ value: Double, _ unit: Unit) -> String {
            unit == .seconds ? String(format: "%8.3f s  ", value) : String(format: "%8.0f MiB", value)
        }
        func right(_ text: String, _ columns: Int) -> String {
            String(repeating: " ", count: max(columns - text.count, 0)) + text
        }
        let header = "  " + "pass".padding(toLength: width, withPad: " ", startingAt: 0)
            + right("masknet", 8) + "     " + right(referenceName, 8) + "     " + right("ratio", 6)
        return [header] + rows.map { row in
            "  " + row.label.padding(toLength: width, withPad: " ", startingAt: 0)
                + cell(row.ours, row.unit) + " " + cell(row.reference, row.unit) + " " + String(format: "%6.2f", row.ratio)
        }
    }
}
