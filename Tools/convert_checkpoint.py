#!/usr/bin/env python3
"""Converts COVID-CT-Mask-Net segmentation checkpoints (.pth) into masknet safetensors checkpoints.

    python Tools/convert_checkpoint.py seed_checkpoint.pth out.safetensors [--mask-type merge|ggo|both]
        [--rpn-nms-threshold 0.75]

Needs torch, numpy and safetensors (no torchvision, no copy of the original repository).

Input: the dict the seed's train_segmentation.py saves (spec §6.1): `model_weights` (state dict),
`anchor_generator` (a pickled `models.mask_net.rpn_segmentation.AnchorGenerator` or
`models.mask_net.rpn.AnchorGenerator` object; only its `.sizes` and `.aspect_ratios` are read), `epoch`
(a string), `model_name`, plus `optimizer_state` and `lrate`, which are not converted. Unpickling the
anchor generator does not need the original code: a custom Unpickler maps those class paths to a
stand-in class that just keeps the pickled attributes. A bare state dict (or a dict with only
`model_weights`) is accepted too; the anchors then default to the seed's (spec §3.1).

What is inferred from the tensor shapes (spec §2.2, Appendix A):
  * depth: ResNet50 if `layer1.0.conv3` exists (bottleneck), else ResNet18/34 by the block count of layer1;
  * truncation: the last ResNet stage present (layer4 → 0, layer3 → 1, layer2 → 2);
  * n_c from `roi_heads.box_predictor.cls_score.weight`; n_c = 3 is mask type `both`; n_c = 2 is `merge`
    or `ggo`, which the weights cannot tell apart, so --mask-type is then required;
  * the mask head (one 128-channel conv for ResNet18/34, four 256-channel convs for ResNet50) and the
    TwoMLPHead width; a checkpoint whose heads differ from the seed's scripts is refused with the tensor.
State-dict keys written by torchvision ≥ 0.13 (`rpn.head.conv.0.0.weight`, `backbone.fpn.inner_blocks.0.0.weight`,
`roi_heads.mask_head.0.0.weight`) are renamed to the seed's names, which are ours.

Output: safetensors with every float tensor as F32 under its state_dict key, `num_batches_tracked` as I64
scalars, and a `__metadata__` block with exactly the keys of Swift's `MaskRCNNConfiguration.metadata()`
(format, backbone, truncation, mask_type, num_classes, anchor_sizes, aspect_ratios, configuration — the
latter the JSON of the Swift Codable `MaskRCNNConfiguration`, field for field) plus provenance keys
`epoch` (completed epochs, spec Appendix D/B13), `model_name`, `converted_from` and `converter`.
Exit status 1 with a message naming the file on any problem.
"""
import argparse
import collections
import io
import json
import os
import pickle
import re
import struct
import sys
import types

import numpy as np
import torch

SEED_ANCHOR_SIZES = (2, 4, 8, 16, 32)
SEED_ASPECT_RATIOS = (0.1, 0.25, 0.5, 1, 1.5, 2)
ORIGINAL_ANCHOR_CLASSES = {
    ("models.mask_net.rpn_segmentation", "AnchorGenerator"),
    ("models.mask_net.rpn", "AnchorGenerator"),
}


class ConversionError(Exception):
    """A problem with the input checkpoint; the message names the file and what to do."""


# ----------------------------------------------------------------------------------------------------
# Reading the .pth without the original code


class AnchorGeneratorStandIn:
    """Receives the attributes of the seed's pickled AnchorGenerator (an nn.Module subclass); nothing else."""

    def __setstate__(self, state):
        self.__dict__.update(state)


class _SeedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ORIGINAL_ANCHOR_CLASSES:
            return AnchorGeneratorStandIn
        if module.startswith("models."):
            raise pickle.UnpicklingError(
                f"the checkpoint pickles {module}.{name}, an object of the original code other than the "
                "AnchorGenerator; only the seed's checkpoint dict layout (spec §6.1) can be converted")
        return super().find_class(module, name)


