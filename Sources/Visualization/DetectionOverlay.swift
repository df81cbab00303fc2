/// The seed's figure style for one slice: the CT slice in grey, each lesion mask tinted by class,
/// a dashed box per detection and its class name and score.
public struct DetectionOverlay {
    public struct Instance {
        /// Foreground of the mask, `[H·W]`.
        public var mask: [Bool]
        /// x1, y1, x2, y2.
        public var box: [Float]
        /// 1-based detector label.
        public var label: Int
        public var score: Float?
        public init(mask: [Bool], box: [Float], label: Int, score: Float?) {
            self.mask = mask; self.box = box; self.label = label; self.score = score
        }
    }

    /// Class names by label (index 0 is background).
    public var classNames: [String]

    public init(classNames: [String]) { self.classNames = classNames }

    public func render(grey: [Float], width: Int, height: Int, instances: [Instance]) -> RGBCanvas {
        var canvas = RGBCanvas(grey: grey, width: width, height: height)
        for instance in instances {
            let color = RGBColor.lesionColors[(instance.label - 1) % RGBColor.lesionColors.count]
            canvas.blend(mask: instance.mask, color: color, alpha: 0.45)
        }
        for instance in instances {
            let color = RGBColor.lesionColors[(instance.label - 1) % RGBColor.lesionColors.count]
            let (x1, y1) = (Int(instance.box[0]), Int(instance.box[1]))
            let (x2, y2) = (max(x1, Int(instance.box[2]) - 1), max(y1, Int(instance.box[3]) - 1))
            canvas.rectangle(x1: x1, y1: y1, x2: x2, y2: y2, color: color, dash: 3)
            let name = instance.label < classNames.count ? classNames[instance.label] : "class \(instance.label)"
            let caption = instance.score.map { "\(name) \(Int(($0 * 100).rounded()))%" } ?? name
            let textY = y1 >= 10 ? y1 - 9 : min(height - 8, y2 + 2)
            canvas.text(caption, x: max(0, min(x1, width - RGBCanvas.textWidth(caption))), y: textY, color: color,
                        background: .black)
        }
        return canvas
    }
}
