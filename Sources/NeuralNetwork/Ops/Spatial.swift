import TensorCore

/// Max pooling of x `[N, C, H, W]` (padding acts as −∞).
public func maxPool2d(_ x: Variable, kernelSize: Int = 3, stride: Int = 2, padding: Int = 1) -> Variable {
    let (output, indices) = MaxPoolKernels.forward(x.value, kernelSize: kernelSize, stride: stride, padding: padding)
    let inputShape = x.shape
    return Variable.result(output, inputs: [x]) { gradient in
        [MaxPoolKernels.backward(outputGradient: gradient, indices: indices, inputShape: inputShape)]
    }
}

/// Nearest-neighbour resize of x `[N, C, H, W]` to `height × width` (PyTorch's legacy "nearest").
public func upsampleNearest(_ x: Variable, height: Int, width: Int) -> Variable {
    let inputShape = x.shape
    return Variable.result(ResamplingKernels.nearestForward(x.value, height: height, width: width), inputs: [x]) {
        gradient in [ResamplingKernels.nearestBackward(gradient, inputShape: inputShape)]
    }
}

/// Bilinear resize of x `[N, C, H, W]` to `height × width`, align_corners = False.
public func resizeBilinear(_ x: Variable, height: Int, width: Int) -> Variable {
    let inputShape = x.shape
    return Variable.result(ResamplingKernels.bilinearForward(x.value, height: height, width: width), inputs: [x]) {
        gradient in [ResamplingKernels.bilinearBackward(gradient, inputShape: inputShape)]
    }
}
