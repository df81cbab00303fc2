import TensorCore

/// A 2-D convolution layer with parameters `<scope>.weight` `[O, C, k, k]` and optional `<scope>.bias`.
public final class Conv2d {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int, padding: Int, dilation: Int

    public init(_ scope: ParameterScope, inChannels: Int, outChannels: Int, kernelSize: Int,
                stride: Int = 1, padding: Int = 0, dilation: Int = 1, bias hasBias: Bool = true,
                initialization: WeightInitialization = .pytorchDefault, generator: inout SeededGenerator) {
        let shape = [outChannels, inChannels, kernelSize, kernelSize]
        weight = scope.register("weight", initialization.weight(shape, &generator))
        bias = hasBias ? scope.register("bias", initialization.bias(outChannels, weightShape: shape, &generator)) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation
    }

    /// x `[N, C, H, W]` → `[N, O, Ho, Wo]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        conv2d(x, weight: context.variable(weight), bias: bias.map { context.variable($0) },
               stride: stride, padding: padding, dilation: dilation)
    }
}
