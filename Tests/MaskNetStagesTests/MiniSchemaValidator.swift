import Foundation
@testable import PipelineEngine

/// A JSON Schema validator for exactly the subset `PipelineSchema` emits: type, properties,
/// patternProperties, additionalProperties, propertyNames, required, const, enum, minimum, maximum,
/// minItems, minProperties, items, pattern, oneOf, anyOf and local `$ref`s. Unknown keywords fail
/// loudly so the schema cannot silently outgrow the validator.
struct MiniSchemaValidator {
    let root: JSONValue
    static let known: Set<String> = ["$schema", "$id", "$defs", "title", "description", "default", "type", "properties",
                                     "patternProperties", "additionalProperties", "propertyNames", "required", "const",
                                     "enum", "minimum", "maximum", "minItems", "minProperties", "items", "pattern",
                                     "oneOf", "anyOf", "$ref"]

    func validate(_ value: JSONValue) -> [String] { check(value, root, "$") }

    func resolve(_ ref: String) -> JSONValue {
        precondition(ref.hasPrefix("#/"), "only local refs: \(ref)")
        var node = root
        for part in ref.dropFirst(2).split(separator: "/") { node = node.objectValue![String(part)]! }
        return node
    }

    func matches(_ s: String, _ pattern: String) -> Bool { s.range(of: pattern, options: .regularExpression) != nil }

    func check(_ v: JSONValue, _ schema: JSONValue, _ path: String) -> [String] {
        guard let s = schema.objectValue else { return schema == .bool(false) ? ["\(path): not allowed"] : [] }
        for k in s.keys where !MiniSchemaValidator.known.contains(k) { return ["\(path): schema keyword '\(k)' unsupported by the test validator"] }
        var errors: [String] = []
        if let ref = s["$ref"]?.stringValue { errors += check(v, resolve(ref), path) }
        if let t = s["type"]?.stringValue {
            let ok: Bool
            switch (t, v) {
            case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number): ok = true
            default: ok = false
            }
            if !ok { return errors + ["\(path): expected \(t), found \(v.canonicalText)"] }
        }
        if let c = s["const"], c != v { errors.append("\(path): expected \(c.canonicalText)") }
        if let e = s["enum"]?.arrayValue, !e.contains(v) { errors.append("\(path): \(v.canonicalText) not in enum") }
        if let m = s["minimum"]?.doubleValue, let x = v.doubleValue, x < m { errors.append("\(path): below minimum") }
        if let m = s["maximum"]?.doubleValue, let x = v.doubleValue, x > m { errors.append("\(path): above maximum") }
        if let p = s["pattern"]?.stringValue, let str = v.stringValue, !matches(str, p) { errors.append("\(path): '\(str)' does not match \(p)") }
        if let a = v.arrayValue {
            if let m = s["minItems"]?.intValue, a.count < m { errors.append("\(path): fewer than \(m) items") }
            if let items = s["items"] { for (i, x) in a.enumerated() { errors += check(x, items, "\(path)[\(i)]") } }
        }
        if let o = v.objectValue {
            if let m = s["minProperties"]?.intValue, o.count < m { errors.append("\(path): fewer than \(m) properties") }
            for r in s["required"]?.arrayValue ?? [] where o[r.stringValue!] == nil { errors.append("\(path): missing '\(r.stringValue!)'") }
            let props = s["properties"]?.objectValue ?? [:]
            let patterns = s["patternProperties"]?.objectValue ?? [:]
            for (k, x) in o.sorted(by: { $0.key < $1.key }) {
                if let pn = s["propertyNames"] { errors += check(.string(k), pn, "\(path).\(k)(name)") }
                var covered = false
                if let p = props[k] { covered = true; errors += check(x, p, "\(path).\(k)") }
                for (pat, p) in patterns where matches(k, pat) { covered = true; errors += check(x, p, "\(path).\(k)") }
                if !covered, let ap = s["additionalProperties"] {
                    if ap == .bool(false) { errors.append("\(path): unknown key '\(k)'") } else { errors += check(x, ap, "\(path).\(k)") }
                }
            }
        }
        if let one = s["oneOf"]?.arrayValue {
            let passing = one.filter { check(v, $0, path).isEmpty }.count
            if passing != 1 { errors.append("\(path): matches \(passing) of oneOf") }
        }
        if let any = s["anyOf"]?.arrayValue, !any.contains(where: { check(v, $0, path).isEmpty }) { errors.append("\(path): matches none of anyOf") }
        return errors
    }
}
