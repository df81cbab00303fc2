import TensorCore

/// A fully connected layer: weight `[out, in]`, bias `[out]`.
public final class Linear {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ scope: ParameterScope, inFeatures: Int, outFeatures: Int, bias hasBias: Bool = true,
                initialization: WeightInitialization = .pytorchDefault, generator: inout SeededGenerator) {
        let shape = [outFeatures, inFeatures]
        weight = scope.register("weight", initialization.weight(shape, &generator))
        bias = hasBias ? scope.register("bias", initialization.bias(outFeatures, weightShape: shape, &generator)) : nil
    }

    /// x `[N, in]` → `[N, out]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        linear(x, weight: context.variable(weight), bias: bias.map { context.variable($0) })
    }
}
