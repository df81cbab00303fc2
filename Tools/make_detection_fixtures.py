#!/usr/bin/env python3
"""Writes the ObjectDetection parity fixtures (Tests/ObjectDetectionTests/Fixtures/*.safetensors).

Run with the reference stack (torch 2.x, torchvision 0.29, safetensors):

    /work/refenv/bin/python Tools/make_detection_fixtures.py

The seed targets torchvision 0.3.0. Where 0.29 behaves differently this script computes the seed's
behaviour explicitly and says so next to the computation:
  * LevelMapper: 0.3.0 floors 4 + log2(s/224 + 1e-6); 0.29 floors 4 + log2(s/224) + 1e-6.
  * batched_nms: 0.29 switches to per-class NMS above 1000 boxes on CPU; the seed always uses the
    coordinate-offset trick, which we call explicitly.
  * AnchorGenerator: 0.29 uses integer strides (image // feature); the seed uses float strides
    (image / feature). They agree whenever the feature size divides the image size.
  * roi_align: aligned=False is the seed's legacy kernel; paste_masks_in_image and BoxCoder have the
    same arithmetic in both versions.
Every file carries the torch/torchvision versions in its metadata.
"""
import math
import os

import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.ops import boxes as box_ops
from torchvision.ops import roi_align

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ObjectDetectionTests", "Fixtures")
META = {"torch": torch.__version__, "torchvision": torchvision.__version__,
        "script": "Tools/make_detection_fixtures.py"}


def save(name, tensors, **extra):
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    meta = dict(META)
    meta.update({k: str(v) for k, v in extra.items()})
    path = os.path.join(OUT, name)
    save_file(tensors, path, metadata=meta)
    print(f"{name}: {os.path.getsize(path)} bytes")


def random_boxes(gen, n, extent, min_size=1.0, max_size=40.0):
    xy = torch.rand(n, 2, generator=gen) * extent
    wh = min_size + torch.rand(n, 2, generator=gen) * (max_size - min_size)
    return torch.cat([xy, xy + wh], dim=1)


