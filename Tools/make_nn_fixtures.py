#!/usr/bin/env python3
"""Reference fixtures for the NeuralNetwork and VisionBackbones tests, computed with PyTorch.

Run by a developer with torch installed (never by CI):

    /work/refenv/bin/python Tools/make_nn_fixtures.py            # (re)write every fixture
    /work/refenv/bin/python Tools/make_nn_fixtures.py --check-swift-written FILE
        # load a file written by the Swift test `SafeTensorsTests.testWriteForPython` with the Python
        # safetensors package and compare every tensor and the metadata with what the test wrote

Files written (all small; every one carries the torch/safetensors versions in `__metadata__`):

* Tests/NeuralNetworkTests/Fixtures/ops.safetensors: forward outputs and input/weight gradients, for a
  fixed random upstream gradient, of conv2d, conv_transpose2d, linear, batch_norm (train/eval), relu,
  max_pool2d, nearest and bilinear interpolation, flatten, add, and of the four losses. Each config's
  hyperparameters are a JSON string under the config's name in the metadata. References are computed in
  float64 from float32 inputs and stored as float32, so they are as exact as float32 allows.
* Tests/NeuralNetworkTests/Fixtures/optimizers.safetensors: Adam, AdamW and SGD trajectories.
* Tests/NeuralNetworkTests/Fixtures/python_written.safetensors: a file written by the safetensors package
  with one metadata key, which our writer must reproduce byte for byte.
* Tests/VisionBackbonesTests/Fixtures/resnet18_t1_fpn.safetensors: torchvision ResNet18 body up to
  layer3 plus FeaturePyramidNetwork([256], 256), one training-mode pass on a 1x3x64x64 input.
  The 2.8 M weights are NOT stored (11 MB would break the fixture budget); instead every tensor is drawn
  from our own SeededGenerator (ported below, bit-exact), tensor by tensor, so the Swift test regenerates
  the identical weights: for state_dict key K the generator is `SeededGenerator(seed: SEED, stream: K)`
  and element i (row-major) is `a + b * nextNormal()` or `a + b * nextUniform()` in Float, with
  (distribution, a, b) per key in the metadata entry `weights`. The first 8 values of every tensor are
  stored as `probe.<key>` so the test can prove its regeneration before comparing anything else.
"""
import argparse
import json
import math
import os
import struct
import sys

import numpy as np
import safetensors
import torch
import torch.nn.functional as F
import torchvision
from safetensors.torch import save, save_file, load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NN_FIXTURES = os.path.join(ROOT, "Tests", "NeuralNetworkTests", "Fixtures")
BACKBONE_FIXTURES = os.path.join(ROOT, "Tests", "VisionBackbonesTests", "Fixtures")
VERSIONS = f"torch {torch.__version__}, torchvision {torchvision.__version__}, safetensors {safetensors.__version__}"
MASK64 = (1 << 64) - 1


# ----------------------------------------------------------------------------------------------------
# Port of Sources/TensorCore/SeededGenerator.swift (xoshiro256** seeded by SplitMix64, Box-Muller in
# Double). Integer arithmetic is exact; the Double transcendental functions come from the same C libm.

class SeededGenerator:
    def __init__(self, seed, stream=None):
        if stream is not None:
            seed = SeededGenerator.derive(seed, stream)
        self.mixer = seed & MASK64
        self.s = [self._split_mix() for _ in range(4)]
        self.spare = None

    def _split_mix(self):
        self.mixer = (self.mixer + 0x9E3779B97F4A7C15) & MASK64
        z = self.mixer
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    @staticmethod
    def derive(seed, stream):
        h = 0xCBF29CE484222325 ^ seed
        for byte in stream.encode("utf-8"):
            h ^= byte
            h = (h * 0x00000100000001B3) & MASK64
        z = (h + 0x9E3779B97F4A7C15) & MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def next_uniform(self):
        return np.float32(np.float32(self.next() >> 40) * np.float32(1.0 / 16777216.0))

    def next_normal(self):
        if self.spare is not None:
            value, self.spare = self.spare, None
            return value
        u1 = float(self.next() >> 11) * (1.0 / 9007199254740992.0)
        if u1 < 1e-300:
            u1 = 1e-300
        u2 = float(self.next() >> 11) * (1.0 / 9007199254740992.0)
        radius = math.sqrt(-2.0 * math.log(u1))
        self.spare = np.float32(radius * math.sin(2.0 * math.pi * u2))
        return np.float32(radius * math.cos(2.0 * math.pi * u2))


