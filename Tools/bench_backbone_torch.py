#!/usr/bin/env python3
"""PyTorch side of `masknet bench backbone`: the seed's backbone+FPN (spec §2.2) built from torchvision
parts, timed exactly like the Swift side (one warm-up, then the median of N runs of forward, and of
forward + backward with every output element's gradient = 1, BN in training mode).
Prints one JSON object. Needs torch and torchvision (never run by CI)."""
import argparse, json, resource, time
import torch
from torchvision.models import resnet18, resnet34, resnet50
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.ops import FeaturePyramidNetwork

p = argparse.ArgumentParser()
p.add_argument("--backbone", default="resnet18-1")
p.add_argument("--size", type=int, default=512)
p.add_argument("--runs", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
name, _, trunc = a.backbone.partition("-")
trunc = int(trunc or 0)
net = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}[name](weights=None)
if name == "resnet50":
    layers, channels = {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}, [256, 512, 1024, 2048]
else:
    last = 4 - trunc
    layers, channels = {f"layer{last}": "0"}, [[128, 256, 512][last - 2]]
body = IntermediateLayerGetter(net, return_layers=layers)
fpn = FeaturePyramidNetwork(channels, 256, extra_blocks=None)
model = torch.nn.Sequential(body, fpn).train()
x = torch.randn(1, 3, a.size, a.size)

def step(backward):
    out = model(x)
    if backward:
        sum(v.sum() for v in out.values()).backward()
        model.zero_grad(set_to_none=True)

def median(v):
    v = sorted(v); n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

step(True)
fwd = []
for _ in range(a.runs):
    t = time.perf_counter(); step(False); fwd.append(time.perf_counter() - t)
both = []
for _ in range(a.runs):
    t = time.perf_counter(); step(True); both.append(time.perf_counter() - t)
print(json.dumps({"backbone": a.backbone, "forward_seconds": median(fwd), "forward_backward_seconds": median(both),
                  "peak_resident_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "threads": torch.get_num_threads(), "torch": torch.__version__}))