def _pickle_module():
    """A pickle-module look-alike for torch.load whose Unpickler knows the stand-in."""
    module = types.ModuleType("seed_checkpoint_pickle")
    module.__dict__.update({k: getattr(pickle, k) for k in dir(pickle) if not k.startswith("__")})
    module.Unpickler = _SeedUnpickler
    module.load = lambda file, **kwargs: _SeedUnpickler(file, **kwargs).load()
    module.loads = lambda data, **kwargs: _SeedUnpickler(io.BytesIO(data), **kwargs).load()
    return module


def read_seed_checkpoint(path):
    """The checkpoint dict: {'model_weights', 'anchor_generator' (stand-in or None), 'epoch', 'model_name'}."""
    if not os.path.isfile(path):
        raise ConversionError(f"{path}: no such file")
    try:
        loaded = torch.load(path, map_location="cpu", pickle_module=_pickle_module(), weights_only=False)
    except Exception as error:  # torch raises many kinds for damaged or foreign files
        raise ConversionError(f"{path}: cannot be read as a PyTorch checkpoint ({error})") from error
    if isinstance(loaded, dict) and "model_weights" in loaded:
        return {"model_weights": loaded["model_weights"], "anchor_generator": loaded.get("anchor_generator"),
                "epoch": loaded.get("epoch"), "model_name": loaded.get("model_name")}
    if isinstance(loaded, dict) and loaded and all(torch.is_tensor(v) for v in loaded.values()):
        return {"model_weights": loaded, "anchor_generator": None, "epoch": None, "model_name": None}
    raise ConversionError(f"{path}: neither the seed's checkpoint dict (with 'model_weights') nor a state dict")


# ----------------------------------------------------------------------------------------------------
# State dict → our names and our configuration

_MODERN_RENAMES = [
    (re.compile(r"^rpn\.head\.conv\.0\.0\.(weight|bias)$"), lambda m: f"rpn.head.conv.{m[1]}"),
    (re.compile(r"^backbone\.fpn\.(inner|layer)_blocks\.(\d+)\.0\.(weight|bias)$"),
     lambda m: f"backbone.fpn.{m[1]}_blocks.{m[2]}.{m[3]}"),
    (re.compile(r"^roi_heads\.mask_head\.(\d+)\.0\.(weight|bias)$"),
     lambda m: f"roi_heads.mask_head.mask_fcn{int(m[1]) + 1}.{m[2]}"),
]


def seed_state_dict(state):
    """Tensors under the seed's (torchvision 0.3) keys: strips a DataParallel `module.` prefix and renames
    the Conv2dNormActivation keys of torchvision ≥ 0.13."""
    keys = list(state.keys())
    if keys and all(k.startswith("module.") for k in keys):
        state = collections.OrderedDict((k[len("module."):], v) for k, v in state.items())
    renamed = collections.OrderedDict()
    for key, value in state.items():
        for pattern, replacement in _MODERN_RENAMES:
            match = pattern.match(key)
            if match:
                key = replacement(match)
                break
        renamed[key] = value
    return renamed


def _stage_blocks(state, stage):
    return sorted({int(m[1]) for k in state for m in [re.match(rf"^backbone\.body\.layer{stage}\.(\d+)\.", k)] if m})


