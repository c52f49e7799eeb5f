"""Figures of vcfmeasure results, drawn with matplotlib (imported only when used).

Every function draws on a given Axes (``ax=``) or a new figure, needs no display, and uses
the colour-blind-safe Okabe-Ito palette; lengths are labelled mm or px, angles deg.

- :func:`plot_landmarks` — the radiograph with the six points, outline, heights and level
  names per vertebra, coloured by Genant grade.
- :func:`plot_heights` — Ha, Hm, Hp bars per vertebra (with the expected heights).
- :func:`plot_ratios` — wedge, biconcavity and crush ratios on the Genant 20/25/40 % bands.
- :func:`plot_profile` — wedge angle and local kyphosis per level, regional kyphosis and
  lordosis.
- :func:`plot_comparison` — pre/post images side by side, aligned per level, with height
  restoration and kyphosis correction.
- :func:`patient_report` — one A4 page (overlay, table, grades), saved as PNG or PDF.
- :func:`plot_bland_altman`, :func:`plot_grade_confusion`, :func:`plot_point_errors` — reader
  agreement (:mod:`vcfmeasure.agreement`).
"""

from ._agreement import plot_bland_altman, plot_grade_confusion, plot_point_errors
from ._charts import GENANT_RATIO_BANDS, plot_heights, plot_profile, plot_ratios
from ._compare import plot_comparison
from ._overlay import plot_landmarks
from ._report import patient_report
from ._style import GRADE_COLORS, NO_GRADE_COLOR, OKABE_ITO

__all__ = [
    "GENANT_RATIO_BANDS",
    "GRADE_COLORS",
    "NO_GRADE_COLOR",
    "OKABE_ITO",
    "patient_report",
    "plot_bland_altman",
    "plot_grade_confusion",
    "plot_point_errors",
    "plot_comparison",
    "plot_heights",
    "plot_landmarks",
    "plot_profile",
    "plot_ratios",
]