def seeded_tensor(seed, stream, shape, distribution, a, b):
    """Float32 tensor: element i = a + b * draw, as `Float(a) + Float(b) * generator.next…()` in Swift."""
    generator = SeededGenerator(seed, stream)
    count = int(np.prod(shape)) if len(shape) else 1
    draw = generator.next_normal if distribution == "normal" else generator.next_uniform
    a32, b32 = np.float32(a), np.float32(b)
    values = np.empty(count, dtype=np.float32)
    for i in range(count):
        values[i] = a32 + b32 * draw()
    return torch.from_numpy(values.reshape(shape))


# ----------------------------------------------------------------------------------------------------
# Ops and losses

def save_deterministic(tensors, path, metadata):
    """`safetensors.torch.save_file`, but with the `__metadata__` keys sorted: the Rust core writes them in
    hash-map order, so reruns would otherwise change the bytes (never the content) of every fixture. The
    header is re-serialised exactly as serde_json writes it (compact, only control characters, quote and
    backslash escaped), and the result is checked by loading it back with the package."""
    data = save(tensors, metadata=metadata)
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + length])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert len(text) == len(data[8:8 + length].rstrip(b" ")), "re-serialised header changed length"
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text + data[8 + length:])
    loaded = load_file(path)
    assert sorted(loaded) == sorted(tensors) and all(torch.equal(loaded[k], tensors[k]) for k in tensors), path


def f32(t):
    return t.detach().to(torch.float32).contiguous().clone()


class OpFixtures:
    def __init__(self):
        self.tensors = {}
        self.metadata = {"made_by": "Tools/make_nn_fixtures.py", "versions": VERSIONS,
                         "note": "references computed in float64 from the stored float32 inputs"}
        self.generator = torch.Generator().manual_seed(1234)

    def randn(self, *shape, scale=1.0):
        return (torch.randn(tuple(shape), generator=self.generator) * scale).to(torch.float32)

    def rand(self, *shape):
        return torch.rand(tuple(shape), generator=self.generator).to(torch.float32)

    def put(self, name, tensor):
        assert name not in self.tensors, name
        self.tensors[name] = f32(tensor)

    def run(self, name, config, inputs, function):
        """inputs: dict of float32 tensors; every one gets a gradient. Stores inputs, output, a random
        grad_output and grad_<input> for each input."""
        self.metadata[name] = json.dumps(config, sort_keys=True)
        leaves = {}
        for key, value in inputs.items():
            self.put(f"{name}.{key}", value)
            leaves[key] = value.to(torch.float64).requires_grad_(True)
        output = function(**leaves)
        grad_output = self.randn(*output.shape)
        output.backward(grad_output.to(torch.float64))
        self.put(f"{name}.output", output)
        self.put(f"{name}.grad_output", grad_output)
        for key, leaf in leaves.items():
            self.put(f"{name}.grad_{key}", leaf.grad)


