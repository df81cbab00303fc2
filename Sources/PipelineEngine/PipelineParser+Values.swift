import Foundation
import Yams

/// Typed values: YAML 1.2 core-schema scalars checked against a parameter's type and range.
extension _ParseState {
    /// A scalar's meaning under the YAML 1.2 core schema.
    enum Plain { case null, bool(Bool), int(Int), real(Double), nonFinite, string(String) }

    /// YAML 1.2 core-schema interpretation of a scalar (quoted scalars are always strings).
    func plain(_ s: Node.Scalar) -> Plain {
        if s.style != .plain && s.style != .any { return .string(s.string) }
        let t = s.string
        switch t {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN": return .nonFinite
        default: break
        }
        if t.range(of: "^[-+]?[0-9]+$", options: .regularExpression) != nil, let i = Int(t) { return .int(i) }
        if t.range(of: "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$", options: .regularExpression) != nil,
           let d = Double(t) { return d.isFinite ? .real(d) : .nonFinite }
        return .string(t)
    }

    /// A value of the given type from a node, or nil after reporting why not.
    mutating func value(_ node: Node, as type: ParameterType, spec: ParameterSpec?, _ path: String) -> JSONValue? {
        switch type {
        case .list(let element):
            guard case .sequence(let seq) = node else {
                error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
            }
            var items: [JSONValue] = []
            var ok = true
            for (i, n) in seq.enumerated() {
                if let v = value(n, as: element, spec: spec, "\(path)[\(i)]") { items.append(v) } else { ok = false }
            }
            return ok ? .array(items) : nil
        case .table(let element):
            guard case .mapping(let map) = node else {
                error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
            }
            var dict: [String: JSONValue] = [:]
            var ok = true
            for item in entries(map, path) {
                if let v = value(item.value, as: element, spec: spec, _join(path, item.key)) { dict[item.key] = v } else { ok = false }
            }
            return ok ? .object(dict) : nil
        default:
            break
        }
        guard case .scalar(let s) = node else {
            error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
        }
        let p = plain(s)
        if case .choice(let options) = type {
            switch p {
            case .string, .int, .real, .bool:
                let text: String
                if case .string(let t) = p { text = t } else { text = s.string }
                guard options.contains(text) else {
                    error(node, path, "'\(text)' is not \(type.phrase)\(_suggestion(text, among: options))"); return nil
                }
                return .string(text)
            default:
                error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
            }
        }
        let result: JSONValue?
        switch (type, p) {
        case (.integer, .int(let i)): result = .integer(i)
        case (.integer, .real(let d)) where d.rounded() == d && abs(d) < 9e15: result = .integer(Int(d))
        case (.number, .int(let i)): result = .number(Double(i))
        case (.number, .real(let d)): result = .number(d)
        case (.string, .string(let t)): result = .string(t)
        case (.string, .int), (.string, .real), (.string, .bool):
            // Strict, like the JSON Schema: a bare 3 or true where text is expected is usually a mistake.
            error(node, path, "expected a string, found \(describe(node)); quote it (\"\(s.string)\") if you mean the text"); return nil
        case (.boolean, .bool(let b)): result = .bool(b)
        case (.boolean, .string(let t)) where ["yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF"].contains(t):
            error(node, path, "'\(t)' is not a boolean here (YAML 1.2); write true or false"); return nil
        case (_, .nonFinite):
            error(node, path, "'\(s.string)' is not a finite number"); return nil
        default:
            error(node, path, "expected \(type.phrase), found \(describe(node))"); return nil
        }
        if let spec, let x = result?.doubleValue {
            if let lo = spec.minimum, x < lo {
                error(node, path, "\(s.string) is below the minimum \(_fmt(lo)) of '\(spec.name)' (\(spec.description))"); return nil
            }
            if let hi = spec.maximum, x > hi {
                error(node, path, "\(s.string) is above the maximum \(_fmt(hi)) of '\(spec.name)' (\(spec.description))"); return nil
            }
        }
        return result
    }

    func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let s):
            switch plain(s) {
            case .null: return "nothing (null)"
            case .bool(let b): return "the boolean \(b)"
            case .int(let i): return "the integer \(i)"
            case .real(let d): return "the number \(d)"
            case .nonFinite: return "'\(s.string)'"
            case .string(let t): return "the string '\(t)'"
            }
        }
    }

    mutating func scalarString(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let s) = node, case .string(let t) = plain(s) else {
            error(node, path, "expected a string, found \(describe(node))"); return nil
        }
        return t
    }

    mutating func scalarNumber(_ node: Node, _ path: String) -> Double? {
        guard case .scalar(let s) = node else { error(node, path, "expected a number, found \(describe(node))"); return nil }
        switch plain(s) {
        case .int(let i): return Double(i)
        case .real(let d): return d
        default: error(node, path, "expected a number, found \(describe(node))"); return nil
        }
    }

    mutating func seedValue(_ node: Node, _ path: String) -> UInt64? {
        guard case .scalar(let s) = node, case .int(let i) = plain(s), i >= 0 else {
            error(node, path, "a seed is a non-negative integer, found \(describe(node))"); return nil
        }
        return UInt64(i)
    }
}
