"""Render time of ``vcfmeasure.synthetic.make_spine`` per appearance family (T11-L3).

Run: python benchmarks/bench_synthetic.py [--quick] [--levels T11 L3]

For each family, ``--seeds`` images (different seeds, so each draws its own layers) are
rendered ``--repeat`` times; per image the best CPU time (time.process_time, one thread,
so other load on the machine distorts it less) is kept and the median over images is
printed, with the image size and the ratio to classic. Target (issue 11): about 0.3 s or
less for a T11-L3 film in every family.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from vcfmeasure.synthetic import APPEARANCE_FAMILIES, EVAL_FAMILIES, make_spine  # noqa: E402

TARGET_S = 0.3


def time_family(name: str, seeds, repeat: int, first: str, last: str) -> tuple[float, tuple]:
    """Median over seeds of the best-of-``repeat`` CPU seconds, and the last image shape."""
    per_image = []
    shape: tuple = ()
    for seed in seeds:
        best = np.inf
        for _ in range(repeat):
            t0 = time.process_time()
            spine = make_spine(first=first, last=last, seed=seed, appearance=name)
            best = min(best, time.process_time() - t0)
        per_image.append(best)
        shape = spine.radiograph.shape
    return float(np.median(per_image)), shape


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 seeds x 1 repeat")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--levels", nargs=2, default=("T11", "L3"), metavar=("FIRST", "LAST"))
    args = ap.parse_args()
    n_seeds, repeat = (2, 1) if args.quick else (args.seeds, args.repeat)
    seeds = range(200_000, 200_000 + n_seeds)
    make_spine(first="L1", last="L2", seed=0, appearance="annotated")  # imports, fonts
    print(f"make_spine({args.levels[0]}-{args.levels[1]}), {n_seeds} seeds, best of {repeat}, "
          "CPU seconds per image (median over seeds)\n")
    print("| family | split | image px | s per image | vs classic | <= 0.3 s |")
    print("|---|---|---|---|---|---|")
    base = None
    worst = 0.0
    for name in APPEARANCE_FAMILIES:
        t, shape = time_family(name, seeds, repeat, *args.levels)
        base = base or t
        worst = max(worst, t)
        split = "eval" if name in EVAL_FAMILIES else "train"
        print(f"| {name} | {split} | {shape[1]} x {shape[0]} | {t:.3f} | {t / base:.2f}x | "
              f"{'yes' if t <= TARGET_S else 'NO'} |")
    print(f"\nslowest family: {worst:.3f} s per image")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
