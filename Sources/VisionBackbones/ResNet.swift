import NeuralNetwork
import TensorCore

/// The ResNet depths the seed uses, owning their block tables (spec §2.1).
public enum ResNetDepth: String, CaseIterable, Codable, Sendable {
    case resnet18, resnet34, resnet50

    /// Blocks per stage (layer1…layer4).
    public var blockCounts: [Int] {
        switch self {
        case .resnet18: return [2, 2, 2, 2]
        case .resnet34, .resnet50: return [3, 4, 6, 3]
        }
    }

    /// Bottleneck blocks (expansion 4) for ResNet50, basic blocks otherwise.
    public var usesBottleneck: Bool { self == .resnet50 }
    /// Channel expansion of the last conv in a block.
    public var expansion: Int { usesBottleneck ? 4 : 1 }
    /// Output channels of layer1…layer4.
    public var stageChannels: [Int] { [64, 128, 256, 512].map { $0 * expansion } }
}

/// A residual block: BasicBlock (two 3×3 convs) or Bottleneck (1×1, 3×3 with the stride, 1×1 ×4),
/// with a 1×1 conv + BN downsample on the identity when the stride or width changes (torchvision v1.5).
final class ResidualBlock {
    let conv1: Conv2d, bn1: BatchNorm2d
    let conv2: Conv2d, bn2: BatchNorm2d
    let conv3: Conv2d?, bn3: BatchNorm2d?
    let downsample: (conv: Conv2d, bn: BatchNorm2d)?

    init(_ scope: ParameterScope, inChannels: Int, planes: Int, stride: Int, bottleneck: Bool,
         generator: inout SeededGenerator) {
        let expansion = bottleneck ? 4 : 1
        let outChannels = planes * expansion
        if bottleneck {
            conv1 = Conv2d(scope.child("conv1"), inChannels: inChannels, outChannels: planes, kernelSize: 1,
                           bias: false, initialization: .kaimingNormalFanOut, generator: &generator)
            bn1 = BatchNorm2d(scope.child("bn1"), channels: planes)
            conv2 = Conv2d(scope.child("conv2"), inChannels: planes, outChannels: planes, kernelSize: 3, stride: stride,
                           padding: 1, bias: false, initialization: .kaimingNormalFanOut, generator: &generator)
            bn2 = BatchNorm2d(scope.child("bn2"), channels: planes)
            conv3 = Conv2d(scope.child("conv3"), inChannels: planes, outChannels: outChannels, kernelSize: 1,
                           bias: false, initialization: .kaimingNormalFanOut, generator: &generator)
            bn3 = BatchNorm2d(scope.child("bn3"), channels: outChannels)
        } else {
            conv1 = Conv2d(scope.child("conv1"), inChannels: inChannels, outChannels: planes, kernelSize: 3,
                           stride: stride, padding: 1, bias: false, initialization: .kaimingNormalFanOut,
                           generator: &generator)
            bn1 = BatchNorm2d(scope.child("bn1"), channels: planes)
            conv2 = Conv2d(scope.child("conv2"), inChannels: planes, outChannels: planes, kernelSize: 3, padding: 1,
                           bias: false, initialization: .kaimingNormalFanOut, generator: &generator)
            bn2 = BatchNorm2d(scope.child("bn2"), channels: planes)
            conv3 = nil; bn3 = nil
        }
        if stride != 1 || inChannels != outChannels {
            let conv = Conv2d(scope.child("downsample").child("0"), inChannels: inChannels, outChannels: outChannels,
                              kernelSize: 1, stride: stride, bias: false, initialization: .kaimingNormalFanOut,
                              generator: &generator)
            downsample = (conv, BatchNorm2d(scope.child("downsample").child("1"), channels: outChannels))
        } else {
            downsample = nil
        }
    }

    func callAsFunction(_ x: Variable, _ context: ForwardContext) -> Variable {
        var out = bn1(conv1(x, context), context, followedByReLU: true)
        // Basic blocks add the shortcut before their second ReLU; bottlenecks have one after bn2.
        out = bn2(conv2(out, context), context, followedByReLU: conv3 != nil)
        if let conv3, let bn3 { out = bn3(conv3(out, context), context) }
        let identity = downsample.map { $0.bn($0.conv(x, context), context) } ?? x
        return relu(out + identity)
    }
}

/// The ResNet body of the seed's backbone (`backbone.body.*`): stem and the stages up to the last one
/// the truncation keeps (spec §2.2). Everything after it (later layers, avgpool, fc) does not exist.
public final class ResNetBody {
    public let depth: ResNetDepth
    /// How many of layer1…layer4 are kept (4 for truncation 0 and ResNet50, 3 for t1, 2 for t2).
    public let stageCount: Int
    /// Stages whose outputs feed the FPN (indices into 0..<stageCount).
    public let returnedStages: [Int]
    let conv1: Conv2d
    let bn1: BatchNorm2d
    let stages: [[ResidualBlock]]

    public init(_ scope: ParameterScope, depth: ResNetDepth, stageCount: Int, returnedStages: [Int],
                generator: inout SeededGenerator) {
        precondition((1...4).contains(stageCount) && returnedStages.allSatisfy { (0..<stageCount).contains($0) },
                     "ResNet body: invalid stage count \(stageCount) / returned stages \(returnedStages)")
        self.depth = depth
        self.stageCount = stageCount
        self.returnedStages = returnedStages
        conv1 = Conv2d(scope.child("conv1"), inChannels: 3, outChannels: 64, kernelSize: 7, stride: 2, padding: 3,
                       bias: false, initialization: .kaimingNormalFanOut, generator: &generator)
        bn1 = BatchNorm2d(scope.child("bn1"), channels: 64)
        var inChannels = 64
        var stages: [[ResidualBlock]] = []
        for stage in 0..<stageCount {
            let planes = [64, 128, 256, 512][stage]
            let layerScope = scope.child("layer\(stage + 1)")
            var blocks: [ResidualBlock] = []
            for index in 0..<depth.blockCounts[stage] {
                blocks.append(ResidualBlock(layerScope.child("\(index)"), inChannels: inChannels, planes: planes,
                                            stride: index == 0 && stage > 0 ? 2 : 1,
                                            bottleneck: depth.usesBottleneck, generator: &generator))
                inChannels = planes * depth.expansion
            }
            stages.append(blocks)
        }
        self.stages = stages
    }

    /// Channels of each returned feature map.
    public var returnedChannels: [Int] { returnedStages.map { depth.stageChannels[$0] } }

    /// x `[N, 3, H, W]` → the returned stages' maps, finest first (stride 4·2^stage).
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> [Variable] {
        var out = maxPool2d(bn1(conv1(x, context), context, followedByReLU: true), kernelSize: 3, stride: 2, padding: 1)
        var features: [Variable] = []
        for (index, blocks) in stages.enumerated() {
            for block in blocks { out = block(out, context) }
            if returnedStages.contains(index) { features.append(out) }
        }
        return features
    }
}
