#!/usr/bin/env python3
"""Writes the small seed corpora of Fuzz/Corpus/<harness>/ (plain Python, no packages needed).

    python3 Fuzz/make_seed_corpus.py

Image, safetensors and .pth seeds are copies of committed test fixtures (made by Tools/make_*_fixtures.py);
COCO, split-list and pipeline seeds are written here. COCO seeds hold ground truth and results in one
input separated by a NUL byte (see FuzzHarness.coco), with polygons, uncompressed and compressed RLE.
"""
import json
import os
import shutil

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def compressed(counts):
    """pycocotools' rleToString (the same algorithm as RLEMask.compressedString)."""
    out = []
    for i, run in enumerate(counts):
        x = run - (counts[i - 2] if i > 2 else 0)
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def write(harness, name, data):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as handle:
        handle.write(data if isinstance(data, bytes) else data.encode())


def copy(harness, source):
    folder = os.path.join(CORPUS, harness)
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(ROOT, source), folder)


def main():
    for name in ("seed_layout_zip.pth", "seed_layout_legacy.pth"):
        copy("pth", f"Tests/TorchSerializationTests/Fixtures/{name}")
    copy("safetensors", "Tests/NeuralNetworkTests/Fixtures/python_written.safetensors")
    copy("safetensors", "Tests/NeuralNetworkTests/Fixtures/optimizers.safetensors")
    for name in ("grey8.png", "grey16.png", "grey_alpha.png", "palette.png", "rgba.png", "mask.png"):
        copy("png", f"Tests/ImageIOTests/Fixtures/{name}")
    for name in ("grey.jpg", "rgb.jpg", "cmyk.jpg"):
        copy("jpeg", f"Tests/ImageIOTests/Fixtures/{name}")

    gt = {
        "images": [{"id": 1, "height": 12, "width": 10}, {"id": 2, "height": 6, "width": 5}],
        "categories": [{"id": 1}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "area": 20, "bbox": [1, 2, 4, 5],
             "segmentation": [[1, 2, 5, 2, 5, 7, 1, 7]]},
            {"id": 2, "image_id": 1, "category_id": 2, "area": 9, "iscrowd": 1, "bbox": [6, 6, 3, 3],
             "segmentation": {"size": [12, 10], "counts": [78, 3, 9, 3, 9, 3, 15]}},
            {"id": 3, "image_id": 2, "category_id": 1, "area": 4, "bbox": [1, 1, 2, 2],
             "segmentation": {"size": [6, 5], "counts": compressed([7, 2, 4, 2, 15])}},
        ],
    }
    segm_results = [
        {"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": {"size": [12, 10], "counts": compressed([14, 5, 7, 5, 89])}},
        {"image_id": 2, "category_id": 1, "score": 0.4, "segmentation": {"size": [6, 5], "counts": [7, 2, 4, 2, 15]}},
    ]
    box_results = [
        {"image_id": 1, "category_id": 2, "score": 0.7, "bbox": [6, 6, 3, 2]},
        {"image_id": 2, "category_id": 1, "score": 0.3, "bbox": [0.5, 1, 2, 2.5],
         "segmentation": [[0.5, 1, 2.5, 1, 2.5, 3.5, 0.5, 3.5]]},
    ]
    for name, results in (("segm", segm_results), ("bbox", box_results)):
        write("coco-gt", f"{name}.bin", json.dumps(gt).encode() + b"\0" + json.dumps(results).encode())
        write("coco-results", f"{name}.json", json.dumps(results))
    write("split-list", "segmentation.txt", "scan_001_0001.jpg\nscan_001_0002.jpg\r\nscan_002_0007.jpg\n\n")
    write("split-list", "classification.txt", "NCP_96_1328_0032.png\nCP_1_3194_0019.png\nNormal_2_79_0005.png\n")
    for name in ("quickstart.yaml", "example-command.yaml", "paper-published-light-r18-t1.yaml"):
        with open(os.path.join(ROOT, "Pipelines", name), "rb") as handle:
            text = handle.read()
        overrides = b"seed=3\nsegmentation.epochs=2\nsynth.count=10\n" if name == "quickstart.yaml" else b""
        write("pipeline", name, text + (b"\0" + overrides if overrides else b""))
    for harness in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, harness))
        print(harness, len(files), sum(os.path.getsize(os.path.join(CORPUS, harness, f)) for f in files), "bytes")


if __name__ == "__main__":
    main()
