"""Batch runs on hostile inputs and outputs: what could hang, vanish or mislead."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import vcfmeasure as vm
from tests.fixtures.batch_data import write_case, write_dicom
from vcfmeasure import batch
from vcfmeasure.cli import main

ROOT = Path(__file__).resolve().parents[1]


def rows_of(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ inputs that could hang


def test_fifo_in_a_folder_is_an_error_row_not_a_hang(tmp_path):
    write_case(tmp_path, "a")
    os.mkfifo(tmp_path / "b.dcm")
    os.mkfifo(tmp_path / "IM0002")  # no suffix: never opened to look for "DICM"
    df = batch.grade_many(tmp_path)
    errors = {Path(i).name: e for i, e in zip(df.image, df.error, strict=True)}
    assert errors["a.dcm"] == ""
    assert "b.dcm: is a FIFO (named pipe), not an image file; skipped" in errors["b.dcm"]
    assert "IM0002: is a FIFO" in errors["IM0002"]


def test_symlink_loop_under_a_recursive_glob_finishes(tmp_path):
    write_case(tmp_path / "sub", "a")
    os.symlink("..", tmp_path / "sub" / "up")
    os.symlink(".", tmp_path / "sub" / "here")
    tasks = batch.collect_inputs(str(tmp_path / "**" / "*.dcm"))
    assert [Path(t.image).name for t in tasks] == ["a.dcm"]


def test_recursive_glob_matches_like_glob(tmp_path):
    for rel in ("a.dcm", "x/b.dcm", "x/y/c.dcm", "x/y/c.png", ".hidden/d.dcm"):
        write_dicom(tmp_path / rel)
    found = batch._inputs._safe_glob(str(tmp_path / "**" / "*.dcm"))
    assert [Path(p).relative_to(tmp_path).as_posix() for p in found] == [
        "a.dcm", "x/b.dcm", "x/y/c.dcm"]
    found = batch._inputs._safe_glob(str(tmp_path / "x" / "**" / "c.*"))
    assert [Path(p).name for p in found] == ["c.dcm", "c.png"]


def test_one_file_reached_by_several_links_is_graded_once(tmp_path):
    write_case(tmp_path, "a")
    for k in range(2):
        os.symlink("a.dcm", tmp_path / f"link{k}.dcm")
        os.symlink("a.json", tmp_path / f"link{k}.json")
    df = batch.grade_many(tmp_path)
    assert set(df.image) == {str(tmp_path / "a.dcm")} and len(df) == 3
    assert "also given as" in df.warnings.iloc[0] and "link1.dcm" in df.warnings.iloc[0]


# ------------------------------------------------------------------ files that are no image


def test_a_dicom_without_pixels_lends_no_spacing(tmp_path):
    image, _ = write_case(tmp_path, "a")
    data = image.read_bytes()
    image.write_bytes(data[:data.rindex(b"\xe0\x7f\x10\x00")])  # header only
    df = batch.grade_many(tmp_path)
    assert len(df) == 1 and "no (7FE0,0010) Pixel Data" in df.error.iloc[0]
    assert str(image) in df.error.iloc[0]


def test_a_truncated_dicom_lends_no_spacing(tmp_path):
    image, _ = write_case(tmp_path, "a")
    image.write_bytes(image.read_bytes()[:-100])
    df = batch.grade_many(tmp_path)
    assert "Pixel Data declares 28800 bytes but the file holds only 28700" in df.error.iloc[0]


# ------------------------------------------------------------------ units


def test_rows_in_px_say_so_and_can_be_refused(tmp_path, capsys):
    write_case(tmp_path / "mm", "a")
    image, _ = write_case(tmp_path / "px", "b")
    from pydicom import dcmread

    ds = dcmread(image)
    del ds.ImagerPixelSpacing
    ds.save_as(image)
    df = batch.grade_many(tmp_path)
    px = df[df.unit == "px"]
    assert len(px) == 3 and not df[df.unit == "mm"].warnings.str.contains("in px").any()
    assert px.warnings.str.startswith("lengths in px: the image has no usable pixel spacing").all()
    assert main(["grade", str(tmp_path), "--out", str(tmp_path / "g.csv"), "--no-parquet"]) == 0
    assert "1 image in px" in capsys.readouterr().err
    code = main(["grade", str(tmp_path), "--out", str(tmp_path / "r.csv"), "--no-parquet",
                 "--require-spacing"])
    assert code == 1
    refused = [r for r in rows_of(tmp_path / "r.csv") if r["error"]]
    assert len(refused) == 1 and "SpacingError" in refused[0]["error"]
    assert "--require-spacing refuses rows in px" in refused[0]["error"]


def test_compare_rows_carry_the_spacing(tmp_path):
    write_case(tmp_path, "pre", spacing=0.15)
    write_case(tmp_path, "post", ha_l1=25.0, spacing=0.15)
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,patient,time_point\npre.dcm,P1,pre\npost.dcm,P1,post\n")
    df = batch.compare_many(manifest)
    assert (df.error == "").all()
    assert df.spacing_row_mm.tolist() == pytest.approx([0.15] * len(df))
    assert df.spacing_col_mm.tolist() == pytest.approx([0.15] * len(df))


# ------------------------------------------------------------------ cells


def test_formulas_are_neutralised_in_csv_only(tmp_path):
    write_case(tmp_path, "a")
    manifest = tmp_path / "m.csv"
    manifest.write_text('image,patient\na.dcm,"=HYPERLINK(""http://x"")"\n')
    out = tmp_path / "g.csv"
    df = batch.grade_many(manifest, out=out)
    assert (df.patient == '=HYPERLINK("http://x")').all()  # the frame keeps the raw value
    assert {r["patient"] for r in rows_of(out)} == {'\'=HYPERLINK("http://x")'}
    import pandas as pd

    assert set(pd.read_parquet(out.with_suffix(".parquet")).patient) == {
        '=HYPERLINK("http://x")'}
    again = batch.grade_many(manifest, out=out, resume=True)  # read back unchanged
    assert again.patient.tolist() == df.patient.tolist()


def test_cells_are_bounded_and_resume_reads_them_back(tmp_path):
    assert batch._cell("x" * 200_000).endswith("characters cut]")
    assert len(batch._cell("x" * 200_000)) <= batch._csv.MAX_CELL_CHARS
    assert batch._cell("-1") == "'-1" and batch._csv._raw("'-1") == "-1"
    assert batch._cell("'quoted") == "''quoted" and batch._csv._raw("''quoted") == "'quoted"
    write_case(tmp_path, "a")
    out = tmp_path / "g.csv"
    batch.grade_many(tmp_path, out=out, parquet=False)
    rows = list(csv.reader(out.open(newline="")))
    rows[1][-2] = "y" * 200_000  # an older output with a huge warnings cell
    with out.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    with pytest.raises(vm.FileFormatError, match="line 2: unreadable CSV"):
        batch.grade_many(tmp_path, out=out, resume=True, parquet=False)


# ------------------------------------------------------------------ the output file

_RUN_SLOWLY = textwrap.dedent("""
    import sys
    from tests.fixtures.batch_data import load_slowly
    from vcfmeasure import batch
    batch.grade_many(sys.argv[1], out=sys.argv[2], image_loader=load_slowly, parquet=False)
