/// An 8-bit RGB raster to draw overlays and charts on. Pixels are row-major, 3 bytes each.
public struct RGBCanvas: Sendable {
    public let width: Int, height: Int
    public var pixels: [UInt8]

    /// A canvas filled with one colour.
    public init(width: Int, height: Int, fill: RGBColor = .black) {
        precondition(width > 0 && height > 0, "canvas must not be empty, got \(width)×\(height)")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = fill.red; pixels[3 * i + 1] = fill.green; pixels[3 * i + 2] = fill.blue
        }
    }

    /// A canvas from a grey image `[H·W]` in [0, 1] (a CT slice).
    public init(grey: [Float], width: Int, height: Int) {
        precondition(grey.count == width * height, "grey image has \(grey.count) pixels, expected \(width)×\(height)")
        self.init(width: width, height: height)
        for i in 0..<(width * height) {
            let value = UInt8(max(0, min(255, (grey[i] * 255).rounded())))
            pixels[3 * i] = value; pixels[3 * i + 1] = value; pixels[3 * i + 2] = value
        }
    }

    /// Sets one pixel (ignored outside the canvas).
    public mutating func set(_ x: Int, _ y: Int, _ color: RGBColor) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = 3 * (y * width + x)
        pixels[i] = color.red; pixels[i + 1] = color.green; pixels[i + 2] = color.blue
    }

    /// Blends `color` with weight `alpha` into every pixel where `mask` is true.
    public mutating func blend(mask: [Bool], color: RGBColor, alpha: Float) {
        precondition(mask.count == width * height, "mask has \(mask.count) pixels, canvas \(width)×\(height)")
        for i in 0..<(width * height) where mask[i] {
            for (offset, channel) in [color.red, color.green, color.blue].enumerated() {
                let old = Float(pixels[3 * i + offset])
                pixels[3 * i + offset] = UInt8(max(0, min(255, (old * (1 - alpha) + Float(channel) * alpha).rounded())))
            }
        }
    }

    /// A line by Bresenham's algorithm; `dash` > 0 draws `dash` pixels on, `dash` off.
    public mutating func line(from start: (Int, Int), to end: (Int, Int), color: RGBColor, dash: Int = 0) {
        var (x, y) = start
        let (dx, dy) = (abs(end.0 - start.0), -abs(end.1 - start.1))
        let (sx, sy) = (start.0 < end.0 ? 1 : -1, start.1 < end.1 ? 1 : -1)
        var error = dx + dy
        var step = 0
        while true {
            if dash == 0 || (step / dash) % 2 == 0 { set(x, y, color) }
            if x == end.0 && y == end.1 { break }
            let doubled = 2 * error
            if doubled >= dy { error += dy; x += sx }
            if doubled <= dx { error += dx; y += sy }
            step += 1
        }
    }

    /// A rectangle outline with corners (x1, y1) and (x2, y2), inclusive.
    public mutating func rectangle(x1: Int, y1: Int, x2: Int, y2: Int, color: RGBColor, dash: Int = 0) {
        line(from: (x1, y1), to: (x2, y1), color: color, dash: dash)
        line(from: (x2, y1), to: (x2, y2), color: color, dash: dash)
        line(from: (x2, y2), to: (x1, y2), color: color, dash: dash)
        line(from: (x1, y2), to: (x1, y1), color: color, dash: dash)
    }

    /// A filled rectangle.
    public mutating func fill(x1: Int, y1: Int, x2: Int, y2: Int, color: RGBColor) {
        for y in max(0, y1)...max(max(0, y1), min(height - 1, y2)) {
            for x in max(0, x1)...max(max(0, x1), min(width - 1, x2)) { set(x, y, color) }
        }
    }

    /// Width in pixels of `text` at `scale`.
    public static func textWidth(_ text: String, scale: Int = 1) -> Int {
        text.count * (BitmapFont.width + 1) * scale
    }

    /// Draws `text` with its top-left corner at (x, y), optionally on a background box.
    public mutating func text(_ text: String, x: Int, y: Int, color: RGBColor, scale: Int = 1, background: RGBColor? = nil) {
        if let background {
            fill(x1: x - 1, y1: y - 1, x2: x + Self.textWidth(text, scale: scale), y2: y + BitmapFont.height * scale,
                 color: background)
        }
        var cursor = x
        for character in text {
            let glyph = BitmapFont.glyph(character)
            for (row, bits) in glyph.enumerated() {
                for (column, ink) in bits.enumerated() where ink {
                    for dy in 0..<scale { for dx in 0..<scale {
                        set(cursor + column * scale + dx, y + row * scale + dy, color)
                    } }
                }
            }
            cursor += (BitmapFont.width + 1) * scale
        }
    }
}

/// An 8-bit colour.
public struct RGBColor: Sendable, Equatable {
    public var red: UInt8, green: UInt8, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) { self.red = red; self.green = green; self.blue = blue }

    public static let black = RGBColor(0, 0, 0)
    public static let white = RGBColor(255, 255, 255)
    public static let grey = RGBColor(128, 128, 128)
    public static let lightGrey = RGBColor(220, 220, 220)
    /// Lesion class colours: GGO (label 1) yellow-orange, consolidation (label 2) red, as in the seed's figures.
    public static let lesionColors = [RGBColor(255, 200, 0), RGBColor(255, 40, 40), RGBColor(0, 200, 255)]
    /// Series colours for charts.
    public static let series = [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44),
                                RGBColor(214, 39, 40), RGBColor(148, 103, 189)]
}
