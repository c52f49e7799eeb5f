import json

import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure.cement import measure_cement
from vcfmeasure.geometry import polygon_distance
from vcfmeasure.synthetic import make_spine

SMALL = {"imager_spacing_mm": 0.25, "seed": 11}
LEVELS = ["T12", "L1", "L2"]


def film(detail=None, **kw):
    args = {**SMALL, **kw}
    return make_spine(LEVELS, cement_detail=detail, **args)


def test_fill_matches_truth_and_untreated_neighbours_have_none():
    s = film({"L1": {"size": 0.8}})
    r = measure_cement(s.radiograph, s.landmarks)
    rec = {x["level"]: x for x in r.to_records()}
    truth = s.truth["L1"]["cement"]
    assert rec["L1"]["cement"] and not rec["T12"]["cement"] and not rec["L2"]["cement"]
    assert abs(rec["L1"]["cement_fill"] - truth["fill"]) < 0.03
    assert rec["L1"]["cement_area"] == pytest.approx(truth["area_mm2"], rel=0.08)
    assert r.leaks == ()
    assert rec["L1"]["unit"] == "mm" and "magnification-corrected" in rec["L1"]["spacing_source"]


@pytest.mark.parametrize("kind", ["superior_disc", "inferior_disc", "posterior", "anterior"])
@pytest.mark.parametrize("facing", ["right", "left"])
def test_each_leak_kind_is_found_sized_and_classified(kind, facing):
    s = film({"L1": {"size": 0.6, "leaks": [(kind, 4.0)]}}, facing=facing, rotation_deg=12.0)
    r = measure_cement(s.radiograph, s.landmarks)
    truth = s.truth["L1"]["cement"]["leaks"][0]
    assert len(r.leaks) == 1
    leak = r.leaks[0]
    assert (leak.level, leak.kind, leak.status, leak.unit) == ("L1", kind, "leak", "mm")
    assert leak.size == pytest.approx(truth["size_mm"], abs=0.6)
    assert np.hypot(leak.x - truth["centroid_xy"][0], leak.y - truth["centroid_xy"][1]) < 8
    assert r.to_records()[1]["leak_kinds"] == kind


def test_tiny_leak_is_kept_as_uncertain():
    s = film({"L1": {"size": 0.6, "leaks": [("posterior", 0.7)]}}, imager_spacing_mm=0.12)
    r = measure_cement(s.radiograph, s.landmarks)
    assert [(k.kind, k.status) for k in r.leaks] == [("posterior", "uncertain")]
    assert r.leaks[0].confidence < 0.5
    assert r.to_records()[1]["leaks_uncertain"] == 1


def test_untreated_film_has_no_cement_and_no_leaks():
    s = make_spine(LEVELS, deformities={"L1": ("wedge", 0.35)}, **SMALL)
    r = measure_cement(s.radiograph, s.landmarks)
    assert not any(r.cement) and r.leaks == ()
    assert all(np.isnan(v) for v in r.thresholds.values())


def test_implant_loop_is_recognised_not_a_leak_nor_cement():
    plain = film({"L1": {"size": 0.5}})
    loop = film({"L1": {"size": 0.5, "implant": True}})
    r = measure_cement(loop.radiograph, loop.landmarks)
    rec = r.to_records()[1]
    assert rec["implant"] and rec["implant_area"] > 5.0 and r.leaks == ()
    assert not measure_cement(plain.radiograph, plain.landmarks).to_records()[1]["implant"]
    # wire running along the mass edge is partly counted as cement (docs/cement.md)
    assert abs(rec["cement_fill"] - loop.truth["L1"]["cement"]["fill"]) < 0.08


def test_bowel_contrast_in_front_is_not_a_leak():
    s = film({"L1": {"size": 0.6, "bowel": True}})
    assert s.truth["L1"]["cement"]["bowel"] is not None
    assert measure_cement(s.radiograph, s.landmarks).leaks == ()


