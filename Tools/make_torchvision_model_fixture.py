#!/usr/bin/env python3
"""A model built from torchvision parts with the seed's architecture, converted with
Tools/convert_checkpoint.py, and its detections: Tests/MaskNetWorkflowsTests/Fixtures/torchvision_r18_t1.safetensors.

    /work/refenv/bin/python Tools/make_torchvision_model_fixture.py     # torch 2.x, torchvision 0.29

What it does:
 1. Builds the seed's light segmentation model (ResNet18, truncation 1, mask type merge, n_c = 2) from torchvision
    parts as /work/shared/design/references.md lists them: IntermediateLayerGetter(resnet18, {'layer3': '0'}),
    FeaturePyramidNetwork([256], 256, extra_blocks=None), AnchorGenerator((2,4,8,16,32) × (0.1,…,2)), RPNHead(256, 30),
    MultiScaleRoIAlign(['0'], 7 / 14, 2), TwoMLPHead(12544, 128), FastRCNNPredictor(128, 2),
    MaskRCNNHeads(256, (128,), 1), MaskRCNNPredictor(128, 128, 2). min_size 64 / max_size 1024 (the fixture image is
    80×112, so the transform downsizes it; every other setting is the seed's inference default, spec §8).
 2. Fills every tensor from our SeededGenerator (ported in make_nn_fixtures.py): 6 M weights would be 24 MB, so the
    fixture stores the rule per key instead (metadata `weights`: key → [distribution, a, b, optional per-element
    offsets]; element i = Float(a) + Float(b)·draw (+ offset[i]), generator SeededGenerator(seed: SEED, stream: key),
    keys in our (seed) naming), and the first 8 values of each as `probe.<key>`.
 3. Saves the state dict in the seed's checkpoint dict layout (spec §6.1: epoch string, model_name, model_weights with
    torchvision 0.29 key names, optimizer_state, lrate, and an AnchorGenerator pickled from a module named
    models.mask_net.rpn_segmentation), removes that module again, and converts the .pth with convert_checkpoint.py.
    The converted file is checked against the model (every tensor, I64 num_batches_tracked), a second .pth with the
    seed's old key names and a third in torch 1.1's pre-zip serialisation must convert to the same tensors, and a 2-class checkpoint without --mask-type must be refused.
    The converted file's metadata is stored as `checkpoint_metadata`, its header (key → dtype, shape) as `checkpoint_header`.
 4. Runs inference with the seed's behaviour (torchvision 0.3), computed explicitly where 0.29 differs:
    RPN min_size 0 (0.29 drops boxes under 1e-3), RoI post-processing with the area > 0 filter instead of
    remove_small_boxes(1e-2), batched NMS by the coordinate-offset trick, raw mask LOGITS pasted (0.29 pastes
    sigmoid probabilities). RoIAlign is the legacy aligned=False kernel in both.
The full configuration (ResNet50, mask type both) is converted too, from torchvision's default init; only its
converted header and metadata are stored (`full_checkpoint_header`, `full_checkpoint_metadata`).
Stored: `input` [3, 80, 112], `boxes` [N, 4] (original image), `scores` [N], `labels` [N] (I64), `masks` [K, 80, 112]
(pasted logits of the first K = min(N, 8) detections), `proposal_count`.
"""
import copy
import json
import os
import pickle
import sys
import tempfile
import types

import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import load_file
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.roi_heads import paste_masks_in_image
from torchvision.models.detection.rpn import RPNHead
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops import boxes as box_ops

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import convert_checkpoint as cc  # noqa: E402
from make_nn_fixtures import SeededGenerator, save_deterministic  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "MaskNetWorkflowsTests", "Fixtures", "torchvision_r18_t1.safetensors")
SEED = 20261127
SIZES = (2, 4, 8, 16, 32)
RATIOS = (0.1, 0.25, 0.5, 1.0, 1.5, 2.0)
HEIGHT, WIDTH = 80, 112
MIN_SIZE, MAX_SIZE = 64, 1024
STORED_MASKS = 8
NUM_BATCHES_TRACKED = 7


