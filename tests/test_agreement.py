"""Reader agreement statistics against published worked examples and hand computations."""

import math

import numpy as np
import pandas as pd
import pytest

import vcfmeasure as vm
from vcfmeasure import agreement as ag
from vcfmeasure import synthetic

pytest.importorskip("statsmodels")
pytest.importorskip("sklearn")

# Bland & Altman, Lancet 1986;1:307-10, Table 1: peak expiratory flow rate (l/min) of 17
# subjects, first reading with the Wright and with the mini Wright meter.
WRIGHT = [494, 395, 516, 434, 476, 557, 413, 442, 650, 433, 417, 656, 267, 478, 178, 423, 427]
MINI = [512, 430, 520, 428, 500, 600, 364, 380, 658, 445, 432, 626, 260, 477, 259, 350, 451]

# Shrout & Fleiss, Psychol Bull 1979;86:420-8, Table 2: 6 targets rated by 4 judges.
SHROUT_FLEISS = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]

# Fleiss, Psychol Bull 1971;76:378-82: 30 patients, 6 psychiatrists, 5 diagnoses (the raw
# ratings as distributed with R's irr package, `diagnoses`; Fleiss reports kappa = .430).
FLEISS_1971 = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]

# A 3 x 3 agreement table with SAS PROC FREQ's kappa output (the reference statsmodels'
# own tests check against): simple kappa 0.4842 (ASE 0.1380, 95 % CI 0.2137-0.7547),
# Cicchetti-Allison (linear) weighted kappa 0.4701 (ASE 0.1457, CI 0.1845-0.7558).
SAS_TABLE = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]


def _pairs_from_table(table):
    a, b = [], []
    for i, row in enumerate(table):
        for j, count in enumerate(row):
            a += [i] * count
            b += [j] * count
    return np.array(a), np.array(b)


# --- Bland-Altman --------------------------------------------------------------------------


def test_bland_altman_reproduces_the_1986_pefr_example():
    ba = ag.bland_altman(WRIGHT, MINI)
    # published: mean difference -2.1 l/min, SD 38.8, 95 % CI of the bias -22.0 to 17.8
    assert ba.n == 17
    assert ba.bias == pytest.approx(-2.1, abs=0.05)
    assert ba.sd == pytest.approx(38.8, abs=0.05)
    assert ba.bias_ci == pytest.approx((-22.0, 17.8), abs=0.06)
    # limits bias -/+ 1.96 SD (the paper rounds to 2 SD: -79.7 and 75.5)
    assert ba.loa_low == pytest.approx(ba.bias - 1.959964 * ba.sd, abs=1e-4)
    assert ba.loa_high == pytest.approx(ba.bias + 1.959964 * ba.sd, abs=1e-4)
    # SE of a limit sqrt(3 s^2 / n) = 16.3 l/min, t(16) = 2.12: half-width 34.5 (paper)
    assert (ba.loa_low_ci[1] - ba.loa_low_ci[0]) / 2 == pytest.approx(34.5, abs=0.1)


def test_bland_altman_sign_is_first_minus_second_and_skips_nan():
    ba = ag.bland_altman([2.0, 4.0, np.nan, 6.0], [1.0, 3.0, 9.0, 5.0])
    assert ba.n == 3 and ba.bias == pytest.approx(1.0) and ba.sd == pytest.approx(0.0)


def test_bland_altman_needs_two_pairs():
    with pytest.raises(ag.AgreementError, match="at least 2"):
        ag.bland_altman([1.0], [2.0])


# --- precision (Glüer) -----------------------------------------------------------------------


def test_precision_error_hand_computed():
    # subject 1: 10, 11, 12 -> SD 1, mean 11; subject 2: 20, 20, 26 -> SD sqrt(12), mean 22
    p = ag.precision_error([[10, 11, 12], [20, 20, 26]])
    assert p.rms_sd == pytest.approx(math.sqrt((1 + 12) / 2))
    assert p.cv_percent == pytest.approx(100 * math.sqrt(((1 / 11) ** 2 + (math.sqrt(12) / 22) ** 2) / 2))
    assert (p.n, p.repeats, p.df) == (2, 3, 4)


