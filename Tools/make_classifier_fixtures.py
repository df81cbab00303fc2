#!/usr/bin/env python3
"""Writes the LesionClassifier parity fixtures (Tests/LesionClassifierTests/Fixtures/*.safetensors).

Run with the reference stack (torch 2.x, torchvision 0.29, safetensors):

    /work/refenv/bin/python Tools/make_classifier_fixtures.py

What is checked (spec §4.7, §5, §5.1):
  * module_s.safetensors — module S (`s2new`: Linear(5D→s) → ReLU → Linear(s→s) → ReLU → Linear(s→3)) for
    D = 8, s = 16: forward logits and, for a given upstream gradient, the gradients of the input rows and of
    every weight; and the two classifier losses of a batch of two single-image outputs stacked to [2, 3]
    (sigmoid BCE against one-hot labels, mean over B·3; softmax cross-entropy, mean over B) with their weight
    gradients.
  * ranked_boxes_*.safetensors — the classifier RoI head of the seed's roi_heads.py (torchvision 0.3.0)
    from given box-predictor outputs, written out step by step here because torchvision 0.29 has no such
    head: softmax; class-specific decode with weights (10, 10, 5, 5) and the log(1000/16) clamp; clip to the
    image; drop background; drop area <= 0; NO score filter (the seed's -0.01 threshold passes everything);
    batched NMS per class at 0.75 with the seed's coordinate-offset trick (called explicitly: 0.29 switches
    to per-class NMS above 1000 boxes); keep[:D]; rows [score, raw dx, dy, dw, dh]. When k < D survive, the
    seed's contiguous-run padding needs random cut points; this script draws them with torch.randperm
    exactly as the seed does and stores the resulting slot vector (`slots`, survivor index per row) so the
    Swift test feeds the same slots to its row gather: the deterministic part is compared exactly, the
    padding scheme's structure is tested separately in Swift. k = 0 gives D zero rows (Appendix D/B6).
    Each case also has the gradient of the rows with respect to the class logits and the deltas for a given
    upstream gradient (duplicated rows accumulate).
Every file carries the torch/torchvision versions in its metadata.
"""
import math
import os

import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models.detection import _utils as det_utils
from torchvision.ops import boxes as box_ops

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "LesionClassifierTests", "Fixtures")
META = {"torch": torch.__version__, "torchvision": torchvision.__version__,
        "script": "Tools/make_classifier_fixtures.py"}


def save(name, tensors, **extra):
    tensors = {k: v.detach().contiguous() for k, v in tensors.items()}
    meta = dict(META)
    meta.update({k: str(v) for k, v in extra.items()})
    path = os.path.join(OUT, name)
    save_file(tensors, path, metadata=meta)
    print(f"{name}: {os.path.getsize(path)} bytes")


class ModuleS(torch.nn.Module):
    """The seed's S2Predictor: names as in its state dict (`s2new.fc_scores`, ...)."""

    def __init__(self, d, s):
        super().__init__()
        self.fc_scores = torch.nn.Linear(5 * d, s)
        self.fc_scores_2 = torch.nn.Linear(s, s)
        self.fc_scores_img = torch.nn.Linear(s, 3)
        for layer in (self.fc_scores, self.fc_scores_2, self.fc_scores_img):
            torch.nn.init.kaiming_normal_(layer.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, ranked):  # [D, 5] → [1, 3]
        x = ranked.reshape(1, -1)
        return self.fc_scores_img(torch.relu(self.fc_scores_2(torch.relu(self.fc_scores(x)))))


def random_ranked_rows(gen, d):
    scores = torch.rand(d, 1, generator=gen)
    deltas = torch.randn(d, 4, generator=gen)
    return torch.cat([scores, deltas], dim=1)


