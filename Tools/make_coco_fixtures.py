#!/usr/bin/env python3
"""Make the COCO-evaluation and RLE fixtures of Tests/EvaluationMetricsTests/Fixtures with pycocotools.

Run from the repository root with the reference environment:

    /work/refenv/bin/python Tools/make_coco_fixtures.py

It writes (deterministically, from fixed seeds):
  coco_gt_<seed>.json, coco_dt_<seed>.json  random ground truth / results in standard COCO JSON
  coco_expected.json                         pycocotools' 12 stats and eval['recall'] for bbox and segm
  rle_cases.json                             masks, polygons, boxes, merges and IoUs with pycocotools' answers

The data exercise: empty images (no gt), images without detections, detections on images without gt,
iscrowd regions (uncompressed RLE), polygon ground truth (several parts, points outside the image,
repeated points, odd-length lists), compressed-RLE ground truth, three non-contiguous categories plus
detections of a category absent from the ground truth, small/medium/large areas (and areas exactly on the
range boundaries), more than 100 detections in one image (maxDets), tied scores (stable sort order),
and both branches of COCO.loadRes (results with and without a `bbox`).
CI never runs this script; the Swift tests read its output.
"""
import contextlib
import io
import json
import os
import sys

import numpy as np
import pycocotools
from pycocotools import mask as mu
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "EvaluationMetricsTests", "Fixtures")
CATEGORIES = [1, 2, 5]
# (seed, images, results carry a bbox, big images allowed); the last has no large object, so its
# large-area statistics are -1.
SEEDS = [(11, 44, False, True), (22, 44, True, True), (33, 44, False, True), (44, 44, True, True), (55, 10, False, False)]


def encode(mask):
    """Compressed RLE dict (str counts) of a row-major boolean mask [h, w]."""
    rle = mu.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def ellipse(rng, h, w, cy, cx, ry, rx):
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0


def random_polygon(rng, h, w, cy, cx, r):
    k = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    radii = r * rng.uniform(0.4, 1.0, k)
    xs = cx + radii * np.cos(angles)
    ys = cy + radii * np.sin(angles)
    poly = []
    for x, y in zip(xs, ys):
        poly += [round(float(x), 2), round(float(y), 2)]
    return poly


def make_dataset(seed, n_images, boxes_in_results, allow_big):
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    image_ids = [int(i) for i in rng.permutation(np.arange(1, 4 * n_images, 4))[:n_images]]
    ann_id = 1
    crowd_image_done = False
    for n, image_id in enumerate(image_ids):
        big = allow_big and rng.random() < 0.2
        h, w = (120, 160) if big else (48, 64)
        images.append({"id": image_id, "height": h, "width": w, "file_name": f"{image_id}.png"})
        n_gt = 0 if rng.random() < 0.15 else int(rng.integers(1, 8))
        gt_masks = []
        for _ in range(n_gt):
            cat = int(rng.choice(CATEGORIES))
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            scale = rng.choice([3, 8, 20, 60]) if big else rng.choice([3, 6, 10, 18])
            kind = rng.choice(["poly", "rle", "crowd"], p=[0.5, 0.42, 0.08])
            ann = {"id": ann_id, "image_id": image_id, "category_id": cat, "iscrowd": 0}
            ann_id += 1
            if kind == "poly":
                polys = [random_polygon(rng, h, w, cy, cx, scale)]
                if rng.random() < 0.2:  # a second part
                    polys.append(random_polygon(rng, h, w, rng.uniform(0, h), rng.uniform(0, w), scale / 2))
                if rng.random() < 0.1:  # a repeated point and an odd trailing coordinate
                    polys[0] = polys[0][:2] + polys[0][:2] + polys[0][2:] + [1.5]
                rle = mu.merge(mu.frPyObjects(polys, h, w))
                ann["segmentation"] = polys
            else:
                mask = ellipse(rng, h, w, cy, cx, scale * rng.uniform(0.5, 1.2), scale * rng.uniform(0.5, 1.2))
                rle = mu.encode(np.asfortranarray(mask.astype(np.uint8)))
                if kind == "crowd":
                    ann["iscrowd"] = 1
                    ann["segmentation"] = {"size": [h, w], "counts": [int(c) for c in _uncompressed_counts(mask)]}
                else:
                    ann["segmentation"] = {"size": [h, w], "counts": rle["counts"].decode("ascii")}
            area = float(mu.area(rle))
            box = [float(v) for v in mu.toBbox(rle)]
            if rng.random() < 0.04:  # areas exactly on the range boundaries
                area = float(rng.choice([1024.0, 9216.0, 0.0] if allow_big else [1024.0, 0.0]))
            ann["area"] = area
            ann["bbox"] = box
            anns.append(ann)
            gt_masks.append((mu.decode(rle).astype(bool), cat, ann["iscrowd"]))
        if rng.random() < 0.12:
            continue  # no detections on this image
        for mask, cat, crowd in gt_masks:
            for _ in range(int(rng.choice([0, 1, 1, 1, 2]))):
                dy, dx = (int(v) for v in rng.choice([-3, -1, 0, 0, 0, 1, 2], 2))
                m = np.roll(np.roll(mask, dy, axis=0), dx, axis=1)
                if rng.random() < 0.3:
                    m = m | np.roll(m, 1, axis=int(rng.integers(0, 2)))
                if not m.any():
                    continue
                dcat = cat if rng.random() < 0.85 else int(rng.choice(CATEGORIES))
                dets.append(_det(rng, image_id, dcat, m))
        for _ in range(int(rng.poisson(1.5))):
            m = ellipse(rng, h, w, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(1, 12), rng.uniform(1, 12))
            if m.any():
                dets.append(_det(rng, image_id, int(rng.choice(CATEGORIES + [9])), m))
        if n == 1:  # more than maxDets=100 detections of one category in one image
            for _ in range(110):
                y, x = int(rng.integers(0, h - 3)), int(rng.integers(0, w - 3))
                m = np.zeros((h, w), bool)
                m[y:y + 3, x:x + 3] = True
                dets.append(_det(rng, image_id, CATEGORIES[0], m))
    for d in dets:
        if boxes_in_results:
            # loadRes takes the bbox branch: area = w*h of this (jittered, fractional) box.
            b = [float(v) for v in mu.toBbox(d["segmentation"])]
            d["bbox"] = [round(b[0] + rng.uniform(-0.6, 0.6), 3), round(b[1] + rng.uniform(-0.6, 0.6), 3),
                         round(b[2] + rng.uniform(-0.8, 0.8), 3), round(b[3] + rng.uniform(-0.8, 0.8), 3)]
    gt = {"info": {"description": f"masknet fixture seed {seed}"}, "images": images,
          "categories": [{"id": c, "name": f"c{c}"} for c in CATEGORIES], "annotations": anns}
    return gt, dets


