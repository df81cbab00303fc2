import NeuralNetwork

/// Parameter counts per component of a model, as `masknet model summary` prints them (spec §2.4).
public struct ModelSummary: Codable, Sendable {
    public struct Row: Codable, Sendable {
        /// Component name (`backbone.body`, `rpn.head`, …).
        public var component: String
        /// Trainable scalars.
        public var parameters: Int
        /// Trainable scalars plus float buffers (BN running statistics): PyTorch's state-dict element count
        /// without the int64 `num_batches_tracked` scalars.
        public var state: Int
    }

    public var rows: [Row]
    public var totalParameters: Int { rows.reduce(0) { $0 + $1.parameters } }
    public var totalState: Int { rows.reduce(0) { $0 + $1.state } }

    /// Groups a store's tensors by the longest matching component prefix.
    public init(store: ParameterStore, components: [String]) {
        var rows = components.map { Row(component: $0, parameters: 0, state: 0) }
        for parameter in store.parameters {
            guard let index = components.indices.filter({ parameter.name.hasPrefix(components[$0] + ".") })
                .max(by: { components[$0].count < components[$1].count }) else {
                preconditionFailure("parameter \(parameter.name) belongs to no summary component")
            }
            rows[index].state += parameter.value.count
            if parameter.isTrainable { rows[index].parameters += parameter.value.count }
        }
        self.rows = rows.filter { $0.state > 0 }
    }

    /// The components of the seed's models, in forward order.
    public static let detectorComponents = [
        "backbone.body", "backbone.fpn", "rpn.head", "roi_heads.box_head", "roi_heads.box_predictor",
        "roi_heads.mask_head", "roi_heads.mask_predictor",
    ]

    /// A fixed-width table.
    public func table(title: String) -> String {
        func number(_ value: Int) -> String {
            let digits = String(value)
            var out = ""
            for (i, c) in digits.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return String(out.reversed())
        }
        func pad(_ s: String, _ width: Int, left: Bool = false) -> String {
            let padding = String(repeating: " ", count: max(0, width - s.count))
            return left ? s + padding : padding + s
        }
        var lines = [title, pad("component", 28, left: true) + pad("parameters", 14) + pad("state", 14)]
        for row in rows {
            lines.append(pad(row.component, 28, left: true) + pad(number(row.parameters), 14) + pad(number(row.state), 14))
        }
        lines.append(pad("total", 28, left: true) + pad(number(totalParameters), 14) + pad(number(totalState), 14))
        return lines.joined(separator: "\n")
    }
}

extension MaskRCNN {
    /// Per-component parameter counts of this model.
    public var summary: ModelSummary { ModelSummary(store: parameters, components: ModelSummary.detectorComponents) }
}
