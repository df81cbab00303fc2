#!/usr/bin/env python3
"""Full-model Mask R-CNN parity fixtures (seed configuration) for Tests/ObjectDetectionTests.

Run by a developer with the reference stack (never by CI):

    /work/refenv/bin/python Tools/make_maskrcnn_fixtures.py

The seed's model is assembled from torchvision 0.29 parts (IntermediateLayerGetter ResNet body +
FeaturePyramidNetwork(extra_blocks=None), AnchorGenerator with 30 anchors per location, RPNHead(256, 30),
MultiScaleRoIAlign 7/2 and 14/2, TwoMLPHead(12544, 128), FastRCNNPredictor(128, n_c), MaskRCNNHeads +
MaskRCNNPredictor), wrapped in `torchvision.models.detection.MaskRCNN` so the state_dict keys are the
torchvision ones. The forward pass is then driven step by step here, because torchvision 0.29 differs from
the seed's 0.3 in the glue: every such step is computed explicitly with the seed's semantics
(spec §0.3, §3, §4):

* anchors: float strides, corner-centred (equal to 0.29's integer strides here, asserted);
* proposal filtering: top-k by *logit* per level (stable, lower index first on ties), decode, clip,
  remove_small_boxes(0) (0.29: 1e-3), no score threshold, batched NMS by the coordinate-offset trick;
* MultiScaleRoIAlign: the 0.3 level mapper (eps inside the log2), roi_align(aligned=False);
* RPN box loss: L1 summed over positives / sampled count (0.29: smooth L1, beta 1/9);
* RoI box loss: smooth L1 with beta 1 (0.29: beta 1/9); mask targets via roi_align(sr −1, legacy);
* post-processing: area > 0 filter, then score > thresh (strict), batched NMS per class, top-n;
  mask logits are pasted without a sigmoid (0.29 applies one).

Weights: storing millions of weights would break the fixture budget, so every float tensor of the state
dict is regenerated in the Swift test from our SeededGenerator (bit-exact Python port in
make_nn_fixtures.py). To keep the Python side fast for ResNet50 (31 M values) a tensor is *tiled*: for
state_dict key K, `block = [g.next…() for _ in range(PERIOD)]` with `g = SeededGenerator(seed, stream: K)`,
and element i (row-major) is `Float(a) + Float(b) * block[i % PERIOD]` (PERIOD = 1031, a prime, so the
tiling does not line up with channel strides). (distribution, a, b) per key is the JSON metadata `weights`.

References are computed in float64 from the float32 weights and input and stored as float32. Stage
inputs that are discrete decisions (proposals, samples) are computed in float32 from the stored float32
values, exactly as the Swift code sees them, so a near tie cannot flip between the two sides.

Files: maskrcnn_r18t1.safetensors (light: R18 truncation 1, n_c = 2, 80×100 image resized to 96×120 and
padded to 96×128) and maskrcnn_r50.safetensors (full: R50, n_c = 3, 96×96). See Fixtures/README.md.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import resnet18, resnet50
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.models.detection.rpn import RPNHead
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign, roi_align
from torchvision.ops import boxes as box_ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_nn_fixtures import SeededGenerator, save_deterministic, f32, VERSIONS  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "ObjectDetectionTests", "Fixtures")
SEED = 20261128
PERIOD = 1031
SIZES = (2, 4, 8, 16, 32)
RATIOS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def tiled_tensor(key, shape, distribution, a, b):
    generator = SeededGenerator(SEED, key)
    draw = generator.next_normal if distribution == "normal" else generator.next_uniform
    block = np.array([draw() for _ in range(PERIOD)], dtype=np.float32)
    count = int(np.prod(shape)) if len(shape) else 1
    values = np.float32(a) + np.float32(b) * np.resize(block, count)
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


class Backbone(torch.nn.Module):
    def __init__(self, light):
        super().__init__()
        if light:
            self.body = IntermediateLayerGetter(resnet18(weights=None), return_layers={"layer3": "0"})
            self.fpn = FeaturePyramidNetwork([256], 256, extra_blocks=None)
        else:
            self.body = IntermediateLayerGetter(
                resnet50(weights=None), return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"})
            self.fpn = FeaturePyramidNetwork([256, 512, 1024, 2048], 256, extra_blocks=None)
        self.out_channels = 256

    def forward(self, x):
        return self.fpn(self.body(x))


def build(light, classes, min_size, max_size):
    levels = 1 if light else 4
    names = [str(i) for i in range(levels)]
    mask_head = MaskRCNNHeads(256, (128,), 1) if light else MaskRCNNHeads(256, (256, 256, 256, 256), 1)
    mask_predictor = MaskRCNNPredictor(128, 128, classes) if light else MaskRCNNPredictor(256, 256, classes)
    return MaskRCNN(
        Backbone(light), num_classes=None, min_size=min_size, max_size=max_size, image_mean=MEAN, image_std=STD,
        rpn_anchor_generator=AnchorGenerator((SIZES,) * levels, (RATIOS,) * levels), rpn_head=RPNHead(256, 30),
        rpn_nms_thresh=0.75, rpn_batch_size_per_image=256, rpn_positive_fraction=0.75,
        box_roi_pool=MultiScaleRoIAlign(names, 7, 2), box_head=TwoMLPHead(256 * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, classes), box_fg_iou_thresh=0.75, box_bg_iou_thresh=0.5,
        box_batch_size_per_image=256, box_positive_fraction=0.75,
        mask_roi_pool=MultiScaleRoIAlign(names, 14, 2), mask_head=mask_head, mask_predictor=mask_predictor)


def old_key(key):
    """torchvision >= 0.13 nests some convs in Sequentials; the spec/our model use the 0.3 names."""
    for block in ("inner_blocks", "layer_blocks"):
        for i in range(4):
            key = key.replace(f"fpn.{block}.{i}.0.", f"fpn.{block}.{i}.")
    key = key.replace("rpn.head.conv.0.0.", "rpn.head.conv.")
    for i in range(4):
        key = key.replace(f"roi_heads.mask_head.{i}.0.", f"roi_heads.mask_head.mask_fcn{i + 1}.")
    return key


def assign_weights(model):
    modules = dict(model.named_modules())
    rules, probes = {}, {}
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith("num_batches_tracked"):
                continue
            name = old_key(key)
            module = modules[key.rsplit(".", 1)[0]]
            leaf = key.rsplit(".", 1)[1]
            shape = tuple(value.shape)
            if isinstance(module, torch.nn.BatchNorm2d):
                rule = {"weight": ("normal", 1.0, 0.1), "bias": ("normal", 0.0, 0.1),
                        "running_mean": ("normal", 0.0, 0.1), "running_var": ("uniform", 0.75, 0.5)}[leaf]
            elif leaf == "bias":
                rule = ("normal", 0.0, 0.1)
            else:
                if isinstance(module, torch.nn.ConvTranspose2d):
                    fan_in = shape[0]  # a 2×2 stride-2 transposed conv gives each output one tap per input channel
                else:
                    fan_in = int(np.prod(shape[1:]))
                std = math.sqrt(1.0 / fan_in)
                if name.endswith("bbox_pred.weight"):
                    std *= 0.3  # keep decoded boxes inside a sensible range
                rule = ("normal", 0.0, float(np.float32(std)))
            tensor = tiled_tensor(name, shape, *rule)
            value.copy_(tensor)
            rules[name] = rule
            probes[f"probe.{name}"] = tensor.flatten()[:8].clone()
    return rules, probes


# ----------------------------------------------------------------------------------------------------
# The seed's steps, explicitly

def transform(image, min_size, max_size):
    """Normalise (float32), resize (bilinear, align_corners False, floor(size·scale)), pad to 32."""
    mean = torch.tensor(MEAN)[:, None, None]
    std = torch.tensor(STD)[:, None, None]
    x = (image - mean) / std
    h, w = image.shape[1:]
    scale = np.float32(min_size) / np.float32(min(h, w))
    if np.float32(max(h, w)) * scale > np.float32(max_size):
        scale = np.float32(max_size) / np.float32(max(h, w))
    nh, nw = int(math.floor(np.float32(h) * scale)), int(math.floor(np.float32(w) * scale))
    if (nh, nw) != (h, w):
        x = F.interpolate(x[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
    ph, pw = (nh + 31) // 32 * 32, (nw + 31) // 32 * 32
    batch = torch.zeros(1, 3, ph, pw)
    batch[0, :, :nh, :nw] = x
    return batch, (nh, nw)


def seed_anchors(cell, padded, feature_sizes):
    out = []
    for gh, gw in feature_sizes:
        sh, sw = padded[0] / gh, padded[1] / gw
        shifts_x = (torch.arange(gw, dtype=torch.float64) * sw).to(torch.float32)
        shifts_y = (torch.arange(gh, dtype=torch.float64) * sh).to(torch.float32)
        yy, xx = torch.meshgrid(shifts_y, shifts_x, indexing="ij")
        shifts = torch.stack([xx.reshape(-1), yy.reshape(-1), xx.reshape(-1), yy.reshape(-1)], dim=1)
        out.append((shifts.view(-1, 1, 4) + cell.view(1, -1, 4)).reshape(-1, 4))
    return out


def head_outputs(model, features):
    logits, deltas = model.rpn.head(features)
    objectness, regression = [], []
    for lg, dl in zip(logits, deltas):
        _, a, h, w = lg.shape
        objectness.append(lg.permute(0, 2, 3, 1).reshape(-1))
        regression.append(dl.view(1, a, 4, h, w).permute(0, 3, 4, 1, 2).reshape(-1, 4))
    return torch.cat(objectness), torch.cat(regression)


def seed_filter_proposals(objectness, deltas, level_anchors, image_hw, pre_nms, post_nms, nms_thresh):
    """§3.4 in float32 on the float32 head outputs."""
    coder = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0))
    boxes, scores, levels = [], [], []
    offset = 0
    for level, anchors in enumerate(level_anchors):
        n = anchors.shape[0]
        values = objectness[offset:offset + n]
        order = torch.sort(values, descending=True, stable=True).indices[:min(pre_nms, n)]
        decoded = coder.decode_single(deltas[offset:offset + n][order], anchors[order])
        decoded = box_ops.clip_boxes_to_image(decoded, image_hw)
        keep = torch.nonzero((decoded[:, 2] - decoded[:, 0] >= 0) & (decoded[:, 3] - decoded[:, 1] >= 0)).squeeze(1)
        boxes.append(decoded[keep])
        scores.append(values[order][keep])
        levels.append(torch.full((keep.numel(),), level, dtype=torch.int64))
        offset += n
    boxes, scores, levels = torch.cat(boxes), torch.cat(scores), torch.cat(levels)
    keep = box_ops._batched_nms_coordinate_trick(boxes, scores, levels, nms_thresh)[:post_nms]
    return boxes[keep]


def seed_pool(features, boxes, unpadded_hw, output, sampling):
    """The seed's MultiScaleRoIAlign: scales from the unpadded size, 0.3 level mapper, legacy roi_align."""
    keys = sorted(features.keys(), key=int)
    xs = [features[k] for k in keys]
    scales = [2.0 ** float(torch.tensor(x.shape[-2] / unpadded_hw[0]).log2().round()) for x in xs]
    rois = torch.cat([torch.zeros(len(boxes), 1, dtype=boxes.dtype), boxes], dim=1)
    if len(xs) == 1:
        return roi_align(xs[0], rois, (output, output), spatial_scale=scales[0], sampling_ratio=sampling, aligned=False)
    k_min, k_max = -math.log2(scales[0]), -math.log2(scales[-1])
    s = torch.sqrt(box_ops.box_area(boxes))
    lv = torch.clamp(torch.floor(4 + torch.log2(s / 224 + 1e-6)), min=k_min, max=k_max).to(torch.int64) - int(k_min)
    result = torch.zeros(len(boxes), xs[0].shape[1], output, output, dtype=xs[0].dtype)
    for level, (x, scale) in enumerate(zip(xs, scales)):
        idx = torch.nonzero(lv == level).squeeze(1)
        if idx.numel():
            result[idx] = roi_align(x, rois[idx], (output, output), spatial_scale=scale, sampling_ratio=sampling,
                                    aligned=False)
    return result


