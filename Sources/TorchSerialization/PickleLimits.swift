/// Bounds on what an untrusted pickle may make the reader build. A file past them is refused with an error
/// naming the limit; the defaults are far above what any real checkpoint needs (the seed's largest has a few
/// thousand objects, nesting depth under 10 and tensors under 2 million elements).
public struct PickleLimits: Sendable, Equatable {
    /// Deepest nesting of containers (tuples, lists, dicts, objects) in the result.
    public var maximumDepth = 200
    /// Most values the unpickler may create, counting stack and memo entries, container items and the
    /// values of the final result (shared values are counted once per place they appear).
    public var maximumObjects = 4_000_000
    /// Most elements one tensor view may have (2^27: 512 MiB as float32, 1 GiB as int64). A view may
    /// repeat storage elements (stride 0), so this bounds what reading its values allocates.
    public var maximumTensorElements = 1 << 27
    /// Most bytes the storages of one file may declare in total (legacy files; zip entries are checked
    /// against the archive's real size).
    public var maximumStorageBytes = 1 << 34

    /// The defaults.
    public init() {}
}
