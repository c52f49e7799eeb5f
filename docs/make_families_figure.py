"""Regenerate docs/images/families.png: one film per appearance family (run from the root).

Each panel is ``make_spine(first="T11", last="L3", seed=SEED, appearance=name)`` with its
ground truth (yellow points); the title names the family and whether it is held out for
evaluation.
"""

import sys

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vcfmeasure.synthetic import APPEARANCE_FAMILIES, EVAL_FAMILIES, make_spine  # noqa: E402

SEED = 7
OUT = sys.argv[1] if len(sys.argv) > 1 else "docs/images/families.png"

names = list(APPEARANCE_FAMILIES)
cols = 5
rows = -(-len(names) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 3.3 * rows))
for ax, name in zip(axes.flat, names, strict=False):
    levels = ("T9", "L1") if name == "busy_thorax" else ("T11", "L3")
    levels = ("L1", "L5") if name in ("iliac_crests", "bowel_gas") else levels
    spine = make_spine(first=levels[0], last=levels[1], seed=SEED, appearance=name)
    p = spine.radiograph.pixels
    ax.imshow(p, cmap="gray", vmin=np.percentile(p, 0.5), vmax=np.percentile(p, 99.8))
    ax.plot(*spine.landmarks.array.reshape(-1, 2).T, ".", color="#ffcc00", ms=1.5)
    held = " (eval)" if name in EVAL_FAMILIES else ""
    ax.set_title(f"{name}{held}\n{p.shape[1]} x {p.shape[0]} px", fontsize=8)
    ax.set_axis_off()
for ax in axes.flat[len(names):]:
    ax.set_axis_off()
fig.tight_layout()
fig.savefig(OUT, dpi=80)
