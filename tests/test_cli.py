"""The vcfmeasure command line: exit codes, commands, interruption, demo."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import vcfmeasure as vm
from tests.fixtures.batch_data import spine, write_case, write_dicom
from vcfmeasure import batch
from vcfmeasure.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("demo", "grade", "compare", "measure", "detect", "convert", "info")


@pytest.fixture
def good(tmp_path):
    folder = tmp_path / "good"
    write_case(folder, "normal")
    write_case(folder, "wedge", ha_l1=20.0)
    return folder


def read_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: vcfmeasure {command}") and "exit codes: 0 all good" in out


@pytest.mark.parametrize("argv", [
    [],
    ["grade"],
    ["grade", "x", "--shard", "3/2"],
    ["grade", "x", "--levels", "L1"],
    ["grade", "x", "--landmarks", "y", "--detect"],
    ["grade", "x", "--jobs", "0"],
    ["grade", "x", "--spacing", "-1"],
    ["nonsense"],
], ids=lambda a: " ".join(a) or "nothing")
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_grade_exit_0_when_all_good_then_1_with_a_failure(good, tmp_path, capsys):
    out = tmp_path / "g.csv"
    assert main(["grade", str(good), "--out", str(out), "--no-parquet"]) == 0
    rows = read_rows(out)
    assert [(Path(r["image"]).name, r["level"], r["grade"]) for r in rows][3:6] == [
        ("wedge.dcm", "T12", "0"), ("wedge.dcm", "L1", "2"), ("wedge.dcm", "L2", "0")]
    (good / "broken.dcm").write_bytes(b"not a dicom")
    assert main(["grade", str(good), "--out", str(out), "--no-parquet"]) == 1
    assert "1 failed (see the error column)" in capsys.readouterr().err
    assert read_rows(out)[0]["error"].startswith("LandmarkError")  # broken.dcm sorts first


def test_grade_resume_shard_and_stdout(good, tmp_path, capsys):
    out = tmp_path / "g.csv"
    assert main(["grade", str(good), "--out", str(out), "--no-parquet"]) == 0
    capsys.readouterr()
    assert main(["grade", str(good), "--out", str(out), "--resume", "--no-parquet"]) == 0
    assert "2 already done (resume)" in capsys.readouterr().err
    assert main(["grade", str(good), "--out", str(tmp_path / "s.csv"), "--shard", "2/2",
                 "--no-parquet"]) == 0
    shard_rows = read_rows(tmp_path / "s.shard-2-of-2.csv")
    assert {Path(r["image"]).name for r in shard_rows} == {"wedge.dcm"}
    assert main(["grade", str(good), "--out", str(tmp_path / "r-{shard}.csv"), "--shard",
                 "1/2", "--no-parquet"]) == 0
    assert (tmp_path / "r-1-of-2.csv").is_file()
    capsys.readouterr()
    assert main(["grade", str(good / "normal.dcm"), "--out", "-"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("image,landmarks,") and len(printed) == 4


def test_compare_from_manifest(tmp_path):
    write_case(tmp_path, "pre", ha_l1=16.0)
    write_case(tmp_path, "post", ha_l1=22.0)
    (tmp_path / "m.csv").write_text("image,patient,time_point\npre.dcm,P1,pre\npost.dcm,P1,post\n")
    out = tmp_path / "c.csv"
    assert main(["compare", str(tmp_path / "m.csv"), "--out", str(out), "--no-parquet"]) == 0
    l1 = next(r for r in read_rows(out) if r["level"] == "L1")
    assert float(l1["delta_ha"]) == pytest.approx(1.2)
    assert (l1["grade_pre"], l1["grade_post"]) == ("3", "2")


def test_measure_prints_the_table(tmp_path, capsys):
    vm.write_landmarks(spine(ha_l1=20.0), tmp_path / "s.json")
    assert main(["measure", str(tmp_path / "s.json"), "--spacing", "0.2",
                 "--out", str(tmp_path / "m.csv")]) == 0
    out = capsys.readouterr().out
    assert "3 vertebrae, unit mm" in out
    l1 = [line for line in out.splitlines() if line.strip().startswith("L1")][0].split()
    assert l1[:5] == ["L1", "mm", "4", "5", "6"] and "wedge" in l1
    assert pd.read_csv(tmp_path / "m.csv").loc[1, "wedge_ratio"] == pytest.approx(2 / 3)


def test_measure_an_image_with_its_sidecar(good, capsys):
    assert main(["measure", str(good / "wedge.dcm")]) == 0
    printed = capsys.readouterr()
    assert "spacing from detector" in printed.out
    assert "warning: SpacingWarning: spacing 0.2\\0.2 mm is (0018,1164)" in printed.err


def test_convert_round_trip(tmp_path, capsys):
    lm = spine(ha_l1=20.0)
    vm.write_landmarks(lm, tmp_path / "a.json")
    assert main(["convert", str(tmp_path / "a.json"), str(tmp_path / "a.csv")]) == 0
    assert main(["convert", str(tmp_path / "a.csv"), str(tmp_path / "b.mrk.json")]) == 0
    assert vm.read_landmarks(tmp_path / "b.mrk.json") == lm
    assert main(["convert", str(tmp_path / "nothing.json"), str(tmp_path / "c.csv")]) == 1
    assert "nothing.json" in capsys.readouterr().err


def test_info_text_json_and_a_bad_file(tmp_path, capsys):
    image = write_dicom(tmp_path / "a.dcm", spacing=0.15)
    assert main(["info", str(image)]) == 0
    text = capsys.readouterr().out
    assert "spacing_source" in text and "Imager Pixel Spacing" in text
    assert main(["info", "--json", str(image)]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["spacing"] == [0.15, 0.15] and meta["modality"] == "DX"
    (tmp_path / "b.dcm").write_bytes(b"junk")
    assert main(["info", str(tmp_path / "b.dcm"), str(image)]) == 1
    assert "b.dcm" in capsys.readouterr().err


def test_detect_writes_landmark_files(tmp_path, capsys):
    from vcfmeasure.synthetic import make_spine

    film = make_spine(["T12", "L1", "L2"], seed=2)
    film.write_dicom(tmp_path / "film.dcm")
    (tmp_path / "blank.dcm").write_bytes(b"junk")
    code = main(["detect", str(tmp_path / "film.dcm"), str(tmp_path / "blank.dcm"),
                 "--levels", "T12,L1,L2", "--out", str(tmp_path / "lm")])
    assert code == 1 and "blank.dcm" in capsys.readouterr().err
    found = vm.read_landmarks(tmp_path / "lm" / "film.json")
    assert found.levels == ("T12", "L1", "L2")
    assert {p.method for p in found.provenance.values()} == {"detected"}


def test_python_dash_m(tmp_path):
    done = subprocess.run([sys.executable, "-m", "vcfmeasure", "--version"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"vcfmeasure {vm.__version__}"


def test_demo_writes_tables_and_overlays(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Kyphoplasty of L1" in printed
    df = pd.read_csv(tmp_path / "demo_grades.csv")
    assert set(df.image) == {"demo_images/spine.dcm", "demo_images/pre.dcm",
                             "demo_images/post.dcm"}
    exact = df[df.landmark_source == "ground truth"]
    assert (exact.grade == exact.truth_grade).all()
    # detected or refined points: the drawn fractures' height loss within 5 points
    found = df[(df.landmark_source != "ground truth") & (df.truth_grade > 0)]
    assert ((found.height_loss - found.truth_height_loss).abs() < 0.05).all()
    fractured = df[(df.image == "demo_images/spine.dcm") & (df.truth_grade > 0)]
    assert fractured.level.tolist() == ["T12", "L2"]
    cmp = pd.read_csv(tmp_path / "demo_compare.csv")
    assert cmp.level.tolist() == ["L1"] and cmp.delta_ha.iloc[0] > 0
    # the compare CSV carries the spacing like the grade CSV (it was empty)
    pre = df[df.image == "demo_images/pre.dcm"].iloc[0]
    assert cmp.spacing_row_mm.iloc[0] == pytest.approx(pre.spacing_row_mm)
    assert cmp.spacing_col_mm.iloc[0] == pytest.approx(pre.spacing_col_mm)
    assert cmp.spacing_source.iloc[0] == pre.spacing_source
    for name in ("spine", "pre", "post"):
        assert (tmp_path / f"demo_{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ interruption

_GRADE_SLOWLY = textwrap.dedent("""
    import sys
    from tests.fixtures.batch_data import load_slowly
    from vcfmeasure import batch
    try:
        batch.grade_many(sys.argv[1], out=sys.argv[2], jobs=int(sys.argv[3]),
                         image_loader=load_slowly, parquet=False)
    except KeyboardInterrupt:
        sys.exit(130)
