/// The median of `values`: the middle value, or the mean of the two middle values for an even count;
/// 0 for no values. The one median of the benchmarks (backbone, Mask R-CNN, detection primitives), so
/// their reported times are computed alike.
public func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