def test_precision_of_two_readers_is_the_rms_difference_over_root_two():
    # with two measurements SD_j = |d_j| / sqrt(2), so RMS SD = sqrt(sum d^2 / 2n)
    d = np.subtract(WRIGHT, MINI)
    p = ag.precision_error(np.column_stack([WRIGHT, MINI]))
    assert p.rms_sd == pytest.approx(math.sqrt(np.sum(d**2) / (2 * len(d))))


# --- ICC -------------------------------------------------------------------------------------


def test_icc_reproduces_shrout_fleiss_table():
    r = ag.icc(SHROUT_FLEISS)
    # Shrout & Fleiss 1979, Table 4: ICC(2,1) = .29, ICC(3,1) = .71
    assert r.absolute == pytest.approx(0.29, abs=0.005)
    assert r.consistency == pytest.approx(0.71, abs=0.005)
    assert r.n == 6 and r.raters == 4
    # McGraw & Wong 1996 confidence intervals; pingouin 0.7.0 prints [0.02, 0.76] and
    # [0.34, 0.95] for this table
    assert r.absolute_ci == pytest.approx((0.02, 0.76), abs=0.005)
    assert r.consistency_ci == pytest.approx((0.34, 0.95), abs=0.005)


@pytest.mark.filterwarnings("ignore::Warning")
def test_icc_matches_pingouin_where_installed():
    pg = pytest.importorskip("pingouin", reason="pingouin (GPL) is only a cross-check, not a dependency")
    rng = np.random.default_rng(3)
    t = rng.normal(25, 3, 30)
    x = np.column_stack([t + rng.normal(0, 1, 30), t + 1 + rng.normal(0, 1, 30), t + rng.normal(0, 1.5, 30)])
    long = pd.DataFrame([(i, j, x[i, j]) for i in range(30) for j in range(3)], columns=["t", "r", "y"])
    ref = pg.intraclass_corr(long, targets="t", raters="r", ratings="y").set_index("Type")
    r = ag.icc(x)
    assert r.absolute == pytest.approx(ref.loc["ICC(A,1)", "ICC"], abs=1e-9)
    assert r.consistency == pytest.approx(ref.loc["ICC(C,1)", "ICC"], abs=1e-9)
    assert r.absolute_ci == pytest.approx(tuple(ref.loc["ICC(A,1)", "CI95"]), abs=0.005)
    assert r.consistency_ci == pytest.approx(tuple(ref.loc["ICC(C,1)", "CI95"]), abs=0.005)


def test_icc_absolute_falls_with_a_constant_offset_consistency_does_not():
    rng = np.random.default_rng(1)
    truth = rng.normal(25, 3, 40)
    a = truth + rng.normal(0, 0.3, 40)
    b = truth + rng.normal(0, 0.3, 40)
    same = ag.icc(np.column_stack([a, b]))
    shifted = ag.icc(np.column_stack([a, b + 3.0]))
    assert shifted.consistency == pytest.approx(same.consistency, abs=1e-9)
    assert shifted.absolute < same.absolute - 0.2


# --- kappa and confusion ---------------------------------------------------------------------


def test_cohen_kappa_matches_sas_reference():
    a, b = _pairs_from_table(SAS_TABLE)
    k = ag.cohen_kappa(a, b)
    assert k.kappa == pytest.approx(0.4842, abs=5e-5)
    assert k.se == pytest.approx(0.1380, abs=5e-5)
    assert k.ci == pytest.approx((0.2137, 0.7547), abs=5e-5)
    w = ag.cohen_kappa(a, b, weights="linear")
    assert w.kappa == pytest.approx(0.4701, abs=5e-5)
    assert w.se == pytest.approx(0.1457, abs=5e-5)
    assert w.ci == pytest.approx((0.1845, 0.7558), abs=5e-5)