def test_endplate_contact_follows_the_fill():
    big = film({"L1": {"size": 1.0}})
    small = film({"L1": {"size": 0.3}})
    b = measure_cement(big.radiograph, big.landmarks).to_records()[1]
    s = measure_cement(small.radiograph, small.landmarks).to_records()[1]
    assert b["contact_superior"] and b["contact_inferior"]
    assert not s["contact_superior"] and not s["contact_inferior"]
    assert b["cement_extent_cc"] > s["cement_extent_cc"] + 5
    assert b["cement_extent_ap"] > s["cement_extent_ap"] + 5


def test_extent_is_along_the_body_axes_under_rotation():
    from vcfmeasure.geometry import body_frame

    for rotation in (0.0, 25.0):
        s = film({"L1": {"size": 0.6}}, rotation_deg=rotation)
        rec = measure_cement(s.radiograph, s.landmarks).to_records()[1]
        truth = s.truth["L1"]["cement"]
        rows, cols = np.nonzero(truth["mask"])
        pts = np.stack([cols + truth["mask_origin"][1], rows + truth["mask_origin"][0]], 1)
        pts = pts * s.radiograph.spacing[0]
        ant, cra, _ = body_frame(s.landmarks.array[1:2] * s.radiograph.spacing[0])
        step = s.radiograph.spacing[0]
        assert rec["cement_extent_ap"] == pytest.approx(np.ptp(pts @ ant[0]) + step, abs=0.5)
        assert rec["cement_extent_cc"] == pytest.approx(np.ptp(pts @ cra[0]) + step, abs=0.5)


def test_without_spacing_lengths_are_px_and_it_warns():
    s = film({"L1": {"size": 0.6, "leaks": [("anterior", 4.0)]}})
    rg = vm.Radiograph(s.radiograph.pixels)
    with pytest.warns(vm.SpacingWarning, match="no spacing"):
        r = measure_cement(rg, s.landmarks)
    rec = r.to_records()[1]
    assert rec["unit"] == "px" and r.leaks[0].unit == "px"
    mm = measure_cement(s.radiograph, s.landmarks).to_records()[1]
    px_mm = s.radiograph.spacing[0]
    assert rec["cement_area"] * px_mm**2 == pytest.approx(mm["cement_area"], rel=1e-6)
    assert rec["cement_fill"] == pytest.approx(mm["cement_fill"])


def test_procedures_from_provenance_and_argument():
    s = film({"L1": {"size": 0.6}})
    prov = {"L1": vm.Provenance("manual", procedure="kyphoplasty")}
    lm = vm.Landmarks(dict(s.landmarks.items()), provenance=prov)
    r = measure_cement(s.radiograph, lm)
    assert list(r.procedure) == ["", "kyphoplasty", ""]
    r = measure_cement(s.radiograph, lm, procedures={"l1": "Kiva implant"}, levels=["L1"])
    assert list(r.procedure) == ["Kiva implant"] and r.levels == ("L1",)
    with pytest.raises(vm.LandmarkError, match="L4"):
        measure_cement(s.radiograph, lm, procedures={"L4": "vertebroplasty"})
    with pytest.raises(vm.LandmarkError, match="L3"):
        measure_cement(s.radiograph, lm, levels=["L3"])


def test_procedure_round_trips_through_landmark_json(tmp_path):
    import jsonschema

    s = film()
    lm = vm.Landmarks(dict(s.landmarks.items()),
                      provenance={"L1": vm.Provenance("manual", procedure="vertebroplasty")})
    path = tmp_path / "lm.json"
    vm.write_landmarks(lm, path)
    from importlib.resources import files

    schema = json.loads(files("vcfmeasure").joinpath("data/landmarks.schema.json").read_text())
    jsonschema.validate(json.loads(path.read_text()), schema)
    back = vm.read_landmarks(path)
    assert back.provenance["L1"].procedure == "vertebroplasty"
    assert back.provenance["L2"].procedure is None


def test_two_adjacent_cemented_levels_keep_their_own_leaks():
    s = film({"L1": {"size": 0.6, "leaks": [("inferior_disc", 3.0)]}, "L2": {"size": 0.6}})
    r = measure_cement(s.radiograph, s.landmarks)
    assert [(k.level, k.kind) for k in r.leaks] == [("L1", "inferior_disc")]
    assert list(r.cement) == [False, True, True]