def module_s_fixture():
    torch.manual_seed(11)
    d, s = 8, 16
    model = ModuleS(d, s)
    gen = torch.Generator().manual_seed(12)
    names = [n for n, _ in model.named_parameters()]
    out = {f"s2new.{n}": p.detach().clone() for n, p in model.named_parameters()}

    # Forward and backward for a given upstream gradient.
    ranked = random_ranked_rows(gen, d).requires_grad_(True)
    logits = model(ranked)
    upstream = torch.randn(1, 3, generator=gen)
    logits.backward(upstream)
    out.update({"input": ranked.detach(), "logits": logits.detach(), "upstream": upstream,
                "input_grad": ranked.grad.detach()})
    out.update({f"grad.s2new.{n}": p.grad.detach().clone() for n, p in model.named_parameters()})

    # Losses of a batch of two images run one at a time and stacked (spec §5.1).
    batch = torch.stack([random_ranked_rows(gen, d), random_ranked_rows(gen, d)])
    labels = torch.tensor([2, 0])
    out.update({"batch_input": batch, "batch_labels": labels})
    for kind in ("bce", "softmax"):
        model.zero_grad()
        stacked = torch.cat([model(batch[0]), model(batch[1])], dim=0)  # [2, 3]
        if kind == "bce":
            one_hot = torch.nn.functional.one_hot(labels, 3).float()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(stacked, one_hot)
        else:
            loss = torch.nn.functional.cross_entropy(stacked, labels)
        loss.backward()
        out[f"{kind}.logits"] = stacked.detach()
        out[f"{kind}.loss"] = loss.detach().reshape(1)
        out.update({f"{kind}.grad.s2new.{n}": p.grad.detach().clone() for n, p in model.named_parameters()})
    save("module_s.safetensors", out, roi_batch_size=d, s_features=s, parameters=",".join(names))


def seed_batched_nms(boxes, scores, labels, threshold):
    """torchvision 0.3.0 batched_nms: one NMS over boxes shifted by label · (max coordinate + 1)."""
    if boxes.shape[0] == 0:
        return torch.empty(0, dtype=torch.int64)
    max_coordinate = boxes.max()
    offsets = labels.to(boxes) * (max_coordinate + 1)
    return torchvision.ops.nms(boxes + offsets[:, None], scores, threshold)


def seed_padding_slots(k, d):
    """The seed's hack: survivor i repeated over [boundary_i, boundary_{i+1}); cut points from randperm."""
    if k >= d:
        return torch.arange(d)
    cuts = (torch.randperm(d - 2)[: k - 1] + 1).sort().values.tolist() if k > 1 else []
    boundaries = [0] + cuts + [d]
    slots = []
    for i in range(k):
        slots += [i] * (boundaries[i + 1] - boundaries[i])
    return torch.tensor(slots, dtype=torch.int64)


