"""`vcfmeasure agree` and `vcfmeasure report` on folders and grade CSVs."""

import numpy as np
import pandas as pd
import pytest
from fixtures.batch_data import write_case

import vcfmeasure as vm
from vcfmeasure import synthetic
from vcfmeasure.cli import main

pytest.importorskip("statsmodels")
pytest.importorskip("jinja2")


@pytest.fixture
def two_folders(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(3):
        lm = synthetic.make_spine(["T12", "L1", "L2", "L3"], seed=i).landmarks
        for reader, sd in (("alice", 0.0), ("bob", 1.0)):
            folder = tmp_path / reader
            folder.mkdir(exist_ok=True)
            vm.write_landmarks(lm.map_points(lambda xy, sd=sd: xy + rng.normal(0, sd, xy.shape)),
                               folder / f"film{i}.json")
    return tmp_path


def test_agree_on_landmark_folders(two_folders, capsys):
    out = two_folders / "agreement.csv"
    points = two_folders / "points.csv"
    rc = main(["agree", str(two_folders / "alice"), str(two_folders / "bob"), "--spacing", "0.1",
               "--out", str(out), "--points", str(points)])
    assert rc == 0
    st = pd.read_csv(out)
    bias = st.query("statistic == 'bias' and measure == 'ha'")
    assert bias["readers"].iloc[0] == "alice vs bob" and bias["unit"].iloc[0] == "mm"
    assert bias["n"].iloc[0] == 12
    assert len(pd.read_csv(points)) == 12 * 6
    text = capsys.readouterr().out
    assert "12 vertebrae matched" in text and "ha alice vs bob: bias" in text


def test_agree_names_and_missing_levels(two_folders, capsys):
    lm = vm.read_landmarks(two_folders / "bob" / "film2.json")
    vm.write_landmarks(lm.subset(["T12", "L1"]), two_folders / "bob" / "film2.json")
    args = ["agree", str(two_folders / "alice"), str(two_folders / "bob"), "--names", "r1,r2",
            "--out", str(two_folders / "a.csv")]
    assert main(args) == 1
    assert "reader 'r2' lacks levels that reader 'r1' has - film2: L2, L3" in capsys.readouterr().err
    assert main([*args, "--drop-missing"]) == 0
    assert "2 unmatched left out" in capsys.readouterr().out
    assert main(["agree", str(two_folders / "alice"), "--out", str(two_folders / "b.csv")]) == 2


def test_agree_on_grade_csvs_and_report(tmp_path, capsys):
    for reader, ha in (("r1", 30.0), ("r2", 29.0)):
        for name in ("p1", "p2"):
            write_case(tmp_path / reader, name, ha_l1=ha if name == "p1" else 22.0)
        assert main(["grade", str(tmp_path / reader), "--out", str(tmp_path / f"{reader}.csv")]) == 0
    assert main(["agree", str(tmp_path / "r1.csv"), str(tmp_path / "r2.csv"),
                 "--out", str(tmp_path / "agreement.csv")]) == 0
    st = pd.read_csv(tmp_path / "agreement.csv")
    bias = st.query("statistic == 'bias' and measure == 'ha'")["value"].iloc[0]
    assert bias == pytest.approx(0.2 / 6)  # 1 px x 0.2 mm on one of 6 vertebrae
    assert main(["report", str(tmp_path / "r1.csv"), "--out", str(tmp_path / "report"),
                 "--no-thumbnails"]) == 0
    html = (tmp_path / "report" / "index.html").read_text()
    assert html.count('<article class="card') == 2
    assert "wrote" in capsys.readouterr().out