def seed_postprocess(logits, deltas, proposals, image_hw, classes, score_thresh, nms_thresh, detections):
    coder = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0))
    boxes = coder.decode(deltas, [proposals]).reshape(-1, classes, 4)
    boxes = box_ops.clip_boxes_to_image(boxes, image_hw)
    scores = F.softmax(logits, -1)
    labels = torch.arange(classes).view(1, -1).expand_as(scores)
    boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep = torch.nonzero(area > 0).squeeze(1)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = torch.nonzero(scores > score_thresh).squeeze(1)
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    keep = box_ops._batched_nms_coordinate_trick(boxes, scores, labels, nms_thresh)[:detections]
    return boxes[keep], scores[keep], labels[keep]


def mask_branch(model, features, boxes, unpadded_hw, labels):
    pooled = seed_pool(features, boxes, unpadded_hw, 14, 2)
    logits = model.roi_heads.mask_predictor(model.roi_heads.mask_head(pooled))
    return logits[torch.arange(len(labels)), labels]


def sample_image(h, w):
    """A smooth synthetic CT-like slice with two lesions (instance masks, label 1 and last class)."""
    gen = torch.Generator().manual_seed(11)
    base = torch.rand(3, h // 8 + 1, w // 8 + 1, generator=gen)
    image = F.interpolate(base[None], size=(h, w), mode="bilinear", align_corners=False)[0] * 0.5 + 0.2
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    lesions = [(0.35 * h, 0.3 * w, 0.14 * h, 0.18 * w), (0.65 * h, 0.7 * w, 0.2 * h, 0.12 * w)]
    masks, boxes = [], []
    for cy, cx, ry, rx in lesions:
        m = (((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1).to(torch.float32)
        image = torch.where(m.bool()[None].expand(3, h, w), torch.full_like(image, 0.85), image)
        ys, xs = torch.nonzero(m, as_tuple=True)
        boxes.append([float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)])
        masks.append(m)
    return image.contiguous(), torch.tensor(boxes), torch.stack(masks)


def make(name, light, classes, image_hw, min_size, max_size):
    torch.manual_seed(0)
    model = build(light, classes, min_size, max_size)
    rules, probes = assign_weights(model)
    model = model.double()
    image, gt_boxes, gt_masks = sample_image(*image_hw)
    gt_labels = torch.tensor([1, classes - 1])
    batch, unpadded = transform(image, min_size, max_size)
    padded = tuple(batch.shape[2:])
    tensors = {"image": image, "gt_boxes": gt_boxes, "gt_masks": gt_masks, "gt_labels": gt_labels, "batch_row_sums": batch.sum(dim=3)[0]}
    tensors.update(probes)

    # ---------------- inference (eval mode, BN running statistics) ----------------
    model.eval()
    with torch.no_grad():
        features = model.backbone(batch.double())
        feature_sizes = [tuple(f.shape[2:]) for f in features.values()]
        cell = model.rpn.anchor_generator.generate_anchors(SIZES, RATIOS, torch.float32, torch.device("cpu"))
        level_anchors = seed_anchors(cell, padded, feature_sizes)
        tv = model.rpn.anchor_generator(ImageList(batch, [unpadded]), [f.float() for f in features.values()])[0]
        assert torch.equal(tv, torch.cat(level_anchors)), "strides divide: 0.29 and the seed agree"
        objectness, deltas = head_outputs(model, list(features.values()))
        objectness32, deltas32 = f32(objectness), f32(deltas)
        proposals = seed_filter_proposals(objectness32, deltas32, level_anchors, unpadded, 1000, 1000, 0.75)
        pooled = seed_pool(features, proposals.double(), unpadded, 7, 2)
        box_logits, box_deltas = model.roi_heads.box_predictor(model.roi_heads.box_head(pooled))
        det_boxes, det_scores, det_labels = seed_postprocess(box_logits, box_deltas, proposals.double(), unpadded,
                                                             classes, 0.05, 0.5, 100)
        mask_logits = mask_branch(model, features, det_boxes, unpadded, det_labels)
        ratio = torch.tensor([image_hw[1] / unpadded[1], image_hw[0] / unpadded[0]] * 2, dtype=torch.float64)
        final_boxes = f32(det_boxes * ratio)
        pasted = paste_masks_in_image(f32(mask_logits)[:, None], final_boxes, image_hw, padding=1)[:, 0]
    anchors = torch.cat(level_anchors)
    tensors.update({
        "anchors_head": anchors[:64].clone(), "anchors_sum": anchors.double().sum().float().reshape(1),
        "objectness": objectness32, "deltas": deltas32, "proposals": proposals,
        "pooled_head": f32(pooled[:1]), "pooled_sums": f32(pooled.sum(dim=(1, 2, 3))), "box_logits": f32(box_logits), "box_deltas": f32(box_deltas),
        "det_boxes": f32(det_boxes), "det_scores": f32(det_scores), "det_labels": det_labels,
        "mask_logits_head": f32(mask_logits[:12]), "final_boxes": f32(final_boxes), "pasted_head": f32(pasted[:1]), "pasted_sums": f32(pasted[:12].sum(dim=(1, 2))),
    })
    print(f"{name}: anchors {anchors.shape[0]}, proposals {proposals.shape[0]}, detections {det_boxes.shape[0]}")

    # ---------------- one training step (train mode, BN batch statistics), sample fixed ----------------
    model.train()
    ratio_in = torch.tensor([unpadded[1] / image_hw[1], unpadded[0] / image_hw[0]] * 2)
    t_boxes = gt_boxes * ratio_in
    t_masks = F.interpolate(gt_masks[None], size=unpadded, mode="nearest")[0]
    model.zero_grad()
    features = model.backbone(batch.double())
    objectness, deltas = head_outputs(model, list(features.values()))
    anchors = torch.cat(level_anchors)
    matcher = det_utils.Matcher(0.7, 0.3, allow_low_quality_matches=True)
    matches = matcher(box_ops.box_iou(t_boxes, anchors))
    labels = (matches >= 0).to(torch.float32)
    labels[matches == -1] = 0
    labels[matches == -2] = -1
    torch.manual_seed(5)
    pos_mask, neg_mask = det_utils.BalancedPositiveNegativeSampler(256, 0.75)([labels])
    rpn_pos = torch.nonzero(pos_mask[0]).squeeze(1)
    rpn_neg = torch.nonzero(neg_mask[0]).squeeze(1)
    sampled = torch.cat([rpn_pos, rpn_neg])
    loss_objectness = F.binary_cross_entropy_with_logits(
        objectness[sampled], torch.cat([torch.ones(len(rpn_pos)), torch.zeros(len(rpn_neg))]).double())
    targets = det_utils.BoxCoder((1.0, 1.0, 1.0, 1.0)).encode_single(t_boxes[matches[rpn_pos]], anchors[rpn_pos])
    loss_rpn_box = (deltas[rpn_pos] - targets.double()).abs().sum() / sampled.numel()

    train_proposals = seed_filter_proposals(f32(objectness), f32(deltas), level_anchors, unpadded, 2000, 2000, 0.75)
    candidates = torch.cat([train_proposals, t_boxes])
    box_matcher = det_utils.Matcher(0.75, 0.5, allow_low_quality_matches=False)
    box_matches = box_matcher(box_ops.box_iou(t_boxes, candidates))
    box_labels = gt_labels[box_matches.clamp(min=0)]
    box_labels[box_matches == -1] = 0
    box_labels[box_matches == -2] = -1
    torch.manual_seed(6)
    pos_mask, neg_mask = det_utils.BalancedPositiveNegativeSampler(256, 0.75)([box_labels])
    roi_pos = torch.nonzero(pos_mask[0]).squeeze(1)
    roi_neg = torch.nonzero(neg_mask[0]).squeeze(1)
    roi_sampled = torch.cat([roi_pos, roi_neg])
    sampled_boxes = candidates[roi_sampled].double()
    logits, box_regression = model.roi_heads.box_predictor(
        model.roi_heads.box_head(seed_pool(features, sampled_boxes, unpadded, 7, 2)))
    sampled_labels = box_labels[roi_sampled]
    loss_classifier = F.cross_entropy(logits, sampled_labels)
    pos_labels = box_labels[roi_pos]
    regression_targets = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0)).encode_single(
        t_boxes[box_matches[roi_pos]], candidates[roi_pos])
    pos_regression = box_regression.reshape(len(roi_sampled), -1, 4)[torch.arange(len(roi_pos)), pos_labels]
    loss_box = F.smooth_l1_loss(pos_regression, regression_targets.double(), beta=1.0, reduction="sum") / roi_sampled.numel()
    pos_boxes = candidates[roi_pos].double()
    mask_logits = mask_branch(model, features, pos_boxes, unpadded, pos_labels)
    rois = torch.cat([box_matches[roi_pos][:, None].double(), pos_boxes], dim=1)
    mask_targets = roi_align(t_masks[:, None].double(), rois, (28, 28), spatial_scale=1.0, sampling_ratio=-1,
                             aligned=False)[:, 0]
    loss_mask = F.binary_cross_entropy_with_logits(mask_logits, mask_targets)
    total = loss_objectness + loss_rpn_box + loss_classifier + loss_box + loss_mask
    total.backward()
    named = dict(model.named_parameters())
    grad_keys = ["backbone.body.conv1.weight", "backbone.body.layer1.0.bn1.weight", "backbone.fpn.layer_blocks.0.0.bias",
                 "rpn.head.conv.0.0.bias", "rpn.head.cls_logits.bias", "rpn.head.bbox_pred.bias",
                 "roi_heads.box_head.fc6.bias", "roi_heads.box_head.fc7.bias",
                 "roi_heads.box_predictor.cls_score.weight", "roi_heads.box_predictor.bbox_pred.weight",
                 "roi_heads.mask_head.0.0.bias", "roi_heads.mask_predictor.conv5_mask.bias",
                 "roi_heads.mask_predictor.mask_fcn_logits.weight"]
    for key in grad_keys:
        tensors[f"grad.{old_key(key)}"] = f32(named[key].grad)
    tensors.update({
        "train.rpn_positive": rpn_pos, "train.rpn_negative": rpn_neg, "train.rpn_matches": matches[rpn_pos],
        "train.rpn_label_counts": torch.tensor([(labels == 1).sum(), (labels == 0).sum(), (labels == -1).sum()]),
        "train.candidates": candidates, "train.roi_positive": roi_pos, "train.roi_negative": roi_neg,
        "train.roi_matches": box_matches[roi_pos], "train.roi_labels": box_labels[roi_sampled],
        "train.losses": f32(torch.stack([loss_classifier, loss_box, loss_mask, loss_objectness, loss_rpn_box])),
    })
    print(f"{name}: rpn pos/neg {len(rpn_pos)}/{len(rpn_neg)}, candidates {len(candidates)}, roi pos/neg "
          f"{len(roi_pos)}/{len(roi_neg)}, losses {[round(float(v), 5) for v in tensors['train.losses']]}")

    metadata = {
        "made_by": "Tools/make_maskrcnn_fixtures.py", "versions": VERSIONS, "seed": str(SEED), "period": str(PERIOD),
        "weights": json.dumps(rules, sort_keys=True),
        "configuration": json.dumps({"backbone": "resnet18" if light else "resnet50", "truncation": 1 if light else 0,
                                     "classes": classes, "min_size": min_size, "max_size": max_size}),
        "weight_rule": "for each key K: g = SeededGenerator(seed: seed, stream: K); block = period draws "
                       "(g.nextNormal() or g.nextUniform()); element i = Float(a) + Float(b) * block[i % period]",
        "losses_order": "loss_classifier, loss_box_reg, loss_mask, loss_objectness, loss_rpn_box_reg",
    }
    tensors = {k: (v.contiguous() if v.dtype == torch.int64 else f32(v)) for k, v in tensors.items()}
    save_deterministic(tensors, os.path.join(OUT, f"{name}.safetensors"), metadata)


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(2)
    make("maskrcnn_r18t1", light=True, classes=2, image_hw=(80, 100), min_size=96, max_size=160)
    make("maskrcnn_r50", light=False, classes=3, image_hw=(96, 96), min_size=96, max_size=96)


if __name__ == "__main__":
    main()
