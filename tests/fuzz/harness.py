"""Run hostile-input cases, each in a forked child under a time and memory limit.

Usage::

    python tests/fuzz/harness.py CORPUS_DIR [--jobs 2]   # counts per category and outcome

The parent imports vcfmeasure and the readers once; each case runs in a ``fork()`` of it
(cheap: no interpreter start), which

- resets its peak-RSS counter, caps its address space (``RLIMIT_AS``) at what it has now
  plus the case's memory allowance and 64 MB, and its CPU time (``RLIMIT_CPU``);
- records every warning (a ``RuntimeWarning`` that is not a ``VcfMeasureWarning`` is a leak:
  NumPy overflow, Pillow's ``DecompressionBombWarning``);
- reports ``(outcome, detail, seconds, peak bytes)`` through a pipe.

Outcomes: ``error`` (a ``VcfMeasureError``), ``result`` (returned and correct),
``wrong`` (returned, but not what the case says is correct), ``foreign`` (another
exception), ``leak`` (a RuntimeWarning escaped), ``slow`` (over the time limit),
``memory`` (over the memory allowance, or ``MemoryError``), ``crash`` (the child died: a
native abort or segfault), ``hang`` (killed at the wall-clock limit).

The allowance is 3x the decoded image's bytes (``decoded_bytes`` of the case) plus 32 MB
for the library's own working set, or 256 MB for non-images.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

TIME_LIMIT_S = 5.0
NON_IMAGE_BYTES = 256 * 2**20
WORKING_SET = 32 * 2**20
GOOD = ("error", "result")


def allowance(case: dict[str, Any]) -> int:
    """Peak-memory allowance of a case, in bytes."""
    decoded = case.get("decoded_bytes")
    return NON_IMAGE_BYTES if not decoded else 3 * int(decoded) + WORKING_SET


def preload() -> None:
    """Import everything a case may use, so that children measure data, not imports."""
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import PIL.Image
    import pydicom  # noqa: F401
    import pydicom.pixels  # noqa: F401

    import vcfmeasure  # noqa: F401
    import vcfmeasure.batch  # noqa: F401
    import vcfmeasure.io.images  # noqa: F401
    import vcfmeasure.io.landmark_files as lf

    PIL.Image.init()
    for fmt in getattr(lf, "FORMATS", {}).values():
        __import__(f"vcfmeasure.io.{fmt}")
    for name in ("vcfmeasure.morphometry", "vcfmeasure.grading", "jsonschema", "tqdm.auto",
                 "pydicom.pixels.decoders", "pydicom.encaps", "imageio.v3"):
        try:
            __import__(name)
        except ImportError:
            pass


def _status(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def _check_result(case: dict[str, Any], value: Any) -> str:
    """'' when ``value`` is correct for ``case``, else what is wrong."""
    import numpy as np

    check = case.get("check") or {}
    op = case["op"]
    if op == "load_image":
        px = value.pixels
        if px.ndim != 2 or px.dtype != np.float32 or not np.isfinite(px).all():
            return f"pixels {px.shape} {px.dtype}, finite={bool(np.isfinite(px).all())}"
        if "shape" in check and list(px.shape) != check["shape"]:
            return f"shape {px.shape}, expected {check['shape']}"
        if value.spacing is not None and not all(0 < s < 10 for s in value.spacing):
            return f"spacing {value.spacing}"
        if "spacing_source" in check and not value.spacing_source.startswith(
                check["spacing_source"]):
            return f"spacing_source {value.spacing_source!r}"
        return ""
    if op == "read_metadata":
        spacing = value.get("spacing")
        if spacing is not None and not all(0 < float(s) < 10 for s in spacing):
            return f"spacing {spacing}"
        return ""
    if op == "read_landmarks":
        levels = sorted({lv for lm in value.values() for lv in lm.levels})
        if "levels" in check and levels != check["levels"]:
            return f"levels {levels}, expected {check['levels']}"
        for lm in value.values():
            if not np.isfinite(lm.array).all():
                return "non-finite landmark coordinates"
        return ""
    if op == "python":
        return ""
    if op == "outputs":  # the scenario checked itself: '' or what is wrong
        return str(value)
    if op == "grade_many":
        df = value
        if case["expect"] == "error-rows":
            if len(df) == 0 or not df.error.astype(bool).all():
                units = sorted(set(df.get("unit", [])))
                return f"{len(df)} rows graded without error (unit {units})"
            return ""
        names = {Path(p).name for p in df.image}
        if "n_images" in check and len(set(df.image)) != check["n_images"]:
            return f"{len(set(df.image))} images graded ({sorted(names)}), expected " \
                   f"{check['n_images']}"
        for name, state in check.get("images", {}).items():
            rows = df[[Path(p).name == name for p in df.image]]
            if rows.empty:
                return f"no row for {name}"
            failed = bool(rows.error.astype(bool).any())
            if failed != (state == "error"):
                return f"{name}: expected {state}, got error={rows.error.iloc[0]!r}"
        if "levels" in check:
            good = df[~df.error.astype(bool)]
            if sorted(good.level) != check["levels"]:
                return f"levels {sorted(good.level)}; errors {set(df.error)}"
        return ""
    raise ValueError(f"unknown op {op!r}")


def _call(case: dict[str, Any]) -> Any:
    path = case["path"]
    op = case["op"]
    if op == "load_image":
        from vcfmeasure import load_image

        return load_image(path)
    if op == "read_metadata":
        from vcfmeasure.io.images import read_metadata

        return read_metadata(path)
    if op == "read_landmarks":
        from vcfmeasure.io.landmark_files import read_landmarks_all

        return read_landmarks_all(path)
    if op == "grade_many":
        from vcfmeasure.batch import grade_many

        return grade_many(path, landmarks=case.get("landmarks"))
    if op == "outputs":
        import outputs

        return outputs.run(case)
    if op == "python":  # the harness's own self-test
        exec(case["code"], {})  # noqa: S102
        return None
    raise ValueError(f"unknown op {op!r}")


def _child(case: dict[str, Any], out: int) -> None:
    from vcfmeasure import VcfMeasureError, VcfMeasureWarning

    limit = allowance(case)
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    except OSError:
        pass
    base = _status("VmRSS:")
    vm = _status("VmSize:")
    resource.setrlimit(resource.RLIMIT_AS, (vm + limit + 64 * 2**20,) * 2)
    cpu = int(resource.getrusage(resource.RUSAGE_SELF).ru_utime) + int(TIME_LIMIT_S * 3)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    start = time.perf_counter()
    outcome, detail = "", ""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = _call(case)
        except VcfMeasureError as exc:
            outcome, detail = "error", f"{type(exc).__name__}: {exc}"[:300]
        except MemoryError:
            outcome, detail = "memory", "MemoryError"
        except BaseException as exc:  # noqa: BLE001 - every foreign exception is a finding
            tb = traceback.extract_tb(exc.__traceback__)
            where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(tb)
                          if "vcfmeasure" in f.filename), "")
            outcome, detail = "foreign", f"{type(exc).__name__}: {exc}"[:240] + f" @ {where}"
        else:
            wrong = _check_result(case, value)
            if case["expect"] == "error" and not wrong:
                wrong = "accepted (a VcfMeasureError was expected)"
            outcome, detail = ("wrong", wrong) if wrong else ("result", "")
    elapsed = time.perf_counter() - start
    peak = _status("VmHWM:") - base
    leaks = [f"{w.category.__name__}: {w.message}"[:200] for w in caught
             if issubclass(w.category, RuntimeWarning)
             and not issubclass(w.category, VcfMeasureWarning)]
    if outcome in GOOD and leaks:
        outcome, detail = "leak", leaks[0]
    if outcome in GOOD and elapsed > TIME_LIMIT_S:
        outcome, detail = "slow", f"{elapsed:.1f} s"
    if outcome in GOOD and peak > limit:
        outcome, detail = "memory", f"peak {peak / 2**20:.0f} MB > {limit / 2**20:.0f} MB"
    os.write(out, json.dumps({"outcome": outcome, "detail": detail, "seconds": elapsed,
                              "peak": peak}).encode())


def run_case(case: dict[str, Any], *, wall_s: float = 30.0) -> dict[str, Any]:
    """Run one case in a forked child; return its outcome record."""
    read, write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        code = 0
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.setpgid(0, 0)
            _child(case, write)
        except BaseException:  # noqa: BLE001
            code = 3
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    deadline = time.monotonic() + wall_s
    eof = False
    while not eof:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([read], [], [], min(left, 0.5))
        if ready:
            chunk = os.read(read, 65536)
            eof = not chunk
            chunks.append(chunk)
    os.close(read)
    done, status = os.waitpid(pid, 0 if eof else os.WNOHANG)
    if not done:
        with contextlib_suppress():
            os.killpg(pid, signal.SIGKILL)
        with contextlib_suppress():
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return {**_summary(case), "outcome": "hang", "detail": f"killed at {wall_s:.0f} s",
                "seconds": wall_s, "peak": 0}
    chunks = [c for c in chunks if c]
    if chunks:
        return {**_summary(case), **json.loads(b"".join(chunks))}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        what = {signal.SIGXCPU: "slow"}.get(sig, "crash")
        return {**_summary(case), "outcome": what,
                "detail": f"child died of {signal.Signals(sig).name}", "seconds": 0, "peak": 0}
    return {**_summary(case), "outcome": "crash",
            "detail": f"child exited {os.WEXITSTATUS(status)} without a report", "seconds": 0,
            "peak": 0}


class contextlib_suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)


def _summary(case: dict[str, Any]) -> dict[str, Any]:
    return {"id": case["id"], "category": case["category"]}


def table(results: list[dict[str, Any]]) -> str:
    """Counts per category and outcome, as a text table."""
    outcomes = ["error", "result", "wrong", "foreign", "leak", "slow", "memory", "crash",
                "hang"]
    cats = sorted({r["category"] for r in results})
    count = Counter((r["category"], r["outcome"]) for r in results)
    lines = ["category".ljust(16) + "".join(o.rjust(8) for o in outcomes) + "   bad/all"]
    for cat in [*cats, "ALL"]:
        row = [sum(v for (c, o), v in count.items() if o == out and cat in (c, "ALL"))
               for out in outcomes]
        bad = sum(row[2:])
        lines.append(cat.ljust(16) + "".join(str(v).rjust(8) for v in row)
                     + f"   {bad}/{sum(row)}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--only", default="", help="run cases whose id contains this")
    parser.add_argument("--json", type=Path, help="write every outcome to this file")
    parser.add_argument("--verbose", "-v", action="store_true")
    args = parser.parse_args(argv)
    cases = json.loads((args.corpus / "cases.json").read_text())
    cases = [c for c in cases if args.only in c["id"]]
    preload()
    results = []
    for case in cases:
        res = run_case(case)
        results.append(res)
        if args.verbose or res["outcome"] not in GOOD:
            print(f"{res['outcome']:8} {res['id']:48} {res['seconds']:5.2f}s "
                  f"{res['peak'] / 2**20:6.0f}MB  {res['detail'][:160]}", flush=True)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if all(r["outcome"] in GOOD for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