def test_cohen_kappa_hand_computed_and_agrees_with_scikit_learn():
    from sklearn.metrics import cohen_kappa_score

    a = [0, 0, 1, 2, 3, 0, 2, 1]
    b = [0, 0, 1, 1, 3, 1, 3, 1]
    po = 5 / 8
    pe = (3 * 2 + 2 * 4 + 2 * 0 + 1 * 2) / 64
    assert ag.cohen_kappa(a, b).kappa == pytest.approx((po - pe) / (1 - pe))
    assert ag.cohen_kappa(a, b, weights="linear").kappa == pytest.approx(
        cohen_kappa_score(a, b, labels=[0, 1, 2, 3], weights="linear"))


def test_kappa_rejects_a_grade_outside_genant():
    with pytest.raises(ag.AgreementError, match="grade 4 is not one of"):
        ag.cohen_kappa([0, 4], [0, 1])


def test_fleiss_kappa_reproduces_fleiss_1971():
    k = ag.fleiss_kappa(FLEISS_1971, labels=(1, 2, 3, 4, 5))
    assert k.kappa == pytest.approx(0.4302445, abs=1e-7)
    assert round(k.kappa, 3) == 0.430 and k.n == 30


def test_grade_confusion_keeps_every_grade():
    c = ag.grade_confusion([0, 0, 1, 3], [0, 1, 1, 3], names=("r1", "r2"))
    assert c.shape == (4, 4)
    assert c.loc["r1 grade 0", "r2 grade 1"] == 1
    assert c.loc["r1 grade 2"].sum() == 0 and int(c.to_numpy().sum()) == 4


# --- point distances and readers -------------------------------------------------------------


def test_point_distances_scale_x_by_column_and_y_by_row_spacing():
    a = np.zeros((1, 6, 2))
    b = a.copy()
    b[0, 2] = (10.0, 10.0)  # 10 px right and 10 px down at 'sa'
    d = ag.point_distances(a, b, spacing=(0.2, 0.1))
    assert d[0, 2] == pytest.approx(math.hypot(10 * 0.1, 10 * 0.2))
    assert d[0, [0, 1, 3, 4, 5]].tolist() == [0.0] * 5


@pytest.fixture(scope="module")
def films():
    return {f"film{i}": synthetic.make_spine(["T12", "L1", "L2", "L3"], seed=i,
                                             deformities={"L1": ("wedge", 0.3)} if i % 2 else None)
            for i in range(4)}


