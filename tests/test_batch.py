"""Batch grading: discovery, rows, isolation, atomic/resumable outputs, shards, pool, Dask."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import pandas as pd
import pytest

import vcfmeasure as vm
from tests.fixtures.batch_data import (
    load_hungry,
    load_or_crash,
    load_or_exit,
    spine,
    write_case,
    write_dicom,
)
from vcfmeasure import batch


@pytest.fixture
def archive(tmp_path):
    """Two good studies (a normal spine, an L1 wedge), a corrupt DICOM, one without landmarks."""
    root = tmp_path / "archive"
    write_case(root / "p1", "normal")
    write_case(root / "p2", "wedge", ha_l1=20.0)
    bad = root / "p3" / "corrupt.dcm"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00" * 7)
    vm.write_landmarks(spine(), root / "p3" / "corrupt.json")
    write_dicom(root / "p4" / "nolandmarks.dcm")
    return root


def names(tasks):
    return [(Path(t.image).name, Path(t.landmarks).name if t.landmarks else "") for t in tasks]


# ------------------------------------------------------------------ discovery


def test_folder_is_searched_recursively_and_sidecars_matched(archive):
    (archive / ".hidden").mkdir()
    write_dicom(archive / ".hidden" / "skip.dcm")
    (archive / "p1" / "README.txt").write_text("not an image")
    assert names(batch.collect_inputs(archive)) == [
        ("normal.dcm", "normal.json"),
        ("wedge.dcm", "wedge.json"),
        ("corrupt.dcm", "corrupt.json"),
        ("nolandmarks.dcm", ""),
    ]


def test_extensionless_dicom_is_found_by_its_preamble(tmp_path):
    write_dicom(tmp_path / "IM0001.dcm").rename(tmp_path / "IM0001")
    (tmp_path / "IM0002").write_bytes(b"plain text, no preamble" * 10)
    assert [Path(t.image).name for t in batch.collect_inputs(tmp_path)] == ["IM0001"]


def test_landmarks_folder_matched_by_stem_same_subfolder_wins(tmp_path):
    images, marks = tmp_path / "img", tmp_path / "lm"
    for sub in ("a", "b"):
        write_dicom(images / sub / "x.dcm")
        (marks / sub).mkdir(parents=True)
        vm.write_landmarks(spine(), marks / sub / "x.json")
    write_dicom(images / "a" / "y.dcm")
    tasks = batch.collect_inputs(images, landmarks=marks)
    assert [Path(t.landmarks).relative_to(marks).as_posix() if t.landmarks else ""
            for t in tasks] == ["a/x.json", "", "b/x.json"]
    assert "no landmark file named y.*" in tasks[1].note


def test_glob_manifest_missing_path_and_duplicates(archive, tmp_path):
    manifest = tmp_path / "m.csv"
    row = f"{archive / 'p1' / 'normal.dcm'},{archive / 'p2' / 'wedge.json'},P9,pre"
    manifest.write_text(f"image,landmarks,patient,time_point\n{row}\n")
    tasks = batch.collect_inputs([str(archive / "**" / "w*.dcm"), manifest,
                                  str(archive / "p2" / "wedge.dcm"), tmp_path / "absent.dcm"])
    assert names(tasks) == [("wedge.dcm", "wedge.json"), ("normal.dcm", "wedge.json"),
                            ("absent.dcm", "")]
    assert (tasks[1].patient, tasks[1].time_point) == ("P9", "pre")
    assert "no such file" in tasks[2].note


def test_manifest_paths_are_relative_to_the_manifest(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.csv").write_text("Image,Landmarks\nscans/a.dcm,\n")
    task = batch.read_manifest(tmp_path / "sub" / "m.csv")[0]
    assert Path(task.image) == tmp_path / "sub" / "scans" / "a.dcm"
    assert task.landmarks == ""


def test_manifest_without_image_column_names_the_file(tmp_path):
    (tmp_path / "m.csv").write_text("file,patient\na.dcm,P1\n")
    with pytest.raises(vm.FileFormatError, match=r"m\.csv: a manifest needs an 'image' column"):
        batch.read_manifest(tmp_path / "m.csv")


def test_shards_are_disjoint_and_cover_the_inputs():
    tasks = [batch.Task(str(i)) for i in range(7)]
    parts = [batch.shard_of(tasks, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(int(t.image) for p in parts for t in p) == list(range(7))
    assert [len(p) for p in parts] == [3, 2, 2]
    with pytest.raises(vm.VcfMeasureError, match="numbered from 1"):
        batch.shard_of(tasks, "0/3")


# ------------------------------------------------------------------ rows


def test_rows_hold_hand_computed_values_and_provenance(archive):
    df = batch.grade_many(archive)
    wedge = df[(df.image.str.endswith("wedge.dcm")) & (df.level == "L1")].iloc[0]
    # L1: Ha 20 px, Hp 30 px at 0.2 mm/px (Imager Pixel Spacing) -> 4 mm, 6 mm
    assert (wedge.ha, wedge.hp, wedge.unit) == (pytest.approx(4.0), pytest.approx(6.0), "mm")
    assert wedge.wedge_ratio == pytest.approx(2 / 3)
    # reduction 1 - 20/30 = 0.333 lies in [0.25, 0.40): moderate wedge
    assert (wedge.grade, wedge.deformity) == (2, "wedge")
    assert wedge.height_loss == pytest.approx(1 / 3)
    assert wedge.spacing_source.startswith("detector")
    assert "SpacingWarning" in wedge.warnings
    assert wedge.study_instance_uid.startswith("1.2.826.0.1.3680043.10.9999.1.")
    assert (wedge.provenance, wedge.error) == ("manual", "")
    assert list(df.columns) == [name for name, _ in batch.GRADE_COLUMNS]
    assert df.groupby("image", sort=False)["level"].apply(list).tolist()[:2] == [
        ["T12", "L1", "L2"], ["T12", "L1", "L2"]]


def test_each_failure_is_one_error_row_and_the_rest_is_graded(archive):
    vm.write_landmarks(spine(), archive / "p2" / "extra.json")
    (archive / "p2" / "extra.json").write_text("{broken")
    write_dicom(archive / "p2" / "extra.dcm")
    df = batch.grade_many(archive)
    errors = df[df.error != ""].set_index(df[df.error != ""].image.map(lambda p: Path(p).name))
    assert set(errors.index) == {"corrupt.dcm", "extra.dcm", "nolandmarks.dcm"}
    assert errors.loc["corrupt.dcm", "error"].split(":")[0] in {"DicomError", "ImageError"}
    assert "corrupt.dcm" in errors.loc["corrupt.dcm", "error"]
    assert errors.loc["extra.dcm", "error"].startswith("FileFormatError")
    assert errors.loc["nolandmarks.dcm", "error"].startswith("LandmarkError")
    assert errors.level.tolist() == ["", "", ""] and errors.grade.isna().all()
    assert (df.error == "").sum() == 6


def test_detect_grades_a_synthetic_film(tmp_path):
    from vcfmeasure.synthetic import make_spine

    film = make_spine(["T12", "L1", "L2"], seed=5, deformities={"L1": ("wedge", 0.33)})
    film.write_dicom(tmp_path / "film.dcm")
    df = batch.grade_many(tmp_path, detect=True, levels=["T12", "L1", "L2"])
    assert df.error.tolist() == ["", "", ""], df.error.tolist()
    assert (df.provenance == "detected").all() and (df.landmarks == "").all()
    assert df.confidence.between(0, 1).all()
    l1 = df[df.level == "L1"].iloc[0]
    assert (l1.grade, l1.deformity) == (2, "wedge")
    assert l1.height_loss == pytest.approx(0.33, abs=0.04)


def test_detect_unavailable_is_an_error_row_per_image(archive, monkeypatch):
    monkeypatch.setitem(sys.modules, "vcfmeasure.detect", None)  # as if not installed
    df = batch.grade_many(archive / "p1", detect=True)
    assert df.error.tolist() == [
        "VcfMeasureError: landmark detection is not available in this installation of "
        "vcfmeasure (vcfmeasure.detect is missing); give landmark files instead of --detect"]


def test_unknown_reference_fails_before_any_input(archive):
    with pytest.raises(vm.VcfMeasureError, match="reference 'genant' is not one of radelement"):
        batch.grade_many(archive, reference="genant")


def test_spacing_override_and_manifest_spacing(archive, tmp_path):
    df = batch.grade_many(archive / "p1", spacing=0.1)
    assert df.ha.tolist() == pytest.approx([3.0, 3.0, 3.0])
    assert (df.spacing_source == "user").all()
    m = tmp_path / "m.csv"
    m.write_text(f"image,spacing\n{archive / 'p1' / 'normal.dcm'},0.5\n")
    assert batch.grade_many(m).ha.tolist() == pytest.approx([15.0, 15.0, 15.0])


# ------------------------------------------------------------------ files


def test_csv_and_parquet_hold_the_returned_rows(archive, tmp_path):
    out = tmp_path / "res" / "grades.csv"
    df = batch.grade_many(archive, out=out)
    pd.testing.assert_frame_equal(batch._frame(out.read_text(), batch.GRADE_COLUMNS), df)
    pytest.importorskip("pyarrow")
    pd.testing.assert_frame_equal(pd.read_parquet(out.with_suffix(".parquet")), df)
    assert sorted(p.name for p in out.parent.iterdir()) == ["grades.csv", "grades.parquet"]


def test_rerun_and_resume_give_identical_bytes(archive, tmp_path):
    full = tmp_path / "full.csv"
    batch.grade_many(archive, out=full, parquet=False)
    part = tmp_path / "part.csv"
    batch.grade_many(archive / "p1", out=part, parquet=False)
    # resume keeps the finished input: a changed landmark file does not alter its rows
    vm.write_landmarks(spine(ha_l1=10.0), archive / "p1" / "normal.json")
    batch.grade_many(archive, out=part, resume=True, parquet=False)
    assert part.read_bytes() == full.read_bytes()
    # without resume, everything is redone
    batch.grade_many(archive, out=part, parquet=False)
    assert part.read_bytes() != full.read_bytes()


def test_resume_retries_failed_inputs(archive, tmp_path):
    out = tmp_path / "g.csv"
    batch.grade_many(archive / "p4", out=out, parquet=False)
    assert "LandmarkError" in out.read_text()
    vm.write_landmarks(spine(), archive / "p4" / "nolandmarks.json")
    df = batch.grade_many(archive / "p4", out=out, resume=True, parquet=False)
    assert df.error.tolist() == ["", "", ""]


def test_killed_run_resumes_from_its_journal(archive, tmp_path):
    write_case(archive / "p5", "stop")
    out = tmp_path / "g.csv"
    with pytest.raises(SystemExit):
        batch.grade_many(archive, out=out, image_loader=load_or_exit, parquet=False)
    journal = tmp_path / ".g.csv.journal"
    assert not out.exists()
    lines = journal.read_text().splitlines()
    assert len(lines) == 4
    journal.write_text("\n".join(lines) + '\n{"key": ["cut sh')  # a line cut by the kill
    # finished inputs are not read again: their rows come from the journal
    vm.write_landmarks(spine(ha_l1=10.0), archive / "p1" / "normal.json")
    df = batch.grade_many(archive, out=out, resume=True, parquet=False)
    assert not journal.exists()
    assert df[df.image.str.endswith("normal.dcm")].grade.tolist() == [0, 0, 0]
    assert df[df.image.str.endswith("stop.dcm")].error.tolist() == ["", "", ""]


def test_resume_refuses_a_foreign_file(tmp_path, archive):
    out = tmp_path / "other.csv"
    out.write_text("a,b\n1,2\n")
    with pytest.raises(vm.FileFormatError, match="cannot resume"):
        batch.grade_many(archive, out=out, resume=True)
    assert out.read_text() == "a,b\n1,2\n"


def test_shard_outputs_merge_into_the_full_output(archive, tmp_path):
    full = tmp_path / "full.csv"
    batch.grade_many(archive, out=full, parquet=False)
    parts = []
    for i in (1, 2):
        parts.append(tmp_path / f"s{i}.csv")
        batch.grade_many(archive, out=parts[-1], shard=(i, 2), parquet=False)
    assert batch.merge_outputs(parts, tmp_path / "m.csv").read_bytes() == full.read_bytes()


# ------------------------------------------------------------------ workers


def test_two_workers_give_the_same_bytes_and_a_crash_is_one_error_row(archive, tmp_path):
    write_case(archive / "p0", "crash")
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    df2 = batch.grade_many(archive, out=two, parquet=False, image_loader=load_or_crash, jobs=2)
    crashed = df2[df2.image.str.endswith("crash.dcm")]
    assert len(crashed) == 1 and "worker process died" in crashed.error.iloc[0]
    assert (df2[df2.image.str.endswith(("normal.dcm", "wedge.dcm"))].error == "").all()
    (archive / "p0" / "crash.dcm").unlink()
    batch.grade_many(archive, out=one, parquet=False, jobs=1)
    batch.grade_many(archive, out=two, parquet=False, jobs=2)
    assert one.read_bytes() == two.read_bytes()


def test_memory_limit_turns_a_huge_allocation_into_an_error_row(archive, tmp_path):
    write_case(archive / "p0", "huge")
    df = batch.grade_many(archive, image_loader=load_hungry, jobs=2, memory_limit=2 * 2**30)
    huge = df[df.image.str.endswith("huge.dcm")]
    assert huge.error.tolist() == ["MemoryError: Unable to allocate 4.00 GiB for an array "
                                   "with shape (536870912,) and data type float64"]
    assert (df[df.image.str.endswith(("normal.dcm", "wedge.dcm"))].error == "").all()


def test_parquet_output_resumes(archive, tmp_path):
    pytest.importorskip("pyarrow")
    out = tmp_path / "g.parquet"
    full = batch.grade_many(archive, out=out)
    batch.grade_many(archive / "p1", out=out)
    vm.write_landmarks(spine(ha_l1=10.0), archive / "p1" / "normal.json")
    batch.grade_many(archive, out=out, resume=True)
    assert not (tmp_path / "g.csv").exists()
    pd.testing.assert_frame_equal(pd.read_parquet(out), full)


def test_dask_local_cluster_gives_the_serial_rows(archive, tmp_path):
    distributed = pytest.importorskip("distributed")
    serial = batch.grade_many(archive)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pd.testing.assert_frame_equal(batch.grade_many(archive, client=client), serial)
        out = tmp_path / "d.csv"
        from vcfmeasure.cli import main

        code = main(["grade", str(archive), "--scheduler", cluster.scheduler_address,
                     "--out", str(out), "--no-parquet"])
    assert code == 1  # the corrupt file and the missing landmarks
    pd.testing.assert_frame_equal(batch._frame(out.read_text(), batch.GRADE_COLUMNS), serial)


# ------------------------------------------------------------------ compare


def test_compare_many_per_patient(tmp_path):
    write_case(tmp_path, "p1_pre", ha_l1=16.0)
    write_case(tmp_path, "p1_post", ha_l1=22.0)
    write_case(tmp_path, "p2_pre", ha_l1=16.0)
    m = tmp_path / "m.csv"
    m.write_text("image,patient,time_point,treated\n"
                 "p1_pre.dcm,P1,pre,L1\np1_post.dcm,P1,post,L1\np2_pre.dcm,P2,pre,\n")
    df = batch.compare_many(m)
    p1 = df[df.patient == "P1"].set_index("level")
    assert p1.index.tolist() == ["L1"] and bool(p1.loc["L1", "treated"])
    # 0.2 mm/px: Ha 16 -> 22 px is +1.2 mm; reference Ha = mean of T12, L2 = 30 px
    assert p1.loc["L1", "delta_ha"] == pytest.approx(1.2)
    assert p1.loc["L1", "restored_a"] == pytest.approx(6 / 14)
    # reductions 1 - 16/30 = 0.47 (grade 3) and 1 - 22/30 = 0.27 (grade 2)
    assert (p1.loc["L1", "grade_pre"], p1.loc["L1", "grade_post"]) == (3, 2)
    assert math.isnan(p1.loc["L1", "ha_fu"])
    p2 = df[df.patient == "P2"]
    assert len(p2) == 1 and "0 'post' images" in p2.error.iloc[0]


def test_compare_many_with_follow_up(tmp_path):
    for name, ha in (("pre", 16.0), ("post", 22.0), ("fu", 17.0)):
        write_case(tmp_path, name, ha_l1=ha)
    m = tmp_path / "m.csv"
    m.write_text("image,patient,time_point,treated\n"
                 "fu.dcm,P3,follow-up,L1\npost.dcm,P3,post,L1\npre.dcm,P3,baseline,L1\n")
    row = batch.compare_many(m).set_index("level").loc["L1"]
    assert Path(row.follow_up_image).name == "fu.dcm"
    # Ha falls 22 -> 17 px after the procedure: (22 - 17) / 22 = 0.23 >= 0.15, re-collapse
    assert row.loss_a == pytest.approx(5 / 22)
    assert bool(row.recollapse) and row.grade_fu == 3


# ------------------------------------------------------------------ journal format


def test_journal_lines_are_self_contained_json(archive, tmp_path):
    out = tmp_path / "g.csv"
    with pytest.raises(SystemExit):
        write_case(archive / "p9", "stop")
        batch.grade_many(archive, out=out, image_loader=load_or_exit, parquet=False)
    for line in (tmp_path / ".g.csv.journal").read_text().splitlines():
        entry = json.loads(line)
        rows = list(csv.reader(entry["rows"].splitlines()))
        assert all(len(r) == len(batch.GRADE_COLUMNS) for r in rows)
        assert [rows[0][0], rows[0][1]] == entry["key"]


def test_a_native_crash_in_decoding_is_one_error_row_with_one_job(archive, tmp_path):
    # with jobs=1 everything runs in this process except the pixel decoding: a decoder
    # that aborts the process (GDCM/OpenJPEG on a malformed file) must not end the run
    from tests.fixtures.batch_data import load_or_abort

    write_case(archive / "p0", "abort")
    out = tmp_path / "g.csv"
    df = batch.grade_many(archive, out=out, parquet=False, image_loader=load_or_abort,
                          detect=False, jobs=1)
    aborted = df[df.image.str.endswith("abort.dcm")]
    assert len(aborted) == 1 and "image decoder died" in aborted.error.iloc[0]
    good = df[df.image.str.endswith(("normal.dcm", "wedge.dcm"))]
    assert len(good) == 6 and (good.error == "").all()
    assert pd.read_csv(out).shape[0] == len(df)  # the output was written, nothing lost


def test_without_isolation_a_native_crash_ends_the_run(archive, tmp_path):
    # the reason for the child process: the same run in-process dies with the decoder
    import subprocess

    write_case(archive / "p0", "abort")
    code = ("import sys; from vcfmeasure import batch; "
            "from tests.fixtures.batch_data import load_or_abort; "
            "batch.grade_many(sys.argv[1], out=sys.argv[2], parquet=False, "
            "image_loader=load_or_abort, isolate_decoding=False)")
    proc = subprocess.run([sys.executable, "-c", code, str(archive), str(tmp_path / "g.csv")],
                          capture_output=True, timeout=120, cwd=Path(__file__).parents[1])
    assert proc.returncode != 0 and not (tmp_path / "g.csv").exists()
