#!/usr/bin/env python3
"""How far a plain torch float32 run of the Mask R-CNN training step lands from the float64 reference.

Tools/make_maskrcnn_fixtures.py computes the one-step training references (grad.*, train.losses) in float64
and stores them as float32. This script rebuilds the same model, weights and input with that script's
helpers, reruns the same training step in float32, and compares it with the stored fixture values. The
discrete choices (train.rpn_positive/negative, train.candidates, train.roi_positive/negative and the stored
matches/labels) are read from the fixture, not sampled again, so only float precision differs.

For each grad.* tensor and each of the five losses it prints
  rel   = max|Δ| / max|ref|   (Δ = float32 run − stored reference, ref = stored reference tensor)
  viol  = number of elements with |Δ| > 1e-3·|ref| + 1e-4·max|ref|
It writes nothing (the fixtures are only read). Run from the repository root:

    <python with torch and torchvision> Tools/measure_maskrcnn_float32_gap.py
"""
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torchvision.models.detection import _utils as det_utils
from torchvision.ops import roi_align

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_maskrcnn_fixtures as mk  # noqa: E402

LOSSES = ["loss_classifier", "loss_box_reg", "loss_mask", "loss_objectness", "loss_rpn_box_reg"]


def train_step_float32(fx, light, classes, image_hw, min_size, max_size):
    """The training section of mk.make, in float32, with the fixture's samples and matches."""
    torch.manual_seed(0)
    model = mk.build(light, classes, min_size, max_size)
    _, probes = mk.assign_weights(model)
    assert all(torch.equal(v, fx[k]) for k, v in probes.items()), "weights differ from the fixture's"
    # CPU bilinear interpolate rounds differently per thread count: build the input (tiny) as mk.main did,
    # with 2 threads, so it is bit-identical to the fixture's; the training step itself runs on 1 thread.
    torch.set_num_threads(2)
    image, gt_boxes, gt_masks = mk.sample_image(*image_hw)
    batch, unpadded = mk.transform(image, min_size, max_size)
    torch.set_num_threads(1)
    assert torch.equal(image, fx["image"]) and torch.equal(batch.sum(dim=3)[0], fx["batch_row_sums"]), "input differs"
    model.train()
    ratio_in = torch.tensor([unpadded[1] / image_hw[1], unpadded[0] / image_hw[0]] * 2)
    t_boxes = gt_boxes * ratio_in
    t_masks = F.interpolate(gt_masks[None], size=unpadded, mode="nearest")[0]
    model.zero_grad()
    features = model.backbone(batch)
    objectness, deltas = mk.head_outputs(model, list(features.values()))
    feature_sizes = [tuple(f.shape[2:]) for f in features.values()]
    cell = model.rpn.anchor_generator.generate_anchors(mk.SIZES, mk.RATIOS, torch.float32, torch.device("cpu"))
    anchors = torch.cat(mk.seed_anchors(cell, tuple(batch.shape[2:]), feature_sizes))

    rpn_pos, rpn_neg = fx["train.rpn_positive"], fx["train.rpn_negative"]
    sampled = torch.cat([rpn_pos, rpn_neg])
    loss_objectness = F.binary_cross_entropy_with_logits(
        objectness[sampled], torch.cat([torch.ones(len(rpn_pos)), torch.zeros(len(rpn_neg))]))
    targets = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0)).encode_single(t_boxes[fx["train.rpn_matches"]], anchors[rpn_pos])
    loss_rpn_box = (deltas[rpn_pos] - targets).abs().sum() / sampled.numel()

    candidates, roi_pos, roi_neg = fx["train.candidates"], fx["train.roi_positive"], fx["train.roi_negative"]
    roi_sampled = torch.cat([roi_pos, roi_neg])
    logits, box_regression = model.roi_heads.box_predictor(
        model.roi_heads.box_head(mk.seed_pool(features, candidates[roi_sampled], unpadded, 7, 2)))
    sampled_labels = fx["train.roi_labels"]
    loss_classifier = F.cross_entropy(logits, sampled_labels)
    pos_labels, roi_matches = sampled_labels[:len(roi_pos)], fx["train.roi_matches"]
    regression_targets = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0)).encode_single(t_boxes[roi_matches], candidates[roi_pos])
    pos_regression = box_regression.reshape(len(roi_sampled), -1, 4)[torch.arange(len(roi_pos)), pos_labels]
    loss_box = F.smooth_l1_loss(pos_regression, regression_targets, beta=1.0, reduction="sum") / roi_sampled.numel()
    pos_boxes = candidates[roi_pos]
    mask_logits = mk.mask_branch(model, features, pos_boxes, unpadded, pos_labels)
    rois = torch.cat([roi_matches[:, None].float(), pos_boxes], dim=1)
    mask_targets = roi_align(t_masks[:, None], rois, (28, 28), spatial_scale=1.0, sampling_ratio=-1, aligned=False)[:, 0]
    loss_mask = F.binary_cross_entropy_with_logits(mask_logits, mask_targets)
    losses = [loss_classifier, loss_box, loss_mask, loss_objectness, loss_rpn_box]
    sum(losses).backward()
    grads = {f"grad.{mk.old_key(k)}": p.grad.detach() for k, p in model.named_parameters() if p.grad is not None}
    return grads, torch.stack([l.detach() for l in losses])


def gap(run, ref):
    delta, scale = (run.double() - ref.double()).abs(), ref.double().abs().max()
    bound = 1e-3 * ref.double().abs() + 1e-4 * scale
    return float(delta.max() / scale), int((delta > bound).sum()), ref.numel()


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for name, light, classes, image_hw, min_size, max_size in [
            ("maskrcnn_r18t1", True, 2, (80, 100), 96, 160), ("maskrcnn_r50", False, 3, (96, 96), 96, 96)]:
        fx = load_file(os.path.join(mk.OUT, f"{name}.safetensors"))
        grads, losses = train_step_float32(fx, light, classes, image_hw, min_size, max_size)
        print(f"\n{name}\n{'key':<58} {'max|Δ|/max|ref|':>16} {'viol':>7} {'numel':>8}")
        rows = [(k, grads[k], fx[k]) for k in sorted(k for k in fx if k.startswith("grad."))]
        rows += [(f"train.losses[{i}] {n}", losses[i:i + 1], fx["train.losses"][i:i + 1]) for i, n in enumerate(LOSSES)]
        for key, run, ref in rows:
            rel, viol, numel = gap(run, ref)
            print(f"{key:<58} {rel:16.3e} {viol:7d} {numel:8d}")


if __name__ == "__main__":
    main()