def make_ops():
    fx = OpFixtures()

    # conv2d
    conv_configs = {
        "conv_a": dict(shape=(2, 3, 7, 7), out=4, k=3, stride=1, padding=1, dilation=1, bias=True),
        "conv_b": dict(shape=(2, 3, 9, 9), out=4, k=7, stride=2, padding=3, dilation=1, bias=True),
        "conv_c": dict(shape=(2, 5, 8, 8), out=4, k=1, stride=2, padding=0, dilation=1, bias=False),
        "conv_d": dict(shape=(2, 3, 9, 7), out=5, k=3, stride=1, padding=2, dilation=2, bias=False),
        "conv_e": dict(shape=(2, 4, 7, 7), out=3, k=3, stride=2, padding=1, dilation=1, bias=False),
        "conv_f": dict(shape=(2, 3, 6, 5), out=4, k=3, stride=1, padding=0, dilation=1, bias=True),
    }
    for name, c in conv_configs.items():
        n, cin, h, w = c["shape"]
        inputs = {"input": fx.randn(n, cin, h, w), "weight": fx.randn(c["out"], cin, c["k"], c["k"], scale=0.3)}
        if c["bias"]:
            inputs["bias"] = fx.randn(c["out"], scale=0.3)
        fx.run(name, {k: c[k] for k in ("stride", "padding", "dilation", "bias")}, inputs,
               lambda input, weight, bias=None, c=c: F.conv2d(input, weight, bias, stride=c["stride"],
                                                               padding=c["padding"], dilation=c["dilation"]))

    # conv_transpose2d 2x2 stride 2, weight [in, out, 2, 2]
    fx.run("convt_a", {"stride": 2, "kernel": 2, "bias": True},
           {"input": fx.randn(2, 4, 5, 6), "weight": fx.randn(4, 3, 2, 2, scale=0.3), "bias": fx.randn(3, scale=0.3)},
           lambda input, weight, bias: F.conv_transpose2d(input, weight, bias, stride=2))
    fx.run("convt_b", {"stride": 2, "kernel": 2, "bias": False},
           {"input": fx.randn(1, 3, 4, 3), "weight": fx.randn(3, 5, 2, 2, scale=0.3)},
           lambda input, weight: F.conv_transpose2d(input, weight, None, stride=2))

    # linear
    fx.run("linear_a", {"bias": True},
           {"input": fx.randn(3, 7), "weight": fx.randn(5, 7, scale=0.3), "bias": fx.randn(5, scale=0.3)},
           lambda input, weight, bias: F.linear(input, weight, bias))
    fx.run("linear_b", {"bias": False},
           {"input": fx.randn(4, 6), "weight": fx.randn(2, 6, scale=0.3)},
           lambda input, weight: F.linear(input, weight))

    # batch norm: training (batch statistics, running update with momentum 0.1 and the unbiased variance)
    for name, training in (("bn_train", True), ("bn_eval", False)):
        channels = 3
        running_mean = fx.randn(channels, scale=0.2)
        running_var = 0.5 + fx.rand(channels)
        fx.put(f"{name}.running_mean", running_mean)
        fx.put(f"{name}.running_var", running_var)
        rm, rv = running_mean.to(torch.float64).clone(), running_var.to(torch.float64).clone()
        fx.run(name, {"training": training, "momentum": 0.1, "eps": 1e-5},
               {"input": fx.randn(2, channels, 5, 6, scale=1.5) + 0.3, "weight": 1 + fx.randn(channels, scale=0.2),
                "bias": fx.randn(channels, scale=0.2)},
               lambda input, weight, bias, rm=rm, rv=rv, training=training:
                   F.batch_norm(input, rm, rv, weight, bias, training=training, momentum=0.1, eps=1e-5))
        fx.put(f"{name}.running_mean_after", rm)
        fx.put(f"{name}.running_var_after", rv)

    fx.run("relu_a", {}, {"input": fx.randn(2, 3, 5, 5)}, lambda input: F.relu(input))

    fx.run("maxpool_a", {"kernel": 3, "stride": 2, "padding": 1}, {"input": fx.randn(2, 3, 9, 9)},
           lambda input: F.max_pool2d(input, 3, 2, 1))
    fx.run("maxpool_b", {"kernel": 3, "stride": 2, "padding": 1}, {"input": fx.randn(2, 2, 8, 7)},
           lambda input: F.max_pool2d(input, 3, 2, 1))

    for name, shape, size in (("nearest_a", (2, 3, 5, 6), (10, 12)), ("nearest_b", (2, 3, 5, 6), (8, 13)),
                              ("nearest_c", (1, 2, 9, 8), (4, 5))):
        fx.run(name, {"mode": "nearest", "height": size[0], "width": size[1]}, {"input": fx.randn(*shape)},
               lambda input, size=size: F.interpolate(input, size=size, mode="nearest"))
    for name, shape, size in (("bilinear_a", (2, 3, 5, 6), (9, 13)), ("bilinear_b", (2, 3, 9, 8), (4, 5)),
                              ("bilinear_c", (1, 2, 4, 4), (8, 8)), ("bilinear_d", (1, 2, 7, 5), (3, 11))):
        fx.run(name, {"mode": "bilinear", "align_corners": False, "height": size[0], "width": size[1]},
               {"input": fx.randn(*shape)},
               lambda input, size=size: F.interpolate(input, size=size, mode="bilinear", align_corners=False))

    fx.run("flatten_a", {}, {"input": fx.randn(2, 3, 2, 2)}, lambda input: torch.flatten(input, 1))
    fx.run("add_a", {}, {"a": fx.randn(2, 3, 4, 4), "b": fx.randn(2, 3, 4, 4)}, lambda a, b: a + b)

    # losses: output is a scalar; grad_output a random scalar
    logits = fx.randn(4, 6, scale=3.0)
    targets = fx.rand(4, 6)
    targets[0, :3] = torch.tensor([0.0, 1.0, 1.0])  # hard targets mixed in
    logits[1, 0], logits[1, 1] = 40.0, -40.0        # far tails: the stable form must not overflow
    for reduction in ("mean", "sum"):
        name = f"bce_{reduction}"
        fx.put(f"{name}.targets", targets)
        fx.run(name, {"reduction": reduction}, {"input": logits},
               lambda input, reduction=reduction: F.binary_cross_entropy_with_logits(
                   input, targets.to(torch.float64), reduction=reduction))
    ce_logits = fx.randn(6, 5, scale=2.0)
    labels = torch.tensor([0, 4, 2, 2, 1, 3], dtype=torch.int64)
    for reduction in ("mean", "sum"):
        name = f"ce_{reduction}"
        fx.tensors_int = getattr(fx, "tensors_int", {})
        fx.tensors_int[f"{name}.labels"] = labels.clone()
        fx.run(name, {"reduction": reduction}, {"input": ce_logits},
               lambda input, reduction=reduction: F.cross_entropy(input, labels, reduction=reduction))
    regression = fx.randn(5, 4, scale=1.5)
    regression_target = fx.randn(5, 4, scale=1.5)
    regression_target[0, 0] = regression[0, 0]  # one exact zero difference (gradient 0, as in torch)
    for beta_name, beta in (("1", 1.0), ("ninth", 1.0 / 9.0)):
        for reduction in ("sum", "mean"):
            name = f"smoothl1_{beta_name}_{reduction}"
            fx.put(f"{name}.target", regression_target)
            fx.run(name, {"beta": beta, "reduction": reduction}, {"input": regression},
                   lambda input, beta=beta, reduction=reduction: F.smooth_l1_loss(
                       input, regression_target.to(torch.float64), beta=beta, reduction=reduction))
    for reduction in ("sum", "mean"):
        name = f"l1_{reduction}"
        fx.put(f"{name}.target", regression_target)
        fx.run(name, {"reduction": reduction}, {"input": regression},
               lambda input, reduction=reduction: F.l1_loss(input, regression_target.to(torch.float64),
                                                            reduction=reduction))

    # The SeededGenerator port, checked bit for bit by the Swift tests (the backbone fixture relies on it).
    fx.put("seeded.normal", seeded_tensor(42, "masknet.check", (37,), "normal", 0.5, 2.0))
    fx.put("seeded.uniform", seeded_tensor(42, "masknet.check.uniform", (11,), "uniform", -1.0, 2.0))
    fx.metadata["seeded"] = json.dumps({"normal": {"seed": 42, "stream": "masknet.check", "a": 0.5, "b": 2.0},
                                        "uniform": {"seed": 42, "stream": "masknet.check.uniform", "a": -1.0,
                                                    "b": 2.0}})

    out = dict(fx.tensors)
    out.update(fx.tensors_int)
    save_deterministic(out, os.path.join(NN_FIXTURES, "ops.safetensors"), fx.metadata)


