import NeuralNetwork
import TensorCore

/// Which backbone the seed builds (spec §2.2): a ResNet depth and, for the light ResNet18/34 models,
/// the truncation that decides the last kept stage. ResNet50 ignores truncation and feeds all four
/// stages to a 4-level FPN.
public struct BackboneConfiguration: Equatable, Codable, Sendable {
    public var depth: ResNetDepth
    public var truncation: Int

    public init(depth: ResNetDepth, truncation: Int) {
        precondition((0...2).contains(truncation), "truncation must be 0, 1 or 2, got \(truncation)")
        self.depth = depth
        self.truncation = depth == .resnet50 ? 0 : truncation
    }

    /// Stages kept in the body: 4 for t0 and ResNet50, 3 for t1, 2 for t2.
    public var stageCount: Int { depth == .resnet50 ? 4 : 4 - truncation }
    /// Stages feeding the FPN: all four for ResNet50, only the last kept one for the light models.
    public var returnedStages: [Int] { depth == .resnet50 ? [0, 1, 2, 3] : [stageCount - 1] }
    /// Output stride of each pyramid level.
    public var levelStrides: [Int] { returnedStages.map { 4 << $0 } }
    /// The seed's light (one-level, light mask head) models are ResNet18/34.
    public var isLight: Bool { depth != .resnet50 }
}

/// `backbone.body` (ResNet) + `backbone.fpn`: image → pyramid levels of 256 channels.
public final class ResNetFPNBackbone {
    public let configuration: BackboneConfiguration
    public let body: ResNetBody
    public let fpn: FeaturePyramidNetwork

    /// Builds and registers parameters under `scope` (normally `backbone`).
    public init(_ scope: ParameterScope, configuration: BackboneConfiguration, generator: inout SeededGenerator) {
        self.configuration = configuration
        body = ResNetBody(scope.child("body"), depth: configuration.depth, stageCount: configuration.stageCount,
                          returnedStages: configuration.returnedStages, generator: &generator)
        fpn = FeaturePyramidNetwork(scope.child("fpn"), inChannels: body.returnedChannels, generator: &generator)
    }

    /// x `[N, 3, H, W]` → levels finest first, `[N, 256, H/stride, W/stride]`.
    public func callAsFunction(_ x: Variable, _ context: ForwardContext) -> [Variable] {
        fpn(body(x, context), context)
    }
}
