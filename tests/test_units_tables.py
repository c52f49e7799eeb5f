"""Spacing given by the user says so; results come as one table with units; tidy namespaces."""

import numpy as np
import pytest
from spine_factory import spine

import vcfmeasure as vm
from vcfmeasure import ImageError, Radiograph, SpacingError


def test_radiograph_with_a_spacing_and_no_source_is_user():
    rg = Radiograph(np.zeros((3, 3)), spacing=0.13)
    assert (rg.spacing, rg.spacing_source, rg.unit) == ((0.13, 0.13), "user", "mm")
    m = vm.measure(spine(["L1"]), spacing=rg)
    assert (m.unit, m.spacing_source) == ("mm", "user")
    # an explicit source is kept
    assert Radiograph(np.zeros((3, 3)), spacing=0.1, spacing_source="calibrated: x"
                      ).spacing_source == "calibrated: x"


@pytest.mark.parametrize("bad", [(0.1,), [0.1], (0.1, 0.1, 0.1), np.array([[0.1, 0.1]]), "0.1"])
def test_spacing_that_is_not_a_number_or_a_pair_is_refused(bad):
    with pytest.raises(SpacingError, match="spacing"):
        Radiograph(np.zeros((3, 3)), spacing=bad)
    with pytest.raises(SpacingError, match="spacing"):
        vm.measure(spine(["L1"]), spacing=bad)


def test_load_image_accepts_an_array():
    pixels = np.arange(12, dtype=np.uint16).reshape(3, 4)
    rg = vm.load_image(pixels, spacing=(0.2, 0.1))
    np.testing.assert_array_equal(rg.pixels, pixels.astype(np.float32))  # as given
    assert rg.pixels.dtype == np.float32
    assert (rg.spacing, rg.unit) == ((0.2, 0.1), "mm")
    assert rg.spacing_source.startswith("user")
    plain = vm.load_image(pixels)
    assert (plain.spacing, plain.unit) == (None, "px")
    assert plain.spacing_source.startswith("unknown")


@pytest.mark.parametrize(
    ("source", "match"),
    [(np.zeros((2, 3, 3)), "must be 2-D"), (np.array([["a"]]), "real numbers"),
     (np.full((2, 2), np.nan), "NaN"), (42, "a file path, a pydicom Dataset or a 2-D array"),
         (None, "a file path, a pydicom Dataset or a 2-D array")],
)
def test_load_image_refuses_other_things_with_vcfmeasure_errors(source, match):
    with pytest.raises(ImageError, match=match):
        vm.load_image(source)


def test_results_table_has_heights_and_grades_with_units():
    m = vm.measure(spine(["T12", "L1", "L2"], sizes=[(26, 26, 26, 35), (18, 24, 27, 35),
                                                      (28, 28, 28, 35)]), spacing=0.5)
    g = vm.grade(m)
    df = vm.results_table(m, g)
    assert list(df["level"]) == ["T12", "L1", "L2"]
    assert df.loc[1, "ha"] == pytest.approx(9.0)  # 18 px x 0.5 mm
    assert df.loc[1, "grade"] == 2 and df.loc[1, "deformity"] == "wedge"
    assert df.columns.is_unique
    units = df.attrs["units"]
    assert (units["ha"], units["expected_hp"], units["area"]) == ("mm", "mm", "mm²")
    assert (units["wedge_angle"], units["wedge_ratio"], units["height_loss"]) == (
        "deg", "ratio", "fraction")
    assert (df.attrs["unit"], df.attrs["spacing_source"], df.attrs["reference"]) == (
        "mm", "user", "radelement")
    assert "level" not in units and "deformity" not in units
    # every result's own DataFrame says its units too
    assert g.to_dataframe().attrs["units"]["reduction_a"] == "fraction"
    assert vm.measure(spine(["L1"])).to_dataframe().attrs["units"]["hp"] == "px"


def test_results_table_with_restoration_and_mismatch():
    pre = vm.measure(spine(["T12", "L1", "L2"]))
    post = vm.measure(spine(["T12", "L1", "L2"]))
    df = vm.results_table(pre, restoration=vm.compare(pre, post, treated=["L1"]))
    assert df["delta_ha"].isna().tolist() == [True, False, True]
    assert df.attrs["units"]["delta_ha"] == "px"
    with pytest.raises(vm.VcfMeasureError, match="grades are of levels L1"):
        vm.results_table(pre, vm.grade(vm.measure(spine(["L1"]))))


def test_dir_lists_columns_for_tab_completion():
    names = dir(vm.Morphometry)
    for col in ("ha", "hm", "hp", "wedge_ratio", "biconcavity_ratio", "crush_ratio",
                "wedge_angle", "area"):
        assert col in names
    assert vm.Morphometry.ha.__doc__.startswith("Anterior heights")
    m = vm.measure(spine(["L1"]))
    assert m.ha.shape == (1,) and "crush_ratio_above" in dir(m)
    assert {"grade", "height_loss", "expected_ha"} <= set(dir(vm.grade(m)))


def test_dir_vcfmeasure_shows_only_public_names():
    names = dir(vm)
    assert not {"Any", "annotations", "importlib"} & set(names)
    assert {"measure", "grade", "results_table", "load_image", "plot"} <= set(names)
    assert all(hasattr(vm, n) for n in names)
