import ImageIO
import TensorCore

extension Image {
    /// The model input of spec Appendix D/B18: `[3, H, W]` in [0, 1], grey replicated into RGB, alpha dropped.
    public func modelInput() -> Tensor {
        let rgb = self.rgb()
        return Tensor(shape: [3, height, width], scalars: rgb.planar())
    }
}