""")

_CLI_SLOWLY = textwrap.dedent("""
    import sys, time
    import vcfmeasure.batch._worker as b
    from vcfmeasure.cli import main
    load = b._load_image
    def slowly(*args, **kwargs):
        time.sleep(0.25)
        return load(*args, **kwargs)
    b._load_image = slowly
    sys.exit(main(["grade", sys.argv[1], "--out", sys.argv[2], "--no-parquet"]))
""")


def _interrupt(script, folder, out, extra, sig):
    proc = subprocess.Popen([sys.executable, "-c", script, str(folder), str(out), *extra],
                            cwd=ROOT, start_new_session=True, stderr=subprocess.PIPE, text=True)
    journal = out.with_name(f".{out.name}.journal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if journal.is_file() and len(journal.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, sig)  # the whole group, as a terminal's Ctrl-C does
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


@pytest.mark.parametrize(("script", "extra", "sig"), [
    (_GRADE_SLOWLY, ["2"], signal.SIGINT),
    (_CLI_SLOWLY, [], signal.SIGTERM),
], ids=["ctrl-c two workers", "sigterm cli"])
def test_interrupted_run_leaves_a_valid_output_and_resumes(tmp_path, script, extra, sig):
    folder = tmp_path / "many"
    for i in range(16):
        write_case(folder, f"s{i:02d}", ha_l1=20.0 + i % 5)
    out = tmp_path / "g.csv"
    code, err = _interrupt(script, folder, out, extra, sig)
    assert code == 130, err
    rows = read_rows(out)
    done = {r["image"] for r in rows}
    assert 2 <= len(done) < 16 and len(rows) == 3 * len(done)
    assert all(r["error"] == "" for r in rows)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.csv", "many"]
    assert main(["grade", str(folder), "--out", str(out), "--resume", "--no-parquet"]) == 0
    batch.grade_many(folder, out=tmp_path / "fresh.csv", parquet=False)
    assert out.read_bytes() == (tmp_path / "fresh.csv").read_bytes()