""")


def test_a_second_run_on_the_same_output_fails_clearly(tmp_path):
    for i in range(12):
        write_case(tmp_path / "in", f"s{i:02d}")
    out = tmp_path / "g.csv"
    first = subprocess.Popen([sys.executable, "-c", _RUN_SLOWLY, str(tmp_path / "in"), str(out)],
                             cwd=ROOT)
    lock = tmp_path / ".g.csv.lock"
    try:
        for _ in range(400):
            if lock.exists() and lock.read_text():
                break
            import time

            time.sleep(0.05)
        with pytest.raises(vm.VcfMeasureError, match="another vcfmeasure run .* is writing"):
            batch.grade_many(tmp_path / "in", out=out, parquet=False)
    finally:
        assert first.wait(timeout=120) == 0
    assert len({r["image"] for r in rows_of(out)}) == 12  # the first run's rows are all there
    assert not lock.exists()


def test_out_through_a_symlink_is_written_through(tmp_path):
    write_case(tmp_path / "in", "a")
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    batch.grade_many(tmp_path / "in", out=link, parquet=False)
    assert link.is_symlink() and len(rows_of(target)) == 3


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_out_on_a_device_is_refused(tmp_path):
    write_case(tmp_path / "in", "a")
    with pytest.raises(vm.VcfMeasureError, match="/dev/null: is a device, FIFO or socket"):
        batch.grade_many(tmp_path / "in", out="/dev/null", parquet=False)
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


_HUNGRY_ALONE = textwrap.dedent("""
    import sys
    from tests.fixtures.batch_data import load_hungry
    from vcfmeasure import batch
    df = batch.grade_many(sys.argv[1], jobs=1, memory_limit=1 << 30, image_loader=load_hungry)
    print(sorted(zip(df.image.str.rsplit("/", n=1).str[-1], df.error.str[:11])))
""")


def test_max_memory_holds_with_one_job(tmp_path):
    write_case(tmp_path, "huge")
    write_case(tmp_path, "small")
    done = subprocess.run([sys.executable, "-c", _HUNGRY_ALONE, str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "('huge.dcm', 'MemoryError')" in done.stdout
    assert done.stdout.count("('small.dcm', '')") == 3


# ------------------------------------------------------------------ every other writer


def test_write_results_writes_through_a_symlink_and_refuses_a_fifo(tmp_path):
    write_case(tmp_path / "in", "a")
    df = batch.grade_many(tmp_path / "in", parquet=False)
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    vm.write_results(df, link)
    assert link.is_symlink() and len(rows_of(target)) == 3  # the link kept, its target new
    fifo = tmp_path / "f.csv"
    os.mkfifo(fifo)
    with pytest.raises(vm.VcfMeasureError, match="f.csv: is a device, FIFO or socket"):
        vm.write_results(df, fifo)
    assert fifo.is_fifo()  # not replaced by a regular file


def test_write_results_neutralises_formulas_in_csv_only(tmp_path):
    import json

    import pandas as pd

    df = pd.DataFrame({"image": ["=HYPERLINK(1)", "@SUM(A1)", "+1", "-1", "'x", "a.dcm"],
                       "ha": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0]})
    rows = rows_of(vm.write_results(df, tmp_path / "t.csv"))
    assert [r["image"] for r in rows] == ["'=HYPERLINK(1)", "'@SUM(A1)", "'+1", "'-1", "''x",
                                          "a.dcm"]
    assert rows[0]["ha"] == "-1.5"  # numbers are left alone
    doc = json.loads(vm.write_results(df, tmp_path / "t.json").read_text())
    assert doc["records"][0]["image"] == "=HYPERLINK(1)"


def test_a_manifest_cell_over_the_csv_field_limit_is_named(tmp_path):
    image, _ = write_case(tmp_path, "a")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"image,patient\n{image},{'P' * 200_000}\n")
    with pytest.raises(vm.FileFormatError, match="m.csv: unreadable CSV"):
        batch.read_manifest(manifest)
    with pytest.raises(vm.FileFormatError, match="m.csv: unreadable CSV"):
        batch.grade_many(manifest, parquet=False)
