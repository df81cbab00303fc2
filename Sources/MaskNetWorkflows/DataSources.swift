import CTDatasets
import Foundation
import ImageIO
import LesionClassifier
import ObjectDetection
import TensorCore

/// Bridges the data-set readers (CTDatasets) to the model library's lazy sample sources.
public enum DataSources {
    /// The detector's target for a segmentation sample: boxes, labels and `[K, H, W]` binary masks.
    public static func target(of sample: SegmentationSample) -> DetectionTarget {
        DetectionTarget(boxes: sample.boxes, labels: sample.labels,
                        masks: sample.instances.isEmpty ? Tensor(shape: [0, sample.height, sample.width]) : sample.masks)
    }

    /// A training source over a CNCB-layout data set (images are decoded when a sample is requested).
    public static func segmentation(_ dataset: SegmentationDataset) -> SampleSource {
        SampleSource(count: dataset.count) { index in
            let sample = try dataset.sample(at: index)
            return (sample.image, target(of: sample))
        }
    }

    /// A labelled source over a COVIDx-CT-named folder.
    public static func classification(_ dataset: ClassificationDataset) -> LabelledSliceSource {
        LabelledSliceSource(count: dataset.count) { index in
            let sample = try dataset.sample(at: index)
            return (sample.image, sample.label, sample.sliceName.fileName())
        }
    }
}