def test_polygon_distance_sign_and_nearest_edge():
    hexagon = np.array([[0, 0], [5, 0], [10, 0], [10, 8], [5, 8], [0, 8]], float)
    d, k = polygon_distance(np.array([5.0, -1.0, 12.0, 5.0]), np.array([-2.0, 4.0, 4.0, 4.0]), hexagon)
    assert d.tolist() == [2.0, 1.0, 2.0, -4.0]
    assert k[:3].tolist() == [0, 5, 2]


def test_generator_cement_detail_validation():
    with pytest.raises(vm.VcfMeasureError, match="L1: leak kind"):
        film({"L1": {"leaks": [("lateral", 2.0)]}})
    with pytest.raises(vm.VcfMeasureError, match="L1: unknown cement_detail key"):
        film({"L1": {"colour": 1}})


def test_figures_show_cement_leaks_and_follow_up_fractures():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = ["T12", "L1", "L2"]
    defs = {"L1": ("wedge", 0.4)}
    pre = make_spine(levels, deformities=defs, **SMALL)
    post = make_spine(levels, deformities=defs, cement={"L1": 0.6}, **SMALL,
                      cement_detail={"L1": {"leaks": [("anterior", 4.0), ("posterior", 0.7)]}})
    fu = make_spine(levels, deformities={**defs, "L2": ("wedge", 0.35)}, cement={"L1": 0.6}, **SMALL)
    m = [vm.measure(s.landmarks, spacing=s.radiograph) for s in (pre, post, fu)]
    r = vm.compare(*m[:2], follow_up=m[2], procedures={"L1": "kyphoplasty"})
    c = measure_cement(post.radiograph, post.landmarks)
    fig = vm.plot.plot_comparison(pre.radiograph, pre.landmarks, post.radiograph, post.landmarks,
                                  restoration=r, cement=c)
    ax = fig.axes[1]
    texts = {t.get_gid(): t.get_text() for t in ax.texts if t.get_gid()}
    assert "vcfmeasure:incident:L2" in texts and "adjacent" in texts["vcfmeasure:incident:L2"]
    assert "SQ 0->2" in texts["vcfmeasure:incident:L2"]
    leak_texts = sorted(v for k, v in texts.items() if k.startswith("vcfmeasure:leak:L1"))
    assert any(t.startswith("anterior leak") and t.endswith("mm") for t in leak_texts)
    assert any("(uncertain)" in t for t in leak_texts)
    gids = {a.get_gid() for a in ax.get_children()}
    assert "vcfmeasure:cement:L1" in gids and "vcfmeasure:cement:T12" not in gids
    plt.close(fig)
    page = vm.plot.patient_report(post.radiograph, post.landmarks, cement=c, incident=r.incident)
    assert any(t.get_gid() == "vcfmeasure:incident:L2" for t in page.axes[0].texts)
    plt.close(page)


def test_levels_subset_still_respects_the_other_outlines():
    s = film({"L1": {"size": 0.6, "leaks": [("inferior_disc", 3.0)]}, "L2": {"size": 0.6}})
    r = measure_cement(s.radiograph, s.landmarks, levels=["L2"])
    assert r.levels == ("L2",) and r.leaks == () and list(r.thresholds) == ["L2"]
    r = measure_cement(s.radiograph, s.landmarks, levels=["L1"])
    assert [(k.level, k.kind) for k in r.leaks] == [("L1", "inferior_disc")]


def test_outline_outside_the_image_names_the_level():
    s = film({"L1": {"size": 0.6}})
    far = vm.Landmarks({"L1": s.landmarks["L1"] + [5000.0, 0.0]})
    with pytest.raises(vm.LandmarkError, match="L1: the outline lies outside the image"):
        measure_cement(s.radiograph, far)


