#!/usr/bin/env python3
"""Make Tests/EvaluationMetricsTests/Fixtures/seed_map_cases.json by running the seed's OWN AP code.

The seed's per-image AP (`utils.compute_ap` of COVID-CT-Mask-Net) is imported from a checkout of the
original repository, not copied here:

    git clone https://github.com/AlexTS1980/COVID-CT-Mask-Net /tmp/seedrepo
    /work/refenv/bin/python Tools/make_seed_map_fixtures.py --seed-repo /tmp/seedrepo

Random small images (12x12) with 0-4 ground-truth instances and 0-6 predictions (two classes, some
predictions perturbed copies of ground truths, some wrong-class, some duplicates claimed by two gts) are
scored at both threshold sets: the spec's float32 values (np.arange(.5, 1, .05, dtype=float32), e.g.
0.70000005) and what the seed's own `torch.arange(0.5, 1, 0.05)` gives (e.g. 0.69999999). The per-image
rules for empty images follow the seed's `compute_map` (spec 7.1.5); the dataset AP is the float32 mean
over images, as there. Images where the seed's unstable argsort would make the result depend on tie
order (equal scores, or equal IoUs among same-class candidates of one gt) are redrawn.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "EvaluationMetricsTests", "Fixtures", "seed_map_cases.json")
H = W = 12


def random_mask(rng):
    m = np.zeros((H, W), np.uint8)
    y0, x0 = rng.integers(0, H - 2), rng.integers(0, W - 2)
    y1, x1 = rng.integers(y0 + 1, H + 1), rng.integers(x0 + 1, W + 1)
    m[y0:y1, x0:x1] = 1
    if rng.random() < 0.3:  # knock out a few pixels
        m[rng.integers(0, H, 3), rng.integers(0, W, 3)] = 0
    return m


def perturb(rng, m):
    m = m.copy()
    for _ in range(int(rng.integers(0, 4))):
        m = np.roll(m, int(rng.choice([-1, 1])), axis=int(rng.integers(0, 2)))
    if rng.random() < 0.4:
        m[rng.integers(0, H, 4), rng.integers(0, W, 4)] ^= 1
    return m


def ious(pred, gt):
    inter = (pred[:, None] & gt[None]).reshape(len(pred), len(gt), -1).sum(-1).astype(np.float32)
    union = pred.reshape(len(pred), -1).sum(-1)[:, None].astype(np.float32) + \
        gt.reshape(len(gt), -1).sum(-1)[None].astype(np.float32) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def ambiguous(gt_masks, gt_labels, pred_masks, pred_labels, scores):
    if len(set(scores)) != len(scores):
        return True
    if len(gt_masks) == 0 or len(pred_masks) == 0:
        return False
    o = ious(np.array(pred_masks), np.array(gt_masks))
    for g in range(len(gt_masks)):
        same = [o[p, g] for p in range(len(pred_masks)) if pred_labels[p] == gt_labels[g] and o[p, g] > 0.45]
        if len(set(same)) != len(same):
            return True
    return False


def make_image(rng):
    while True:
        n_gt = int(rng.choice([0, 1, 1, 2, 3, 4]))
        gt_masks = [random_mask(rng) for _ in range(n_gt)]
        gt_labels = [int(rng.integers(1, 3)) for _ in range(n_gt)]
        pred_masks, pred_labels = [], []
        for m, lab in zip(gt_masks, gt_labels):
            for _ in range(int(rng.choice([0, 1, 1, 2]))):
                pred_masks.append(perturb(rng, m))
                pred_labels.append(lab if rng.random() < 0.8 else 3 - lab)
        for _ in range(int(rng.choice([0, 0, 1, 2]))):
            pred_masks.append(random_mask(rng))
            pred_labels.append(int(rng.integers(1, 3)))
        if n_gt == 0 and rng.random() < 0.5:
            pred_masks, pred_labels = [], []
        scores = [float(np.float32(rng.uniform(0.05, 1.0))) for _ in pred_masks]
        if not ambiguous(gt_masks, gt_labels, pred_masks, pred_labels, scores):
            return gt_masks, gt_labels, pred_masks, pred_labels, scores


def per_image_ap(utils, gt_masks, gt_labels, pred_masks, pred_labels, scores, th):
    # The rule table of the seed's compute_map (spec 7.1.5).
    if len(scores) == 0 and len(gt_labels) == 0:
        return 1.0
    if len(scores) == 0 or len(gt_labels) == 0:
        return 0.0
    ap, _, _, _ = utils.compute_ap(
        torch.zeros(len(gt_labels), 4), torch.tensor(gt_labels), torch.tensor(np.array(gt_masks)),
        torch.zeros(len(scores), 4), torch.tensor(pred_labels), torch.tensor(scores, dtype=torch.float32),
        torch.tensor(np.array(pred_masks)), iou_threshold=th)
    return float(ap)


def bits(m):
    return "".join("1" if v else "0" for v in m.reshape(-1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed-repo", required=True, help="checkout of AlexTS1980/COVID-CT-Mask-Net")
    parser.add_argument("--images", type=int, default=80)
    args = parser.parse_args()
    sys.path.insert(0, args.seed_repo)
    import utils  # the seed's utils.py

    rng = np.random.default_rng(2024)
    threshold_sets = {
        "spec": torch.from_numpy(np.arange(0.5, 1.0, 0.05, dtype=np.float32)),
        "torch": torch.arange(0.5, 1, 0.05),
    }
    images = [make_image(rng) for _ in range(args.images)]
    out = {"versions": {"torch": torch.__version__, "numpy": np.__version__}, "height": H, "width": W,
           "images": [], "thresholds": {}, "dataset": {}}
    for name, ths in threshold_sets.items():
        out["thresholds"][name] = [float(t) for t in ths]
        per_threshold = []
        for th in ths:
            aps = torch.zeros(len(images), dtype=torch.float)
            for i, im in enumerate(images):
                aps[i] = per_image_ap(utils, *im, th)
            per_threshold.append(aps)
        out["dataset"][name] = [float(a.mean()) for a in per_threshold]
        out["dataset"][name + "_map"] = float(torch.stack([a.mean() for a in per_threshold]).mean())
        for i in range(len(images)):
            if len(out["images"]) <= i:
                gm, gl, pm, pl, sc = images[i]
                out["images"].append({"gt": [bits(m) for m in gm], "gt_labels": gl, "pred": [bits(m) for m in pm],
                                      "pred_labels": pl, "scores": sc, "ap": {}})
            out["images"][i]["ap"][name] = [float(a[i]) for a in per_threshold]
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print("images", len(images), "spec", out["dataset"]["spec"], "mAP", out["dataset"]["spec_map"])


if __name__ == "__main__":
    main()
