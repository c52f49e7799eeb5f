import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from tests.fixtures.toy_spine import toy_image, toy_landmarks  # noqa: E402
from vcfmeasure.plot import GRADE_COLORS, NO_GRADE_COLOR  # noqa: E402

LEVELS = ("T10", "T11", "T12", "L1", "L2", "L3")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def spine():
    lm = toy_landmarks(LEVELS, loss={"L1": (0.35, 0.1, 0.0), "L3": (0.0, 0.22, 0.0)})
    image = toy_image(lm, spacing=0.25)
    morph = vm.measure(lm, spacing=image)
    return image, lm, morph, vm.grade(morph)


def by_gid(container, gid):
    return [a for a in container if a.get_gid() == gid]


def same_color(a, b):
    return mcolors.to_hex(a) == mcolors.to_hex(b)


def test_import_vcfmeasure_does_not_import_matplotlib():
    code = (
        "import sys, vcfmeasure as vm; vm.Landmarks; vm.measure; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_plot_landmarks_markers_sit_exactly_on_each_landmark(spine):
    image, lm, _, _ = spine
    ax = vm.plot_landmarks(image, lm)
    for level in LEVELS:
        (points,) = by_gid(ax.lines, f"vcfmeasure:{level}:points")
        np.testing.assert_array_equal(points.get_xydata(), lm[level])
        # the outline is closed through the six points in POINT_NAMES order
        (outline,) = by_gid(ax.lines, f"vcfmeasure:{level}:outline")
        np.testing.assert_array_equal(outline.get_xydata(), np.vstack([lm[level], lm[level][:1]]))


def test_plot_landmarks_image_has_pixel_centres_at_integers(spine):
    image, lm, _, _ = spine
    ax = vm.plot_landmarks(image, lm)
    (shown,) = by_gid(ax.images, "vcfmeasure:image")
    rows, cols = image.shape
    assert shown.get_extent() == pytest.approx((-0.5, cols - 0.5, rows - 0.5, -0.5))
    assert "px" in ax.get_xlabel() and "px" in ax.get_ylabel()


def test_plot_landmarks_height_segments_join_the_right_points(spine):
    image, lm, _, _ = spine
    ax = vm.plot_landmarks(image, lm)
    segments = by_gid(ax.lines, "vcfmeasure:L1:height")
    got = [seg.get_xydata() for seg in segments]
    pts = lm["L1"]
    expected = [pts[[2, 3]], pts[[1, 4]], pts[[0, 5]]]  # Ha sa-ia, Hm sm-im, Hp sp-ip
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(g, e)
    assert not by_gid(vm.plot_landmarks(image, lm, heights=False).lines, "vcfmeasure:L1:height")


def test_plot_landmarks_colours_by_grade(spine):
    image, lm, _, grades = spine
    ax = vm.plot_landmarks(image, lm, grades=grades)
    by_level = dict(zip(grades.levels, grades.grade, strict=True))
    assert by_level["L1"] == 2 and by_level["T12"] == 0
    for level in LEVELS:
        (points,) = by_gid(ax.lines, f"vcfmeasure:{level}:points")
        assert same_color(points.get_markerfacecolor(), GRADE_COLORS[int(by_level[level])])
        (label,) = by_gid(ax.texts, f"vcfmeasure:{level}:label")
        assert label.get_text() == f"{level} G{int(by_level[level])}"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[2] == "grade 2 (25-40 %)"


def test_plot_landmarks_not_graded_level_has_its_own_colour(spine):
    image, lm, _, _ = spine
    flagged = lm.replace({"L2": lm["L2"]}, provenance=vm.Provenance("detected", needs_review=True))
    grades = vm.grade(vm.measure(flagged))
    assert np.isnan(dict(zip(grades.levels, grades.grade, strict=True))["L2"])
    ax = vm.plot_landmarks(image, flagged, grades=grades)
    (points,) = by_gid(ax.lines, "vcfmeasure:L2:points")
    assert same_color(points.get_markerfacecolor(), NO_GRADE_COLOR)
    assert by_gid(ax.texts, "vcfmeasure:L2:label")[0].get_text() == "L2 n/g (review)"


def test_plot_landmarks_shows_guessed_levels_and_review_flags(spine):
    image, lm, _, _ = spine
    marked = lm.replace(
        {"L1": lm["L1"], "L2": lm["L2"]},
        provenance={"L1": vm.Provenance("detected", level_guessed=True),
                    "L2": vm.Provenance("detected", needs_review=True)},
    )
    ax = vm.plot_landmarks(image, marked)
    labels = {t.get_gid(): t.get_text() for t in ax.texts}
    assert labels["vcfmeasure:L1:label"] == "L1?"
    assert labels["vcfmeasure:L2:label"] == "L2 (review)"
    assert labels["vcfmeasure:T12:label"] == "T12"
    styles = {a.get_gid(): a.get_linestyle() for a in ax.lines}
    assert styles["vcfmeasure:L2:outline"] == ":" and styles["vcfmeasure:L1:outline"] == "-"


def test_plot_landmarks_without_an_image_keeps_image_orientation(spine):
    _, lm, _, _ = spine
    ax = vm.plot_landmarks(None, lm)
    assert not ax.images
    bottom, top = ax.get_ylim()
    assert top < bottom  # y points down, as on the film
    (points,) = by_gid(ax.lines, "vcfmeasure:L3:points")
    np.testing.assert_array_equal(points.get_xydata(), lm["L3"])


def test_plot_landmarks_grades_as_mapping_and_given_axes(spine):
    image, lm, _, _ = spine
    fig, ax = plt.subplots()
    out = vm.plot_landmarks(image, lm, ax=ax, grades={"l1": 3})
    assert out is ax and len(fig.axes) == 1
    (points,) = by_gid(ax.lines, "vcfmeasure:L1:points")
    assert same_color(points.get_markerfacecolor(), GRADE_COLORS[3])
    (other,) = by_gid(ax.lines, "vcfmeasure:T12:points")
    assert same_color(other.get_markerfacecolor(), NO_GRADE_COLOR)


def test_plot_landmarks_scale_bar_only_with_spacing(spine):
    image, lm, _, _ = spine
    ax = vm.plot_landmarks(image, lm)
    (bar,) = by_gid(ax.lines, "vcfmeasure:scale_bar")
    (text,) = by_gid(ax.texts, "vcfmeasure:scale_bar_label")
    x = bar.get_xdata()
    mm = float(text.get_text().removesuffix(" mm"))
    assert (x[1] - x[0]) * image.spacing[1] == pytest.approx(mm)
    lo, hi = sorted(ax.get_xlim())
    assert lo < x[0] < x[1] < hi and (x[1] - x[0]) <= 0.25 * (hi - lo)
    no_spacing = vm.Radiograph(image.pixels)
    assert not by_gid(vm.plot_landmarks(no_spacing, lm).lines, "vcfmeasure:scale_bar")


def test_plot_landmarks_rejects_plain_dicts(spine):
    image, lm, _, _ = spine
    with pytest.raises(vm.LandmarkError, match="needs a vcfmeasure.Landmarks"):
        vm.plot_landmarks(image, lm.to_dict())


def test_plot_heights_bars_and_expected_heights(spine):
    _, _, morph, grades = spine
    ax = vm.plot.plot_heights(morph, grades=grades)
    labels = [c.get_label() for c in ax.containers]
    assert labels == ["Ha", "Hm", "Hp"]
    for container, values in zip(ax.containers, (morph.ha, morph.hm, morph.hp), strict=True):
        np.testing.assert_allclose([b.get_height() for b in container], values)
    (expected_a,) = [ln for ln in ax.lines if ln.get_label() == "expected (reference)"]
    np.testing.assert_allclose(expected_a.get_ydata(), grades.expected_ha)
    assert ax.get_ylabel() == "height (mm)"
    assert [t.get_text() for t in ax.get_xticklabels()] == list(LEVELS)


def test_plot_heights_in_pixels_says_px():
    morph = vm.measure(toy_landmarks(("L1", "L2")))
    assert vm.plot.plot_heights(morph).get_ylabel() == "height (px)"


def test_plot_ratios_bands_and_values(spine):
    _, _, morph, grades = spine
    ax = vm.plot.plot_ratios(morph, grades=grades)
    np.testing.assert_allclose([b.get_height() for b in ax.containers[0]], morph.wedge_ratio)
    np.testing.assert_allclose([b.get_height() for b in ax.containers[1]],
                               morph.biconcavity_ratio)
    bands = {g: by_gid(ax.patches, f"vcfmeasure:band:{g}")[0] for g in (1, 2, 3)}
    edges = {g: (b.get_y(), b.get_y() + b.get_height()) for g, b in bands.items()}
    assert edges[1] == pytest.approx((0.75, 0.80))
    assert edges[2] == pytest.approx((0.60, 0.75))
    assert edges[3] == pytest.approx((0.0, 0.60))
    for g, band in bands.items():
        assert same_color(band.get_facecolor(), GRADE_COLORS[g])
    (loss,) = [ln for ln in ax.lines if ln.get_label().startswith("1 - height loss")]
    np.testing.assert_allclose(loss.get_ydata(), 1 - grades.height_loss)
    tags = [t.get_text() for t in ax.texts]
    assert tags == [f"G{int(g)}" for g in grades.grade]
    assert "dimensionless" in ax.get_ylabel()


def test_plots_refuse_grades_of_other_levels(spine):
    _, _, morph, _ = spine
    other = vm.grade(vm.measure(toy_landmarks(("L1", "L2", "L3"))))
    with pytest.raises(vm.VcfMeasureError, match="different levels"):
        vm.plot.plot_ratios(morph, grades=other)


def test_plot_profile_wedge_bars_and_regional_brackets():
    levels = ("T3", "T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1")
    lm = toy_landmarks(levels, loss={"T8": (0.3, 0.1, 0.0)})
    morph = vm.measure(lm)
    ax = vm.plot.plot_profile(morph)
    (bars,) = ax.containers
    np.testing.assert_allclose([b.get_width() for b in bars], morph.wedge_angle)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(levels)
    bottom, top = ax.get_ylim()
    assert top < bottom  # cranial at the top
    (kyphosis,) = morph.regional
    (bracket,) = by_gid(ax.lines, "vcfmeasure:regional:thoracic_kyphosis")
    ys = bracket.get_ydata()
    assert (ys.min(), ys.max()) == pytest.approx((levels.index("T4") - 0.3,
                                                  levels.index("T12") + 0.3))
    assert any(f"{kyphosis['angle']:.1f} deg" in t.get_text() for t in ax.texts)
    assert ax.get_xlabel().startswith("angle (deg)")


def pre_post():
    pre = toy_landmarks(LEVELS, loss={"L1": (0.4, 0.2, 0.0)})
    post = toy_landmarks(LEVELS, loss={"L1": (0.1, 0.05, 0.0)}, scale=1.2, origin=(70, 30))
    return toy_image(pre, spacing=0.25), pre, toy_image(post, spacing=0.25 / 1.2), post


def test_plot_comparison_aligns_levels_across_panels():
    pre_img, pre, post_img, post = pre_post()
    fig = vm.plot.plot_comparison(pre_img, pre, post_img, post)
    fig.canvas.draw()
    ax_pre, ax_post = fig.axes[:2]
    for level in (LEVELS[0], LEVELS[-1]):
        y_pre = ax_pre.transData.transform(pre[level].mean(axis=0))[1]
        y_post = ax_post.transData.transform(post[level].mean(axis=0))[1]
        assert y_pre == pytest.approx(y_post, abs=0.5)


def test_plot_comparison_writes_restoration_beside_the_fractured_level():
    pre_img, pre, post_img, post = pre_post()
    restoration = vm.compare(vm.measure(pre, spacing=pre_img), vm.measure(post, spacing=post_img),
                             treated=["L1"])
    fig = vm.plot.plot_comparison(pre_img, pre, post_img, post, restoration=restoration)
    ax_post = fig.axes[1]
    notes = {t.get_gid(): t.get_text() for t in ax_post.texts
             if (t.get_gid() or "").startswith("vcfmeasure:restoration:")}
    assert list(notes) == ["vcfmeasure:restoration:L1"]
    rec = {r["level"]: r for r in restoration.to_records()}["L1"]
    text = notes["vcfmeasure:restoration:L1"]
    assert f"Ha {rec['delta_ha']:+.1f} mm, {rec['restored_a']:.0%} of loss restored" in text
    assert f"wedge {rec['wedge_angle_correction']:+.1f} deg corrected" in text
    every = vm.plot.plot_comparison(pre_img, pre, post_img, post, annotate=["L1", "L2"])
    assert sum((t.get_gid() or "").startswith("vcfmeasure:restoration:")
               for t in every.axes[1].texts) == 2


def test_plot_comparison_without_common_levels_raises():
    a = toy_landmarks(("T11", "T12"))
    b = toy_landmarks(("L2", "L3"))
    restoration_like = vm.compare(vm.measure(a), vm.measure(a))
    with pytest.raises(vm.VcfMeasureError, match="no level is in both"):
        vm.plot.plot_comparison(None, a, None, b, restoration=restoration_like)


@pytest.mark.parametrize("suffix, magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_patient_report_saves_png_or_pdf(spine, tmp_path, suffix, magic):
    image, lm, _, _ = spine
    out = tmp_path / f"report{suffix}"
    vm.plot.patient_report(image, lm, patient="case 7", path=out, dpi=50)
    assert out.read_bytes()[:4] == magic


def test_patient_report_table_and_grade_colours(spine):
    image, lm, morph, grades = spine
    fig = vm.plot.patient_report(image, lm, morphometry=morph, grades=grades)
    table = fig.axes[1].tables[0]
    cells = table.get_celld()
    header = [cells[0, j].get_text().get_text() for j in range(11)]
    assert header[:4] == ["Level", "Ha (mm)", "Hm (mm)", "Hp (mm)"]
    grade_col = header.index("Grade")
    for i, rec in enumerate(grades.to_records(), start=1):
        assert cells[i, 0].get_text().get_text() == rec["level"]
        assert cells[i, grade_col].get_text().get_text() == str(rec["grade"])
        assert same_color(cells[i, grade_col].get_facecolor(), GRADE_COLORS[rec["grade"]])
    l1 = LEVELS.index("L1") + 1
    assert cells[l1, 1].get_text().get_text() == f"{morph.ha[l1 - 1]:.1f}"
    assert "case 7" not in fig._suptitle.get_text()  # no patient line given here
    footer = fig.axes[3].texts[0].get_text()
    assert "spacing source" not in footer and "source: user" in footer


def test_patient_report_rejects_other_formats(spine, tmp_path):
    image, lm, _, _ = spine
    with pytest.raises(vm.VcfMeasureError, match=r"report\.jpg.*\.png, \.pdf or \.svg"):
        vm.plot.patient_report(image, lm, path=tmp_path / "report.jpg")
