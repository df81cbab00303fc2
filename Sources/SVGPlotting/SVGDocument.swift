import Foundation

/// An SVG image built element by element: the charts of run reports are inline SVG, so they stay crisp at
/// any zoom, their text is selectable, and the page needs no image files, scripts or fonts from elsewhere.
///
/// Coordinates are user units (one CSS pixel at 100 % zoom); text uses the browser's own sans-serif face.
public struct SVGDocument: Sendable {
    public let width: Double, height: Double
    /// Text for screen readers and the browser's tooltip (`<title>`).
    public var title: String
    private var elements: [String] = []

    /// An empty image of the given size.
    public init(width: Double, height: Double, title: String) {
        self.width = width
        self.height = height
        self.title = title
    }

    /// Appends raw SVG markup (already escaped).
    public mutating func append(_ markup: String) { elements.append(markup) }

    /// A line segment.
    public mutating func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, stroke: String,
                              width: Double = 1, dash: String? = nil) {
        append("<line x1=\"\(Self.n(x1))\" y1=\"\(Self.n(y1))\" x2=\"\(Self.n(x2))\" y2=\"\(Self.n(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\"\(dash.map { " stroke-dasharray=\"\($0)\"" } ?? "")/>")
    }

    /// A rectangle, filled and/or outlined.
    public mutating func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, fill: String,
                              stroke: String? = nil, tooltip: String? = nil) {
        let body = "x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(max(0, width)))\" height=\"\(Self.n(max(0, height)))\" fill=\"\(fill)\"\(stroke.map { " stroke=\"\($0)\"" } ?? "")"
        append(tooltip.map { "<rect \(body)><title>\(Self.escape($0))</title></rect>" } ?? "<rect \(body)/>")
    }

    /// A circle.
    public mutating func circle(_ cx: Double, _ cy: Double, radius: Double, fill: String, stroke: String? = nil,
                                tooltip: String? = nil) {
        let body = "cx=\"\(Self.n(cx))\" cy=\"\(Self.n(cy))\" r=\"\(Self.n(radius))\" fill=\"\(fill)\"\(stroke.map { " stroke=\"\($0)\"" } ?? "")"
        append(tooltip.map { "<circle \(body)><title>\(Self.escape($0))</title></circle>" } ?? "<circle \(body)/>")
    }

    /// A polyline through the points (nothing for fewer than two).
    public mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5, opacity: Double = 1) {
        guard points.count >= 2 else { return }
        let list = points.map { "\(Self.n($0.0)),\(Self.n($0.1))" }.joined(separator: " ")
        append("<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(Self.n(width))\" stroke-linejoin=\"round\"\(opacity < 1 ? " stroke-opacity=\"\(Self.n(opacity))\"" : "")/>")
    }

    /// Text anchored at (x, y) (`anchor`: start, middle or end); `rotate` in degrees about the anchor.
    public mutating func text(_ string: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
                              fill: String = "#222", weight: String? = nil, rotate: Double? = nil) {
        let transform = rotate.map { " transform=\"rotate(\(Self.n($0)) \(Self.n(x)) \(Self.n(y)))\"" } ?? ""
        append("<text x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" font-size=\"\(Self.n(size))\" text-anchor=\"\(anchor)\" fill=\"\(fill)\"\(weight.map { " font-weight=\"\($0)\"" } ?? "")\(transform)>\(Self.escape(string))</text>")
    }

    /// An embedded raster image (a `data:` URI), drawn pixelated so enlarged slices keep their pixels.
    public mutating func image(dataURI: String, x: Double, y: Double, width: Double, height: Double) {
        append("<image x=\"\(Self.n(x))\" y=\"\(Self.n(y))\" width=\"\(Self.n(width))\" height=\"\(Self.n(height))\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"\(dataURI)\"/>")
    }

    /// The markup: a standalone `<svg>` element usable inline in HTML or as an `.svg` file. The size
    /// attributes are whole pixels (HTML wants integers there; the view box keeps the fractions).
    public var markup: String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Self.n(width)) \(Self.n(height))" width="\(Int(width.rounded(.up)))" height="\(Int(height.rounded(.up)))" role="img" style="font-family:system-ui,-apple-system,'Segoe UI','DejaVu Sans',Arial,sans-serif">
        <title>\(Self.escape(title))</title>
        \(elements.joined(separator: "\n"))
        </svg>

        """
    }

    /// Writes the markup to a file.
    public func write(to url: URL) throws {
        try Data(markup.utf8).write(to: url, options: .atomic)
    }

    /// Escapes text for XML content and attribute values.
    public static func escape(_ string: String) -> String {
        var out = ""
        out.reserveCapacity(string.count)
        for c in string {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A coordinate with at most two decimals (keeps files small; sub-pixel precision is invisible).
    public static func n(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        let rounded = (value * 100).rounded() / 100
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
