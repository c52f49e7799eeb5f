"""The ``outputs`` category's scenarios: what a batch run writes, and where.

Each scenario runs in the harness's forked child on the folder ``make_corpus.outputs``
wrote (``case["path"]``, copied afresh for each run). It returns ``""`` when every
property it checks holds and a sentence saying what is wrong otherwise; a scenario
whose ``expect`` is ``"error"`` lets the library's VcfMeasureError through, after
checking that nothing was replaced or lost on the way.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _formula_cells(path: Path) -> list[str]:
    """Cells a spreadsheet would run: text (not a number) starting with = + - @ tab CR."""
    return [c for row in _cells(path) for c in row
            if c.startswith(FORMULA_START) and not _number(c)]


def concurrent(d: Path) -> str:
    """A second run on the same --out while the first is writing it must fail clearly."""
    from vcfmeasure import VcfMeasureError, batch, load_image

    out = d / "g.csv"
    seen: list[str] = []

    def loader(path: str, spacing: Any = None) -> Any:  # the first run, mid-way
        if not seen:
            try:
                batch.grade_many(d / "other", out=out, parquet=False)
                seen.append("the second run was accepted")
            except VcfMeasureError as exc:
                seen.append("" if "another vcfmeasure run" in str(exc) else f"refused: {exc}")
        return load_image(path, spacing=spacing)

    df = batch.grade_many(d / "in", out=out, parquet=False, image_loader=loader)
    if seen != [""]:
        return seen[0] if seen else "the loader never ran"
    images = {Path(r[0]).name for r in _cells(out)[1:]}
    if images != {"a.dcm", "b.dcm"} or len(df) != 6:
        return f"the first run's output holds {sorted(images)}, {len(df)} rows"
    leftovers = sorted(p.name for p in d.iterdir() if p.name.startswith(".g.csv"))
    return f"left behind {leftovers}" if leftovers else ""


def out_symlink(d: Path) -> str:
    """--out a symlink: the target is written, the link stays."""
    from vcfmeasure import batch

    target, link = d / "real.csv", d / "link.csv"
    target.write_text("old")
    link.symlink_to(target)
    batch.grade_many(d / "in", out=link, parquet=False)
    if not link.is_symlink():
        return "the symlink was replaced by a regular file"
    return "" if len(_cells(target)) == 7 else f"target holds {len(_cells(target))} lines"


def out_dangling_symlink(d: Path) -> str:
    from vcfmeasure import batch

    link = d / "link.csv"
    link.symlink_to(d / "made" / "g.csv")
    batch.grade_many(d / "in", out=link, parquet=False)
    if not link.is_symlink():
        return "the symlink was replaced by a regular file"
    return "" if len(_cells(d / "made" / "g.csv")) == 7 else "the target was not written"


def _refused(d: Path, out: Path, write: Callable[[Path], Any], kind: Callable[[int], bool],
             ) -> str:
    """Call ``write(out)``: it must raise; ``out`` must keep its kind; nothing new in /dev."""
    before = set(os.listdir("/dev"))
    try:
        write(out)
    finally:
        after = set(os.listdir("/dev"))
        if after - before:
            raise AssertionError(f"written into /dev: {sorted(after - before)}")
        if not kind(os.stat(out).st_mode):
            raise AssertionError(f"{out} was replaced")
    return f"{out} was accepted as an output"


def out_fifo(d: Path) -> str:
    from vcfmeasure import batch

    fifo = d / "f.csv"
    os.mkfifo(fifo)
    return _refused(d, fifo, lambda o: batch.grade_many(d / "in", out=o, parquet=False),
                    stat.S_ISFIFO)


def out_device_link(d: Path) -> str:
    """--out a symlink to /dev/null, Parquet on: refused, /dev untouched."""
    from vcfmeasure import batch

    link = d / "null.csv"
    link.symlink_to("/dev/null")
    return _refused(d, link, lambda o: batch.grade_many(d / "in", out=o), stat.S_ISCHR)


def out_folder(d: Path) -> str:
    from vcfmeasure import batch

    (d / "dir.csv").mkdir()
    return _refused(d, d / "dir.csv", lambda o: batch.grade_many(d / "in", out=o,
                                                                  parquet=False),
                    stat.S_ISDIR)


def write_results_fifo(d: Path) -> str:
    from vcfmeasure import batch, write_results

    df = batch.grade_many(d / "in", parquet=False)
    fifo = d / "w.csv"
    os.mkfifo(fifo)
    return _refused(d, fifo, lambda o: write_results(df, o), stat.S_ISFIFO)


def write_results_symlink(d: Path) -> str:
    from vcfmeasure import batch, write_results

    df = batch.grade_many(d / "in", parquet=False)
    target, link = d / "real.csv", d / "link.csv"
    target.write_text("old")
    link.symlink_to(target)
    write_results(df, link)
    if not link.is_symlink():
        return "the symlink was replaced by a regular file"
    return "" if len(_cells(target)) == 7 else "the target was not written"


def formulas(d: Path) -> str:
    """File names and manifest cells that a spreadsheet would run: neutral in CSV only."""
    import pandas as pd

    from vcfmeasure import batch, write_results

    out = d / "g.csv"
    df = batch.grade_many(d / "m.csv", out=out)
    bad = _formula_cells(out)
    if bad:
        return f"formula cells in the CSV: {bad[:3]}"
    raw = {Path(p).name for p in df.image} | set(df.patient)
    wanted = {"=1+1.dcm", "@a.dcm", "+a.dcm", "-a.dcm", "=HYPERLINK(\"http://x\")", "+1", "@x"}
    if not wanted <= raw:
        return f"the frame lost raw values: missing {sorted(wanted - raw)}"
    pq = pd.read_parquet(out.with_suffix(".parquet"))
    if set(pq.patient) != set(df.patient):
        return "Parquet does not keep the raw values"
    again = batch.grade_many(d / "m.csv", out=out, resume=True)
    if again.patient.tolist() != df.patient.tolist() or again.image.tolist() != df.image.tolist():
        return "resume did not read the values back"
    bad = _formula_cells(write_results(df, d / "w.csv"))
    return f"formula cells from write_results: {bad[:3]}" if bad else ""


def long_cells(d: Path) -> str:
    """A 100 000-character manifest cell: bounded in CSV, read back by resume and merge."""
    from vcfmeasure import batch

    out = d / "g.csv"
    first = batch.grade_many(d / "m.csv", out=out, parquet=False)
    longest = max(len(c) for row in _cells(out) for c in row)
    if longest > 131072 // 2:
        return f"a CSV cell of {longest} characters"
    again = batch.grade_many(d / "m.csv", out=out, parquet=False, resume=True)
    if again.patient.tolist() != first.patient.tolist():
        return "resume read back other values"
    merged = batch.merge_outputs([out], d / "all.csv")
    return "" if _cells(merged) == _cells(out) else "merge_outputs changed the rows"


def _old_output(d: Path) -> Path:
    """An output written by an older version: one warnings cell of 200 000 characters."""
    from vcfmeasure import batch

    out = d / "old.csv"
    batch.grade_many(d / "in", out=out, parquet=False)
    rows = _cells(out)
    rows[1][rows[0].index("warnings")] = "y" * 200_000
    with open(out, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return out


def resume_old_long_cell(d: Path) -> str:
    from vcfmeasure import batch

    out = _old_output(d)
    batch.grade_many(d / "in", out=out, parquet=False, resume=True)
    return "resumed an output it cannot read back"


def merge_old_long_cell(d: Path) -> str:
    from vcfmeasure import batch

    batch.merge_outputs([_old_output(d)], d / "all.csv")
    return "merged an output it cannot read back"


def manifest_long_cell(d: Path) -> str:
    from vcfmeasure import batch

    batch.grade_many(d / "m.csv", parquet=False)
    return "graded a manifest cell over the CSV field limit"


def manifest_nul(d: Path) -> str:
    from vcfmeasure import batch

    batch.grade_many(d / "m.csv", parquet=False)
    return "graded a manifest holding a NUL byte"


SCENARIOS: dict[str, Callable[[Path], str]] = {
    f.__name__.replace("_", "-"): f for f in (
        concurrent, out_symlink, out_dangling_symlink, out_fifo, out_device_link, out_folder,
        write_results_fifo, write_results_symlink, formulas, long_cells,
        resume_old_long_cell, merge_old_long_cell, manifest_long_cell, manifest_nul)
}


def run(case: dict[str, Any]) -> str:
    """Run the case's scenario on a fresh copy of its folder (so it can be run again)."""
    import shutil
    import tempfile

    src = Path(case["path"])
    work = Path(tempfile.mkdtemp(prefix=f"{src.name}.", dir=src.parent)) / "run"
    shutil.copytree(src, work, symlinks=True)
    try:
        return SCENARIOS[case["scenario"]](work)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