class SeedBackbone(torch.nn.Module):
    """backbone.body + backbone.fpn with the seed's wiring (spec §2.2): only layer3 feeds a one-level FPN, no pool level."""

    def __init__(self):
        super().__init__()
        self.body = IntermediateLayerGetter(torchvision.models.resnet18(weights=None), return_layers={"layer3": "0"})
        self.fpn = FeaturePyramidNetwork([256], 256, extra_blocks=None)
        self.out_channels = 256

    def forward(self, x):
        return self.fpn(self.body(x))


def build_model():
    model = MaskRCNN(
        SeedBackbone(), num_classes=None, min_size=MIN_SIZE, max_size=MAX_SIZE,
        rpn_anchor_generator=AnchorGenerator(sizes=(SIZES,), aspect_ratios=(RATIOS,)),
        rpn_head=RPNHead(256, 30), rpn_pre_nms_top_n_test=1000, rpn_post_nms_top_n_test=1000, rpn_nms_thresh=0.75,
        box_roi_pool=MultiScaleRoIAlign(["0"], 7, 2), box_head=TwoMLPHead(256 * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, 2), box_score_thresh=0.05, box_nms_thresh=0.5, box_detections_per_img=100,
        mask_roi_pool=MultiScaleRoIAlign(["0"], 14, 2), mask_head=MaskRCNNHeads(256, (128,), 1),
        mask_predictor=MaskRCNNPredictor(128, 128, 2))
    return model.eval()


def rule(key, shape):
    """(distribution, a, b[, offsets]) for a tensor under our key. Scales keep activations O(1) through the
    un-normalised heads, spread the objectness and class logits (no saturated ties), and bias the box classifier
    towards background so that a few dozen detections pass the 0.05 score threshold."""
    if key.endswith("running_var"):
        return ["uniform", 0.75, 0.5]
    if key.endswith("running_mean"):
        return ["normal", 0.0, 0.1]
    is_bn = key.startswith("backbone.body.") and (".bn" in key or "downsample.1." in key or key.startswith("backbone.body.bn1"))
    if is_bn:
        return ["normal", 1.0, 0.1] if key.endswith("weight") else ["normal", 0.0, 0.1]
    if key == "roi_heads.box_predictor.cls_score.bias":
        return ["normal", 0.0, 0.1, [6.0, 0.0]]
    if key.endswith("bias"):
        return ["normal", 0.0, 0.05]
    fan_in = shape[0] if key == "roi_heads.mask_predictor.conv5_mask.weight" else int(np.prod(shape[1:]))
    std = float(np.sqrt(2.0 / fan_in))
    if key.startswith("backbone.fpn.inner_blocks") and key.endswith("weight"):
        std /= 13.0  # random BN statistics leave the body output at std ≈ 13; bring the heads back to O(1)
    elif key == "rpn.head.cls_logits.weight":
        std = float(np.sqrt(1.0 / fan_in))
    elif key == "rpn.head.bbox_pred.weight":
        std = 0.2 / float(np.sqrt(fan_in))
    elif key == "roi_heads.box_predictor.cls_score.weight":
        std = 1.0 / float(np.sqrt(fan_in))
    elif key == "roi_heads.box_predictor.bbox_pred.weight":
        std = 1.0 / float(np.sqrt(fan_in))
    return ["normal", 0.0, std]


def generate(key, shape, spec):
    generator = SeededGenerator(SEED, key)
    count = int(np.prod(shape)) if len(shape) else 1
    draw = generator.next_normal if spec[0] == "normal" else generator.next_uniform
    a32, b32 = np.float32(spec[1]), np.float32(spec[2])
    offsets = spec[3] if len(spec) > 3 else None
    values = np.empty(count, dtype=np.float32)
    for i in range(count):
        value = np.float32(a32 + b32 * draw())
        if offsets is not None:
            value = np.float32(value + np.float32(offsets[i]))
        values[i] = value
    return torch.from_numpy(values.reshape(shape))