# ----------------------------------------------------------------------------------------------------
# Optimizers

def make_optimizers():
    generator = torch.Generator().manual_seed(99)
    initial = {"p1": torch.randn(3, 4, generator=generator), "p2": torch.randn(5, generator=generator)}
    steps = 4
    gradients = [{k: torch.randn(v.shape, generator=generator) for k, v in initial.items()} for _ in range(steps)]
    # p2 gets no gradient in step index 2: the optimizer must skip it entirely (no decay, no state change).
    gradients[2]["p2"] = None
    configs = {
        "adam": (torch.optim.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-3, foreach=False)),
        "adam_nodecay": (torch.optim.Adam, dict(lr=3e-3, foreach=False)),
        "adamw": (torch.optim.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=5e-2, foreach=False)),
        "sgd": (torch.optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=1e-3, foreach=False)),
        "sgd_nesterov": (torch.optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True, foreach=False)),
        "sgd_plain": (torch.optim.SGD, dict(lr=0.1, foreach=False)),
    }
    tensors = {}
    metadata = {"made_by": "Tools/make_nn_fixtures.py", "versions": VERSIONS, "steps": str(steps),
                "skipped": json.dumps({"p2": [2]})}
    for key, value in initial.items():
        tensors[f"initial.{key}"] = value.clone()
    for step, grads in enumerate(gradients):
        for key, value in grads.items():
            if value is not None:
                tensors[f"grad.{step}.{key}"] = value.clone()
    for name, (cls, kwargs) in configs.items():
        metadata[name] = json.dumps({k: v for k, v in kwargs.items() if k != "foreach"} | {"class": cls.__name__})
        params = {k: torch.nn.Parameter(v.clone()) for k, v in initial.items()}
        optimizer = cls(list(params.values()), **kwargs)
        for step, grads in enumerate(gradients):
            for key, p in params.items():
                p.grad = None if grads[key] is None else grads[key].clone()
            optimizer.step()
            for key, p in params.items():
                tensors[f"{name}.{key}.after.{step}"] = p.detach().clone()
        for index, (key, p) in enumerate(params.items()):
            state = optimizer.state[p]
            for field in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
                if field in state and state[field] is not None:
                    tensors[f"{name}.{key}.{field}"] = state[field].clone()
            if "step" in state:
                tensors[f"{name}.{key}.step"] = torch.tensor(int(state["step"].item()), dtype=torch.int64)
    save_deterministic(tensors, os.path.join(NN_FIXTURES, "optimizers.safetensors"), metadata)


