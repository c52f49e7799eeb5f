"""Read and write times of every landmark format, per image of a 13-vertebra spine.

Run: python benchmarks/bench_landmark_io.py [--images N]
Multi-image formats (CSV, COCO, CVAT) write and read one file of N images; single-image
formats (native JSON, Slicer, labelme) one file per call, N times. CPU time of this process
(time.process_time), best of three. Reading includes building and validating Landmarks
(and, for the native JSON, JSON Schema validation).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spine_factory import level_range, spine_xy  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure.io.landmark_files import read_landmarks_all, write_landmarks  # noqa: E402

SUFFIX = {"json": ".json", "csv": ".csv", "slicer": ".mrk.json", "labelme": ".json",
          "coco": ".json", "cvat": ".xml"}


def best_of(fn, repeat=3):
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def _repeat(n, fn, *args, **kwargs):
    for _ in range(n):
        fn(*args, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    n = parser.parse_args().images
    levels = level_range("T4", "L4")
    lm = vm.Landmarks(dict(zip(levels, spine_xy(levels), strict=True)))
    folder = Path(tempfile.mkdtemp())
    print(f"{'format':8} {'write ms/image':>15} {'read ms/image':>14}   ({n} images, 13 levels)")
    for fmt, suffix in SUFFIX.items():
        path = folder / f"bench_{fmt}{suffix}"
        if fmt in ("csv", "coco", "cvat"):
            images = {f"img{i:05d}.png": lm for i in range(n)}
            tw = best_of(partial(write_landmarks, images, path, format=fmt))
            tr = best_of(partial(read_landmarks_all, path, format=fmt))
        else:
            tw = best_of(partial(_repeat, n, write_landmarks, lm, path, format=fmt))
            tr = best_of(partial(_repeat, n, vm.read_landmarks, path, format=fmt))
        print(f"{fmt:8} {1000 * tw / n:15.3f} {1000 * tr / n:14.3f}")


if __name__ == "__main__":
    main()
