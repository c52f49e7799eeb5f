"""QM criteria with a test-only normative table, and incident fractures."""

import math
from pathlib import Path

import numpy as np
import pytest
from spine_factory import spine

import vcfmeasure as vm
from vcfmeasure import FileFormatError
from vcfmeasure.criteria import (
    Norms,
    eastell,
    incident_fractures,
    mccloskey_kanis,
    melton,
    twenty_percent_rule,
)

NORMS = Path(__file__).parent / "fixtures" / "norms_TEST_DATA_ONLY.csv"


@pytest.fixture
def norms():
    return Norms.read_csv(NORMS)


def morph(sizes, levels=("T12", "L1", "L2")):
    return vm.measure(spine(list(levels), sizes=sizes))


def test_twenty_percent_rule():
    m = morph([(26, 26, 26, 35), (20, 26, 26, 35), (26, 26, 19, 35)])
    r = twenty_percent_rule(m).to_records()
    assert [x["fracture"] for x in r] == [False, True, True]
    assert r[1]["failing"] == "wedge"
    # L2: Hp 19 vs L1's 26 -> crush 0.73; its own Ha/Hp > 1
    assert r[2]["failing"] == "crush"


def test_norms_file_is_marked_test_data(norms):
    assert "TEST DATA" in norms.provenance
    assert norms.get("L1", "female", "wedge") == (0.90, 0.05)
    assert all(math.isnan(v) for v in norms.get("C3", "female", "wedge"))


def test_eastell_hand_computed(norms):
    # L1 wedge ratio 0.72: z = (0.72 - 0.90) / 0.05 = -3.6 -> grade 1; 0.65 -> -5 -> grade 2
    m = morph([(26, 26, 26, 35), (18, 25, 25, 35), (26, 26, 26, 35)])
    r = eastell(m, norms, sex="female").to_records()
    assert r[1]["wedge_z"] == pytest.approx((0.72 - 0.90) / 0.05)
    assert r[1]["grade"] == 1
    m2 = morph([(26, 26, 26, 35), (13, 20, 20, 35), (26, 26, 26, 35)])
    assert eastell(m2, norms, sex="female").to_records()[1]["grade"] == 2
    assert eastell(m, norms, sex="female").to_records()[0]["grade"] == 0


def test_melton_hand_computed(norms):
    # 0.85 x 0.90 = 0.765: wedge 0.76 fails, 0.77 passes
    fails = morph([(26, 26, 26, 35), (19, 25, 25, 35), (26, 26, 26, 35)])
    passes = morph([(26, 26, 26, 35), (19.25, 25, 25, 35), (26, 26, 26, 35)])
    assert melton(fails, norms, sex="female").fracture[1]
    assert not melton(passes, norms, sex="female").fracture[1]


def test_mccloskey_kanis_needs_both_ratios(norms):
    m = morph([(26, 26, 26, 35), (16, 25, 25, 35), (26, 26, 26, 35)])
    r = mccloskey_kanis(m, norms, sex="female").to_records()[1]
    # wedge 0.64: z = -5.2; Ha/Hp_pred = 16/26 = 0.615: z = (0.615-0.92)/0.06 = -5.1
    assert r["wedge_z"] == pytest.approx((0.64 - 0.90) / 0.05)
    assert r["ha_pred_z"] == pytest.approx((16 / 26 - 0.92) / 0.06)
    assert r["fracture"] and r["failing"] == "wedge"
    # a lone vertebra has no predicted Hp: the criterion cannot fire
    lone = vm.measure(spine(["L1"], sizes=[(16, 25, 25, 35)]))
    assert not mccloskey_kanis(lone, norms, sex="female").fracture[0]


def test_sex_must_be_given_correctly(norms):
    with pytest.raises(vm.VcfMeasureError, match="sex must be"):
        eastell(morph([(26, 26, 26, 35)] * 3), norms, sex="f")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("level,sex,ratio,mean\nL1,female,wedge,0.9\n", r"line 1: missing column 'sd'"),
        ("level,sex,ratio,mean,sd\nL9,female,wedge,0.9,0.05\n", r"line 2, field 'level'"),
        ("level,sex,ratio,mean,sd\nL1,woman,wedge,0.9,0.05\n", r"line 2, field 'sex'"),
        ("level,sex,ratio,mean,sd\nL1,female,tilt,0.9,0.05\n", r"line 2, field 'ratio'"),
        ("level,sex,ratio,mean,sd\nL1,female,wedge,x,0.05\n", r"line 2, field 'mean'"),
        ("level,sex,ratio,mean,sd\nL1,female,wedge,0.9,0\n", r"line 2, field 'sd'"),
        ("# c\nlevel,sex,ratio,mean,sd\nL1,female,wedge,0.9,0.1\nL1,female,wedge,0.9,0.1\n",
         r"line 4: duplicate"),
        ("", r"no header"),
    ],
)
def test_norms_errors_name_file_line_field(tmp_path, text, message):
    path = tmp_path / "n.csv"
    path.write_text(text)
    with pytest.raises(FileFormatError, match=message):
        Norms.read_csv(path)


def test_incident_fit_and_sq():
    base = vm.measure(spine(["L1", "L2"], sizes=[(26, 26, 26, 35)] * 2), spacing=1.0)
    # L1 anterior height 26 -> 20 (23 %, 6 mm): FIT and SQ; L2 26 -> 23 (11.5 %): neither
    later = vm.measure(spine(["L1", "L2"], sizes=[(20, 26, 26, 35), (23, 26, 26, 35)]), spacing=1.0)
    r = incident_fractures(base, later).to_records()
    assert r[0]["fit_incident"] and r[0]["sq_incident"]
    assert r[0]["fall_a_mm"] == pytest.approx(6.0)
    assert not r[1]["fit_incident"] and not r[1]["sq_incident"]
    # 20 % but only 3 mm on a small vertebra: not a FIT incident fracture
    small = vm.measure(spine(["L1"], sizes=[(15, 15, 15, 25)]), spacing=1.0)
    smaller = vm.measure(spine(["L1"], sizes=[(12, 15, 15, 25)]), spacing=1.0)
    assert not incident_fractures(small, smaller).fit_incident[0]


def test_incident_in_pixels_has_no_fit():
    base = vm.measure(spine(["L1"], sizes=[(26, 26, 26, 35)]))
    later = vm.measure(spine(["L1"], sizes=[(15, 26, 26, 35)]))
    assert np.isnan(incident_fractures(base, later).fit_incident[0])