def fill_weights(model):
    rules, probes = {}, {}
    state = model.state_dict()
    for modern_key, tensor in state.items():
        key = next(iter(cc.seed_state_dict({modern_key: tensor})))
        if key.endswith("num_batches_tracked"):
            tensor.fill_(NUM_BATCHES_TRACKED)
            continue
        spec = rule(key, list(tensor.shape))
        rules[key] = spec
        value = generate(key, list(tensor.shape), spec)
        tensor.copy_(value)
        probes[f"probe.{key}"] = value.reshape(-1)[:8].clone()
    return rules, probes


def save_seed_checkpoint(path, state, legacy=False):
    """The seed's dict layout (spec §6.1), AnchorGenerator pickled from a module named like the original's.
    `legacy` writes torch 1.1's pre-zip serialisation, which the published checkpoints use."""
    names = ["models", "models.mask_net", "models.mask_net.rpn_segmentation"]
    for name in names:
        sys.modules[name] = types.ModuleType(name)

    class SeedAnchorGenerator(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.sizes = (SIZES,) * 5  # the seed passes five identical per-level entries
            self.aspect_ratios = (RATIOS,) * 5
            self.cell_anchors = None
            self._cache = {}

    SeedAnchorGenerator.__module__ = "models.mask_net.rpn_segmentation"
    SeedAnchorGenerator.__qualname__ = SeedAnchorGenerator.__name__ = "AnchorGenerator"
    sys.modules["models.mask_net.rpn_segmentation"].AnchorGenerator = SeedAnchorGenerator
    try:
        torch.save({"epoch": "12", "model_name": "fixture_r18_t1", "model_weights": state,
                    "optimizer_state": {"state": {}, "param_groups": [{"lr": 1e-5}]}, "lrate": 1e-5,
                    "anchor_generator": SeedAnchorGenerator()}, path, _use_new_zipfile_serialization=not legacy)
    finally:
        for name in names:
            del sys.modules[name]


def full_model_header(tmp):
    """The full configuration (ResNet50 + 4-level FPN, four-conv mask head, mask type both) built from torchvision
    parts with default init, saved in the seed's layout and converted: the converted header (key → dtype, shape) and
    metadata, which the Swift test compares with its own ResNet50 model (names and shapes only; 32 M weights are
    not stored)."""
    class FullBackbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = IntermediateLayerGetter(torchvision.models.resnet50(weights=None),
                                                return_layers={"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"})
            self.fpn = FeaturePyramidNetwork([256, 512, 1024, 2048], 256, extra_blocks=None)
            self.out_channels = 256

    names = ["0", "1", "2", "3"]
    model = MaskRCNN(
        FullBackbone(), num_classes=None, rpn_anchor_generator=AnchorGenerator(sizes=(SIZES,) * 4, aspect_ratios=(RATIOS,) * 4),
        rpn_head=RPNHead(256, 30), box_roi_pool=MultiScaleRoIAlign(names, 7, 2), box_head=TwoMLPHead(256 * 7 * 7, 128),
        box_predictor=FastRCNNPredictor(128, 3), mask_roi_pool=MultiScaleRoIAlign(names, 14, 2),
        mask_head=MaskRCNNHeads(256, (256, 256, 256, 256), 1), mask_predictor=MaskRCNNPredictor(256, 256, 3))
    pth = os.path.join(tmp, "full.pth")
    save_seed_checkpoint(pth, model.state_dict())
    out = os.path.join(tmp, "full.safetensors")
    meta = cc.convert(pth, out)  # three classes: mask type both without --mask-type
    assert meta["backbone"] == "resnet50" and meta["truncation"] == "0" and meta["mask_type"] == "both", meta
    from safetensors import safe_open
    with safe_open(out, "pt") as handle:
        header = {k: [str(handle.get_slice(k).get_dtype()), list(handle.get_slice(k).get_shape())] for k in handle.keys()}
    assert len(header) == len(model.state_dict())
    return header, meta


def seed_inference(model, image):
    """Inference as torchvision 0.3 / the seed does it (spec §3.4, §4.6)."""
    model.rpn.min_size = 0.0  # seed: remove_small_boxes(min_size=0) keeps zero-area proposals
    with torch.no_grad():
        images, _ = model.transform([image])
        features = model.backbone(images.tensors)
        proposals, _ = model.rpn(images, features)
        heads = model.roi_heads
        pooled = heads.box_roi_pool(features, proposals, images.image_sizes)
        logits, deltas = heads.box_predictor(heads.box_head(pooled))
        image_size = images.image_sizes[0]
        boxes = heads.box_coder.decode(deltas, proposals)  # [R, n_c, 4]
        boxes = box_ops.clip_boxes_to_image(boxes, image_size)
        scores = F.softmax(logits, -1)
        n_c = scores.shape[1]
        labels = torch.arange(n_c).view(1, -1).expand_as(scores)
        boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        keep = (area > 0) & (scores > 0.05)  # the seed's area > 0 filter, then score > box_score_thresh
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        offsets = labels.to(boxes) * (boxes.max() + 1)  # the seed's batched NMS: shift boxes per class
        keep = box_ops.nms(boxes + offsets[:, None], scores, 0.5)[:100]
        order_gaps = scores[keep].sort(descending=True).values
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        mask_logits = heads.mask_predictor(heads.mask_head(heads.mask_roi_pool(features, [boxes], images.image_sizes)))
        selected = mask_logits[torch.arange(len(labels)), labels][:, None]  # raw logits, no sigmoid
        original = (image.shape[1], image.shape[2])
        boxes = resize_boxes(boxes, image_size, original)
        masks = paste_masks_in_image(selected, boxes, original, padding=1)[:, 0]
    gaps = (order_gaps[:-1] - order_gaps[1:]).min().item() if len(order_gaps) > 1 else float("inf")
    return proposals[0].shape[0], boxes, scores, labels, masks, gaps, images.image_sizes[0]


def test_image():
    """An 80×112 slice-like image: a bright ellipse with darker blobs, quantised to 8 bits."""
    y, x = torch.meshgrid(torch.arange(HEIGHT, dtype=torch.float64), torch.arange(WIDTH, dtype=torch.float64), indexing="ij")
    body = (((x - 56) / 50) ** 2 + ((y - 40) / 34) ** 2 < 1).double() * 0.6
    lungs = sum(((((x - cx) / 16) ** 2 + ((y - 38) / 22) ** 2) < 1).double() for cx in (34, 78)) * -0.45
    lesion = torch.exp(-(((x - 30) / 5) ** 2 + ((y - 44) / 6) ** 2)) * 0.5
    grey = (body + lungs + lesion + 0.08 * torch.sin(x / 3) * torch.cos(y / 4)).clamp(0, 1)
    grey = torch.round(grey * 255) / 255
    return grey.float()[None].repeat(3, 1, 1)


def main():
    torch.manual_seed(0)
    model = build_model()
    rules, probes = fill_weights(model)
    modern_state = copy.deepcopy(model.state_dict())

    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "fixture_r18_t1_ckpt_12.pth")
        save_seed_checkpoint(pth, modern_state)
        assert "models.mask_net.rpn_segmentation" not in sys.modules
        converted = os.path.join(tmp, "converted.safetensors")
        meta = cc.convert(pth, converted, mask_type="merge")
        # transform sizes are not stored in .pth files; this fixture uses a small min_size (see the docstring)
        meta = cc.convert_state(cc.read_seed_checkpoint(pth), pth, converted, "merge", 0.75, MIN_SIZE, MAX_SIZE)
        tensors = load_file(converted)
        seed_named = cc.seed_state_dict(modern_state)
        assert sorted(tensors) == sorted(seed_named), set(tensors) ^ set(seed_named)
        for key, value in seed_named.items():
            if key.endswith("num_batches_tracked"):
                assert tensors[key].dtype == torch.int64 and tensors[key].shape == () and tensors[key].item() == NUM_BATCHES_TRACKED, key
            else:
                assert tensors[key].dtype == torch.float32 and torch.equal(tensors[key], value), key
        assert meta["epoch"] == "12" and meta["model_name"] == "fixture_r18_t1" and meta["backbone"] == "resnet18"
        assert meta["truncation"] == "1" and meta["anchor_sizes"] == "2.0,4.0,8.0,16.0,32.0", meta
        # The same weights under the seed's own (torchvision 0.3) key names convert to the same file content.
        old = os.path.join(tmp, "old_names.pth")
        torch.save({"epoch": "12", "model_name": "fixture_r18_t1", "model_weights": seed_named}, old)
        cc.convert_state(cc.read_seed_checkpoint(old), old, os.path.join(tmp, "old.safetensors"), "merge", 0.75, MIN_SIZE, MAX_SIZE)
        old_tensors = load_file(os.path.join(tmp, "old.safetensors"))
        assert all(torch.equal(old_tensors[k], tensors[k]) for k in tensors)
        try:
            cc.convert(pth, os.path.join(tmp, "refused.safetensors"))
            raise AssertionError("a 2-class checkpoint without --mask-type must be refused")
        except cc.ConversionError as error:
            assert "--mask-type" in str(error) and pth in str(error), error
        from safetensors import safe_open
        with safe_open(converted, "pt") as handle:
            header = {k: [str(handle.get_slice(k).get_dtype()), list(handle.get_slice(k).get_shape())] for k in handle.keys()}
            stored_meta = handle.metadata()
        assert stored_meta == meta
        legacy = os.path.join(tmp, "legacy.pth")
        save_seed_checkpoint(legacy, modern_state, legacy=True)
        cc.convert_state(cc.read_seed_checkpoint(legacy), legacy, os.path.join(tmp, "legacy.safetensors"), "merge", 0.75,
                         MIN_SIZE, MAX_SIZE)
        legacy_tensors = load_file(os.path.join(tmp, "legacy.safetensors"))
        assert all(torch.equal(legacy_tensors[k], tensors[k]) for k in tensors)
        full_header, full_meta = full_model_header(tmp)

    image = test_image()
    proposal_count, boxes, scores, labels, masks, gap, resized = seed_inference(model, image)
    print(f"resized to {resized}, {proposal_count} proposals, {len(scores)} detections, "
          f"smallest gap between sorted scores {gap:.2e}")
    assert 0 < len(scores) < 100, "tune the class bias: the fixture wants a few dozen detections"
    stored = min(len(scores), STORED_MASKS)
    tensors = dict(probes)
    tensors.update({"input": image.contiguous(), "boxes": boxes.contiguous(), "scores": scores.contiguous(),
                    "labels": labels.to(torch.int64).contiguous(), "masks": masks[:stored].contiguous(),
                    "proposal_count": torch.tensor(proposal_count, dtype=torch.int64)})
    metadata = {"made_by": "Tools/make_torchvision_model_fixture.py", "torch": torch.__version__,
                "torchvision": torchvision.__version__, "seed": str(SEED), "weights": json.dumps(rules, sort_keys=True),
                "checkpoint_metadata": json.dumps(meta, sort_keys=True), "checkpoint_header": json.dumps(header, sort_keys=True),
                "num_batches_tracked": str(NUM_BATCHES_TRACKED),
                "full_checkpoint_header": json.dumps(full_header, sort_keys=True),
                "full_checkpoint_metadata": json.dumps(full_meta, sort_keys=True)}
    save_deterministic(tensors, OUT, metadata)  # sorted metadata keys: reruns give identical bytes
    print(f"{OUT}: {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    main()
