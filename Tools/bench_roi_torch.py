#!/usr/bin/env python3
"""PyTorch side of `masknet bench roi`: the same cases as DetectionPrimitivesBenchmark, timed with
torchvision (nms, the seed's coordinate-trick batched_nms, roi_align aligned=False). Prints JSON."""
import argparse
import json
import time

import torch
import torchvision
from torchvision.ops import boxes as box_ops


def median(runs, body):
    body()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def random_boxes(n, extent, lo, hi, gen):
    wh = lo + torch.rand(n, 2, generator=gen) * (hi - lo)
    xy = torch.rand(n, 2, generator=gen) * (extent - wh)
    return torch.cat([xy, xy + wh], dim=1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--nms-boxes", type=int, default=4000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(2026)
    n = args.nms_boxes
    boxes = random_boxes(n, 512.0, 4.0, 128.0, gen)
    scores = torch.rand(n, generator=gen)
    groups = torch.arange(n) % 4
    result = {"torch": torch.__version__, "torchvision": torchvision.__version__, "threads": args.threads, "cases": []}
    result["cases"].append({"name": f"nms {n} boxes, IoU 0.7",
                            "forward_seconds": median(args.runs, lambda: torchvision.ops.nms(boxes, scores, 0.7))})
    result["cases"].append({"name": f"batched nms {n} boxes, 4 groups, IoU 0.7", "forward_seconds": median(
        args.runs, lambda: box_ops._batched_nms_coordinate_trick(boxes, scores, groups, 0.7))})
    features = torch.randn(1, 256, 32, 32, generator=gen)
    for count, size in [(512, 7), (128, 14)]:
        rois = torch.cat([torch.zeros(count, 1), random_boxes(count, 512.0, 8.0, 256.0, gen)], dim=1)
        x = features.clone().requires_grad_(True)
        fwd = median(args.runs, lambda: torchvision.ops.roi_align(x.detach(), rois, size, 1 / 16, 2, aligned=False))

        def fwd_bwd():
            x.grad = None
            y = torchvision.ops.roi_align(x, rois, size, 1 / 16, 2, aligned=False)
            y.backward(torch.ones_like(y))
        total = median(args.runs, fwd_bwd)
        result["cases"].append({"name": f"roi_align {count} RoIs × 256 ch → {size}×{size} on 32×32",
                                "forward_seconds": fwd, "backward_seconds": total - fwd})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
