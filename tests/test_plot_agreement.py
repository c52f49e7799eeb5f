"""Reader-agreement figures draw the statistics the agreement table reports."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from vcfmeasure import synthetic  # noqa: E402
from vcfmeasure.agreement import compare_readers  # noqa: E402
from vcfmeasure.plot import plot_bland_altman, plot_grade_confusion, plot_point_errors  # noqa: E402

pytest.importorskip("statsmodels")


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(5)
    truth = {f"f{i}": synthetic.make_spine(["T12", "L1", "L2", "L3"], seed=i,
                                           deformities={"L1": ("wedge", 0.3)}).landmarks
             for i in range(3)}
    noisy = {k: lm.map_points(lambda xy: xy + rng.normal(0, 1.5, xy.shape)) for k, lm in truth.items()}
    return compare_readers({"truth": truth, "reader": noisy}, spacing=0.12)


def _by_gid(lines, gid):
    return [ln for ln in lines if ln.get_gid() == gid]


def test_bland_altman_lines_are_the_reported_bias_and_limits(result):
    ax = plot_bland_altman(result, "ha")
    st = result.statistics.query("measure == 'ha'").set_index("statistic")["value"]
    (bias,) = _by_gid(ax.lines, "vcfmeasure:ba:bias")
    assert bias.get_ydata()[0] == pytest.approx(st["bias"])
    loa = sorted(ln.get_ydata()[0] for ln in _by_gid(ax.lines, "vcfmeasure:ba:loa"))
    assert loa == pytest.approx([st["loa_low"], st["loa_high"]])
    offsets = ax.collections[0].get_offsets()
    x, y = result.pair_values("ha", "truth", "reader")
    assert np.allclose(np.sort(offsets[:, 1]), np.sort(x - y))
    assert "(mm)" in ax.get_ylabel()
    plt.close("all")


def test_confusion_plot_writes_the_matrix(result):
    ax = plot_grade_confusion(result)
    counts = [int(t.get_text()) for t in ax.texts]
    assert counts == result.confusion().to_numpy().ravel().tolist()
    assert "\N{GREEK SMALL LETTER KAPPA}" in ax.get_title()
    plt.close("all")


def test_point_error_bars_are_the_mean_distances(result):
    ax = plot_point_errors(result)
    pts = result.points
    expected = pts[(pts["level"] == "T12") & (pts["point"] == "sp")]["distance"].mean()
    bars = ax.patches
    assert len(bars) == 4 * 6
    assert bars[0].get_height() == pytest.approx(expected)
    plt.close("all")


def test_point_errors_need_landmarks(result):
    table = result.values[result.values["reader"] == "truth"].drop(columns=["reader", "xy"])
    r = compare_readers({"a": table, "b": table.copy()})
    with pytest.raises(vm.VcfMeasureError, match="no landmarks"):
        plot_point_errors(r)
    plt.close("all")
