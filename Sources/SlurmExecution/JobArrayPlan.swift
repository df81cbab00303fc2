/// How `count` cells of one stage with equal resources are submitted as job arrays.
///
/// Slurm's `MaxArraySize` caps the array INDEX, not the number of tasks (`--array=1000-1999` fails when it is
/// 1001), so each chunk is its own array with indices from 0 and an offset into the cell list that the job
/// script adds back.
public struct JobArrayPlan: Sendable, Equatable {
    /// One `sbatch --array=0-(count-1)` submission covering cells `offset ..< offset + count`.
    public struct Chunk: Sendable, Equatable {
        /// Index of the chunk's first cell in the cell list.
        public var offset: Int
        /// Number of cells (array indices 0 ..< count).
        public var count: Int

        /// The `--array` value, with `%parallelism` when that is positive.
        public func arrayOption(parallelism: Int) -> String {
            "--array=0-\(count - 1)" + (parallelism > 0 ? "%\(parallelism)" : "")
        }
    }

    /// The chunks, in order; together they cover every cell once.
    public let chunks: [Chunk]

    /// Splits `count` cells so no array index reaches `maxArraySize`.
    public init(count: Int, maxArraySize: Int) {
        precondition(count >= 0 && maxArraySize >= 1, "JobArrayPlan: count \(count) must be ≥ 0 and maxArraySize \(maxArraySize) ≥ 1")
        var chunks: [Chunk] = []
        var offset = 0
        while offset < count {
            let n = min(maxArraySize, count - offset)
            chunks.append(Chunk(offset: offset, count: n))
            offset += n
        }
        self.chunks = chunks
    }
}