def roi_align_fixture(gen):
    features = torch.randn(2, 3, 10, 12, generator=gen)
    # Boxes in image coordinates (spatial scale 0.5 → a 20×24 image): inside, at the borders, partly
    # and wholly outside, and degenerate (smaller than one feature pixel, zero size, inverted).
    rois = torch.tensor([
        [2.0, 3.0, 15.0, 12.0],
        [0.0, 0.0, 24.0, 20.0],
        [-6.0, -4.0, 8.0, 6.0],
        [18.0, 14.0, 30.0, 26.0],
        [22.5, 18.5, 23.5, 19.5],
        [5.0, 5.0, 5.3, 5.2],
        [7.0, 7.0, 7.0, 7.0],
        [10.0, 8.0, 4.0, 2.0],
        [-5.0, -5.0, -1.0, -1.0],
        [1.3, 17.7, 23.9, 19.9],
        [3.1, 0.2, 9.7, 19.6],
        [11.0, 2.0, 23.0, 9.0],
    ])
    batch = torch.tensor([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    rois5 = torch.cat([batch[:, None].float(), rois], dim=1)
    tensors = {"features": features, "rois": rois, "batch_indices": batch}
    for tag, size, scale, ratio in [("sr2", (5, 5), 0.5, 2), ("adaptive", (3, 3), 0.5, -1),
                                    ("adaptive_scale1", (4, 4), 1.0, -1)]:
        x = features.clone().requires_grad_(True)
        y = roi_align(x, rois5, output_size=size, spatial_scale=scale, sampling_ratio=ratio, aligned=False)
        upstream = torch.randn(y.shape, generator=gen)
        y.backward(upstream)
        tensors[f"{tag}_output"] = y.detach()
        tensors[f"{tag}_upstream"] = upstream
        tensors[f"{tag}_gradient"] = x.grad
        tensors[f"{tag}_params"] = torch.tensor([size[0], size[1], scale, ratio], dtype=torch.float32)
    save("roi_align.safetensors", tensors)


def nms_fixture(gen):
    boxes = random_boxes(gen, 300, 100.0)
    scores = torch.rand(300, generator=gen)
    groups = torch.randint(0, 4, (300,), generator=gen)
    tensors = {"boxes": boxes, "scores": scores, "groups": groups}
    for threshold, tag in [(0.5, "050"), (0.7, "070"), (0.3, "030")]:
        tensors[f"keep_{tag}"] = torchvision.ops.nms(boxes, scores, threshold)
    # The seed's batched_nms (coordinate offset trick), called explicitly: 0.29 would take the
    # per-class path above 1000 boxes.
    tensors["batched_keep_050"] = box_ops._batched_nms_coordinate_trick(boxes, scores, groups, 0.5)
    tensors["batched_keep_070"] = box_ops._batched_nms_coordinate_trick(boxes, scores, groups, 0.7)
    assert torch.equal(tensors["batched_keep_050"], box_ops._batched_nms_vanilla(boxes, scores, groups, 0.5))
    tensors["iou"] = box_ops.box_iou(boxes[:20], boxes[20:50])
    # Matcher (same in 0.3 and 0.29): 3 ground truths against 200 boxes, with low-quality matches.
    gt = random_boxes(gen, 3, 100.0, 10.0, 50.0)
    iou = box_ops.box_iou(gt, boxes[:200])
    tensors["matcher_gt"] = gt
    tensors["matcher_lowquality"] = det_utils.Matcher(0.7, 0.3, allow_low_quality_matches=True)(iou)
    tensors["matcher_plain"] = det_utils.Matcher(0.5, 0.3, allow_low_quality_matches=False)(iou)
    save("nms.safetensors", tensors)


def seed_level_mapper(boxes, k_min, k_max):
    """torchvision 0.3.0 LevelMapper: eps inside the log2."""
    s = torch.sqrt(box_ops.box_area(boxes))
    levels = torch.floor(4 + torch.log2(s / 224 + 1e-6))
    return torch.clamp(levels, min=k_min, max=k_max).to(torch.int64) - k_min


def multiscale_fixture(gen):
    image = 512
    sizes = [128, 64, 32, 16]
    features = [torch.randn(1, 1, s, s, generator=gen) for s in sizes]
    boxes = torch.cat([
        random_boxes(gen, 14, 300.0, 4.0, 200.0),
        torch.tensor([
            [0.0, 0.0, 112.0, 112.0],          # exactly 112: P3
            [10.0, 10.0, 121.9, 121.9],        # just below 112: P2
            [0.0, 0.0, 111.99985, 111.99985],  # seed P3, torchvision 0.29 P2 (eps placement)
            [0.0, 0.0, 224.0, 224.0],          # P4
            [50.0, 50.0, 497.0, 498.0],        # ≈ 447.5: P4
            [0.0, 0.0, 448.0, 448.0],          # P5
            [0.0, 0.0, 512.0, 512.0],          # P5 (clamped range)
            [300.0, 300.0, 300.0, 300.0],      # zero area: P2
        ]),
    ])
    scales = [s / image for s in sizes]
    levels = seed_level_mapper(boxes, 2, 5)
    xs = [f.clone().requires_grad_(True) for f in features]
    rois5 = torch.cat([torch.zeros(len(boxes), 1), boxes], dim=1)
    # The seed's MultiScaleRoIAlign, explicitly: route by the 0.3.0 level mapper, pool per level.
    output = torch.zeros(len(boxes), 1, 7, 7)
    for level, (x, scale) in enumerate(zip(xs, scales)):
        idx = torch.nonzero(levels == level).squeeze(1)
        output[idx] = roi_align(x, rois5[idx], (7, 7), spatial_scale=scale, sampling_ratio=2, aligned=False)
    upstream = torch.randn(output.shape, generator=gen)
    output.backward(upstream)
    # torchvision 0.29's module for comparison: equal except where the eps placement differs.
    pooler = torchvision.ops.MultiScaleRoIAlign(["0", "1", "2", "3"], 7, 2)
    tv = pooler({str(i): f for i, f in enumerate(features)}, [boxes], [(image, image)])
    differing = [i for i in range(len(boxes)) if not torch.allclose(tv[i], output[i].detach())]
    print("multiscale: rows where torchvision 0.29 differs from the seed:", differing)
    tensors = {f"feature{i}": f for i, f in enumerate(features)}
    tensors.update({f"gradient{i}": x.grad for i, x in enumerate(xs)})
    tensors.update({"boxes": boxes, "levels": levels, "output": output.detach(), "upstream": upstream})
    save("multiscale_roi_align.safetensors", tensors, image_size=image, tv029_differing_rows=differing)


def seed_grid_anchors(cell, image_hw, feature_sizes):
    """torchvision 0.3.0 grid anchors: float strides, arange with a float step, corner-centred."""
    out = []
    for gh, gw in feature_sizes:
        sh, sw = image_hw[0] / gh, image_hw[1] / gw
        shifts_x = (torch.arange(gw, dtype=torch.float64) * sw).to(torch.float32)
        shifts_y = (torch.arange(gh, dtype=torch.float64) * sh).to(torch.float32)
        yy, xx = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
        shifts = torch.stack([xx.reshape(-1), yy.reshape(-1), xx.reshape(-1), yy.reshape(-1)], dim=1)
        out.append((shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4))
    return out


def anchor_fixture():
    sizes = (2, 4, 8, 16, 32)
    ratios = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
    feature_sizes = [(8, 8), (4, 4), (2, 2), (1, 1)]
    generator = AnchorGenerator((sizes,) * 4, (ratios,) * 4)
    cell = generator.cell_anchors[0]
    images = ImageList(torch.zeros(1, 3, 32, 32), [(32, 32)])
    tv = generator(images, [torch.zeros(1, 1, h, w) for h, w in feature_sizes])[0]
    seed = torch.cat(seed_grid_anchors(cell, (32, 32), feature_sizes))
    assert torch.equal(tv, seed), "0.29 and the seed must agree for integer strides"
    # A non-dividing case where only the seed's float strides are defined as the spec says.
    odd = torch.cat(seed_grid_anchors(cell, (96, 64), [(7, 5)]))
    save("anchors.safetensors", {"cell_anchors": cell, "grid_32": seed, "grid_96x64_7x5": odd})


def box_coder_fixture(gen):
    proposals = random_boxes(gen, 40, 200.0, 2.0, 80.0)
    reference = random_boxes(gen, 40, 200.0, 2.0, 80.0)
    tensors = {"proposals": proposals, "reference": reference}
    for tag, weights in [("w1111", (1.0, 1.0, 1.0, 1.0)), ("w101055", (10.0, 10.0, 5.0, 5.0))]:
        coder = det_utils.BoxCoder(weights)
        tensors[f"encoded_{tag}"] = coder.encode_single(reference, proposals)
        deltas = torch.randn(40, 12, generator=gen) * 2
        deltas[:5, 2] = 40.0   # beyond the clamp (divided by the weight it still exceeds log(1000/16))
        deltas[5:10, 7] = 60.0
        tensors[f"deltas_{tag}"] = deltas
        tensors[f"decoded_{tag}"] = coder.decode_single(deltas, proposals).reshape(40, 3, 4)
    save("box_coder.safetensors", tensors)


def paste_fixture(gen):
    masks = torch.randn(6, 28, 28, generator=gen) * 3
    boxes = torch.tensor([
        [5.3, 4.1, 30.7, 22.9],
        [0.0, 0.0, 50.0, 40.0],     # the whole image: expanded box leaves it on every side
        [-3.0, 30.0, 12.0, 45.0],   # past the left and bottom borders
        [44.2, 1.0, 49.9, 6.0],     # small, at the right border
        [20.0, 20.0, 20.4, 20.2],   # smaller than a pixel: h = w = 1
        [10.0, 35.5, 48.5, 39.8],
    ])
    pasted = paste_masks_in_image(masks[:, None], boxes, (40, 50), padding=1)[:, 0]
    save("paste_masks.safetensors", {"masks": masks, "boxes": boxes, "pasted": pasted})


def mask_target_fixture(gen):
    gt = (torch.rand(3, 40, 50, generator=gen) > 0.5).float()
    gt[1] = 0
    gt[1, 10:30, 5:25] = 1
    proposals = torch.tensor([
        [3.0, 2.0, 40.0, 35.0], [5.5, 10.5, 24.5, 29.5], [0.0, 0.0, 50.0, 40.0],
        [30.2, 20.1, 31.0, 21.3], [12.0, 8.0, 47.0, 16.0], [-4.0, -4.0, 20.0, 20.0],
    ])
    matched = torch.tensor([0, 1, 2, 1, 0, 2])
    rois = torch.cat([matched[:, None].float(), proposals], dim=1)
    # roi_heads.project_masks_on_boxes: spatial scale 1, sampling ratio -1 (the functional default).
    targets = roi_align(gt[:, None], rois, (28, 28), 1.0, sampling_ratio=-1, aligned=False)[:, 0]
    save("mask_targets.safetensors", {"gt_masks": gt, "proposals": proposals, "matched": matched, "targets": targets})


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(20260)
    roi_align_fixture(gen)
    nms_fixture(gen)
    multiscale_fixture(gen)
    anchor_fixture()
    box_coder_fixture(gen)
    paste_fixture(gen)
    mask_target_fixture(gen)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