def test_disc_leak_reaching_a_cemented_neighbour_stays_with_its_own_level():
    s = film({"L1": {"size": 0.6, "leaks": [("inferior_disc", 9.0)]}, "L2": {"size": 0.6}})
    r = measure_cement(s.radiograph, s.landmarks)
    assert [(k.level, k.kind) for k in r.leaks] == [("L1", "inferior_disc")]


def _two_bodies(mass_rows, facing_cemented):
    """Pass-1 entries of two stacked 30 x 20 px bodies (T6 above T7, 1 mm px): one with
    cement through its whole body, the other with bright pixels in ``mass_rows``."""
    from vcfmeasure.geometry import body_frame

    def box(top, bottom):
        return np.array([[0, top], [15, top], [30, top], [30, bottom], [15, bottom],
                         [0, bottom]], float)

    poly = np.stack([box(0, 20), box(25, 45)])
    rows, cols = np.mgrid[0:50, 0:31]
    entries = {}
    for k, lv in enumerate(("T6", "T7")):
        d, _ = polygon_distance(cols, rows, poly[k])
        inside = d <= 0
        if lv == facing_cemented:
            inner = inside & (d < -2)
        else:
            inner = inside & (rows >= mass_rows[0]) & (rows < mass_rows[1]) & (cols > 8) & (cols < 22)
        fields = [0, 0, np.zeros((50, 31)), d, None, inside, inner, inner, None, True, 1.0]
        entries[lv] = tuple(fields + [0.0] * 5)
    anterior, cranial, _ = body_frame(poly)
    return entries, poly, cranial


@pytest.mark.parametrize(("cemented", "mass_rows", "borrowed"), [
    ("T6", (26, 30), {"T7"}),   # a small mass against T7's superior endplate, below T6
    ("T7", (15, 19), {"T6"}),   # against T6's inferior endplate, above T7
    ("T6", (33, 37), set()),    # in the middle of T7: its own (small) fill
    ("T6", (25, 33), set()),    # against the endplate but over BORROWED_FILL of the body
    ("T6", (40, 44), set()),    # against T7's far (inferior) endplate
    ("T7", (1, 5), set()),      # against T6's far (superior) endplate
])
def test_a_small_mass_at_the_endplate_facing_a_cemented_neighbour_is_its_leak(
        cemented, mass_rows, borrowed):
    from vcfmeasure.cement import _borrowed

    entries, poly, cranial = _two_bodies(mass_rows, cemented)
    got = _borrowed(["T6", "T7"], entries, poly, cranial, {"T6": 0, "T7": 1}, np.ones(2),
                    np.ones(2))
    assert got == borrowed


def test_non_finite_pixels_near_an_outline_are_named_with_the_level():
    s = make_spine(["T12", "L1", "L2"], seed=2, cement_detail={"L1": {"size": 0.6}})
    pix = np.array(s.radiograph.pixels, dtype=float)
    x, y = s.landmarks["L1"].mean(axis=0).astype(int)
    pix[y, x] = np.nan
    film = vm.Radiograph(pix, spacing=s.radiograph.spacing, spacing_source="user")
    with pytest.raises(vm.VcfMeasureError, match=r"L1: 1 pixels .* not finite"):
        measure_cement(film, s.landmarks)


def test_absurdly_large_grey_values_give_the_same_report():
    s = make_spine(["T12", "L1", "L2"], seed=2, cement_detail={"L1": {"size": 0.6, "leaks": [
        ("posterior", 4.0)]}})
    plain = measure_cement(s.radiograph, s.landmarks)
    huge = vm.Radiograph(np.asarray(s.radiograph.pixels, float) * 2.0**100,
                         spacing=s.radiograph.spacing, spacing_source="user")
    with np.errstate(all="raise"):  # no overflow on the way
        big = measure_cement(huge, s.landmarks)
    assert list(big.cement) == list(plain.cement) == [False, True, False]
    np.testing.assert_allclose(big.cement_fill, plain.cement_fill, atol=1e-6)
    assert [(k.kind, k.status) for k in big.leaks] == [(k.kind, k.status) for k in plain.leaks]
