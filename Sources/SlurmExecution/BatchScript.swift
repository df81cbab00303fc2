import Foundation

/// One cell of a submission: the stage the job (or array task) runs and where it reports.
public struct BatchCell: Sendable, Equatable {
    /// The full stage key.
    public var key: String
    /// The stage name (a sweep cell's full name).
    public var stage: String
    /// The status file `masknet stage exec` writes.
    public var statusFile: String
    /// The folder of the stage's job logs (`runs/<id>/slurm/<stage>`).
    public var logFolder: String
    /// Recompute even if the store holds a result.
    public var force: Bool
    /// Where `stage exec` writes its progress (`runs/<id>/progress/<stage>.json`), read by the waiting driver.
    public var progressFile: String? = nil
}

/// The shell script of one Slurm job: it runs `masknet stage exec` for its cell (chosen by the array index
/// plus the chunk's offset for arrays), after checking that the masknet it finds is the driver's build.
///
/// The script `exec`s masknet, so the batch shell IS the stage process: `--signal=B:USR2@N` and `scancel`
/// reach it directly, and the job's exit state is the stage's.
public struct BatchScript: Sendable {
    /// The masknet executable, on a filesystem the nodes share.
    public var executable: String
    /// SHA-256 of that executable as the driver sees it; a job that sees other bytes refuses to run.
    public var executableDigest: String
    /// The store root.
    public var store: String
    /// The cells, indexed by `SLURM_ARRAY_TASK_ID + offset` (a plain job runs cell `offset`).
    public var cells: [BatchCell]
    /// The chunk's offset into `cells`.
    public var offset: Int
    /// For an array: the folder of its `--output` files (`<array id>_<index>.log`), linked from each cell's folder.
    public var arrayLogFolder: String?

    /// Creates a script.
    public init(executable: String, executableDigest: String, store: String, cells: [BatchCell], offset: Int, arrayLogFolder: String? = nil) {
        self.executable = executable; self.executableDigest = executableDigest; self.store = store; self.cells = cells
        self.offset = offset; self.arrayLogFolder = arrayLogFolder
    }

    /// The script text.
    public var text: String {
        func array(_ values: [String]) -> String { "(" + values.map(BatchScript.quote).joined(separator: " ") + ")" }
        let link = arrayLogFolder.map {
            "ln -sf \(BatchScript.quote($0))\"/${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}.log\" \"${logs[$i]}/${SLURM_JOB_ID}.log\" 2>/dev/null || true"
        } ?? ":"
        return """
        #!/bin/bash
        # Written by masknet's Slurm executor: runs one stage with `masknet stage exec`.
        set -u
        keys=\(array(cells.map(\.key)))
        stages=\(array(cells.map(\.stage)))
        statuses=\(array(cells.map(\.statusFile)))
        logs=\(array(cells.map(\.logFolder)))
        forces=\(array(cells.map { $0.force ? "--force" : "" }))
        progress=\(array(cells.map { $0.progressFile ?? "" }))
        i=$(( ${SLURM_ARRAY_TASK_ID:-0} + \(offset) ))
        key=${keys[$i]}
        # Slurm writes the job's output to --output; link it under the stage's own log folder by job id.
        mkdir -p "${logs[$i]}"
        \(link)
        echo "masknet slurm job ${SLURM_JOB_ID:-?} on $(hostname): stage ${stages[$i]} key $key"
        exe=\(BatchScript.quote(executable))
        # Same build as the driver, or nothing: a job must never publish results of another masknet.
        digest=$(sha256sum "$exe" 2>/dev/null | cut -d' ' -f1)
        if [ "$digest" != \(BatchScript.quote(executableDigest)) ]; then
            msg="this node sees ${exe} with SHA-256 ${digest:-none}, not the driver's \(executableDigest); put masknet on a filesystem the nodes share and do not rebuild it during a run"
            echo "$msg" >&2
            printf '{"format":1,"key":"%s","stage":"%s","outcome":"failed","exit_code":3,"message":"%s","host":"%s","pid":%d,"finished_at":"%s"}\\n' \\
                "$key" "${stages[$i]}" "$msg" "$(hostname)" $$ "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "${statuses[$i]}.tmp" && mv "${statuses[$i]}.tmp" "${statuses[$i]}"
            exit 3
        fi
        exec "$exe" stage exec "$key" --name "${stages[$i]}" --status-file "${statuses[$i]}" ${progress[$i]:+--progress-file "${progress[$i]}"} --store \(BatchScript.quote(store)) ${forces[$i]}

        """
    }

    /// Single-quotes a value for bash.
    public static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