def _noisy(lms, sd, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return {k: lm.map_points(lambda xy: xy + rng.normal(0, sd, xy.shape) + [shift, 0])
            for k, lm in lms.items()}


def test_compare_readers_reports_every_statistic_with_units(films):
    truth = {k: s.landmarks for k, s in films.items()}
    r = ag.compare_readers({"truth": truth, "r1": _noisy(truth, 1.0, seed=1),
                            "r2": _noisy(truth, 1.0, shift=2.0, seed=2)}, spacing=0.1)
    st = r.statistics
    assert set(st["statistic"]) >= {"bias", "loa_low", "loa_high", "sd_diff", "rms_sd", "cv_percent",
                                     "icc_absolute", "icc_consistency", "kappa", "kappa_linear",
                                     "fleiss_kappa", "percent_agreement", "point_distance_mean"}
    ha_bias = st.query("statistic == 'bias' and measure == 'ha' and readers == 'truth vs r1'")
    assert ha_bias["unit"].iloc[0] == "mm" and ha_bias["spacing_source"].iloc[0] == "user"
    assert ha_bias["n"].iloc[0] == 16
    ratio = st.query("statistic == 'bias' and measure == 'wedge_ratio'")
    assert set(ratio["unit"]) == {"1"}
    # a pure horizontal shift of 2 px = 0.2 mm on every point: the r2-vs-truth distances
    # are about 0.2 mm larger than r1's on average
    pts = st.query("statistic == 'point_distance_mean' and measure == 'all'").set_index("readers")
    assert pts.loc["truth vs r2", "value"] > pts.loc["truth vs r1", "value"] + 0.05
    assert set(r.points["unit"]) == {"mm"} and len(r.points) == 3 * 16 * 6


def test_point_distance_of_a_known_shift(films):
    truth = {k: s.landmarks for k, s in films.items()}
    shifted = {k: lm.map_points(lambda xy: xy + [3.0, 4.0]) for k, lm in truth.items()}
    r = ag.compare_readers({"a": truth, "b": shifted}, spacing=0.1)
    assert np.allclose(r.points["distance"], 0.5)
    # no spacing: the same distances in px, and heights compared in px
    r_px = ag.compare_readers({"a": truth, "b": shifted})
    assert np.allclose(r_px.points["distance"], 5.0) and set(r_px.points["unit"]) == {"px"}
    assert set(r_px.statistics.query("measure == 'ha' and statistic == 'bias'")["unit"]) == {"px"}


def test_missing_levels_are_named(films):
    truth = {k: s.landmarks for k, s in films.items()}
    partial = dict(truth)
    partial["film2"] = truth["film2"].subset(["T12", "L1"])
    with pytest.raises(ag.AgreementError, match=r"reader 'b' lacks .*film2: L2, L3"):
        ag.compare_readers({"a": truth, "b": partial})
    r = ag.compare_readers({"a": truth, "b": partial}, missing="drop")
    assert r.unmatched[["reader", "image", "level"]].values.tolist() == [["a", "film2", "L2"],
                                                                          ["a", "film2", "L3"]]
    assert len(r.wide("ha")) == 14


def test_mixed_units_are_an_error():
    lm = synthetic.make_spine(["L1", "L2"], seed=0).landmarks
    mm = ag.read_reader(lm, spacing=0.1)
    px = ag.read_reader(lm).drop(columns="xy")
    with pytest.raises(ag.AgreementError, match="different units"):
        ag.compare_readers({"a": mm.drop(columns="xy"), "b": px})


def test_batch_grade_tables_match_by_file_name_and_list_failures(tmp_path):
    from fixtures.batch_data import write_case

    from vcfmeasure.batch import grade_many

    for name, ha in (("p1", 30.0), ("p2", 22.0), ("p3", 28.0)):
        write_case(tmp_path / "r1", name, ha_l1=ha)
        write_case(tmp_path / "r2", name, ha_l1=ha - 1.0)
    (tmp_path / "r2" / "p3.json").unlink()  # reader 2 could not read p3
    a = grade_many(tmp_path / "r1")
    b = grade_many(tmp_path / "r2")
    assert b.loc[b["image"].str.contains("p3"), "error"].str.len().gt(0).all()
    with pytest.raises(ag.AgreementError, match=r"lacks .*p3: T12, L1, L2 \(its input failed"):
        ag.compare_readers({"r1": a, "r2": b})
    r = ag.compare_readers({"r1": a, "r2": b}, missing="drop")
    assert r.failed["r2"].keys() == {"p3"}
    bias = r.statistics.query("statistic == 'bias' and measure == 'ha'")
    # r2's anterior L1 height is 1 px x 0.2 mm shorter on 2 of the 6 matched vertebrae
    assert bias["value"].iloc[0] == pytest.approx(0.2 * 2 / 6)
    assert bias["unit"].iloc[0] == "mm" and "detector" in bias["spacing_source"].iloc[0]
    assert r.points.empty


def test_reader_table_rejects_a_non_grade_table():
    with pytest.raises(vm.FileFormatError, match="ha, hm, hp"):
        ag.read_reader(pd.DataFrame({"image": ["x"], "level": ["L1"]}), name="bad")


def test_confusion_and_bland_altman_views(films):
    truth = {k: s.landmarks for k, s in films.items()}
    r = ag.compare_readers({"a": truth, "b": _noisy(truth, 0.5, seed=3)}, spacing=0.1)
    c = r.confusion()
    assert int(c.to_numpy().sum()) == 16
    ba = r.bland_altman("hp")
    row = r.statistics.query("statistic == 'bias' and measure == 'hp'")
    assert ba.bias == pytest.approx(row["value"].iloc[0])


def test_icc_of_readers_differing_by_a_constant_only():
    x = np.array([[20.0, 21.0], [25.0, 26.0], [30.0, 31.0], [22.0, 23.0]])
    r = ag.icc(x)
    assert r.consistency == pytest.approx(1.0)
    assert r.absolute < 1.0
    assert all(math.isnan(c) for c in r.consistency_ci)  # no residual variance: no interval