def _uncompressed_counts(mask):
    flat = mask.T.reshape(-1).astype(np.uint8)  # column-major
    counts, prev, run = [], 0, 0
    for v in flat:
        if v != prev:
            counts.append(run)
            run, prev = 0, v
        run += 1
    counts.append(run)
    return counts


def _det(rng, image_id, cat, mask):
    # Scores on a 0.01 grid so that ties (and with them the stable sort order) occur often.
    return {"image_id": image_id, "category_id": cat, "score": round(float(rng.uniform(0.01, 1.0)), 2),
            "segmentation": encode(mask)}


def run_eval(gt_path, dt_path, iou_type):
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(gt_path)
        coco_dt = coco_gt.loadRes(dt_path)
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        ev.summarize()
    return {"summary": summary.getvalue(),"stats": [float(s) for s in ev.stats], "recall": [float(v) for v in ev.eval["recall"].reshape(-1)],
            "recall_shape": list(ev.eval["recall"].shape)}


def rle_cases():
    rng = np.random.default_rng(7)
    masks = []
    h, w = 48, 64
    shapes = {
        "empty": np.zeros((h, w), bool),
        "full": np.ones((h, w), bool),
        "first_pixel": np.zeros((h, w), bool),
        "last_pixel": np.zeros((h, w), bool),
        "wrap": np.zeros((h, w), bool),
        "noise": rng.random((h, w)) < 0.5,
        "sparse_noise": rng.random((h, w)) < 0.05,
        "blob": ellipse(rng, h, w, 20, 30, 9, 14),
        "column": np.zeros((h, w), bool),
    }
    shapes["first_pixel"][0, 0] = True
    shapes["last_pixel"][h - 1, w - 1] = True
    shapes["wrap"][h - 2:, 3] = True  # a run from the bottom of column 3 into the top of column 4
    shapes["wrap"][:2, 4] = True
    shapes["column"][:, 10] = True
    for name, m in shapes.items():
        r = encode(m)
        masks.append({"name": name, "height": h, "width": w,
                      "bits": "".join("1" if v else "0" for v in m.reshape(-1)),
                      "counts": r["counts"], "area": int(mu.area(r)), "bbox": [float(v) for v in mu.toBbox(r)]})
    big = ellipse(rng, 120, 160, 60, 80, 50, 70) & ~ellipse(rng, 120, 160, 60, 80, 20, 25)
    r = encode(big)
    masks.append({"name": "big_ring", "height": 120, "width": 160,
                  "bits": "".join("1" if v else "0" for v in big.reshape(-1)),
                  "counts": r["counts"], "area": int(mu.area(r)), "bbox": [float(v) for v in mu.toBbox(r)]})

    polygons = []
    poly_inputs = [
        ("triangle", [[10.0, 5.0, 40.0, 12.5, 22.3, 30.7]]),
        ("square", [[5.0, 5.0, 25.0, 5.0, 25.0, 25.0, 5.0, 25.0]]),
        ("concave", [[2.0, 2.0, 30.0, 2.0, 16.0, 14.0, 30.0, 40.0, 2.0, 40.0]]),
        ("outside", [[-10.0, -5.0, 80.0, 3.0, 70.0, 60.0, -3.0, 50.0]]),
        ("negative_fraction", [[-0.3, -0.3, 10.4, -0.2, 10.6, 9.9, -0.1, 10.2]]),
        ("repeated_points", [[4.0, 4.0, 4.0, 4.0, 20.0, 6.0, 20.0, 6.0, 12.0, 22.0, 12.0, 22.0]]),
        ("odd_length", [[3.0, 3.0, 30.0, 8.0, 9.0, 30.0, 17.0]]),
        ("two_parts", [[2.0, 2.0, 12.0, 2.0, 12.0, 12.0], [30.0, 20.0, 50.0, 22.0, 40.0, 40.0, 33.0, 31.0]]),
        ("tiny", [[10.1, 10.1, 10.6, 10.2, 10.3, 10.7]]),
        ("half_pixels", [[0.5, 0.5, 63.5, 0.5, 63.5, 47.5, 0.5, 47.5]]),
    ]
    for _ in range(8):
        poly_inputs.append(("random", [random_polygon(rng, h, w, rng.uniform(0, h), rng.uniform(0, w),
                                                       rng.uniform(2, 30))]))
    for name, polys in poly_inputs:
        r = mu.merge(mu.frPyObjects(polys, h, w))
        polygons.append({"name": name, "height": h, "width": w, "polygons": polys,
                         "counts": r["counts"].decode("ascii"), "area": int(mu.area(r))})

    boxes = []
    for b in [[3.0, 4.0, 10.0, 7.0], [0.0, 0.0, 64.0, 48.0], [10.3, 7.7, 5.2, 9.9], [-2.0, -3.0, 8.0, 9.0],
              [60.0, 40.0, 10.0, 10.0]]:
        r = mu.frPyObjects(np.array([b], dtype=np.float64), h, w)[0]
        boxes.append({"height": h, "width": w, "bbox": b, "counts": r["counts"].decode("ascii")})

    merges = []
    pool = [encode(ellipse(rng, h, w, rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 15), rng.uniform(3, 15)))
            for _ in range(6)] + [encode(shapes["noise"]), encode(shapes["empty"])]
    for i in range(len(pool) - 1):
        a, b = pool[i], pool[i + 1]
        ra = {"size": a["size"], "counts": a["counts"].encode()}
        rb = {"size": b["size"], "counts": b["counts"].encode()}
        merges.append({"height": h, "width": w, "a": a["counts"], "b": b["counts"],
                       "union": mu.merge([ra, rb], intersect=False)["counts"].decode("ascii"),
                       "intersection": mu.merge([ra, rb], intersect=True)["counts"].decode("ascii")})

    ious = []
    dts = [{"size": p["size"], "counts": p["counts"].encode()} for p in pool[:5]]
    gts = [{"size": p["size"], "counts": p["counts"].encode()} for p in pool[2:]]
    crowd = [0, 1, 0, 1, 0, 0]
    ious.append({"dt": [d["counts"].decode() for d in dts], "dt_size": [h, w],
                 "gt": [g["counts"].decode() for g in gts], "gt_size": [h, w], "iscrowd": crowd,
                 "iou": np.asarray(mu.iou(dts, gts, crowd)).tolist()})
    box_dt = [[1.0, 2.0, 10.0, 12.0], [5.5, 5.5, 3.25, 8.0], [40.0, 30.0, 0.0, 5.0], [0.0, 0.0, 64.0, 48.0]]
    box_gt = [[2.0, 3.0, 9.0, 9.0], [5.0, 6.0, 3.0, 3.0], [40.0, 30.0, 2.0, 2.0]]
    box_crowd = [0, 1, 0]
    box_ious = [{"dt": box_dt, "gt": box_gt, "iscrowd": box_crowd,
                 "iou": np.asarray(mu.iou(box_dt, box_gt, box_crowd)).tolist()}]
    return {"masks": masks, "polygons": polygons, "boxes": boxes, "merges": merges, "mask_ious": ious,
            "box_ious": box_ious}