def infer_architecture(state, path, mask_type=None):
    """(depth, truncation, n_c, mask_type, representation size) from the tensor shapes."""
    def need(key):
        if key not in state:
            raise ConversionError(f"{path}: tensor {key} is missing; this is not a seed segmentation checkpoint")
        return state[key]

    need("backbone.body.conv1.weight")
    if "backbone.body.layer1.0.conv3.weight" in state:
        depth = "resnet50"
    else:
        blocks = len(_stage_blocks(state, 1))
        depth = {2: "resnet18", 3: "resnet34"}.get(blocks)
        if depth is None:
            raise ConversionError(f"{path}: backbone.body.layer1 has {blocks} blocks; expected 2 (ResNet18) or 3 (ResNet34)")
    last_stage = max(s for s in (1, 2, 3, 4) if _stage_blocks(state, s))
    if depth == "resnet50":
        if last_stage != 4:
            raise ConversionError(f"{path}: a ResNet50 checkpoint must keep layer4 (the seed ignores truncation for it)")
        truncation = 0
    else:
        truncation = {4: 0, 3: 1, 2: 2}.get(last_stage)
        if truncation is None:
            raise ConversionError(f"{path}: the ResNet body ends at layer{last_stage}; the seed keeps layer2, layer3 or layer4")
    inner = sorted(int(m[1]) for k in state for m in [re.match(r"^backbone\.fpn\.inner_blocks\.(\d+)\.weight$", k)] if m)
    expected_levels = 4 if depth == "resnet50" else 1
    if len(inner) != expected_levels:
        raise ConversionError(f"{path}: the FPN has {len(inner)} levels; {depth} needs {expected_levels}")

    n_c = int(need("roi_heads.box_predictor.cls_score.weight").shape[0])
    if n_c == 3:
        if mask_type not in (None, "both"):
            raise ConversionError(f"{path}: the weights have 3 classes (GGO + consolidation) but --mask-type {mask_type} has 2")
        mask_type = "both"
    elif n_c == 2:
        if mask_type not in ("merge", "ggo"):
            raise ConversionError(
                f"{path}: the weights have 2 classes, which is mask type 'merge' (lesion) or 'ggo'; the checkpoint "
                "does not say which, so pass --mask-type merge or --mask-type ggo")
    else:
        raise ConversionError(f"{path}: roi_heads.box_predictor.cls_score has {n_c} classes; the seed has 2 or 3")

    representation = int(need("roi_heads.box_head.fc6.weight").shape[0])
    if tuple(need("roi_heads.box_head.fc6.weight").shape) != (representation, 256 * 7 * 7):
        raise ConversionError(f"{path}: roi_heads.box_head.fc6.weight has shape {tuple(state['roi_heads.box_head.fc6.weight'].shape)}; expected [R, 12544]")

    light = depth != "resnet50"
    head_widths = [int(state[f"roi_heads.mask_head.mask_fcn{i}.weight"].shape[0])
                   for i in range(1, 9) if f"roi_heads.mask_head.mask_fcn{i}.weight" in state]
    expected_head = [128] if light else [256, 256, 256, 256]
    predictor = tuple(need("roi_heads.mask_predictor.conv5_mask.weight").shape)
    expected_predictor = (expected_head[-1], 128 if light else 256, 2, 2)
    if head_widths != expected_head or predictor != expected_predictor:
        raise ConversionError(
            f"{path}: mask head widths {head_widths} and roi_heads.mask_predictor.conv5_mask.weight {list(predictor)} "
            f"differ from the seed's {depth} model (head {expected_head}, predictor {list(expected_predictor)}); "
            "masknet builds only the seed's heads (spec §4.5)")
    return depth, truncation, n_c, mask_type, representation


def anchor_settings(anchor_generator, path, levels, anchors_per_location):
    """(sizes, aspect ratios) shared by every level, from the pickled generator (spec §3.1)."""
    if anchor_generator is None:
        sizes, ratios = list(SEED_ANCHOR_SIZES), list(SEED_ASPECT_RATIOS)
    else:
        try:
            all_sizes, all_ratios = anchor_generator.sizes, anchor_generator.aspect_ratios
        except AttributeError as error:
            raise ConversionError(f"{path}: the pickled anchor_generator has no sizes/aspect_ratios ({error})") from error
        # The seed stores one tuple per level (five identical entries); only as many as FPN levels are used.
        per_level_sizes = [tuple(s) if isinstance(s, (tuple, list)) else (s,) for s in all_sizes][:levels]
        per_level_ratios = [tuple(r) if isinstance(r, (tuple, list)) else (r,) for r in all_ratios][:levels]
        if len(per_level_sizes) < levels or len(per_level_ratios) < levels:
            raise ConversionError(f"{path}: anchor_generator has settings for fewer than the {levels} FPN levels")
        if len(set(per_level_sizes)) != 1 or len(set(per_level_ratios)) != 1:
            raise ConversionError(f"{path}: anchor sizes/ratios differ per level ({per_level_sizes}, {per_level_ratios}); "
                                  "masknet uses one set for every level")
        sizes, ratios = list(per_level_sizes[0]), list(per_level_ratios[0])
    if len(sizes) * len(ratios) != anchors_per_location:
        raise ConversionError(f"{path}: {len(sizes)} sizes × {len(ratios)} ratios = {len(sizes) * len(ratios)} anchors, "
                              f"but rpn.head.cls_logits predicts {anchors_per_location} per location")
    return sizes, ratios


