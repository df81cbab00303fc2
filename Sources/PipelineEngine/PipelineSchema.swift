import Foundation

/// Generates the JSON Schema (draft 2020-12) of pipeline files from the registered kinds.
///
/// The schema checks structure, key names, types, ranges and choices. It cannot check what needs the
/// whole file (references to existing stages, cycles, required parameters that a shared `params:`
/// entry may supply); the engine's validator does.
public enum PipelineSchema {
    /// The schema as canonical pretty JSON text (stable across runs).
    public static func generate(_ registry: KindRegistry) -> String {
        schema(registry).prettyText
    }

    /// The schema as a value.
    public static func schema(_ registry: KindRegistry) -> JSONValue {
        var defs: [String: JSONValue] = [:]
        var stageRefs: [JSONValue] = []
        var allParams: [String: JSONValue] = [:]
        for name in registry.names {
            let kind = registry.kind(named: name)!
            var props: [String: JSONValue] = [:]
            for p in kind.parameters {
                var s = type(p.type, p)
                var o = s.objectValue!
                o["description"] = .string(p.description + (p.isRequired ? " (required)" : ""))
                if let d = p.defaultValue { o["default"] = d }
                s = .object(o)
                props[p.name] = s
                allParams[p.name] = allParams[p.name] ?? s
            }
            var matrixProps: [String: JSONValue] = [:]
            var matrixPatterns: [String: JSONValue] = [:]
            var cellPatterns: [String: JSONValue] = [:]
            for p in kind.parameters {
                matrixProps[p.name] = ["type": "array", "minItems": 1, "items": props[p.name]!]
                if case .table(let element) = p.type {
                    // `env.BINS: [...]` sweeps one entry of a map parameter.
                    let pattern = "^\(NSRegularExpression.escapedPattern(for: p.name))\\..+$"
                    matrixPatterns[pattern] = ["type": "array", "minItems": 1, "items": type(element, p)]
                    cellPatterns[pattern] = type(element, p)
                }
            }
            var cellProps = props
            if props[PipelineGraph.seedAxis] == nil {
                // `seed: [1, 2, 3]` sweeps the stage seed (not a parameter of the kind).
                let seed: JSONValue = ["type": "integer", "minimum": 0, "description": "A stage seed: the cell's seed is the value."]
                matrixProps[PipelineGraph.seedAxis] = ["type": "array", "minItems": 1, "items": seed,
                                                       "description": "Cells stage[seed=N] whose stage seed is N; aggregate gates treat them as replicates."]
                cellProps[PipelineGraph.seedAxis] = seed
            }
            // `include:`/`exclude:` entries: one value per axis (the engine checks that the keys are axes).
            defs["cell_\(name)"] = ["type": "object", "properties": .object(cellProps), "patternProperties": .object(cellPatterns),
                                    "additionalProperties": false, "minProperties": 1]
            let cell: JSONValue = ["$ref": .string("#/$defs/cell_\(name)")]
            matrixProps["include"] = ["type": "array", "minItems": 1, "items": cell,
                                      "description": "Extra cells, each giving a value for every axis: [{backbone: resnet50, truncation: 0}]."]
            matrixProps["exclude"] = ["type": "array", "minItems": 1, "items": cell,
                                      "description": "Cells to drop from the product; a cell naming some axes drops every cell with those values."]
            var inputs: JSONValue = ["type": "object", "additionalProperties": ["$ref": "#/$defs/reference"]]
            if !kind.acceptsAdditionalInputs {
                var ip: [String: JSONValue] = [:]
                for s in kind.inputSlots { ip[s.name] = ["$ref": "#/$defs/reference", "description": .string(s.description)] }
                inputs = ["type": "object", "properties": .object(ip), "additionalProperties": false,
                          "required": .array(kind.inputSlots.filter { !$0.isOptional }.map { .string($0.name) })]
            } else {
                inputs = ["type": "object", "propertyNames": ["pattern": "^[A-Za-z_][A-Za-z0-9_]*$"],
                          "additionalProperties": ["$ref": "#/$defs/reference"]]
            }
            defs["stage_\(name)"] = [
                "type": "object",
                "description": .string("\(kind.summary) Determinism: \(kind.determinism.label). Version \(kind.version)."),
                "properties": [
                    "kind": ["const": .string(name)],
                    "description": ["type": "string"],
                    "params": ["type": "object", "properties": .object(props), "additionalProperties": false],
                    "matrix": ["type": "object", "properties": .object(matrixProps), "patternProperties": .object(matrixPatterns), "additionalProperties": false,
                               "description": "Sweep: each listed parameter takes every value, minus exclude:, plus include:; cells are named stage[param=value,…]."],
                    "inputs": inputs,
                    "expect": kind.reportedMetrics.isEmpty
                        ? ["type": "object", "additionalProperties": ["$ref": "#/$defs/gate"]]
                        : ["type": "object", "propertyNames": ["enum": .array(kind.reportedMetrics.map { .string($0) })],
                           "additionalProperties": ["$ref": "#/$defs/gate"]],
                    "seed": ["type": "integer", "minimum": 0, "description": "Replaces the seed derived from the pipeline seed."],
                    "resources": ["type": "object", "description": "What a cluster job asks for (cpus, mem, time, gpus, partition, account, qos, constraint, extra); see Schemas/slurm-profile.schema.json#/$defs/resources. Never part of the stage key."],
                    "retries": ["type": "integer", "minimum": 0, "description": "Resubmissions after a node failure, preemption or time-out on a cluster. Never part of the stage key."],
                    "replicates": ["type": "integer", "minimum": 1, "maximum": .number(Double(_ParseState.maxReplicates)),
                                   "description": "Run N seeded replicates stage[replicate=1…N]; downstream stages follow cell by cell."],
                ],
                "required": ["kind"],
                "additionalProperties": false,
            ]
            stageRefs.append(["$ref": .string("#/$defs/stage_\(name)")])
        }
        defs["reference"] = [
            "type": "string",
            "pattern": "^(file:.+|[A-Za-z_][A-Za-z0-9_-]*(\\..+)?)$",
            "description": "stage.output (one output), stage (all outputs as a directory) or file:path (a workspace file, hashed by content).",
        ]
        defs["bounds"] = [
            "type": "object",
            "properties": ["min": ["type": "number"], "max": ["type": "number"], "target": ["type": "number"],
                           "tolerance": ["type": "number", "minimum": 0]],
            "additionalProperties": false,
            "anyOf": [["required": ["min"]], ["required": ["max"]], ["required": ["target", "tolerance"]]],
        ]
        var gateProperties: [String: JSONValue] = [
            "min": ["oneOf": [["type": "number"], ["$ref": "#/$defs/bounds"]],
                    "description": "A number bounds each cell's value; a mapping bounds the minimum over the cells."],
            "max": ["oneOf": [["type": "number"], ["$ref": "#/$defs/bounds"]],
                    "description": "A number bounds each cell's value; a mapping bounds the maximum over the cells."],
            "target": ["type": "number"],
            "tolerance": ["type": "number", "minimum": 0], "reference": ["type": "number"], "source": ["type": "string"],
            "trials": ["type": "string", "description": "The metric counting each cell's trials (Wilson intervals)."],
            "no_worse_than": ["const": "baseline", "description": "Compare with --baseline RUN|FILE (Welch one-sided t at 0.05)."],
            "margin": ["type": "number", "minimum": 0, "description": "The drop of the mean allowed before a regression is tested."],
        ]
        for statistic in ["mean", "std", "ci95_low", "ci95_high", "wilson95_low", "wilson95_high"] {
            gateProperties[statistic] = ["$ref": "#/$defs/bounds"]
        }
        defs["gate"] = [
            "type": "object",
            "properties": .object(gateProperties),
            "additionalProperties": false,
            "anyOf": .array(["min", "max", "mean", "std", "ci95_low", "ci95_high", "wilson95_low", "wilson95_high", "no_worse_than"]
                .map { ["required": [.string($0)]] } + [["required": ["target", "tolerance"]]]),
        ]
        return [
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://masknet.invalid/schemas/pipeline.schema.json",
            "title": "masknet pipeline",
            "description": "Generated by `masknet schema` from the registered stage kinds; do not edit.",
            "type": "object",
            "properties": [
                "pipeline": ["type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"],
                "description": ["type": "string"],
                "seed": ["type": "integer", "minimum": 0],
                "params": ["type": "object", "properties": .object(allParams), "additionalProperties": false,
                           "description": "Shared parameters: apply to every stage whose kind has a parameter of that name."],
                "matrix": ["type": "object", "properties": .object(allParams.mapValues { ["type": "array", "minItems": 1, "items": $0] }),
                           "additionalProperties": false,
                           "description": "Pipeline-wide sweep: every stage whose kind has the parameter (and does not set it) is swept; stages without it run once."],
                "stages": [
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": ["pattern": "^[A-Za-z_][A-Za-z0-9_-]*$"],
                    "additionalProperties": ["oneOf": .array(stageRefs)],
                ],
            ],
            "required": ["pipeline", "stages"],
            "additionalProperties": false,
            "$defs": .object(defs),
        ]
    }

    static func type(_ t: ParameterType, _ p: ParameterSpec) -> JSONValue {
        var o: [String: JSONValue]
        switch t {
        case .integer: o = ["type": "integer"]
        case .number: o = ["type": "number"]
        case .string: o = ["type": "string"]
        case .boolean: o = ["type": "boolean"]
        case .choice(let options): o = ["type": "string", "enum": .array(options.map { .string($0) })]
        case .list(let e): return ["type": "array", "items": type(e, p)]
        case .table(let e): return ["type": "object", "additionalProperties": type(e, p)]
        }
        if let m = p.minimum { o["minimum"] = .number(m) }
        if let m = p.maximum { o["maximum"] = .number(m) }
        return .object(o)
    }
}
