"""Train the profile classifiers (facing, thoracic) of ``vcfmeasure.detect_landmarks``.

Usage (from the repository root; a few minutes on one core)::

    python benchmarks/train_detector.py [--images 120] [--seed 1000] [--out PATH]

Draws ``--images`` synthetic radiographs with :func:`benchmarks.detect_cases.random_case`
(seeds from ``--seed``; the benchmark and tests use other seeds), computes the coarse
features (``vcfmeasure/detect/_features.py``) and the brightness profile through every
body along its long axis, and fits two logistic classifiers on the profiles by gradient
descent: "``+e`` is anterior" and "the body is thoracic". Everything is deterministic
from the seed; the result is written to ``vcfmeasure/detect/models/facing_lr.npz``.
(The body-core labels and pixel samples of the former coarse body scorer are still
drawn, so that the random stream, and with it the shipped classifiers, reproduce bit
for bit; the body network is now ``train_detector_cnn.py``.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.path import Path as MplPath
from scipy import ndimage

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from detect_cases import body_outline, random_case  # noqa: E402

from vcfmeasure.detect._features import (  # noqa: E402
    WORK_MM,
    coarse_features,
    facing_profile,
    full_to_coarse,
)
from vcfmeasure.synthetic import make_spine  # noqa: E402

#: The label is the body eroded by this much (mm), so that discs separate the bodies.
CORE_MM = 1.5


def labels(spine, shape) -> tuple[np.ndarray, np.ndarray]:
    """Core label (0/1) and a weight mask (0 where partial bodies may be) on the coarse grid."""
    sp_mm = spine.radiograph.spacing[0]
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    core = np.zeros(shape, bool)
    arr = spine.landmarks.array
    for pts in arr:
        poly = full_to_coarse(body_outline(pts), sp_mm)
        inside = MplPath(poly).contains_points(grid).reshape(shape)
        core |= ndimage.distance_transform_edt(inside) > CORE_MM / WORK_MM
    weight = np.ones(shape, np.float32)
    for pts, (i, j) in ((arr[0], (0, 2)), (arr[-1], (5, 3))):
        a, b = full_to_coarse(pts[i], sp_mm), full_to_coarse(pts[j], sp_mm)
        centre = full_to_coarse(pts.mean(axis=0), sp_mm)
        d = b - a
        normal = np.array([-d[1], d[0]]) / np.hypot(*d)
        if normal @ (a - centre) < 0:
            normal = -normal  # pointing out of the body, away from the labelled run
        beyond = (grid - a) @ normal > 1.0 / WORK_MM
        weight[beyond.reshape(shape)] = 0.0
    return core, weight


def facing_samples(spine, image, rng):
    """Profiles through every body (both directions) with label 1 where +e is anterior."""
    sp_mm = spine.radiograph.spacing[0]
    xs, ys, tx, ty = [], [], [], []
    for level, pts in zip(spine.landmarks.levels, spine.landmarks.array, strict=True):
        centre = full_to_coarse(pts.mean(axis=0), sp_mm)
        ap = 0.5 * ((pts[2] - pts[0]) + (pts[3] - pts[5]))
        ang = np.arctan2(ap[1], ap[0]) + np.radians(rng.normal(0, 5))
        e = np.array([np.cos(ang), np.sin(ang)])
        centre = centre + rng.normal(0, 1.0 / WORK_MM, 2)
        for sgn in (1.0, -1.0):
            xs.append(facing_profile(image, centre, sgn * e))
            ys.append(1.0 if sgn > 0 else 0.0)
        tx.append(xs[-2])  # anterior towards +: thoracic (ribs, lung) or lumbar?
        ty.append(1.0 if level.startswith("T") else 0.0)
    return xs, ys, tx, ty


def train_facing(x, y, steps: int = 3000, lr: float = 0.1, l2: float = 1e-3):
    """Logistic regression by gradient descent (deterministic)."""
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w + b)))
        g = p - y
        w -= lr * (x.T @ g / len(y) + l2 * w)
        b -= lr * g.mean()
    acc = (((x @ w + b) > 0) == (y > 0.5)).mean()
    return w, b, acc


def make_dataset(n_images: int, seed: int, per_image: int = 12000):
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    fx, fy, tx, ty = [], [], [], []
    t0 = time.time()
    for k in range(n_images):
        kw = random_case(rng)
        spine = make_spine(**kw)
        rg = spine.radiograph
        feats, image = coarse_features(rg.pixels, rg.spacing[0], with_image=True)
        a, b, c, d = facing_samples(spine, image, rng)
        fx += a
        fy += b
        tx += c
        ty += d
        core, weight = labels(spine, feats.shape[:2])
        pos = np.flatnonzero(core.ravel() & (weight.ravel() > 0))
        neg = np.flatnonzero(~core.ravel() & (weight.ravel() > 0))
        npos = min(len(pos), per_image // 2)
        nneg = min(len(neg), per_image - npos)
        idx = np.concatenate([rng.choice(pos, npos, replace=False),
                              rng.choice(neg, nneg, replace=False)])
        f = feats.reshape(-1, feats.shape[-1])
        xs.append(f[idx])
        ys.append(core.ravel()[idx].astype(np.float32))
        if (k + 1) % 10 == 0:
            print(f"  {k + 1}/{n_images} images, {time.time() - t0:.0f} s", flush=True)
    return (np.concatenate(xs), np.concatenate(ys), np.array(fx), np.array(fy), np.array(tx),
            np.array(ty))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "vcfmeasure/detect/models/facing_lr.npz"))
    args = ap.parse_args(argv)
    print(f"drawing {args.images} training images (seed {args.seed})")
    x, y, fx, fy, tx, ty = make_dataset(args.images, args.seed)
    fw, fb, facc = train_facing(fx, fy)
    print(f"facing classifier: {len(fy)} profiles, training accuracy per body {facc:.4f}")
    thw, thb, tacc = train_facing(tx, ty)
    print(f"thoracic classifier: {len(ty)} profiles, training accuracy per body {tacc:.4f}")
    np.savez_compressed(Path(args.out), w=fw, b=np.float64(fb),
                        w_thoracic=thw, b_thoracic=np.float64(thb), seed=np.int64(args.seed))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