def ranked_boxes_fixture(name, gen, proposals, n_c, d, height, width, nms_threshold=0.75, big_dw_rows=()):
    r = proposals.shape[0]
    class_logits = (torch.randn(r, n_c, generator=gen) * 2).requires_grad_(True)
    deltas = torch.randn(r, 4 * n_c, generator=gen) * 0.4
    for row in big_dw_rows:  # decoded dw/dh above log(1000/16): exercises the clamp
        deltas[row, 4 * (n_c - 1) + 2] = 30.0
        deltas[row, 4 * (n_c - 1) + 3] = -25.0
    deltas.requires_grad_(True)

    # Detached selection (spec §4.7 steps 1–3).
    with torch.no_grad():
        coder = det_utils.BoxCoder((10.0, 10.0, 5.0, 5.0))  # clamp log(1000/16), as in 0.3.0
        boxes = coder.decode_single(deltas, proposals).reshape(r, n_c, 4)
        boxes = box_ops.clip_boxes_to_image(boxes, (height, width))
        scores = torch.softmax(class_logits, -1)
        labels = torch.arange(n_c).view(1, -1).expand(r, n_c)
        boxes, scores, labels = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1), labels[:, 1:].reshape(-1)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        inds = torch.nonzero(area > 0).squeeze(1)
        inds = inds[scores[inds] > -0.01]  # the seed's box_score_thresh: passes everything (B25)
        if inds.numel() > 1:  # continuous scores: ties would make the sort order arbitrary
            gaps = scores[inds].sort().values.diff()
            assert gaps.min() > 1e-5, f"{name}: near-tied scores, pick another seed"
        all_kept = seed_batched_nms(boxes[inds], scores[inds], labels[inds], nms_threshold)
        keep = all_kept[:d]
        candidate = inds[keep]  # index into the flattened (proposal, foreground class) grid
        survivor_proposals = candidate // (n_c - 1)
        survivor_labels = candidate % (n_c - 1) + 1
        k = keep.numel()
        slots = seed_padding_slots(k, d) if k > 0 else torch.empty(0, dtype=torch.int64)

    # Differentiable rows (step 5) and their gradient for an upstream gradient.
    upstream = torch.randn(d, 5, generator=gen)
    if k > 0:
        probabilities = torch.softmax(class_logits, -1)
        raw = deltas.reshape(r, n_c, 4)
        p, l = survivor_proposals[slots], survivor_labels[slots]
        rows = torch.cat([probabilities[p, l][:, None], raw[p, l]], dim=1)
        rows.backward(upstream)
        logits_grad, deltas_grad = class_logits.grad, deltas.grad
    else:
        rows = torch.zeros(d, 5)
        logits_grad, deltas_grad = torch.zeros(r, n_c), torch.zeros(r, 4 * n_c)
    save(f"ranked_boxes_{name}.safetensors", {
        "class_logits": class_logits, "deltas": deltas, "proposals": proposals,
        "survivor_proposals": survivor_proposals, "survivor_labels": survivor_labels, "slots": slots,
        "rows": rows, "upstream": upstream, "class_logits_grad": logits_grad, "deltas_grad": deltas_grad,
    }, roi_batch_size=d, num_classes=n_c, image_height=height, image_width=width, nms_threshold=nms_threshold,
        survivors=k, after_nms=all_kept.numel() if k > 0 else 0)
    print(f"  {name}: {r} proposals, {inds.numel()} candidates with area > 0, "
          f"{all_kept.numel()} after NMS, k = {k} survivors, D = {d}")


def clustered_proposals(gen, clusters, copies, height, width, jitter=1.5):
    """`clusters` base boxes inside the image, each with `copies` jittered versions (NMS 0.75 bites)."""
    xy = torch.rand(clusters, 2, generator=gen) * torch.tensor([width * 0.7, height * 0.7])
    wh = 6 + torch.rand(clusters, 2, generator=gen) * 20
    base = torch.cat([xy, xy + wh], dim=1)
    boxes = base.repeat_interleave(copies, dim=0)
    return boxes + torch.randn(boxes.shape, generator=gen) * jitter


def main():
    os.makedirs(OUT, exist_ok=True)
    module_s_fixture()
    height, width = 64, 80
    # Many survivors (k ≥ D): n_c = 3, classes interleaved in the ranking, a few clamped deltas.
    gen = torch.Generator().manual_seed(21)
    proposals = clustered_proposals(gen, 12, 4, height, width)
    ranked_boxes_fixture("many", gen, proposals, n_c=3, d=16, height=height, width=width, big_dw_rows=(3, 17))
    # Fewer than D survive: n_c = 3, six proposals, one of zero width (decodes to area 0) and one wholly
    # right of the image (clipped to zero width): both dropped before NMS.
    gen = torch.Generator().manual_seed(22)
    torch.manual_seed(23)  # randperm of the padding
    proposals = torch.cat([clustered_proposals(gen, 2, 2, height, width),
                           torch.tensor([[10.0, 10.0, 10.0, 30.0], [85.0, 5.0, 95.0, 20.0]])])
    ranked_boxes_fixture("few", gen, proposals, n_c=3, d=16, height=height, width=width)
    # k = 0: every candidate has zero area (zero-width and outside proposals), n_c = 2, D = 8.
    gen = torch.Generator().manual_seed(24)
    proposals = torch.tensor([[10.0, 10.0, 10.0, 30.0], [85.0, 5.0, 95.0, 20.0],
                              [5.0, -20.0, 25.0, -8.0], [30.0, 40.0, 50.0, 40.0]])
    ranked_boxes_fixture("none", gen, proposals, n_c=2, d=8, height=height, width=width)


if __name__ == "__main__":
    main()
