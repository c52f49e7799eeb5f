"""Regenerate docs/images/synthetic.png (run from the repository root)."""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from vcfmeasure.synthetic import make_pre_post, make_spine  # noqa: E402

pre, post = make_pre_post(
    first="T10", last="L3", deformities={"L1": ("wedge", 0.4), "T11": ("biconcave", 0.3)},
    restoration={"L1": 0.5}, seed=7, osteophytes={"L2": 3.0},
)
low = make_spine(first="T6", last="T10", seed=8, facing="left", rotation_deg=8, contrast=0.45,
                 double_contour={"T8": 2.0})
titles = (
    "pre: L1 wedge 0.40, T11 biconcave 0.30, L2 osteophytes",
    "post: L1 cemented, 50 % of the lost height restored",
    "T6-T10 facing left, rotated 8 deg, osteoporotic, T8 double contours",
)
fig, axes = plt.subplots(1, 3, figsize=(12, 6.2))
for ax, spine, title in zip(axes, (pre, post, low), titles, strict=True):
    p = spine.radiograph.pixels
    ax.imshow(p, cmap="gray", vmin=np.percentile(p, 1), vmax=np.percentile(p, 99.7))
    for level in spine.landmarks.levels:
        q = spine.landmarks[level]
        ax.plot(*np.vstack([q, q[:1]]).T, "-", color="#00d0ff", lw=0.7)
        ax.plot(*q.T, ".", color="#ffcc00", ms=3)
        ax.text(*q.mean(axis=0), level, color="w", fontsize=7, ha="center")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()
fig.tight_layout()
fig.savefig("docs/images/synthetic.png", dpi=90)
