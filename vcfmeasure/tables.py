"""One table per spine: heights, ratios, angles and grades side by side, with units."""

from __future__ import annotations

from typing import Any

from ._errors import VcfMeasureError
from ._table import column_units

__all__ = ["results_table"]


def results_table(morphometry: Any, grades: Any = None, *, restoration: Any = None):
    """Measurements and grades of one spine as one :class:`pandas.DataFrame`.

    Parameters
    ----------
    morphometry : Morphometry
        From :func:`vcfmeasure.measure`.
    grades : Grades, optional
        From :func:`vcfmeasure.grade` on the same morphometry: its columns are added
        (those already present, such as ``level`` and ``unit``, are not repeated).
    restoration : Restoration, optional
        From :func:`vcfmeasure.compare` with ``morphometry`` as ``pre``: its columns
        are added to the levels it reports (other rows hold NaN).

    Returns
    -------
    pandas.DataFrame
        One row per vertebra, cranial -> caudal. ``df.attrs["units"]`` maps each
        numeric column to ``"mm"``/``"px"`` (lengths), ``"mm²"``/``"px²"`` (areas),
        ``"deg"``, ``"ratio"`` or ``"fraction"``; ``df.attrs["unit"]``,
        ``df.attrs["spacing_source"]`` and (with grades) ``df.attrs["reference"]`` say
        how the numbers were obtained.

    Raises
    ------
    VcfMeasureError
        When ``grades`` or ``restoration`` come from another spine (other levels or
        another unit).

    Examples
    --------
    >>> import numpy as np, vcfmeasure as vm
    >>> box = np.array([[0, 0], [50, 0], [100, 0], [100, 80], [50, 90], [0, 100]], float)
    >>> m = vm.measure(vm.Landmarks({"L1": box}), spacing=0.2)
    >>> df = vm.results_table(m, vm.grade(m))
    >>> print(df[["level", "ha", "hp", "wedge_ratio", "grade"]].to_string(index=False))
    level   ha   hp  wedge_ratio  grade
       L1 16.0 20.0          0.8      1
    >>> df.attrs["units"]["ha"], df.attrs["units"]["wedge_ratio"], df.attrs["spacing_source"]
    ('mm', 'ratio', 'user')
    """
    from ._checks import check_results_table

    check_results_table(morphometry, grades, restoration)
    import pandas as pd

    df = morphometry.to_dataframe()
    attrs = {"unit": morphometry.unit, "spacing_source": morphometry.spacing_source}
    if grades is not None:
        if tuple(grades.levels) != tuple(morphometry.levels) or grades.unit != morphometry.unit:
            raise VcfMeasureError(
                "results_table: grades are of levels "
                f"{', '.join(grades.levels) or 'none'} in {grades.unit}, the morphometry of "
                f"{', '.join(morphometry.levels) or 'none'} in {morphometry.unit}; pass "
                "grade(morphometry) of the same spine"
            )
        g = grades.to_dataframe()
        df = pd.concat([df, g[[c for c in g.columns if c not in df.columns]]], axis=1)
        attrs["reference"] = grades.reference
    if restoration is not None:
        missing = [lv for lv in restoration.levels if lv not in set(morphometry.levels)]
        if missing or restoration.unit != morphometry.unit:
            raise VcfMeasureError(
                f"results_table: the restoration ({', '.join(restoration.levels)}, "
                f"{restoration.unit}) is not of this spine ({', '.join(morphometry.levels)}, "
                f"{morphometry.unit}); pass compare(morphometry, post)"
            )
        r = restoration.to_dataframe()
        r = r[["level"] + [c for c in r.columns if c not in df.columns]]
        df = df.merge(r, on="level", how="left", sort=False)
    df.attrs.update(attrs, units=column_units(df.columns, morphometry.unit))
    return df
