#!/usr/bin/env python3
"""Opens `.pth` files written by masknet's own writer with `torch.load` and compares every tensor with the
safetensors file written beside it (a developer check of TorchCheckpointWriter; CI has no torch):

    MASKNET_PTH_FOR_PYTHON=/tmp/pth-check swift test -c release -Xswiftc -enable-testing \\
        --filter PublishedCheckpointImportTests/testWriteForTorchLoad
    /work/refenv/bin/python Tools/check_swift_written_pth.py /tmp/pth-check

Each file is loaded twice: with `weights_only=False` (what the seed's scripts do; torchvision rebuilds the
pickled AnchorGenerator, whose sizes and aspect ratios are printed) and with `weights_only=True` after
allowing torchvision's AnchorGenerator class (torch's safe loader, which refuses any other global).
"""
import pathlib
import sys

import torch
import torchvision  # noqa: F401  (the pickle names torchvision.models.detection.anchor_utils.AnchorGenerator)
from safetensors.torch import load_file
from torchvision.models.detection.anchor_utils import AnchorGenerator

folder = pathlib.Path(sys.argv[1])
files = sorted(folder.glob("*.pth"))
if not files:
    sys.exit(f"no .pth files in {folder}: run the Swift test with MASKNET_PTH_FOR_PYTHON={folder} first")
failures = 0
for path in files:
    expected = load_file(str(path.with_suffix(".safetensors")))
    for weights_only in (False, True):
        if weights_only:
            with torch.serialization.safe_globals([AnchorGenerator]):
                checkpoint = torch.load(path, weights_only=True)
        else:
            checkpoint = torch.load(path, weights_only=False)
        weights = checkpoint["model_weights"]
        mismatched = [name for name, tensor in expected.items()
                      if name not in weights or weights[name].shape != tensor.shape or not torch.equal(weights[name], tensor)]
        extra = sorted(set(weights) - set(expected))
        anchors = checkpoint["anchor_generator"]
        print(f"{path.name} weights_only={weights_only}: {len(weights)} tensors, {len(mismatched)} differ, {len(extra)} extra; "
              f"epoch {checkpoint['epoch']!r}, model_name {checkpoint['model_name']!r}, "
              f"AnchorGenerator sizes {anchors.sizes[0]} aspect_ratios {anchors.aspect_ratios[0]} "
              f"({type(weights).__name__})")
        failures += len(mismatched) + len(extra)
print(f"torch {torch.__version__}, torchvision {torchvision.__version__}: {'all equal' if failures == 0 else f'{failures} problems'}")
sys.exit(1 if failures else 0)
