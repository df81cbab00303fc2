#!/usr/bin/env python3
"""Learning-rate schedule references from PyTorch, for `LearningRateScheduleTests` (run by a developer, not CI):

    /work/refenv/bin/python Tools/make_lr_schedule_fixtures.py

Writes Tests/NeuralNetworkTests/Fixtures/lr_schedules.json: the rate torch's `MultiStepLR` and
`CosineAnnealingLR` (stepped once per epoch, as torch's examples do) give at the start of every epoch.
Our schedule is evaluated per step at fractional epochs; at whole epochs it must give these values.
"""
import json
import pathlib

import torch

BASE = 1e-3
EPOCHS = 12


def rates(make):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([parameter], lr=BASE)
    scheduler = make(optimizer)
    out = []
    for _ in range(EPOCHS):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


cases = [
    {"kind": "step", "milestones": [8, 11], "gamma": 0.1,
     "rates": rates(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[8, 11], gamma=0.1))},
    {"kind": "step", "milestones": [3], "gamma": 0.5,
     "rates": rates(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[3], gamma=0.5))},
    {"kind": "cosine", "floor": 0.0,
     "rates": rates(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=0.0))},
    {"kind": "cosine", "floor": 0.05,
     "rates": rates(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=EPOCHS, eta_min=0.05 * BASE))},
]
target = pathlib.Path(__file__).resolve().parent.parent / "Tests/NeuralNetworkTests/Fixtures/lr_schedules.json"
target.write_text(json.dumps({"torch": torch.__version__, "base": BASE, "epochs": EPOCHS, "cases": cases}, indent=1) + "\n")
print(f"wrote {target}")
