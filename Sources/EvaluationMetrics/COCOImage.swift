
import Foundation

/// One image of a COCO ground-truth file (the fields evaluation needs).
public struct COCOImage: Equatable, Sendable {
    /// `id`.
    public var id: Int
    /// `height` in pixels.
    public var height: Int
    /// `width` in pixels.
    public var width: Int

    /// An image record.
    public init(id: Int, height: Int, width: Int) {
        self.id = id
        self.height = height
        self.width = width
    }
}
