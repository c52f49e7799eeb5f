"""Figures a student reads at a glance: nothing overlaps, nothing is cut, greyscale works."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

import vcfmeasure as vm  # noqa: E402
from tests.fixtures.toy_spine import toy_image, toy_landmarks  # noqa: E402

LEVELS = ("T11", "T12", "L1", "L2", "L3")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def mirrored(lm, width):
    """The same spine facing the other way in an image ``width`` pixels wide."""
    xy = lm.array.copy()
    xy[..., 0] = width - 1 - xy[..., 0]
    return vm.Landmarks.from_array(xy, lm.levels)


def at_edge(facing):
    """A spine whose anterior walls touch the image edge on the side it faces."""
    lm = toy_landmarks(LEVELS, loss={"L1": (0.3, 0.1, 0.0)}, origin=(30.0, 40.0))
    image = toy_image(lm, spacing=0.25)
    # shift so that the leftmost point is 2 px from the left edge: anterior is on the left
    # for facing "left" after mirroring
    if facing == "left":
        lm = mirrored(lm, image.shape[1])
        image = vm.Radiograph(image.pixels[:, ::-1].copy(), spacing=image.spacing)
    xy = lm.array.copy()
    shift = xy[..., 0].min() - 2 if facing == "left" else xy[..., 0].max() - (image.shape[1] - 3)
    xy[..., 0] -= shift
    return image, vm.Landmarks.from_array(xy, lm.levels)


def extents(fig, artists):
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [a.get_window_extent(renderer) for a in artists]


def level_labels(ax):
    return [t for t in ax.texts if (t.get_gid() or "").endswith(":label")
            and not t.get_gid().startswith("vcfmeasure:scale_bar")]


@pytest.mark.parametrize("facing", ["left", "right"])
def test_level_labels_stay_inside_and_clear_of_ticks_and_scale_bar(facing):
    image, lm = at_edge(facing)
    from vcfmeasure.plot._overlay import anterior_side

    assert anterior_side(lm) == facing
    m = vm.measure(lm, spacing=image)
    ax = vm.plot_landmarks(image, lm, grades=vm.grade(m))
    fig = ax.figure
    labels = level_labels(ax)
    assert len(labels) == len(LEVELS)
    boxes = extents(fig, labels)
    inside = ax.get_window_extent()
    ticks = [t for t in ax.get_yticklabels() + ax.get_xticklabels() if t.get_text()]
    others = extents(fig, ticks) + extents(fig, [
        a for a in ax.lines + ax.texts if (a.get_gid() or "").startswith("vcfmeasure:scale_bar")])
    assert len(others) > len(ticks)  # the scale bar and its text are there
    for box in boxes:
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1
        assert not any(box.overlaps(o) for o in others)
    legend = ax.get_legend().get_window_extent()
    assert not any(box.overlaps(legend) for box in boxes)


def test_scale_bar_is_never_clipped_after_zoom_or_crop():
    image, lm = at_edge("right")
    ax = vm.plot_landmarks(image, lm)
    (bar,) = [a for a in ax.lines if a.get_gid() == "vcfmeasure:scale_bar"]
    (text,) = [t for t in ax.texts if t.get_gid() == "vcfmeasure:scale_bar_label"]
    for lo, hi in [(0, image.shape[1]), (20, 60), (100.0, 104.0)]:
        ax.set_xlim(lo, hi)
        x = bar.get_xdata()
        assert lo < x[0] < x[1] < hi
        assert 0.1 * (hi - lo) < (x[1] - x[0]) <= 0.25 * (hi - lo) + 1e-9
        assert (x[1] - x[0]) * image.spacing[1] == pytest.approx(
            float(text.get_text().removesuffix(" mm")))


def _pre_post(facing="right"):
    pre = toy_landmarks(LEVELS, loss={"L1": (0.35, 0.15, 0.0)})
    post = toy_landmarks(LEVELS, loss={"L1": (0.1, 0.05, 0.0)}, scale=1.2, origin=(70, 30))
    return toy_image(pre, spacing=0.25), pre, toy_image(post, spacing=0.25 / 1.2), post


def test_comparison_alignment_lines_cross_no_text_and_untreated_levels_read_no_minus_zero():
    pre_img, pre, post_img, post = _pre_post()
    restoration = vm.compare(vm.measure(pre, spacing=pre_img),
                             vm.measure(post, spacing=post_img), reference="radelement")
    fig = vm.plot.plot_comparison(pre_img, pre, post_img, post, restoration=restoration,
                                  annotate=list(LEVELS))
    ax_pre, ax_post = fig.axes[:2]
    links = [a for a in fig.artists if (a.get_gid() or "").startswith("vcfmeasure:align:")]
    assert len(links) == len(LEVELS)
    texts = [t for ax in (ax_pre, ax_post) for t in ax.texts + ax.get_yticklabels()
             + ax.get_xticklabels() if t.get_text() and t.get_visible()]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    text_boxes = [t.get_window_extent(renderer) for t in texts]
    for link in links:
        line = link.get_window_extent(renderer)
        # the link runs in the gap: from the pre panel's right edge to the post panel's left
        assert line.x0 >= ax_pre.get_window_extent().x1 - 1
        assert line.x1 <= ax_post.get_window_extent().x0 + 1
        assert not any(line.overlaps(b) for b in text_boxes)
    notes = [t.get_text() for t in ax_post.texts
             if (t.get_gid() or "").startswith("vcfmeasure:restoration:")]
    assert len(notes) == len(LEVELS)
    assert not any("-0%" in n or "-0 %" in n for n in notes)
    untreated = [n for n in notes if n.startswith(("T11", "T12", "L2", "L3"))]
    assert untreated and not any("of loss restored" in n for n in untreated)
    assert "of loss restored" in next(n for n in notes if n.startswith("L1"))


def test_comparison_arrow_does_not_run_through_the_level_name():
    pre_img, pre, post_img, post = _pre_post()
    fig = vm.plot.plot_comparison(pre_img, pre, post_img, post)
    ax_post = fig.axes[1]
    (note,) = [t for t in ax_post.texts if t.get_gid() == "vcfmeasure:restoration:L1"]
    (name,) = [t for t in ax_post.texts if t.get_gid() == "vcfmeasure:L1:label"]
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    arrow = note.arrow_patch.get_window_extent(renderer)
    box = name.get_window_extent(renderer)
    assert arrow.x0 >= box.x1 - 2  # ends at (or right of) the name's right edge


def test_report_crops_to_the_measured_spine_and_writes_svg(tmp_path):
    lm = toy_landmarks(LEVELS, origin=(60.0, 40.0))
    image = toy_image(lm, shape=(900, 700), spacing=0.25)
    out = tmp_path / "report.svg"
    fig = vm.plot.patient_report(image, lm, path=out)
    assert b"<svg" in out.read_bytes()[:400]
    ax = fig.axes[0]
    (x0, x1), (y1, y0) = sorted(ax.get_xlim()), ax.get_ylim()
    xy = lm.array.reshape(-1, 2)
    assert x0 <= xy[:, 0].min() and xy[:, 0].max() <= x1
    assert y0 <= xy[:, 1].min() and xy[:, 1].max() <= y1
    assert (x1 - x0) * (y1 - y0) < 0.6 * image.shape[0] * image.shape[1]


def test_report_sdi_names_the_levels_it_sums():
    lm = toy_landmarks(("L3", "L4", "L5"), loss={"L4": (0.3, 0.0, 0.0)})
    image = toy_image(lm, spacing=0.25)
    with pytest.warns(vm.DomainWarning):
        fig = vm.plot.patient_report(image, lm)
    footer = fig.axes[3].texts[0].get_text()
    assert "spinal deformity index 2 over L3-L4 (2 of the 13 levels T4-L4; L5 outside T4-L4" \
        in footer


def _grey(rgba_over_white):
    r, g, b = rgba_over_white
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def test_grade_bands_differ_in_greyscale():
    lm = toy_landmarks(LEVELS)
    ax = vm.plot.plot_ratios(vm.measure(lm))
    bands = {int(p.get_gid().rsplit(":", 1)[1]): p for p in ax.patches
             if (p.get_gid() or "").startswith("vcfmeasure:band:")}
    assert sorted(bands) == [1, 2, 3]
    greys = []
    for g in (1, 2, 3):
        r, gg, b, a = mcolors.to_rgba(bands[g].get_facecolor())
        greys.append(_grey([a * c + (1 - a) for c in (r, gg, b)]))
    assert greys[0] - greys[1] > 0.05 and greys[1] - greys[2] > 0.05  # darker with grade
    assert len({bands[g].get_hatch() or "" for g in (1, 2, 3)}) == 3


def test_plot_landmarks_overlays_two_sets_with_a_legend():
    lm = toy_landmarks(LEVELS)
    image = toy_image(lm, spacing=0.25)
    other = vm.Landmarks.from_array(lm.array + 1.5, lm.levels)
    ax = vm.plot_landmarks(image, lm, color="#0072B2", label="reader A")
    ylim = ax.get_ylim()
    ax2 = vm.plot_landmarks(None, other, ax=ax, color="#D55E00", label="reader B")
    assert ax2 is ax and ax.get_ylim() == ylim  # not flipped by the second call
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["reader A", "reader B"]
    pts = [a for a in ax.lines if a.get_gid() == "vcfmeasure:L1:points"]
    assert [mcolors.to_hex(p.get_markerfacecolor()) for p in pts] == ["#0072b2", "#d55e00"]
    np.testing.assert_array_equal(pts[1].get_xydata(), other["L1"])
    assert len([t for t in ax.texts if t.get_gid() == "vcfmeasure:L1:label"]) == 1


ALL_LEVELS = ("T4", "T5", "T6", "T7", "T8", "T9", "T10", "T11", "T12", "L1", "L2", "L3", "L4")


def facing_spine(levels, facing, *, shape=None):
    """A toy spine (L1 wedged) on its image, facing ``facing``."""
    lm = toy_landmarks(levels, loss={"L1": (0.3, 0.1, 0.0)} if "L1" in levels else None)
    image = toy_image(lm, shape=shape, spacing=0.25)
    if facing == "left":
        lm = mirrored(lm, image.shape[1])
        image = vm.Radiograph(image.pixels[:, ::-1].copy(), spacing=image.spacing,
                              spacing_source="user")
    return image, lm


def scale_bar_artists(ax):
    return [a for a in ax.lines + ax.texts
            if (a.get_gid() or "").startswith("vcfmeasure:scale_bar")]


@pytest.mark.parametrize("levels", [("T12", "L1", "L2"), ALL_LEVELS], ids=["few", "many"])
@pytest.mark.parametrize("facing", ["left", "right"])
def test_report_overlay_labels_and_scale_bar_stay_inside_its_narrow_axes(levels, facing):
    # the report's overlay is a tall, narrow axes (equal aspect, cropped to the spine): labels
    # sized for a wide axes ran past its edge into the legend's column (facing right) or the
    # y tick labels (facing left), and the scale bar's text overhung the left edge
    image, lm = facing_spine(levels, facing)
    fig = vm.plot.patient_report(image, lm)
    ax = fig.axes[0]
    labels = level_labels(ax)
    assert len(labels) == len(levels)
    fig.canvas.draw()
    inside = ax.get_window_extent()
    boxes = [Bbox.union([t.get_window_extent(), t.get_bbox_patch().get_window_extent()])
             for t in labels]
    bar = extents(fig, scale_bar_artists(ax))
    assert len(bar) == 2
    ticks = extents(fig, [t for t in ax.get_yticklabels() + ax.get_xticklabels()
                          if t.get_text()])
    legend = ax.get_legend().get_window_extent()
    for box in boxes:
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1
        assert not box.overlaps(legend)
        assert not any(box.overlaps(o) for o in ticks + bar)
    for part in bar:  # the scale bar and its text, whole, inside the axes
        assert inside.x0 <= part.x0 and part.x1 <= inside.x1
        assert inside.y0 <= part.y0 and part.y1 <= inside.y1


def test_comparison_notes_of_adjacent_levels_do_not_overlap_and_stay_on_the_page():
    treated = ("T12", "L1", "L2")  # adjacent levels of a long spine: little room per level
    pre = toy_landmarks(ALL_LEVELS, loss={lv: (0.35, 0.15, 0.0) for lv in treated})
    post = toy_landmarks(ALL_LEVELS, loss={lv: (0.1, 0.05, 0.0) for lv in treated},
                         scale=1.2, origin=(70, 30))
    pre_img, post_img = toy_image(pre, spacing=0.25), toy_image(post, spacing=0.25 / 1.2)
    fig = vm.plot.plot_comparison(pre_img, pre, post_img, post)
    notes = [t for t in fig.axes[1].texts
             if (t.get_gid() or "").startswith("vcfmeasure:restoration:")]
    assert [n.get_gid().rsplit(":", 1)[1] for n in notes] == list(treated)
    fig.canvas.draw()
    boxes = [n.get_bbox_patch().get_window_extent() for n in notes]
    for i, a in enumerate(boxes):
        assert fig.bbox.x0 <= a.x0 and a.x1 <= fig.bbox.x1
        assert fig.bbox.y0 <= a.y0 and a.y1 <= fig.bbox.y1
        assert not any(a.overlaps(b) for b in boxes[i + 1:])
    # still top to bottom in level order, each arrow ending at its own vertebra
    centres = [0.5 * (b.y0 + b.y1) for b in boxes]
    assert centres == sorted(centres, reverse=True)
    for lv, note in zip(treated, notes, strict=True):
        y = note.xy[1]
        assert post[lv][:, 1].min() - 1 <= y <= post[lv][:, 1].max() + 1


@pytest.mark.parametrize("facing", ["left", "right"])
def test_comparison_of_a_long_spine_uses_tall_panels_next_to_each_other(facing):
    pre = toy_landmarks(ALL_LEVELS, loss={"L1": (0.35, 0.15, 0.0)})
    post = toy_landmarks(ALL_LEVELS, loss={"L1": (0.1, 0.05, 0.0)}, scale=1.2, origin=(70, 30))
    pre_img, post_img = toy_image(pre, spacing=0.25), toy_image(post, spacing=0.25 / 1.2)
    if facing == "left":
        pre, post = mirrored(pre, pre_img.shape[1]), mirrored(post, post_img.shape[1])
    fig = vm.plot.plot_comparison(pre_img, pre, post_img, post)
    ax_pre, ax_post = fig.axes[:2]
    fig.canvas.draw()
    a, b = ax_pre.get_window_extent(), ax_post.get_window_extent()
    assert a.height / a.width > 2.0 and b.height / b.width > 2.0
    assert b.x0 - a.x1 < 0.12 * fig.bbox.width  # the alignment lines stay short
    assert fig.get_figwidth() < 9.0
    for ax in (ax_pre, ax_post):  # level names inside their panel, clear of its ticks
        inside = ax.get_window_extent()
        ticks = [t.get_window_extent() for t in ax.get_xticklabels() + ax.get_yticklabels()
                 if t.get_text() and t.get_visible()]
        for t in level_labels(ax):
            box = Bbox.union([t.get_window_extent(), t.get_bbox_patch().get_window_extent()])
            assert inside.x0 <= box.x0 and box.x1 <= inside.x1
            assert not any(box.overlaps(o) for o in ticks)
    # first and last levels at the same screen height in both panels
    for lv in (ALL_LEVELS[0], ALL_LEVELS[-1]):
        ya = ax_pre.transData.transform(pre[lv].mean(axis=0))[1]
        yb = ax_post.transData.transform(post[lv].mean(axis=0))[1]
        assert ya == pytest.approx(yb, abs=2.0)


def test_overlaid_landmark_sets_get_distinct_markers_so_both_show():
    lm = toy_landmarks(LEVELS)
    image = toy_image(lm, spacing=0.25)
    ax = vm.plot_landmarks(image, lm, color="#0072B2", label="clicked")
    vm.plot_landmarks(None, lm, ax=ax, color="#D55E00", label="refined")  # same points
    pts = [a for a in ax.lines if a.get_gid() == "vcfmeasure:L1:points"]
    assert [p.get_marker() for p in pts] == ["o", "x"]
    assert mcolors.to_hex(pts[1].get_markeredgecolor()) == "#d55e00"  # not black: shows
    handles = ax.get_legend().legend_handles
    assert [h.get_marker() for h in handles] == ["o", "x"]
    (name,) = [t for t in ax.texts if t.get_gid() == "vcfmeasure:L1:label"]
    assert mcolors.to_hex(name.get_color()) == "#ffffff"
    # a fresh image on the same axes starts again with circles
    vm.plot_landmarks(image, lm, ax=ax, color="#0072B2")
    assert [a for a in ax.lines if a.get_gid() == "vcfmeasure:L1:points"][-1].get_marker() == "o"


def test_report_footer_stays_on_the_page_with_a_long_spacing_source():
    lm = toy_landmarks(LEVELS)
    base = toy_image(lm)
    source = ("magnification-corrected: (0018,1164) Imager Pixel Spacing 0.15\\0.15 / "
              "(0018,1114) Estimated Radiographic Magnification Factor 1.15")
    image = vm.Radiograph(base.pixels, spacing=0.13, spacing_source=source)
    fig = vm.plot.patient_report(image, lm)
    (footer,) = fig.axes[3].texts
    fig.canvas.draw()
    box = footer.get_window_extent()
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1 and fig.bbox.y0 <= box.y0
    assert source in " ".join(footer.get_text().split())


def test_scale_bar_reads_on_bright_film_too():
    lm = toy_landmarks(LEVELS)
    bright = toy_image(lm, spacing=0.25)
    image = vm.Radiograph(np.ones_like(bright.pixels), spacing=0.25, spacing_source="user")
    ax = vm.plot_landmarks(image, lm)
    for artist in scale_bar_artists(ax):  # white with a black rim
        (stroke,) = artist.get_path_effects()
        assert mcolors.to_hex(stroke._gc["foreground"]) == "#000000"
