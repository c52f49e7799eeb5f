"""Batch throughput: images per minute for 100 synthetic DICOM files with landmark files.

Run from the repository root (one command)::

    python benchmarks/bench_batch.py            # 100 images, 1 and 2 workers, --detect
    python benchmarks/bench_batch.py --n 400 --jobs 1 2 4

It draws ``--n`` distinct synthetic lateral radiographs (``vcfmeasure.synthetic``, T11-L3,
one fracture each, seeded), writes each as a DICOM file with its ground-truth landmarks
in a JSON file beside it, then grades the folder with ``grade_many`` (1 worker in process,
then N worker processes) and with ``detect=True``, and again with the command line in a
fresh process. It prints images per minute end to end and once the workers are up (first
to last result), the speed-up over one worker, and the peak resident memory of a worker.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import vcfmeasure as vm  # noqa: E402
from vcfmeasure import batch  # noqa: E402


def _busy(_: int) -> float:
    t0 = time.perf_counter()
    total = 0
    for i in range(5 * 10**6):
        total += i
    return time.perf_counter() - t0


def cpu_check(jobs: int) -> float:
    """How much slower ``jobs`` pure-Python loops run side by side than one alone (1 = ideal)."""
    import multiprocessing

    alone = _busy(0)
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        pool.map(_busy, [0] * jobs)  # start-up
        side_by_side = max(pool.map(_busy, range(jobs)))
    return side_by_side / alone


def make_data(folder: Path, n: int, spacing_mm: float) -> float:
    from vcfmeasure.synthetic import DEFORMITY_TYPES, make_spine

    t0 = time.perf_counter()
    levels = ["T11", "T12", "L1", "L2", "L3"]
    for i in range(n):
        kind = DEFORMITY_TYPES[i % 3]
        spine = make_spine(levels, seed=1000 + i, imager_spacing_mm=spacing_mm,
                           deformities={levels[1 + i % 3]: (kind, 0.15 + 0.05 * (i % 6))})
        spine.write_dicom(folder / f"case{i:04d}.dcm")
        vm.write_landmarks(spine.landmarks, folder / f"case{i:04d}.json")
    return time.perf_counter() - t0


class _Clock:
    """Times a run; ``first`` is when the first input finished (workers are up)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.count = 0


def run(folder: Path, jobs: int, detect: bool) -> dict:
    """grade_many in this process: wall time and throughput once the workers are up."""
    clock = _Clock()
    original = batch._Output.add

    def add(self, key, block):
        now = time.perf_counter()
        clock.first = clock.first or now
        clock.last = now
        clock.count += 1
        original(self, key, block)

    def cpu() -> float:
        return sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                     resource.getrusage(resource.RUSAGE_CHILDREN)))

    cpu0 = cpu()
    batch._Output.add = add
    try:
        df = batch.grade_many(folder, jobs=jobs, detect=detect,
                              levels=["T11", "T12", "L1", "L2", "L3"] if detect else None)
    finally:
        batch._Output.add = original
    wall = time.perf_counter() - clock.start
    cpu_ms = 1000 * (cpu() - cpu0) / max(clock.count, 1)
    steady = (clock.last - clock.first) / max(clock.count - 1, 1) if clock.count > 1 else wall
    # jobs == 1 runs in this process (whole program); else the largest worker process so far
    who = resource.RUSAGE_SELF if jobs == 1 else resource.RUSAGE_CHILDREN
    return {
        "wall": wall,
        "cpu_ms": cpu_ms,
        "per_min": 60 * clock.count / wall,
        "steady_per_min": 60 / steady,
        "peak_mb": resource.getrusage(who).ru_maxrss / 1024,
        "failed": int(df.groupby("image")["error"].apply(lambda e: (e != "").any()).sum()),
        "first_error": next((e for e in df.error if e), ""),
    }


def run_cli(folder: Path, jobs: int, detect: bool) -> float:
    """``python -m vcfmeasure grade`` in a fresh process: what a user waits, start to end."""
    out = folder.parent / f"cli-{jobs}.csv"
    cmd = [sys.executable, "-m", "vcfmeasure", "grade", str(folder), "--jobs", str(jobs),
           "--out", str(out), "--no-parquet", "--no-progress"]
    if detect:
        cmd += ["--detect", "--levels", "T11,T12,L1,L2,L3"]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], capture_output=True,
                   check=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100, help="images (default 100)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--spacing", type=float, default=0.2,
                        help="imager pixel spacing of the drawn films, mm (default 0.2)")
    parser.add_argument("--copies", type=int, default=1,
                        help="grade every file under this many names (hard links), to see "
                             "throughput on a larger archive")
    parser.add_argument("--no-detect", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, vcfmeasure {vm.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}")
    jobs = max(args.jobs)
    print(f"CPU check: {jobs} busy loops side by side run {cpu_check(jobs):.2f}x slower than "
          "one alone (1.00 = the CPUs are free; parallel speed-up cannot exceed what this allows)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        made = make_data(folder, args.n, args.spacing)
        n = args.n
        size = sum(p.stat().st_size for p in folder.glob("*.dcm")) / n / 2**20
        print(f"drew {n} DICOM files ({size:.1f} MB each) + landmark JSON in {made:.1f} s")
        for k in range(1, args.copies):
            for p in sorted(folder.glob("case*.*")):
                if "_" not in p.stem:
                    os.link(p, folder / f"{p.stem.split('.')[0]}_{k}{''.join(p.suffixes)}")
        n *= args.copies
        if args.copies > 1:
            print(f"linked each file {args.copies} times: {n} images")
        modes = [(jobs, False) for jobs in args.jobs]
        if not args.no_detect:
            modes += [(jobs, True) for jobs in args.jobs]
        print(f"\n{'mode':<24}{'img/min':>9}{'steady':>9}{'speed-up':>10}{'cpu ms/img':>11}"
              f"{'cli s':>8}{'cli img/min':>13}{'speed-up':>10}{'peak MB':>9}{'failed':>8}")
        base: dict[bool, tuple[dict, float]] = {}
        for jobs, detect in modes:
            r = run(folder, jobs, detect)
            # the command line is timed with landmarks only: with --detect, start-up is noise
            cli = math.nan if detect else run_cli(folder, jobs, detect=False)
            base.setdefault(detect, (r, cli))
            r0, cli0 = base[detect]
            label = f"{'--detect' if detect else 'landmarks'}, {jobs} worker(s)"
            cli_cols = (f"{'-':>8}{'-':>13}{'-':>10}" if detect else
                        f"{cli:>8.2f}{60 * n / cli:>13.0f}{cli0 / cli:>9.2f}x")
            print(f"{label:<24}{r['per_min']:>9.0f}{r['steady_per_min']:>9.0f}"
                  f"{r['steady_per_min'] / r0['steady_per_min']:>9.2f}x{r['cpu_ms']:>11.1f}"
                  f"{cli_cols}{r['peak_mb']:>9.0f}{r['failed']:>8}")
            if r["failed"]:
                print(f"  rows carry errors, e.g.: {r['first_error'][:150]}")
    print("\nimg/min: grade_many in this process, end to end; steady: from the first result "
          "to the last\n(workers up); cpu ms/img: CPU time of this process and its workers per "
          "image (start-up included),\nwhat the speed-up on free CPUs follows; cli: "
          "`python -m vcfmeasure grade` in a fresh process, start to exit;\npeak MB: "
          "ru_maxrss of this process with 1 worker (in process), of the largest worker "
          "process otherwise")


if __name__ == "__main__":
    main()
