import pandas as pd

import vcfmeasure as vm
from vcfmeasure import batch
from vcfmeasure.cli import main
from vcfmeasure.synthetic import make_spine

LEVELS = ["T12", "L1", "L2"]
KW = {"seed": 4, "imager_spacing_mm": 0.25}


def write(tmp_path, name, **kw):
    s = make_spine(LEVELS, **KW, **kw)
    s.write_dicom(tmp_path / f"{name}.dcm")
    vm.write_landmarks(s.landmarks, tmp_path / f"{name}.json")
    return s


def manifest(tmp_path, procedure):
    defs = {"L1": ("wedge", 0.4)}
    write(tmp_path, "pre", deformities=defs)
    post = write(tmp_path, "post", deformities=defs, cement={"L1": 0.5},
                 cement_detail={"L1": {"size": 0.7, "leaks": [("posterior", 4.0)]}})
    m = tmp_path / "m.csv"
    m.write_text("image,landmarks,patient,time_point,treated,procedure\n"
                 f"pre.dcm,pre.json,P1,pre,L1,{procedure}\npost.dcm,post.json,P1,post,L1,\n")
    return m, post


def test_compare_many_writes_procedure_cement_and_leak_columns(tmp_path):
    m, post = manifest(tmp_path, "kyphoplasty")
    assert batch.read_manifest(m)[0].procedure == "kyphoplasty"
    df = batch.compare_many(m)
    row = df.set_index("level").loc["L1"]
    assert row.error == "" or pd.isna(row.error)
    assert row.procedure == "kyphoplasty" and bool(row.cement)
    assert abs(row.cement_fill - post.truth["L1"]["cement"]["fill"]) < 0.05
    assert row.leaks == 1 and row.leak_kinds == "posterior" and row.leak_max_size > 3.0


def test_cli_compare_writes_the_columns(tmp_path):
    m, _ = manifest(tmp_path, "L1=vertebroplasty")
    out = tmp_path / "c.csv"
    assert main(["compare", str(m), "--out", str(out), "--no-parquet"]) == 0
    df = pd.read_csv(out).set_index("level")
    assert df.loc["L1", "procedure"] == "vertebroplasty"
    assert df.loc["L1", "leak_kinds"] == "posterior" and bool(df.loc["L1", "cement"])
    assert "cement_extent_cc" in df.columns and "adjacent_new_fractures" in df.columns


def test_bad_procedure_cell_is_an_error_row(tmp_path):
    m, _ = manifest(tmp_path, "kyphoplasty")
    m.write_text(m.read_text().replace(",L1,", ",,"))
    df = batch.compare_many(m)
    assert "names no level" in df.error.iloc[0]
