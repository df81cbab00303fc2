#!/usr/bin/env python3
"""Writes the .pth fixtures of Tests/TorchSerializationTests/Fixtures and the tensors torch.load reads from them.

    ../refenv/bin/python Tools/make_pth_fixtures.py

Needs torch and torchvision. Writes, with a fixed seed:
  * seed_layout_zip.pth     torch.save's zip format (torch >= 1.6)
  * seed_layout_legacy.pth  the legacy format (_use_new_zipfile_serialization=False)
  * seed_layout_expected.json  every tensor torch.load returns from both (they hold the same object), by
    path (`model_weights.<key>`, `optimizer_state.state.0.exp_avg`, `anchor_generator.cell_anchors.0`…) with
    dtype, shape and values (float16/bfloat16 widened to float32 exactly; float64 kept), plus the scalars.

The object has the dict layout of the seed's train_segmentation.py (spec §6.1): `epoch` as a string,
`model_weights` (an OrderedDict state dict), `optimizer_state` (a real Adam state dict after one step),
`lrate`, `anchor_generator` (a pickled torchvision AnchorGenerator with the seed's sizes and ratios) and
`model_name`. The model is a reduced one (a few small tensors under the seed's key names) so the files
stay a few KB; it also holds what the Swift reader must get right: a transposed (non-contiguous) view and
an offset slice sharing one storage, a stride-0 expanded view, an nn.Parameter, float16, bfloat16,
float64 and int64 tensors, and BatchNorm's int64 num_batches_tracked.
"""
import collections
import json
import os
import sys

import torch
import torchvision
from torchvision.models.detection.anchor_utils import AnchorGenerator

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "TorchSerializationTests", "Fixtures")

SEED_SIZES = ((2, 4, 8, 16, 32),) * 5
SEED_RATIOS = ((0.1, 0.25, 0.5, 1, 1.5, 2),) * 5


def make_object():
    torch.manual_seed(20261207)
    conv = torch.nn.Conv2d(3, 4, 3, bias=False)
    bn = torch.nn.BatchNorm2d(4)
    head = torch.nn.Linear(6, 2)
    model = torch.nn.ModuleDict({"conv": conv, "bn": bn, "head": head})
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5, weight_decay=1e-3)
    loss = head(bn(conv(torch.randn(2, 3, 5, 5))).mean(dim=(2, 3))[:, :6].repeat(1, 2)[:, :6]).sum()
    loss.backward()
    optimizer.step()
    bn.train()
    bn(torch.randn(2, 4, 3, 3))  # running statistics and num_batches_tracked move

    weights = collections.OrderedDict()
    weights["backbone.body.conv1.weight"] = conv.weight.detach().clone()
    for name in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        weights[f"backbone.body.bn1.{name}"] = getattr(bn, name).detach().clone()
    weights["roi_heads.box_predictor.cls_score.weight"] = head.weight.detach().clone()
    weights["roi_heads.box_predictor.cls_score.bias"] = head.bias.detach().clone()
    # Views sharing one storage: a transposed matrix and an offset slice of the same base.
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
    weights["views.transposed"] = base.t()
    weights["views.slice"] = base[1:3, 2:5]
    weights["views.expanded"] = torch.tensor([1.5, -2.25]).reshape(2, 1).expand(2, 3)
    weights["dtypes.float16"] = (torch.randn(3, 2) * 10).to(torch.float16)
    weights["dtypes.bfloat16"] = (torch.randn(5) * 3).to(torch.bfloat16)
    weights["dtypes.float64"] = torch.randn(2, 2, dtype=torch.float64)
    weights["dtypes.int64"] = torch.tensor([[-3, 0, 2**40]], dtype=torch.int64)
    weights["dtypes.scalar"] = torch.tensor(0.125)

    anchors = AnchorGenerator(sizes=SEED_SIZES, aspect_ratios=SEED_RATIOS)
    return {
        "epoch": "3",
        "model_weights": weights,
        "optimizer_state": optimizer.state_dict(),
        "lrate": 1e-5,
        "anchor_generator": anchors,
        "model_name": "fixture_segmentation_model",
        "parameter": torch.nn.Parameter(torch.tensor([0.5, -1.0])),
    }


def tensors_by_path(value, path, out):
    if torch.is_tensor(value):
        if value.dtype in (torch.float16, torch.bfloat16, torch.float32):
            values = value.detach().to(torch.float32).reshape(-1).tolist()
            dtype = "float32"
        elif value.dtype == torch.float64:
            values, dtype = value.detach().reshape(-1).tolist(), "float64"
        else:
            values, dtype = value.detach().to(torch.int64).reshape(-1).tolist(), "int64"
        out[path] = {"source_dtype": str(value.dtype).replace("torch.", ""), "dtype": dtype,
                     "shape": list(value.shape), "values": values}
    elif isinstance(value, dict):
        for key, item in value.items():
            tensors_by_path(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            tensors_by_path(item, f"{path}.{index}", out)
    elif isinstance(value, AnchorGenerator):
        tensors_by_path(value.cell_anchors, f"{path}.cell_anchors", out)
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    obj = make_object()
    zip_path = os.path.join(OUT, "seed_layout_zip.pth")
    legacy_path = os.path.join(OUT, "seed_layout_legacy.pth")
    torch.save(obj, zip_path)
    torch.save(obj, legacy_path, _use_new_zipfile_serialization=False)
    expected = None
    for path in (zip_path, legacy_path):
        loaded = torch.load(path, map_location="cpu", weights_only=False)
        tensors = tensors_by_path(loaded, "", {})
        if expected is None:
            expected = tensors
        assert tensors == expected, f"{path} loads differently"
    loaded = torch.load(zip_path, map_location="cpu", weights_only=False)
    groups = loaded["optimizer_state"]["param_groups"]
    document = {
        "generator": "Tools/make_pth_fixtures.py",
        "torch": torch.__version__, "torchvision": torchvision.__version__,
        "epoch": loaded["epoch"], "lrate": loaded["lrate"], "model_name": loaded["model_name"],
        "anchor_class": f"{type(loaded['anchor_generator']).__module__}.{type(loaded['anchor_generator']).__qualname__}",
        "anchor_sizes": [list(s) for s in loaded["anchor_generator"].sizes],
        "anchor_aspect_ratios": [list(r) for r in loaded["anchor_generator"].aspect_ratios],
        "param_groups": [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()
                          if isinstance(v, (int, float, bool, list, tuple))} for g in groups],
        "model_weight_keys": list(loaded["model_weights"].keys()),
        "tensors": expected,
    }
    with open(os.path.join(OUT, "seed_layout_expected.json"), "w") as handle:
        json.dump(document, handle, indent=1, sort_keys=True)
        handle.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(f"{name}: {os.path.getsize(os.path.join(OUT, name))} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
