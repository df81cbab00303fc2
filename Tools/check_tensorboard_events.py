#!/usr/bin/env python3
"""Reads masknet's TensorBoard event files with TensorBoard's own reader and checks them against the
metrics.csv written beside them (not needed by CI; the Swift reader test runs there).

    python3 -m venv ../tbenv && ../tbenv/bin/pip install tensorboard
    ../tbenv/bin/python Tools/check_tensorboard_events.py Artifacts/runs/<id>

For every `tensorboard/<stage>/events.out.tfevents.*` under the run folder it loads the scalars with
tensorboard.backend.event_processing.event_accumulator (which checks the masked CRC32C of every record),
finds the stage's metrics.csv in the store through run.json, and requires every finite CSV value to equal
the event's float32 value at the same step and tag. Exits 1 with the first mismatch.
"""
import csv
import json
import math
import os
import struct
import sys

from tensorboard.backend.event_processing import event_accumulator
import tensorboard


def float32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def main(run_folder):
    record = json.load(open(os.path.join(run_folder, "run.json")))
    store = os.path.dirname(os.path.dirname(os.path.abspath(run_folder)))
    checked = 0
    for stage in record["stages"]:
        outputs = stage.get("outputs", {})
        if "tensorboard" not in outputs or "metrics.csv" not in outputs:
            continue
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in stage["name"])
        logdir = os.path.join(run_folder, "tensorboard", safe)
        accumulator = event_accumulator.EventAccumulator(logdir, size_guidance={event_accumulator.SCALARS: 0})
        accumulator.Reload()
        tags = accumulator.Tags()["scalars"]
        digest = outputs["metrics.csv"]["digest"]
        csv_path = os.path.join(store, "objects", digest[:2], digest)
        if not os.path.exists(csv_path):
            sys.exit(f"{stage['name']}: metrics.csv object {digest} not found under {store}/objects")
        rows = list(csv.DictReader(open(csv_path)))
        columns = [c for c in rows[0].keys() if c not in ("step", "epoch", "wall_time")]
        if sorted(columns) != sorted(tags):
            sys.exit(f"{stage['name']}: CSV tags {sorted(columns)} but TensorBoard read {sorted(tags)}")
        events = {tag: {e.step: e.value for e in accumulator.Scalars(tag)} for tag in tags}
        for row in rows:
            for tag in columns:
                if row[tag] == "" or not math.isfinite(float(row[tag])):
                    continue
                step = int(row["step"])
                if step not in events[tag] or events[tag][step] != float32(float(row[tag])):
                    sys.exit(f"{stage['name']}: {tag} at step {step}: CSV {row[tag]}, TensorBoard {events[tag].get(step)}")
                checked += 1
        print(f"{stage['name']}: {len(tags)} tags, {sum(len(v) for v in events.values())} scalars read by TensorBoard {tensorboard.__version__}, all equal to metrics.csv")
    if checked == 0:
        sys.exit(f"{run_folder}: no training stage with tensorboard/ and metrics.csv outputs")
    print(f"ok: {checked} values checked")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
