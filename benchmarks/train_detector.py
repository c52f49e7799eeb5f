"""Train the coarse body scorer of ``vcfmeasure.detect_landmarks`` from synthetic images.

Usage (from the repository root; a few minutes on one core)::

    python benchmarks/train_detector.py [--images 120] [--seed 1000] [--out PATH]

Draws ``--images`` synthetic radiographs with :func:`benchmarks.detect_cases.random_case`
(seeds from ``--seed``; the benchmark and tests use other seeds), computes the coarse
features (``vcfmeasure/detect/_features.py``), labels each coarse pixel 1 inside a
vertebral body core (the six-point outline eroded by :data:`CORE_MM`), 0 elsewhere, and
ignores the partial bodies beyond the first and last labelled level. A one-hidden-layer
``tanh`` network is fitted by Adam on a balanced sample of pixels. Everything is
deterministic from the seed; the result is written to
``vcfmeasure/detect/models/body_mlp.npz``.
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

from detect_cases import random_case  # noqa: E402

from vcfmeasure.detect._features import (  # noqa: E402
    WORK_MM,
    BodyScorer,
    coarse_features,
    facing_profile,
    full_to_coarse,
)
from vcfmeasure.synthetic import make_spine  # noqa: E402

#: The label is the body eroded by this much (mm), so that discs separate the bodies.
CORE_MM = 1.5
HIDDEN = 24


def body_outline(pts: np.ndarray, n: int = 8) -> np.ndarray:
    """A polygon through the six points, the endplates bent through sm / im."""
    sp, sm, sa, ia, im, ip = pts
    out = []
    for a, m, b in ((sp, sm, sa), (ia, im, ip)):
        t = np.linspace(0, 1, 2 * n + 1)[:, None]
        chord = a + t * (b - a)
        depth = m - 0.5 * (a + b)
        bumpv = 16 * t**2 * (1 - t) ** 2
        out.append(chord + bumpv * depth)
    return np.concatenate(out)


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


def train(x, y, seed: int, epochs: int = 12, batch: int = 2048, lr: float = 3e-3):
    rng = np.random.default_rng(seed + 1)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    xn = ((x - mean) / std).astype(np.float32)
    f = x.shape[1]
    params = {
        "w1": (rng.standard_normal((f, HIDDEN)) / np.sqrt(f)).astype(np.float32),
        "b1": np.zeros(HIDDEN, np.float32),
        "w2": (rng.standard_normal((HIDDEN, 1)) / np.sqrt(HIDDEN)).astype(np.float32),
        "b2": np.zeros(1, np.float32),
    }
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v2 = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    for ep in range(epochs):
        order = rng.permutation(len(xn))
        tot = 0.0
        for s in range(0, len(order), batch):
            i = order[s : s + batch]
            xb, yb = xn[i], y[i]
            h = np.tanh(xb @ params["w1"] + params["b1"])
            z = (h @ params["w2"] + params["b2"]).ravel()
            p = 1 / (1 + np.exp(-np.clip(z, -30, 30)))
            tot += float(-(yb * np.log(p + 1e-7) + (1 - yb) * np.log(1 - p + 1e-7)).sum())
            dz = ((p - yb) / len(i))[:, None].astype(np.float32)
            grads = {"w2": h.T @ dz, "b2": dz.sum(0)}
            dh = (dz @ params["w2"].T) * (1 - h * h)
            grads["w1"] = xb.T @ dh
            grads["b1"] = dh.sum(0)
            step += 1
            rate = lr * (0.5 ** (ep / 4))
            for k in params:
                m[k] = 0.9 * m[k] + 0.1 * grads[k]
                v2[k] = 0.999 * v2[k] + 0.001 * grads[k] ** 2
                mh = m[k] / (1 - 0.9**step)
                vh = v2[k] / (1 - 0.999**step)
                params[k] -= (rate * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        print(f"  epoch {ep + 1}: loss {tot / len(xn):.4f}", flush=True)
    return BodyScorer(mean, std, **params)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=120)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--out", default=str(ROOT / "vcfmeasure/detect/models/body_mlp.npz"))
    args = ap.parse_args(argv)
    print(f"drawing {args.images} training images (seed {args.seed})")
    x, y, fx, fy, tx, ty = make_dataset(args.images, args.seed)
    fw, fb, facc = train_facing(fx, fy)
    print(f"facing classifier: {len(fy)} profiles, training accuracy per body {facc:.4f}")
    thw, thb, tacc = train_facing(tx, ty)
    print(f"thoracic classifier: {len(ty)} profiles, training accuracy per body {tacc:.4f}")
    np.savez_compressed(Path(args.out).with_name("facing_lr.npz"), w=fw, b=np.float64(fb),
                        w_thoracic=thw, b_thoracic=np.float64(thb), seed=np.int64(args.seed))
    print(f"{len(x)} samples, {x.shape[1]} features, {y.mean():.2f} positive")
    scorer = train(x, y, args.seed, epochs=args.epochs)
    acc = ((scorer.logits(x) > 0) == (y > 0.5)).mean()
    print(f"training accuracy {acc:.4f}")
    scorer.save(Path(args.out), seed=np.int64(args.seed), images=np.int64(args.images))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
