#!/usr/bin/env python3
"""Writes the ImageIO test fixtures (Tests/ImageIOTests/Fixtures) with PIL, numpy and torch.

Run from the repository root with the reference stack:
    /work/refenv/bin/python Tools/make_imageio_fixtures.py
Every image is tiny (a few hundred bytes). expected.json holds, per file, the pixel values PIL decodes
(raw integers) and, for the resize checks, the outputs of torch's F.interpolate(bilinear,
align_corners=False) and PIL's Image.resize(BILINEAR). The versions that made them are recorded too.
"""
import json
import os

import numpy as np
import PIL
import torch
import torch.nn.functional as F
from PIL import Image

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "ImageIOTests", "Fixtures")
rng = np.random.default_rng(20261127)
expected = {"versions": {"PIL": PIL.__version__, "numpy": np.__version__, "torch": torch.__version__}, "files": {}}


def record(name, array, scale, channels, **extra):
    a = np.asarray(array)
    h, w = a.shape[:2]
    expected["files"][name] = {"width": int(w), "height": int(h), "channels": channels, "scale": scale,
                               "values": [int(v) for v in a.reshape(-1)], **extra}


os.makedirs(OUT, exist_ok=True)

grey8 = rng.integers(0, 256, size=(4, 5), dtype=np.uint8)
grey8[0, 0], grey8[0, 1] = 0, 255
Image.fromarray(grey8).save(os.path.join(OUT, "grey8.png"))
record("grey8.png", grey8, 255, 1)

grey16 = rng.integers(0, 65536, size=(3, 6), dtype=np.uint16)
grey16[0, 0], grey16[0, 1], grey16[0, 2] = 0, 65535, 32768
Image.fromarray(grey16).save(os.path.join(OUT, "grey16.png"))
with Image.open(os.path.join(OUT, "grey16.png")) as im:
    assert np.array_equal(np.array(im), grey16), "PIL did not round-trip the 16-bit PNG"
record("grey16.png", grey16, 65535, 1)

ga = rng.integers(0, 256, size=(4, 3, 2), dtype=np.uint8)
ga[..., 1] = 255  # opaque, so the values do not depend on alpha handling
ga[0, 0, 1] = 128
Image.fromarray(ga).save(os.path.join(OUT, "grey_alpha.png"))
record("grey_alpha.png", ga, 255, 2)

rgb = rng.integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
Image.fromarray(rgb).save(os.path.join(OUT, "rgb.png"))
record("rgb.png", rgb, 255, 3)

rgba = rng.integers(0, 256, size=(2, 5, 4), dtype=np.uint8)
Image.fromarray(rgba).save(os.path.join(OUT, "rgba.png"))
record("rgba.png", rgba, 255, 4)

# A palette whose order is not the identity, so decoding indices and decoding colours differ.
indices = rng.integers(0, 6, size=(5, 4), dtype=np.uint8)
indices[0, 0] = 5
palette_colours = [(250, 10, 10), (0, 0, 0), (10, 200, 30), (255, 255, 255), (40, 40, 220), (3, 3, 3)]
pal = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
pal.putpalette([c for colour in palette_colours for c in colour])
pal.save(os.path.join(OUT, "palette.png"))
with Image.open(os.path.join(OUT, "palette.png")) as im:
    assert im.mode == "P" and np.array_equal(np.array(im), indices)
    record("palette.png", np.array(im.convert("RGB")), 255, 3, indices=[int(v) for v in indices.reshape(-1)])

# Grey label masks in PNG: values 0..3 as the CNCB masks store them.
mask = rng.integers(0, 4, size=(6, 7), dtype=np.uint8)
Image.fromarray(mask).save(os.path.join(OUT, "mask.png"))
record("mask.png", mask, 1, 1)

# JPEGs: smooth content so the decoded values are well-defined; compare with what PIL decodes.
yy, xx = np.mgrid[0:12, 0:16]
jgrey = (128 + 100 * np.sin(xx / 3.0) * np.cos(yy / 4.0)).astype(np.uint8)
Image.fromarray(jgrey).save(os.path.join(OUT, "grey.jpg"), quality=90)
with Image.open(os.path.join(OUT, "grey.jpg")) as im:
    record("grey.jpg", np.array(im), 255, 1)
jrgb = np.stack([jgrey, (255 - jgrey), ((xx * 16) % 256).astype(np.uint8)], axis=-1).astype(np.uint8)
Image.fromarray(jrgb).save(os.path.join(OUT, "rgb.jpg"), quality=90)
with Image.open(os.path.join(OUT, "rgb.jpg")) as im:
    record("rgb.jpg", np.array(im), 255, 3)

# A CMYK JPEG: valid, but a colour space the decoder refuses (an `unsupported` error naming the file).
Image.fromarray(jrgb).convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=90)

# Resize references on a 12x16 8-bit grey image (values /255 as float input).
source = rng.integers(0, 256, size=(12, 16), dtype=np.uint8)
Image.fromarray(source).save(os.path.join(OUT, "resize_source.png"))
resize = {"source": "resize_source.png", "torch": [], "pil": []}
t = torch.from_numpy(source.astype(np.float32) / 255.0)[None, None]
# (9, 30) shrinks rows while widening columns: Pillow 13 then resamples rows first.
for (h, w) in [(5, 7), (23, 17), (12, 16), (9, 30), (30, 9), (6, 32)]:
    out = F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    resize["torch"].append({"height": h, "width": w, "values": [float(v) for v in out.reshape(-1)]})
    pil = Image.fromarray(source).resize((w, h), Image.BILINEAR)
    resize["pil"].append({"height": h, "width": w, "values": [int(v) for v in np.array(pil).reshape(-1)]})
expected["resize"] = resize

with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print("wrote", sorted(os.listdir(OUT)))
