import TensorCore

/// A transposed convolution layer (no padding): weight `[Cin, Cout, k, k]`, bias `[Cout]`.
public final class ConvTranspose2d {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: Int

    public init(_ scope: ParameterScope, inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int,
                bias hasBias: Bool = true, initialization: WeightInitialization = .pytorchDefault,
                generator: inout SeededGenerator) {
        let shape = [inChannels, outChannels, kernelSize, kernelSize]
        weight = scope.register("weight", initialization.weight(shape, &generator))
        bias = hasBias ? scope.register("bias", initialization.bias(outChannels, weightShape: shape, &generator)) : nil
        self.stride = stride
    }

    /// x `[N, Cin, H, W]` → `[N, Cout, (H−1)·s + k, (W−1)·s + k]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        convTranspose2d(x, weight: context.variable(weight), bias: bias.map { context.variable($0) }, stride: stride)
    }
}
