import Foundation

extension ParameterType {
    /// The value with reals restored where the type says real (JSON read back may have turned `1.0` into `1`).
    public func normalize(_ v: JSONValue) -> JSONValue {
        switch (self, v) {
        case (.number, .integer(let i)): return .number(Double(i))
        case (.list(let e), .array(let a)): return .array(a.map(e.normalize))
        case (.table(let e), .object(let o)): return .object(o.mapValues(e.normalize))
        default: return v
        }
    }
}
