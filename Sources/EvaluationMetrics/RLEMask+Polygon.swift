// RLEMask+Polygon: rasterising COCO polygons and boxes exactly as pycocotools (maskApi rleFrPoly).
//
// The algorithm, re-derived from its description: the polygon is scaled by 5 and rounded to integer
// points; each edge is walked one sub-pixel step at a time along its major axis, giving a dense,
// connected chain of boundary points. Wherever the chain crosses between two sub-pixel columns that
// straddle a pixel-column centre, the crossing's y (rounded up to a pixel row) is a place where the
// column flips between outside and inside. Sorting those flip positions in column-major pixel order and
// differencing them yields the runs directly; two flips at the same position cancel.

extension RLEMask {
    /// Rasterises one polygon `[x0, y0, x1, y1, ...]` (pixel coordinates) into a `[height, width]` mask,
    /// pixel for pixel as `pycocotools.mask.frPyObjects` (a trailing odd coordinate is ignored, as there).
    public static func fromPolygon(_ xy: [Double], height: Int, width: Int) -> RLEMask {
        let k = xy.count / 2
        let scale = 5.0
        guard k > 0 else {
            return RLEMask(height: height, width: width, counts: [UInt32(truncatingIfNeeded: height * width)])
        }
        // Upsampled integer vertices, closed.
        var x = [Int](repeating: 0, count: k + 1), y = [Int](repeating: 0, count: k + 1)
        for j in 0..<k {
            x[j] = _cTruncate(scale * xy[2 * j] + 0.5)
            y[j] = _cTruncate(scale * xy[2 * j + 1] + 0.5)
        }
        x[k] = x[0]
        y[k] = y[0]

        // Dense boundary points along every edge.
        var u: [Int] = [], v: [Int] = []
        for j in 0..<k {
            var xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1]
            let dx = abs(xe - xs), dy = abs(ys - ye)
            // Walk every edge from its lower end along the major axis so both directions of one edge
            // give the same points; `flip` restores the original direction of travel.
            let flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye)
            if flip { swap(&xs, &xe); swap(&ys, &ye) }
            // A zero-length edge gives 0/0 = NaN here, as in C; its single point is never used below
            // because its column equals its neighbours'.
            let slope = dx >= dy ? Double(ye - ys) / Double(dx) : Double(xe - xs) / Double(dy)
            if dx >= dy {
                for d in 0...dx {
                    let t = flip ? dx - d : d
                    u.append(t + xs)
                    v.append(_cTruncate(Double(ys) + slope * Double(t) + 0.5))
                }
            } else {
                for d in 0...dy {
                    let t = flip ? dy - d : d
                    v.append(t + ys)
                    u.append(_cTruncate(Double(xs) + slope * Double(t) + 0.5))
                }
            }
        }

        // Column crossings, downsampled back to pixel coordinates.
        var flips: [UInt32] = []
        for j in 1..<max(u.count, 1) where u[j] != u[j - 1] {
            var xd = Double(u[j] < u[j - 1] ? u[j] : u[j] - 1)
            xd = (xd + 0.5) / scale - 0.5
            if xd.rounded(.down) != xd || xd < 0 || xd > Double(width - 1) { continue }
            var yd = Double(v[j] < v[j - 1] ? v[j] : v[j - 1])
            yd = (yd + 0.5) / scale - 0.5
            if yd < 0 { yd = 0 } else if yd > Double(height) { yd = Double(height) }
            yd = yd.rounded(.up)
            flips.append(UInt32(truncatingIfNeeded: Int(xd) * height + Int(yd)))
        }
        flips.append(UInt32(truncatingIfNeeded: height * width))
        flips.sort()

        // Differences between consecutive flips are the runs; a zero difference merges its neighbours.
        var previous: UInt32 = 0
        for j in flips.indices {
            let t = flips[j]
            flips[j] = t &- previous
            previous = t
        }
        var runs: [UInt32] = [flips[0]]
        var j = 1
        while j < flips.count {
            if flips[j] > 0 {
                runs.append(flips[j])
                j += 1
            } else {
                j += 1
                if j < flips.count {
                    runs[runs.count - 1] &+= flips[j]
                    j += 1
                }
            }
        }
        return RLEMask(height: height, width: width, counts: runs)
    }

    /// Rasterises several polygons of one object and unites them (`frPyObjects` then `merge`, as `annToRLE`).
    public static func fromPolygons(_ polygons: [[Double]], height: Int, width: Int) -> RLEMask {
        merge(polygons.map { fromPolygon($0, height: height, width: width) })
    }

    /// Rasterises a box as the polygon of its four corners (`maskApi.rleFrBbox`).
    public static func fromBox(_ box: COCOBox, height: Int, width: Int) -> RLEMask {
        let xe = box.x + box.width, ye = box.y + box.height
        return fromPolygon([box.x, box.y, box.x, ye, xe, ye, xe, box.y], height: height, width: width)
    }

    /// C's `(int)d` on x86-64: truncation toward zero, and INT_MIN for NaN or out-of-range values
    /// (what `cvttsd2si` returns), instead of Swift's trap.
    @inline(__always)
    static func _cTruncate(_ d: Double) -> Int {
        if d.isNaN || d >= 2_147_483_648.0 || d <= -2_147_483_649.0 { return Int(Int32.min) }
        return Int(d)
    }
}