# ----------------------------------------------------------------------------------------------------
# safetensors byte-compatibility fixture

def python_written_tensors():
    """The same tensors are built in SafeTensorsTests.swift; keep the two in step. One metadata key only,
    because the Python writer emits metadata keys in hash-map (random) order."""
    def ramp(shape, start, step):
        count = int(np.prod(shape)) if len(shape) else 1
        return (torch.arange(count, dtype=torch.float64) * step + start).to(torch.float32).reshape(shape)
    return {
        "backbone.body.conv1.weight": ramp((2, 3, 1, 2), -1.5, 0.25),
        "backbone.body.bn1.running_var": ramp((3,), 0.5, 0.125),
        "backbone.body.bn1.num_batches_tracked": torch.tensor(7, dtype=torch.int64),
        "Zeta": ramp((), 3.25, 0.0),
        "a_b": ramp((4,), 1e-3, -2.5e-4),
        "a.b": ramp((1, 1), 1e30, 0.0),
        "a1": ramp((0, 3), 0.0, 0.0),
        "counts": torch.tensor([-3, 0, 2**40, -(2**62)], dtype=torch.int64),
    }, {"config": json.dumps({"backbone": "resnet18", "truncation": 1, "note": "quote \" slash / tab \t é",
                              "made_by": "Tools/make_nn_fixtures.py", "versions": VERSIONS}, ensure_ascii=False)}


def make_python_written():
    # Written by the package itself, untouched: this file is the reference for our writer's bytes.
    tensors, metadata = python_written_tensors()
    save_file(tensors, os.path.join(NN_FIXTURES, "python_written.safetensors"), metadata=metadata)


def check_swift_written(path):
    """Loads a file written by SafeTensorsTests.testWriteForPython and compares it with the Python side."""
    from safetensors import safe_open
    expected, expected_metadata = python_written_tensors()
    loaded = load_file(path)
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata == expected_metadata, (metadata, expected_metadata)
    assert sorted(loaded) == sorted(expected), (sorted(loaded), sorted(expected))
    for key, value in expected.items():
        assert loaded[key].dtype == value.dtype, key
        assert loaded[key].shape == value.shape, key
        assert torch.equal(loaded[key], value), key
    with open(path, "rb") as handle:
        ours = handle.read()
    theirs = save(expected, metadata=expected_metadata)
    print(f"{path}: loads in Python {VERSIONS}; {len(loaded)} tensors and metadata equal; "
          f"bytes identical to the Python writer's: {ours == theirs}")


# ----------------------------------------------------------------------------------------------------
# ResNet18 (truncated after layer3) + FPN backbone fixture

BACKBONE_SEED = 20261127


