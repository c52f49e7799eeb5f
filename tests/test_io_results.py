"""Result tables to CSV, JSON and Parquet keep values, unit and spacing source."""

import json
import math

import numpy as np
import pandas as pd
import pytest

import vcfmeasure as vm
from vcfmeasure import FileFormatError
from vcfmeasure.io.results import write_results

BODY = np.array([[0, 0], [15, 1], [30, 0], [30, 26], [15, 25], [0, 27]], float)


def spine(squash=1.0):
    return vm.Landmarks(
        {
            "T12": BODY,
            "L1": BODY * [1, squash] + [1, 34],
            "L2": BODY + [2, 68],
        }
    )


@pytest.fixture
def morph():
    return vm.measure(spine(0.7), spacing=(0.1, 0.12))


def test_csv_has_unit_and_spacing_columns_and_exact_values(tmp_path, morph):
    out = write_results(morph, tmp_path / "m.csv")
    df = pd.read_csv(out)
    assert list(df["level"]) == ["T12", "L1", "L2"]
    assert set(df["unit"]) == {"mm"} and set(df["spacing_source"]) == {"user"}
    assert set(df["spacing_row_mm"]) == {0.1} and set(df["spacing_col_mm"]) == {0.12}
    np.testing.assert_array_equal(df["ha"], morph.ha)  # repr-exact floats
    assert math.isnan(df.loc[0, "crush_ratio_above"])  # nan -> empty cell -> nan


def test_json_header_and_null_for_nan(tmp_path, morph):
    doc = json.loads(write_results(morph, tmp_path / "m.json").read_text())
    assert doc["format"] == "vcfmeasure-results" and doc["kind"] == "Morphometry"
    assert (doc["unit"], doc["spacing"], doc["spacing_source"]) == ("mm", [0.1, 0.12], "user")
    assert doc["vcfmeasure_version"] == vm.__version__
    assert doc["records"][0]["crush_ratio_above"] is None
    assert [r["hp"] for r in doc["records"]] == morph.hp.tolist()


def test_grades_get_spacing_columns_they_lack(tmp_path, morph):
    grades = vm.grade(morph)
    df = pd.read_csv(write_results(grades, tmp_path / "g.csv"))
    assert {"unit", "spacing_row_mm", "spacing_source", "grade", "deformity"} <= set(df)
    assert list(df["grade"]) == [r["grade"] for r in grades.to_records()]


def test_pixels_say_unknown_spacing(tmp_path):
    doc = json.loads(write_results(vm.measure(spine()), tmp_path / "p.json").read_text())
    assert (doc["unit"], doc["spacing"], doc["spacing_source"]) == ("px", None, "unknown")


def test_comparison_to_json(tmp_path):
    restoration = vm.compare(
        vm.measure(spine(0.7), spacing=0.1), vm.measure(spine(0.9), spacing=0.1)
    )
    doc = json.loads(write_results(restoration, tmp_path / "r.json").read_text())
    assert doc["kind"] == "Restoration" and doc["unit"] == "mm"
    l1 = next(r for r in doc["records"] if r["level"] == "L1")
    assert l1["delta_ha"] == pytest.approx(0.2 * 26 * 0.1)


def test_parquet_round_trip_with_header_metadata(tmp_path, morph):
    pq = pytest.importorskip("pyarrow.parquet", reason="the parquet extra is not installed")
    out = write_results(morph, tmp_path / "m.parquet")
    table = pq.read_table(out)
    header = json.loads(table.schema.metadata[b"vcfmeasure"])
    assert header["spacing_source"] == "user"
    # Morphometry already carries the unit and spacing columns: nothing added
    pd.testing.assert_frame_equal(table.to_pandas(), morph.to_dataframe())


def test_dataframe_and_records_are_accepted(tmp_path):
    df = pd.DataFrame({"level": ["L1"], "unit": ["px"], "ha": [1.5]})
    doc = json.loads(write_results(df, tmp_path / "d.json").read_text())
    assert (doc["kind"], doc["unit"], doc["records"]) == (
        "table",
        "px",
        [{"level": "L1", "unit": "px", "ha": 1.5}],
    )
    assert pd.read_csv(write_results(df.to_dict("records"), tmp_path / "r.csv")).equals(df)


def test_bad_format_or_object(tmp_path, morph):
    with pytest.raises(FileFormatError, match=r"cannot tell the results format.*'.xlsx'"):
        write_results(morph, tmp_path / "m.xlsx")
    with pytest.raises(FileFormatError, match="unknown results format 'xml'"):
        write_results(morph, tmp_path / "m.csv", format="xml")
    with pytest.raises(FileFormatError, match="got int"):
        write_results(3, tmp_path / "m.csv")