def main():
    os.makedirs(OUT, exist_ok=True)
    versions = {"pycocotools": getattr(pycocotools, "__version__", "unknown"), "numpy": np.__version__,
                "python": sys.version.split()[0]}
    expected = {"versions": versions, "seeds": {}}
    for seed, n_images, boxes, allow_big in SEEDS:
        gt, dets = make_dataset(seed, n_images, boxes, allow_big)
        gt_path = os.path.join(OUT, f"coco_gt_{seed}.json")
        dt_path = os.path.join(OUT, f"coco_dt_{seed}.json")
        with open(gt_path, "w") as f:
            json.dump(gt, f, separators=(",", ":"))
        with open(dt_path, "w") as f:
            json.dump(dets, f, separators=(",", ":"))
        expected["seeds"][str(seed)] = {
            "objects": {"gt": len(gt["annotations"]), "dt": len(dets), "images": len(gt["images"])},
            "bbox": run_eval(gt_path, dt_path, "bbox"),
            "segm": run_eval(gt_path, dt_path, "segm"),
        }
        print(seed, expected["seeds"][str(seed)]["objects"], expected["seeds"][str(seed)]["segm"]["stats"][:3])
    with open(os.path.join(OUT, "coco_expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    cases = rle_cases()
    cases["versions"] = versions
    with open(os.path.join(OUT, "rle_cases.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))


if __name__ == "__main__":
    main()