def make_backbone():
    from torchvision.models import resnet18
    from torchvision.models._utils import IntermediateLayerGetter
    from torchvision.ops import FeaturePyramidNetwork

    class Backbone(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.body = IntermediateLayerGetter(resnet18(weights=None), return_layers={"layer3": "0"})
            self.fpn = FeaturePyramidNetwork([256], 256, extra_blocks=None)

        def forward(self, x):
            return self.fpn(self.body(x))

    torch.manual_seed(0)
    model = Backbone()

    def old_key(key):
        # torchvision >= 0.13 nests the FPN convs (`inner_blocks.0.0.weight`); its loader still accepts the
        # older `inner_blocks.0.weight` keys, which are the names the spec and our model use.
        for block in ("inner_blocks", "layer_blocks"):
            key = key.replace(f"fpn.{block}.0.0.", f"fpn.{block}.0.")
        return "backbone." + key

    modules = dict(model.named_modules())
    rules = {}
    state = model.state_dict()
    probes = {}
    with torch.no_grad():
        for key, value in state.items():
            name = old_key(key)
            if key.endswith("num_batches_tracked"):
                continue
            module = modules[key.rsplit(".", 1)[0]]
            leaf = key.rsplit(".", 1)[1]
            if isinstance(module, torch.nn.BatchNorm2d):
                rule = {"weight": ("normal", 1.0, 0.1), "bias": ("normal", 0.0, 0.1),
                        "running_mean": ("normal", 0.0, 0.1), "running_var": ("uniform", 0.75, 0.5)}[leaf]
            elif isinstance(module, torch.nn.Conv2d) and leaf == "weight":
                fan_out = value.shape[0] * value.shape[2] * value.shape[3]
                rule = ("normal", 0.0, float(np.float32(math.sqrt(2.0 / fan_out))))  # kaiming_normal fan_out
            elif isinstance(module, torch.nn.Conv2d) and leaf == "bias":
                rule = ("normal", 0.0, 0.1)
            else:
                raise RuntimeError(f"no rule for {key}")
            rules[name] = rule
            tensor = seeded_tensor(BACKBONE_SEED, name, tuple(value.shape), *rule)
            value.copy_(tensor)
            probes[f"probe.{name}"] = tensor.flatten()[:8].clone()

    model = model.double().train()
    generator = torch.Generator().manual_seed(7)
    x = torch.randn(1, 3, 64, 64, generator=generator).to(torch.float32)
    leaf = x.to(torch.float64).requires_grad_(True)
    output = model(leaf)["0"]
    grad_output = torch.randn(output.shape, generator=generator).to(torch.float32)
    output.backward(grad_output.to(torch.float64))

    tensors = {"input": x, "output": f32(output), "grad_output": grad_output, "grad_input": f32(leaf.grad)}
    tensors.update(probes)
    named = dict(model.named_parameters())
    for key in ("body.conv1.weight", "body.layer3.1.bn2.weight", "fpn.inner_blocks.0.0.weight",
                "fpn.layer_blocks.0.0.bias", "body.layer1.0.bn1.bias"):
        tensors[f"grad.{old_key(key)}"] = f32(named[key].grad)
    for key, value in model.state_dict().items():
        if key.endswith("running_mean") or key.endswith("running_var"):
            tensors[f"after.{old_key(key)}"] = f32(value)
        elif key.endswith("num_batches_tracked"):
            tensors[f"after.{old_key(key)}"] = value.clone()
    metadata = {
        "made_by": "Tools/make_nn_fixtures.py", "versions": VERSIONS,
        "model": "torchvision resnet18 body (IntermediateLayerGetter, return_layers {'layer3': '0'}) + "
                 "FeaturePyramidNetwork([256], 256, extra_blocks=None); BatchNorm2d in training mode, momentum 0.1",
        "seed": str(BACKBONE_SEED),
        "weights": json.dumps(rules, sort_keys=True),
        "weight_rule": "for each key K: g = SeededGenerator(seed: seed, stream: K); element i (row-major) = "
                       "Float(a) + Float(b) * (dist == 'normal' ? g.nextNormal() : g.nextUniform()); "
                       "num_batches_tracked starts at 0",
        "note": "references computed in float64 from the float32 weights and input, stored as float32",
    }
    os.makedirs(BACKBONE_FIXTURES, exist_ok=True)
    save_deterministic(tensors, os.path.join(BACKBONE_FIXTURES, "resnet18_t1_fpn.safetensors"), metadata)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check-swift-written", metavar="FILE")
    parser.add_argument("--only", choices=["ops", "optimizers", "safetensors", "backbone"])
    args = parser.parse_args()
    if args.check_swift_written:
        check_swift_written(args.check_swift_written)
        return
    torch.use_deterministic_algorithms(True)
    os.makedirs(NN_FIXTURES, exist_ok=True)
    jobs = {"ops": make_ops, "optimizers": make_optimizers, "safetensors": make_python_written,
            "backbone": make_backbone}
    for name, job in jobs.items():
        if args.only in (None, name):
            job()
    for directory in (NN_FIXTURES, BACKBONE_FIXTURES):
        if os.path.isdir(directory):
            for file in sorted(os.listdir(directory)):
                print(f"{os.path.join(directory, file)}: {os.path.getsize(os.path.join(directory, file))} bytes")


if __name__ == "__main__":
    main()
