import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes stored outputs reachable as ordinary files: `masknet export` and the `outputs/` folder of
/// every run. Files are hard links to the read-only objects where the filesystem allows (no copy of a
/// large checkpoint), trees become folders.
public enum OutputExport {
    /// How a file is placed.
    public enum Placement: Sendable {
        /// A hard link, else a copy (what `export` gives: a file the user owns the name of).
        case linkOrCopy
        /// A hard link, else a symbolic link to the object (run folders: never a copy).
        case linkOrSymlink
    }

    /// The outputs `reference` (`STAGE` or `STAGE.OUTPUT`) names among a run's stages. Stage and output
    /// names may both contain dots (`train[lr=0.1]`, `dir.out`), so every split is tried.
    public static func select(_ reference: String, in stages: [StageRunRecord]) throws -> (stage: StageRunRecord, outputs: [String: Artifact], single: String?) {
        if let s = stages.first(where: { $0.name == reference }) {
            guard !s.outputs.isEmpty else { throw EngineError("stage '\(s.name)' has no outputs in this run (status \(s.status)\(s.reason.map { ": \($0)" } ?? ""))") }
            return (s, s.outputs, nil)
        }
        var index = reference.endIndex
        while let dot = reference[..<index].lastIndex(of: ".") {
            let stage = String(reference[..<dot]), output = String(reference[reference.index(after: dot)...])
            if let s = stages.first(where: { $0.name == stage }) {
                guard let a = s.outputs[output] else {
                    let known = s.outputs.keys.sorted()
                    throw EngineError("stage '\(stage)' has no output '\(output)'\(known.isEmpty ? " (it has no outputs in this run: status \(s.status))" : "; its outputs: \(known.joined(separator: ", "))")")
                }
                return (s, [output: a], output)
            }
            index = dot
        }
        throw EngineError("no stage '\(reference)' in this run\(_suggestion(reference, among: stages.map(\.name))); give STAGE or STAGE.OUTPUT")
    }

    /// Places one artifact at `destination` (which must not exist), after checking its objects.
    public static func place(_ artifact: Artifact, at destination: URL, store: ArtifactStore, placement: Placement) throws {
        if let problem = store.verify(artifact) {
            throw EngineError("the stored output is damaged (\(problem)); rerun the pipeline to recompute it")
        }
        var st = stat()
        if lstat(destination.path, &st) == 0 {
            throw EngineError("\(destination.path) already exists; remove it or choose another destination")
        }
        func file(_ digest: String, _ dest: URL) throws {
            try FileManager.default.createDirectory(at: dest.deletingLastPathComponent(), withIntermediateDirectories: true)
            let object = store.objectURL(digest)
            if link(object.path, dest.path) == 0 { return }
            switch placement {
            case .linkOrCopy:
                try FileManager.default.copyItem(at: object, to: dest)
                chmod(dest.path, 0o644)
            case .linkOrSymlink:
                guard symlink(object.path, dest.path) == 0 else {
                    throw EngineError("cannot link \(dest.path) to \(object.path): \(String(cString: strerror(errno)))")
                }
            }
        }
        switch artifact.type {
        case .file: try file(artifact.digest, destination)
        case .tree:
            try FileManager.default.createDirectory(at: destination, withIntermediateDirectories: true)
            for e in try store.treeEntries(artifact) { try file(e.digest, destination.appendingPathComponent(e.path)) }
        }
    }

    /// Exports outputs: a single output becomes `destination` itself; a whole stage becomes a folder with
    /// one entry per output. Returns the paths made.
    @discardableResult
    public static func export(_ outputs: [String: Artifact], single: String?, to destination: URL, store: ArtifactStore) throws -> [URL] {
        if single != nil, let (_, a) = outputs.first {
            try place(a, at: destination, store: store, placement: .linkOrCopy)
            return [destination]
        }
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: destination.path, isDirectory: &isDir), !isDir.boolValue {
            throw EngineError("\(destination.path) is a file; a whole stage is exported as a folder (or give STAGE.OUTPUT)")
        }
        var made: [URL] = []
        for (name, a) in outputs.sorted(by: { $0.key < $1.key }) {
            let url = destination.appendingPathComponent(name)
            try place(a, at: url, store: store, placement: .linkOrCopy)
            made.append(url)
        }
        return made
    }

    /// Gives a run folder `outputs/<stage>/<name>` for every output of its stages (hard links, else
    /// symbolic links to the objects). Best effort: a failure here never fails the run.
    static func linkOutputs(of record: RunRecord, into folder: URL, store: ArtifactStore) {
        let base = folder.appendingPathComponent("outputs")
        for s in record.stages where !s.outputs.isEmpty {
            let dir = base.appendingPathComponent(PipelineRunner.fileName(s.name))
            for (name, a) in s.outputs {
                let dest = dir.appendingPathComponent(name)
                _removeTree(dest)
                try? place(a, at: dest, store: store, placement: .linkOrSymlink)
            }
        }
    }
}
