"""Throughput of measure + grade: one 13-level spine per call, and the cohort array API.

Run: python benchmarks/bench_core.py [--quick]
Times are CPU time of this process (time.process_time), so other load on the machine
distorts them less; best of several repeats.
Targets (issue 2, one core): >= 100,000 vertebrae/s through per-spine calls,
>= 2,000,000 vertebrae/s through the cohort API.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spine_factory import level_range, spine_xy  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.cohort import grade_cohort, measure_cohort  # noqa: E402

LEVELS = level_range("T4", "L4")  # 13 levels


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sizes = [(rng.uniform(18, 28), rng.uniform(18, 26), rng.uniform(24, 28), 35.0)
             for _ in LEVELS]
    xy = spine_xy(LEVELS, sizes=sizes, tilts_deg=rng.uniform(-8, 8, len(LEVELS)))
    lm = vm.Landmarks.from_array(xy, LEVELS)

    calls = 500 if args.quick else 3000

    def per_spine():
        for _ in range(calls):
            vm.grade(vm.measure(lm, spacing=0.15))

    def per_spine_with_records():
        for _ in range(calls // 10):
            vm.grade(vm.measure(lm, spacing=0.15)).to_records()

    def construct():
        for _ in range(calls // 10):
            vm.Landmarks.from_array(xy, LEVELS)

    t = best_of(per_spine, 3)
    rate = calls * len(LEVELS) / t
    print(f"per-spine measure+grade : {rate:12,.0f} vertebrae/s  "
          f"({t / calls * 1e6:7.1f} us per 13-level spine)  target 100,000  "
          f"ratio {rate / 1e5:.2f}x")
    t = best_of(per_spine_with_records, 3)
    print(f"  + to_records()        : {calls // 10 * len(LEVELS) / t:12,.0f} vertebrae/s  "
          f"({t / (calls // 10) * 1e6:7.1f} us per spine)")
    t = best_of(construct, 3)
    print(f"  Landmarks validation  : {calls // 10 * len(LEVELS) / t:12,.0f} vertebrae/s  "
          f"({t / (calls // 10) * 1e6:7.1f} us per spine)")

    n_spines = 20_000 if args.quick else 150_000
    big = np.tile(xy, (n_spines, 1, 1)) + rng.normal(0, 0.3, (n_spines * len(LEVELS), 6, 2))
    levels = np.tile([vm.LEVELS.index(lv) for lv in LEVELS], n_spines)
    sid = np.repeat(np.arange(n_spines), len(LEVELS))

    def cohort():
        grade_cohort(measure_cohort(big, levels, spine_id=sid, spacing=0.15))

    t = best_of(cohort, 2)
    rate = len(big) / t
    print(f"cohort measure+grade    : {rate:12,.0f} vertebrae/s  ({len(big):,} vertebrae in "
          f"{t:.2f} s, {t / len(big) * 1e9:.0f} ns each)  target 2,000,000  "
          f"ratio {rate / 2e6:.2f}x")


if __name__ == "__main__":
    main()