# ----------------------------------------------------------------------------------------------------
# Our metadata, matching Swift's MaskRCNNConfiguration Codable encoding


def swift_float(value):
    """A Float as Swift's `description` prints it ("2.0", "0.1", "1e-05"): the shortest float32 repr."""
    return str(np.float32(value))


class _Raw(str):
    """A pre-formatted JSON number."""


def _json(value):
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, dict):
        # Sorted keys: Swift's JSONEncoder without .sortedKeys writes them in hash order (different every
        # process), so the only stable byte layout to match is the sorted one.
        return "{" + ",".join(json.dumps(k) + ":" + _json(value[k]) for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return json.dumps(value)


def _json_float(value):
    """A Float in JSON as Swift's JSONEncoder writes it: the description, without a trailing ".0"."""
    text = swift_float(value)
    return _Raw(text[:-2] if text.endswith(".0") else text)


def configuration(depth, truncation, mask_type, sizes, ratios, representation=128, rpn_nms_threshold=0.75,
                  min_size=512, max_size=1024):
    """The fields of MaskRCNNConfiguration (Codable key names) with the seed's defaults (spec §6.1, §10.3)."""
    f = _json_float
    return collections.OrderedDict([
        ("backbone", collections.OrderedDict([("depth", depth), ("truncation", truncation)])),
        ("maskType", mask_type),
        ("anchorSizes", [f(s) for s in sizes]),
        ("aspectRatios", [f(r) for r in ratios]),
        ("minSize", min_size), ("maxSize", max_size),
        ("imageMean", [f(0.485), f(0.456), f(0.406)]),
        ("imageStd", [f(0.229), f(0.224), f(0.225)]),
        ("rpnPreNMSTopNTrain", 2000), ("rpnPostNMSTopNTrain", 2000),
        ("rpnPreNMSTopNTest", 1000), ("rpnPostNMSTopNTest", 1000),
        ("rpnNMSThreshold", f(rpn_nms_threshold)),
        ("rpnForegroundIoU", f(0.7)), ("rpnBackgroundIoU", f(0.3)),
        ("rpnBatchSizePerImage", 256), ("rpnPositiveFraction", f(0.75)),
        ("boxForegroundIoU", f(0.75)), ("boxBackgroundIoU", f(0.5)),
        ("boxBatchSizePerImage", 256), ("boxPositiveFraction", f(0.75)),
        ("boxScoreThreshold", f(0.05)), ("boxNMSThreshold", f(0.5)),
        ("detectionsPerImage", 100),
        ("boxRegressionWeights", [f(10), f(10), f(5), f(5)]),
        ("representationSize", representation),
    ])


def metadata(config):
    """The metadata block of MaskRCNNConfiguration.metadata() for `config` (an OrderedDict as above)."""
    n_c = 3 if config["maskType"] == "both" else 2
    return {
        "format": "masknet-maskrcnn",
        "backbone": config["backbone"]["depth"],
        "truncation": str(config["backbone"]["truncation"]),
        "mask_type": config["maskType"],
        "num_classes": str(n_c),
        "anchor_sizes": ",".join(swift_float(float(s)) for s in config["anchorSizes"]),
        "aspect_ratios": ",".join(swift_float(float(r)) for r in config["aspectRatios"]),
        "configuration": _json(config),
    }


# ----------------------------------------------------------------------------------------------------
# Writing


def safetensors_tensors(state, path):
    """F32 contiguous tensors; num_batches_tracked as I64 scalars of shape []."""
    out = {}
    for key, value in state.items():
        if not torch.is_tensor(value):
            raise ConversionError(f"{path}: state dict entry {key} is not a tensor")
        if key.endswith("num_batches_tracked"):
            if value.numel() != 1:
                raise ConversionError(f"{path}: {key} has {value.numel()} elements; expected a scalar")
            out[key] = value.detach().to(torch.int64).reshape(())
        elif value.is_floating_point():
            out[key] = value.detach().to(torch.float32).contiguous().clone()
        else:
            raise ConversionError(f"{path}: tensor {key} has dtype {value.dtype}; only float weights and "
                                  "int64 num_batches_tracked are expected")
    return out


def write_safetensors(tensors, meta, out_path):
    """safetensors bytes with the metadata keys sorted (as our Swift writer does), written atomically."""
    from safetensors.torch import save
    data = save(tensors, metadata=meta)
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    temporary = out_path + ".tmp"
    with open(temporary, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text + data[8 + length:])
    os.replace(temporary, out_path)


def convert(pth_path, out_path, mask_type=None, rpn_nms_threshold=0.75):
    """Converts one checkpoint; returns the metadata written."""
    checkpoint = read_seed_checkpoint(pth_path)
    return convert_state(checkpoint, pth_path, out_path, mask_type, rpn_nms_threshold)


def convert_state(checkpoint, source, out_path, mask_type=None, rpn_nms_threshold=0.75, min_size=512, max_size=1024):
    """Converts an in-memory checkpoint dict (as `read_seed_checkpoint` returns it)."""
    state = seed_state_dict(checkpoint["model_weights"])
    depth, truncation, n_c, mask_type, representation = infer_architecture(state, source, mask_type)
    anchors_per_location = int(state["rpn.head.cls_logits.weight"].shape[0])
    sizes, ratios = anchor_settings(checkpoint.get("anchor_generator"), source,
                                    4 if depth == "resnet50" else 1, anchors_per_location)
    config = configuration(depth, truncation, mask_type, sizes, ratios, representation, rpn_nms_threshold,
                           min_size, max_size)
    meta = metadata(config)
    epoch = checkpoint.get("epoch")
    if epoch is not None:
        # The seed stores str(e + 1) after epoch index e, i.e. the number of completed epochs (B13).
        meta["epoch"] = str(int(epoch))
    if checkpoint.get("model_name") is not None:
        meta["model_name"] = str(checkpoint["model_name"])
    meta["converted_from"] = os.path.basename(source)
    meta["converter"] = f"Tools/convert_checkpoint.py (torch {torch.__version__})"
    write_safetensors(safetensors_tensors(state, source), meta, out_path)
    return meta


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="the seed's .pth segmentation checkpoint")
    parser.add_argument("output", help="the .safetensors file to write")
    parser.add_argument("--mask-type", choices=["merge", "ggo", "both"],
                        help="required for 2-class checkpoints (merge or ggo); 3 classes are always 'both'")
    parser.add_argument("--rpn-nms-threshold", type=float, default=0.75,
                        help="the --rpn_nms_th the model was used with (not stored in .pth files; seed default 0.75)")
    args = parser.parse_args(argv)
    try:
        meta = convert(args.checkpoint, args.output, args.mask_type, args.rpn_nms_threshold)
    except ConversionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {args.output}: {meta['backbone']} truncation {meta['truncation']}, mask type {meta['mask_type']}, "
          f"{meta['num_classes']} classes, anchors {meta['anchor_sizes']} x {meta['aspect_ratios']}, "
          f"epoch {meta.get('epoch', '?')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
