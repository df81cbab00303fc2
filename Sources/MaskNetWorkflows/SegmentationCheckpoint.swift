import Foundation
import NeuralNetwork
import ObjectDetection

/// A segmentation checkpoint that cannot become a `MaskRCNN`; names the file and what to do.
public enum SegmentationCheckpointError: Error, CustomStringConvertible, LocalizedError, Equatable {
    /// The checkpoint has no masknet configuration in its safetensors metadata.
    case missingConfiguration(file: String, detail: String)

    public var description: String {
        switch self {
        case .missingConfiguration(let file, let detail):
            return "checkpoint \(file) carries no masknet model configuration (\(detail)); write it with masknet "
                + "training, or give an original .pth checkpoint directly (masknet reads both)"
        }
    }

    /// The same text as `description`.
    public var errorDescription: String? { description }
}

/// The one way from a checkpoint file to a `MaskRCNN`, used by evaluation, inference and the CLI.
public enum SegmentationCheckpoint {
    /// The namespaces of the model's tensors; anything else in a file (optimizer state) is ignored.
    static let modelNamespaces = ["backbone.", "rpn.", "roi_heads."]

    /// Reads a segmentation checkpoint (masknet safetensors with metadata, or an original `.pth`) and returns
    /// the model with its weights, configured as the file says.
    ///
    /// Tensors outside the model's `backbone.` / `rpn.` / `roi_heads.` namespaces (optimizer state) are
    /// ignored; within them the load is strict.
    /// - Throws: `SafeTensorsError` or `TorchCheckpointError` (unreadable file), `CheckpointImportError`,
    ///   `SegmentationCheckpointError.missingConfiguration`, `CheckpointMismatchError` listing every missing,
    ///   unexpected and mis-shaped tensor; all name the file.
    public static func load(_ url: URL, importOptions: CheckpointImportOptions = .init()) throws -> MaskRCNN {
        var file = try CheckpointImport.read(url, options: importOptions)
        let model = MaskRCNN(configuration: try configuration(of: file, source: url.path), seed: 0)
        file.tensors = file.tensors.filter { entry in modelNamespaces.contains { entry.key.hasPrefix($0) } }
        file.integerTensors = file.integerTensors.filter { entry in modelNamespaces.contains { entry.key.hasPrefix($0) } }
        try model.parameters.load(from: file, strict: true)
        return model
    }

    /// The detector configuration in a checkpoint's metadata.
    /// - Throws: `SegmentationCheckpointError.missingConfiguration` naming `source`.
    public static func configuration(of file: SafeTensorsFile, source: String) throws -> MaskRCNNConfiguration {
        guard let json = file.metadata["configuration"] else {
            throw SegmentationCheckpointError.missingConfiguration(
                file: source, detail: file.metadata.isEmpty ? "no __metadata__ block" : "no 'configuration' metadata key")
        }
        do {
            return try JSONDecoder().decode(MaskRCNNConfiguration.self, from: Data(json.utf8))
        } catch {
            throw SegmentationCheckpointError.missingConfiguration(
                file: source, detail: "the 'configuration' metadata is not a MaskRCNNConfiguration: \(error)")
        }
    }
}
