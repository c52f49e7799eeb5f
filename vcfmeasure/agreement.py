r"""Reader agreement: how closely two or more readers (or a reader and the detector) agree.

Morphometry papers report precision as reader vs reader, reader vs software and test-retest
agreement. This module gives the statistics they publish, for landmark sets or batch grade
tables of the same images, matched by image and level:

- per-point distances between readers (mm when the spacing is known, else px, with the
  spacing's source);
- per height and ratio: Bland-Altman bias and 95 % limits of agreement, the precision error
  as root-mean-square SD and RMS coefficient of variation (Glüer et al. 1995), and the
  intraclass correlation, two-way, absolute agreement ICC(A,1) and consistency ICC(C,1), with
  95 % confidence intervals;
- for Genant grades: Cohen's kappa unweighted and linearly weighted (with 95 % CIs), Fleiss'
  kappa for more than two readers, and the confusion matrix.

Where a well-kept, permissively licensed implementation exists it is used: Cohen's and
Fleiss' kappa from statsmodels (asymptotic standard errors and CIs, the same output as SAS
PROC FREQ), the confusion matrix from scikit-learn (fixed label order, so grades nobody gave
still get a row). Both come with the ``agreement`` extra: ``pip install
'vcfmeasure[agreement]'``. The ICC is computed here from the two-way ANOVA mean squares with
NumPy and SciPy's F distribution: pingouin, the Python package that has it, is GPL-licensed,
and vcfmeasure (BSD) keeps GPL code out of its extras; the tests compare the two where
pingouin is installed. Bland-Altman limits and the RMS precision error are a mean and an SD.

>>> import numpy as np
>>> ba = bland_altman([10.0, 12.0, 11.0], [10.5, 12.5, 11.0])
>>> round(ba.bias, 3), ba.n
(-0.333, 3)

References
----------
Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
clinical measurement. Lancet 1986;1:307-10.
Glüer CC, Blake G, Lu Y, Blunt BA, Jergas M, Genant HK. Accurate assessment of precision
errors: how to measure the reproducibility of bone densitometry techniques. Osteoporos Int
1995;5:262-70.
Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability. Psychol
Bull 1979;86:420-8.
McGraw KO, Wong SP. Forming inferences about some intraclass correlation coefficients.
Psychol Methods 1996;1:30-46.
Cohen J. A coefficient of agreement for nominal scales. Educ Psychol Meas 1960;20:37-46.
Cohen J. Weighted kappa. Psychol Bull 1968;70:213-20.
Fleiss JL. Measuring nominal scale agreement among many raters. Psychol Bull 1971;76:378-82.
"""

from __future__ import annotations

import itertools
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import FileFormatError, VcfMeasureError, require
from .levels import LEVELS, POINT_NAMES, level_index

__all__ = [
    "MEASURES",
    "GRADE_LABELS",
    "BlandAltman",
    "Precision",
    "ICC",
    "Kappa",
    "ReaderAgreement",
    "bland_altman",
    "precision_error",
    "icc",
    "cohen_kappa",
    "fleiss_kappa",
    "grade_confusion",
    "point_distances",
    "compare_readers",
    "read_reader",
]

#: Heights (unit of the table: mm or px) and ratios (plain numbers) compared between readers.
MEASURES = ("ha", "hm", "hp", "wedge_ratio", "biconcavity_ratio", "crush_ratio")
_HEIGHTS = ("ha", "hm", "hp")
#: Genant grades in the order of the confusion matrix and of the linear kappa weights.
GRADE_LABELS = (0, 1, 2, 3)

_EXTRA = "agreement"
_IMAGE_SUFFIXES = (".dcm", ".dicom", ".dic", ".png", ".tif", ".tiff", ".jpg", ".jpeg")
_LANDMARK_SUFFIXES = (".mrk.json", ".json", ".csv", ".xml")
_Z95 = 1.959963984540054


class AgreementError(VcfMeasureError):
    """Readers that cannot be compared: unmatched levels, mixed units, too few values."""


# --- statistics on plain arrays ---------------------------------------------------------


@dataclass(frozen=True)
class BlandAltman:
    """Bias and 95 % limits of agreement of paired measurements (``a - b``).

    Attributes
    ----------
    bias : float
        Mean difference ``a - b`` (unit of the inputs).
    sd : float
        SD of the differences (``ddof=1``).
    loa_low, loa_high : float
        95 % limits of agreement ``bias -/+ 1.96 sd``.
    bias_ci, loa_low_ci, loa_high_ci : (float, float)
        95 % confidence intervals: ``t`` with ``n - 1`` df times the standard error,
        ``sd / sqrt(n)`` for the bias and ``sqrt(3 sd^2 / n)`` for each limit (Bland &
        Altman 1986, section 5).
    n : int
        Number of pairs.
    """

    bias: float
    sd: float
    loa_low: float
    loa_high: float
    bias_ci: tuple[float, float]
    loa_low_ci: tuple[float, float]
    loa_high_ci: tuple[float, float]
    n: int


def _paired(a: Any, b: Any, name: str = "a, b") -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if a.shape != b.shape:
        raise AgreementError(f"{name}: paired values need the same length, got {a.size} and {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def bland_altman(a: Any, b: Any) -> BlandAltman:
    """Bland-Altman bias and 95 % limits of agreement of two methods or readers.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        The same quantity measured by each reader on the same ``n`` subjects (any unit;
        the results are in that unit). Pairs with a non-finite value are left out.

    Returns
    -------
    BlandAltman
        Differences are ``a - b``: a positive bias means ``a`` reads higher.

    Raises
    ------
    AgreementError
        With fewer than two complete pairs.

    References
    ----------
    Bland JM, Altman DG. Lancet 1986;1:307-10 (limits ``d -/+ 2 s``; 1.96 used here, as in
    their 1999 paper, Stat Methods Med Res 8:135-60).

    Examples
    --------
    >>> ba = bland_altman([1.0, 2.0, 3.0, 4.0], [1.1, 1.9, 3.2, 4.0])
    >>> round(ba.bias, 3), round(ba.loa_low, 3), round(ba.loa_high, 3)
    (-0.05, -0.303, 0.203)
    """
    a, b = _paired(a, b)
    n = a.size
    if n < 2:
        raise AgreementError(f"Bland-Altman limits need at least 2 complete pairs, got {n}")
    from scipy import stats

    d = a - b
    bias = float(d.mean())
    sd = float(d.std(ddof=1))
    t = float(stats.t.ppf(0.975, n - 1))
    se_bias = sd / math.sqrt(n)
    se_loa = math.sqrt(3.0 * sd**2 / n)
    low, high = bias - _Z95 * sd, bias + _Z95 * sd
    return BlandAltman(
        bias=bias, sd=sd, loa_low=low, loa_high=high,
        bias_ci=(bias - t * se_bias, bias + t * se_bias),
        loa_low_ci=(low - t * se_loa, low + t * se_loa),
        loa_high_ci=(high - t * se_loa, high + t * se_loa),
        n=n,
    )


@dataclass(frozen=True)
class Precision:
    """Precision error of repeated measurements (Glüer et al. 1995).

    Attributes
    ----------
    rms_sd : float
        Root-mean-square of the per-subject SDs (unit of the inputs).
    cv_percent : float
        Root-mean-square of the per-subject coefficients of variation ``SD / mean``, in %.
    n : int
        Subjects.
    repeats : int
        Measurements per subject.
    df : int
        Degrees of freedom, ``n * (repeats - 1)``.
    """

    rms_sd: float
    cv_percent: float
    n: int
    repeats: int
    df: int


def precision_error(values: Any) -> Precision:
    """Short-term precision error as RMS SD and RMS CV % over subjects.

    Parameters
    ----------
    values : array_like, shape (n_subjects, n_repeats)
        Each row one subject (a vertebra), each column one reader or one repeat. Rows with
        a non-finite value are left out.

    Returns
    -------
    Precision
        ``rms_sd = sqrt(mean_j SD_j^2)`` and ``cv_percent = 100 sqrt(mean_j (SD_j /
        mean_j)^2)``, ``SD_j`` with ``ddof=1``: the root-mean-square averages that Glüer et
        al. recommend over the arithmetic mean of SDs or CVs.

    Raises
    ------
    AgreementError
        Fewer than two repeats, or no complete subject.

    References
    ----------
    Glüer CC et al. Osteoporos Int 1995;5:262-70.

    Examples
    --------
    >>> p = precision_error([[10.0, 12.0], [20.0, 20.0]])
    >>> round(p.rms_sd, 4), round(p.cv_percent, 3), p.df
    (1.0, 9.091, 2)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise AgreementError(
            f"precision needs a (subjects, repeats) table with at least 2 repeats, got shape {x.shape}"
        )
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) == 0:
        raise AgreementError("precision: no subject has a finite value from every reader")
    sd = x.std(axis=1, ddof=1)
    mean = x.mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(mean != 0, sd / np.abs(mean), np.nan)
    n, k = x.shape
    return Precision(
        rms_sd=float(np.sqrt(np.mean(sd**2))),
        cv_percent=float(100.0 * np.sqrt(np.nanmean(cv**2))) if np.isfinite(cv).any() else math.nan,
        n=int(n), repeats=int(k), df=int(n * (k - 1)),
    )


@dataclass(frozen=True)
class ICC:
    """Two-way intraclass correlations of single measurements, with 95 % CIs.

    Attributes
    ----------
    absolute : float
        ICC(A,1), absolute agreement (Shrout & Fleiss ICC(2,1)): systematic differences
        between readers lower it.
    absolute_ci : (float, float)
    consistency : float
        ICC(C,1), consistency (Shrout & Fleiss ICC(3,1)): a constant offset between readers
        does not lower it.
    consistency_ci : (float, float)
    n : int
        Subjects rated by every reader.
    raters : int
    """

    absolute: float
    absolute_ci: tuple[float, float]
    consistency: float
    consistency_ci: tuple[float, float]
    n: int
    raters: int


def icc(values: Any) -> ICC:
    """Intraclass correlation, two-way model, absolute agreement and consistency.

    Parameters
    ----------
    values : array_like, shape (n_subjects, n_raters)
        Every subject rated by every reader; rows with a non-finite value are left out.

    Returns
    -------
    ICC
        From the two-way ANOVA mean squares of subjects (``MSR``), raters (``MSC``) and
        error (``MSE``): ``ICC(C,1) = (MSR - MSE) / (MSR + (k-1) MSE)`` and ``ICC(A,1) =
        (MSR - MSE) / (MSR + (k-1) MSE + k (MSC - MSE) / n)``, with the F-based 95 %
        confidence intervals of McGraw & Wong (1996, Table 7; Satterthwaite degrees of
        freedom for ICC(A,1)). NaN when the ratings have no variance.

    Raises
    ------
    AgreementError
        Fewer than two readers or fewer than three complete subjects.

    Notes
    -----
    pingouin's ``intraclass_corr`` computes the same (the tests compare both where
    pingouin is installed); it is not a dependency because it is GPL-licensed.

    References
    ----------
    Shrout PE, Fleiss JL. Psychol Bull 1979;86:420-8; McGraw KO, Wong SP. Psychol Methods
    1996;1:30-46.

    Examples
    --------
    >>> r = icc([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
    ...          [6, 2, 4, 7]])
    >>> round(r.absolute, 2), round(r.consistency, 2)
    (0.29, 0.71)
    """
    x = np.asarray(values, dtype=float)
    if x.ndim != 2 or x.shape[1] < 2:
        raise AgreementError(f"ICC needs a (subjects, raters) table with 2+ raters, got shape {x.shape}")
    x = x[np.isfinite(x).all(axis=1)]
    n, k = x.shape
    if n < 3:
        raise AgreementError(f"ICC needs at least 3 subjects rated by every reader, got {n}")
    nan2 = (math.nan, math.nan)
    if np.ptp(x) == 0:
        return ICC(math.nan, nan2, math.nan, nan2, int(n), int(k))
    from scipy.stats import f as fdist
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((x - grand) ** 2) - ss_rows - ss_cols
    df_r, df_c, df_e = n - 1, k - 1, (n - 1) * (k - 1)
    msr, msc = np.float64(ss_rows / df_r), np.float64(ss_cols / df_c)
    mse = np.float64(max(ss_err / df_e, 0.0))  # 0 when readers differ by constants only: CIs nan
    q = 0.975
    with np.errstate(divide="ignore", invalid="ignore"):
        consistency = (msr - mse) / (msr + (k - 1) * mse)
        f_obs = msr / mse
        fl = f_obs / fdist.ppf(q, df_r, df_e)
        fu = f_obs * fdist.ppf(q, df_e, df_r)
        c_ci = (float((fl - 1) / (fl + k - 1)), float((fu - 1) / (fu + k - 1)))
        absolute = (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)
        a = k * absolute / (n * (1 - absolute))
        b = 1 + k * absolute * (n - 1) / (n * (1 - absolute))
        v = (a * msc + b * mse) ** 2 / ((a * msc) ** 2 / df_c + (b * mse) ** 2 / df_e)
        f_lo, f_hi = fdist.ppf(q, df_r, v), fdist.ppf(q, v, df_r)
        lo = n * (msr - f_lo * mse) / (f_lo * (k * msc + (k * n - k - n) * mse) + n * msr)
        hi = n * (f_hi * msr - mse) / (k * msc + (k * n - k - n) * mse + n * f_hi * msr)
    return ICC(float(absolute), (float(lo), float(hi)), float(consistency), c_ci, int(n), int(k))


@dataclass(frozen=True)
class Kappa:
    """A kappa coefficient with its asymptotic standard error and 95 % CI.

    Attributes
    ----------
    kappa : float
    se : float
        Asymptotic standard error (nan for Fleiss' kappa).
    ci : (float, float)
        ``kappa -/+ 1.96 se`` (nan for Fleiss' kappa).
    n : int
        Subjects.
    weights : str
        ``"none"``, ``"linear"`` or ``"fleiss"``.
    observed_agreement : float
        Fraction of subjects given the same grade by all readers.
    """

    kappa: float
    se: float
    ci: tuple[float, float]
    n: int
    weights: str
    observed_agreement: float


def _grade_array(values: Any, name: str, labels: Sequence[int] = GRADE_LABELS) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    finite = x[np.isfinite(x)]
    bad = finite[~np.isin(finite, labels)]
    if bad.size:
        raise AgreementError(f"{name}: grade {bad[0]:g} is not one of {tuple(labels)}")
    return x


def cohen_kappa(a: Any, b: Any, *, weights: str | None = None,
                labels: Sequence[int] = GRADE_LABELS) -> Kappa:
    """Cohen's kappa between two readers' Genant grades, unweighted or linearly weighted.

    Parameters
    ----------
    a, b : array_like of int, shape (n,)
        Grades 0-3 of the same vertebrae; pairs with a missing grade (nan) are left out.
    weights : {None, "linear"}
        ``None``: every disagreement counts the same; ``"linear"``: a disagreement of
        ``|i - j|`` grades counts ``|i - j| / 3`` (Cicchetti-Allison weights over grades 0-3).
    labels : sequence of int
        The ordered categories (default the Genant grades 0-3); the table has one row and
        column for each, given or not.

    Returns
    -------
    Kappa
        From :func:`statsmodels.stats.inter_rater.cohens_kappa` over the 4 x 4 table of
        grades 0-3, with the asymptotic SE and the CI SAS PROC FREQ reports.

    Raises
    ------
    AgreementError
        A grade outside 0-3, or no complete pair.

    References
    ----------
    Cohen J. Educ Psychol Meas 1960;20:37-46; Cohen J. Psychol Bull 1968;70:213-20.

    Examples
    --------
    >>> k = cohen_kappa([0, 0, 1, 2, 3, 0], [0, 0, 1, 1, 3, 1])
    >>> round(k.kappa, 3), round(k.observed_agreement, 3)
    (0.538, 0.667)
    """
    if weights not in (None, "linear"):
        raise AgreementError(f"weights={weights!r}: use None or 'linear'")
    a, b = _paired(_grade_array(a, "a", labels), _grade_array(b, "b", labels))
    if a.size == 0:
        raise AgreementError("Cohen's kappa: no vertebra graded by both readers")
    inter = require("statsmodels.stats.inter_rater", extra=_EXTRA, feature="Cohen's kappa")
    table = _confusion_counts(a, b, labels)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # one grade only: chance agreement is 1 and kappa undefined (nan, as statsmodels says)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = inter.cohens_kappa(table, wt=weights)
    kappa = float(res.kappa)
    se = float(res.std_kappa)
    return Kappa(kappa, se, (kappa - _Z95 * se, kappa + _Z95 * se), int(a.size),
                 weights or "none", float(np.mean(a == b)))


def fleiss_kappa(grades: Any, *, labels: Sequence[int] = GRADE_LABELS) -> Kappa:
    """Fleiss' kappa of three or more readers' Genant grades.

    Parameters
    ----------
    grades : array_like, shape (n_subjects, n_raters)
        Grades 0-3; subjects with a missing grade are left out.
    labels : sequence of int
        The categories (default the Genant grades 0-3).

    Returns
    -------
    Kappa
        From :func:`statsmodels.stats.inter_rater.fleiss_kappa` (no standard error: ``se``
        and ``ci`` are nan).

    Raises
    ------
    AgreementError
        Fewer than two readers or no complete subject.

    References
    ----------
    Fleiss JL. Psychol Bull 1971;76:378-82.

    Examples
    --------
    >>> round(fleiss_kappa([[0, 0, 0], [1, 1, 2], [2, 2, 2], [0, 1, 0]]).kappa, 3)
    0.489
    """
    x = _grade_array(grades, "grades", labels)
    if x.ndim != 2 or x.shape[1] < 2:
        raise AgreementError(f"Fleiss' kappa needs a (subjects, raters) table, got shape {x.shape}")
    x = x[np.isfinite(x).all(axis=1)]
    if len(x) == 0:
        raise AgreementError("Fleiss' kappa: no vertebra graded by every reader")
    inter = require("statsmodels.stats.inter_rater", extra=_EXTRA, feature="Fleiss' kappa")
    counts = np.stack([(x == g).sum(axis=1) for g in labels], axis=1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        kappa = float(inter.fleiss_kappa(counts, method="fleiss"))
    agree = float(np.mean((x == x[:, :1]).all(axis=1)))
    return Kappa(kappa, math.nan, (math.nan, math.nan), int(len(x)), "fleiss", agree)


def _confusion_counts(a: np.ndarray, b: np.ndarray, labels: Sequence[int] = GRADE_LABELS) -> np.ndarray:
    metrics = require("sklearn.metrics", extra=_EXTRA, feature="the grade confusion matrix")
    return np.asarray(metrics.confusion_matrix(a.astype(int), b.astype(int), labels=list(labels)))


def grade_confusion(a: Any, b: Any, *, names: tuple[str, str] = ("a", "b")):
    """Confusion matrix of two readers' Genant grades (rows ``a``, columns ``b``).

    Parameters
    ----------
    a, b : array_like of int, shape (n,)
        Grades 0-3; pairs with a missing grade are left out.
    names : (str, str)
        Reader names for the index and column titles.

    Returns
    -------
    pandas.DataFrame, shape (4, 4)
        Counts, index ``"<a> grade 0"`` ... and columns ``"<b> grade 0"`` ...; every grade
        0-3 has a row and a column even when nobody gave it (scikit-learn's
        ``confusion_matrix`` with fixed labels).

    Examples
    --------
    >>> grade_confusion([0, 1, 1, 3], [0, 1, 2, 3]).to_numpy().diagonal().tolist()
    [1, 1, 0, 1]
    """
    import pandas as pd

    a, b = _paired(_grade_array(a, names[0]), _grade_array(b, names[1]))
    table = _confusion_counts(a, b)
    return pd.DataFrame(table, index=[f"{names[0]} grade {g}" for g in GRADE_LABELS],
                        columns=[f"{names[1]} grade {g}" for g in GRADE_LABELS])


def point_distances(a: Any, b: Any, *, spacing: Any = None) -> np.ndarray:
    """Distance between corresponding landmarks of two readers, per vertebra and point.

    Parameters
    ----------
    a, b : array_like, shape (n, 6, 2), or Landmarks
        ``(x, y)`` pixels in ``POINT_NAMES`` order, the same vertebrae in the same order.
    spacing : None, float or (row_mm, col_mm)
        ``None``: distances in px; else x is scaled by the column and y by the row spacing
        and the distances are in mm.

    Returns
    -------
    ndarray, shape (n, 6)
        Euclidean distances, mm with a spacing, else px.

    Examples
    --------
    >>> a = np.zeros((1, 6, 2)); b = a.copy(); b[0, 0] = (3.0, 4.0)
    >>> point_distances(a, b).tolist()[0][:2], float(point_distances(a, b, spacing=0.1)[0, 0])
    ([5.0, 0.0], 0.5)
    """
    xa = np.asarray(getattr(a, "array", a), dtype=float)
    xb = np.asarray(getattr(b, "array", b), dtype=float)
    if xa.shape != xb.shape or xa.ndim != 3 or xa.shape[1:] != (len(POINT_NAMES), 2):
        raise AgreementError(f"point distances need two (n, 6, 2) arrays, got {xa.shape} and {xb.shape}")
    d = xa - xb
    pair = _spacing_pair(spacing)
    if pair is not None:
        d = d * np.array([pair[1], pair[0]])
    return np.hypot(d[..., 0], d[..., 1])


# --- readers: landmark sets or batch tables, matched by image and level -----------------


def _image_key(name: Any) -> str:
    text = Path(str(name)).name
    low = text.lower()
    for suffix in (*_LANDMARK_SUFFIXES, *_IMAGE_SUFFIXES):
        if low.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


def _spacing_pair(spacing: Any) -> tuple[float, float] | None:
    if spacing is None:
        return None
    if isinstance(spacing, (int, float, np.number)):
        return float(spacing), float(spacing)
    row, col = (float(s) for s in spacing)
    return row, col


def _rows_from_landmarks(key: str, lm: Any, spacing: Any, reference: str) -> list[dict[str, Any]]:
    from .grading import grade
    from .morphometry import measure

    if isinstance(spacing, Mapping):
        spacing = spacing.get(key)
    recorded = _spacing_pair((lm.image or {}).get("spacing")) if getattr(lm, "image", None) else None
    sp = _spacing_pair(spacing)
    source = "user" if sp is not None else ("recorded in the landmark file" if recorded else "unknown")
    sp = sp or recorded
    morph = measure(lm, spacing=sp)
    rows = []
    for m, g in zip(morph.to_records(), grade(morph, reference=reference).to_records(), strict=True):
        row = {k: m[k] for k in ("level", "unit", *MEASURES)}
        row.update(image=key, grade=g["grade"], spacing_source=source,
                   spacing_row_mm=sp[0] if sp else math.nan,
                   spacing_col_mm=sp[1] if sp else math.nan,
                   xy=np.asarray(lm[m["level"]], dtype=float))
        rows.append(row)
    return rows


def _rows_from_table(df: Any, name: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    missing = [c for c in ("image", "level", *_HEIGHTS) if c not in df.columns]
    if missing:
        raise FileFormatError(
            f"reader {name!r}: a grade table needs the columns image, level, ha, hm, hp; "
            f"{', '.join(missing)} missing (is this a `vcfmeasure grade` CSV?)"
        )
    failed: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for rec in df.to_dict("records"):
        key = _image_key(rec["image"])
        if seen.setdefault(key, str(rec["image"])) != str(rec["image"]):
            raise AgreementError(
                f"reader {name!r}: images {seen[key]!r} and {rec['image']!r} have the same name "
                f"{key!r}; readers are matched by file name, so rename one"
            )
        err = rec.get("error")
        if isinstance(err, str) and err.strip():
            failed[key] = err.strip()
            continue
        level = rec.get("level")
        if not isinstance(level, str) or not level.strip():
            continue
        row: dict[str, Any] = {"image": key, "level": level.strip(), "unit": str(rec.get("unit") or "px")}
        for col in MEASURES:
            row[col] = float(rec[col]) if col in rec and _finite(rec[col]) else math.nan
        g = rec.get("grade")
        row["grade"] = float(g) if _finite(g) else math.nan
        src = rec.get("spacing_source")
        row["spacing_source"] = str(src) if isinstance(src, str) and src else (
            "unknown" if row["unit"] == "px" else "not recorded")
        for col in ("spacing_row_mm", "spacing_col_mm"):
            row[col] = float(rec[col]) if _finite(rec.get(col)) else math.nan
        row["xy"] = None
        rows.append(row)
    return rows, failed


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _is_grade_csv(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = fh.readline().lower().replace('"', "").strip().split(",")
    return {"image", "level", "ha"} <= set(header)


def read_reader(source: Any, *, name: str = "reader", spacing: Any = None,
                reference: str = "radelement"):
    """One reader's measurements as a table keyed by image and level.

    Parameters
    ----------
    source : Landmarks, mapping image -> Landmarks, pandas.DataFrame, or path
        A :class:`~vcfmeasure.Landmarks` (image ``"image"``); a mapping of image names to
        them; a batch grade table (``vcfmeasure grade`` output, as a DataFrame, a CSV file
        or a Parquet file); a folder of landmark files (one per image, named like it); or a
        landmark file holding several images (CSV, COCO, CVAT).
    name : str
        The reader's name, used in messages.
    spacing : None, float, (row_mm, col_mm) or mapping image -> spacing
        For landmark sources: mm per pixel. Default: the spacing the landmark file
        records, else none (lengths in px).
    reference : str
        Expected-height strategy of :func:`vcfmeasure.grade` used to grade landmark sources.

    Returns
    -------
    pandas.DataFrame
        One row per vertebra: ``image`` (file name without folders and suffix), ``level``,
        ``unit``, the :data:`MEASURES`, ``grade``, ``spacing_source``, ``spacing_row_mm``,
        ``spacing_col_mm`` and ``xy`` (the ``(6, 2)`` points, ``None`` for tables).
        ``attrs["failed"]`` maps images whose batch row is an error to its message.

    Raises
    ------
    FileFormatError
        A table without the grade columns.
    AgreementError
        Two images of one reader with the same file name.

    Examples
    --------
    >>> from vcfmeasure import synthetic
    >>> t = read_reader(synthetic.make_spine(["L1", "L2"], seed=0).landmarks)
    >>> t[["image", "level", "unit"]].values.tolist()
    [['image', 'L1', 'px'], ['image', 'L2', 'px']]
    """
    import pandas as pd

    from .landmarks import Landmarks

    failed: dict[str, str] = {}
    if isinstance(source, Landmarks):
        rows = _rows_from_landmarks("image", source, spacing, reference)
    elif isinstance(source, pd.DataFrame):
        rows, failed = _rows_from_table(source, name)
    elif isinstance(source, Mapping):
        rows = [r for key, lm in source.items()
                for r in _rows_from_landmarks(_image_key(key), lm, spacing, reference)]
    elif isinstance(source, (str, os.PathLike)):
        rows, failed = _rows_from_path(Path(source), name, spacing, reference)
    else:
        raise AgreementError(
            f"reader {name!r}: {type(source).__name__} is not a Landmarks, a mapping image -> "
            "Landmarks, a grade table or a path"
        )
    table = pd.DataFrame(rows, columns=["image", "level", "unit", *MEASURES, "grade",
                                        "spacing_source", "spacing_row_mm", "spacing_col_mm", "xy"])
    dup = table.duplicated(["image", "level"])
    if dup.any():
        first = table[dup].iloc[0]
        raise AgreementError(f"reader {name!r}: {first['image']} {first['level']} appears twice")
    table.attrs["failed"] = failed
    return table


def _rows_from_path(path: Path, name: str, spacing: Any, reference: str):
    import pandas as pd

    from .io.landmark_files import read_landmarks, read_landmarks_all

    if not path.exists():
        raise AgreementError(f"reader {name!r}: {path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.name.lower().endswith(_LANDMARK_SUFFIXES))
        if not files:
            raise AgreementError(
                f"reader {name!r}: {path} holds no landmark files ({', '.join(_LANDMARK_SUFFIXES)})"
            )
        rows = []
        for f in files:
            rows += _rows_from_landmarks(_image_key(f), read_landmarks(f), spacing, reference)
        return rows, {}
    if path.suffix.lower() == ".parquet":
        return _rows_from_table(pd.read_parquet(path), name)
    if path.suffix.lower() == ".csv" and _is_grade_csv(path):
        return _rows_from_table(pd.read_csv(path, keep_default_na=False, na_values=[""]), name)
    many = read_landmarks_all(path)
    rows = [r for key, lm in many.items()
            for r in _rows_from_landmarks(_image_key(key), lm, spacing, reference)]
    return rows, {}


def _reader_names(readers: Any) -> tuple[list[str], list[Any]]:
    if isinstance(readers, Mapping):
        return [str(k) for k in readers], list(readers.values())
    sources = list(readers)
    names = []
    for i, s in enumerate(sources):
        base = Path(s).name if isinstance(s, (str, os.PathLike)) else chr(ord("A") + i % 26)
        name, j = base, 2
        while name in names:
            name, j = f"{base}-{j}", j + 1
        names.append(name)
    return names, sources


def _missing_message(lacking: str, having: str, keys: Iterable[tuple[str, str]],
                     failed: Mapping[str, str]) -> str:
    by_image: dict[str, list[str]] = {}
    for image, level in sorted(keys, key=lambda k: (k[0], level_index(k[1]) if k[1] in LEVELS else 99)):
        by_image.setdefault(image, []).append(level)
    parts = []
    for image, levels in list(by_image.items())[:8]:
        why = f" (its input failed: {failed[image]})" if image in failed else ""
        parts.append(f"{image}: {', '.join(levels)}{why}")
    more = f"; and {len(by_image) - 8} more images" if len(by_image) > 8 else ""
    return (f"reader {lacking!r} lacks levels that reader {having!r} has - " + "; ".join(parts)
            + more + ". Pass missing='drop' (CLI: --drop-missing) to compare only the levels "
            "every reader has.")


@dataclass
class ReaderAgreement:
    """Agreement of two or more readers on the same images (see :func:`compare_readers`).

    Attributes
    ----------
    readers : tuple of str
    values : pandas.DataFrame
        The matched vertebrae, one row per image, level and reader (columns of
        :func:`read_reader` plus ``reader``).
    points : pandas.DataFrame
        Per image, level, point and reader pair: ``distance`` in ``unit`` (mm or px) with
        the ``spacing_source``; empty when a reader has no landmarks (a grade table).
    statistics : pandas.DataFrame
        The tidy table written by the CLI: ``statistic, measure, readers, unit, n, value,
        ci_low, ci_high, spacing_source, method``.
    unmatched : pandas.DataFrame
        ``reader, image, level`` that another reader lacked (with ``missing="drop"``).
    failed : dict
        Reader -> {image: error message} of batch rows that are errors.
    """

    readers: tuple[str, ...]
    values: Any
    points: Any
    statistics: Any
    unmatched: Any
    failed: dict[str, dict[str, str]] = field(default_factory=dict)

    def pairs(self) -> list[tuple[str, str]]:
        """Every reader pair ``(a, b)`` in the order given."""
        return list(itertools.combinations(self.readers, 2))

    def wide(self, column: str):
        """``column`` as a table indexed by (image, level), one column per reader."""
        w = self.values.pivot(index=["image", "level"], columns="reader", values=column)
        return w[list(self.readers)]

    def confusion(self, a: str | None = None, b: str | None = None):
        """Grade confusion matrix of readers ``a`` (rows) and ``b`` (default: the first two)."""
        a = a or self.readers[0]
        b = b or self.readers[1]
        g = self.wide("grade")
        return grade_confusion(g[a].to_numpy(), g[b].to_numpy(), names=(a, b))

    def bland_altman(self, measure: str, a: str | None = None, b: str | None = None,
                     *, unit: str | None = None) -> BlandAltman:
        """Bland-Altman statistics of ``measure`` between readers ``a`` and ``b``."""
        x, y = self.pair_values(measure, a or self.readers[0], b or self.readers[1], unit)
        return bland_altman(x, y)

    def pair_values(self, measure: str, a: str, b: str, unit: str | None = None):
        """Paired values of ``measure`` of readers ``a`` and ``b`` (heights: of one unit only)."""
        w = self.wide(measure)
        if measure in _HEIGHTS:
            units = self.wide("unit")[a]
            unit = unit or _main_unit(units)
            w = w[units.to_numpy() == unit]
        return w[a].to_numpy(float), w[b].to_numpy(float)

    def to_dataframe(self):
        """The statistics table (a copy)."""
        return self.statistics.copy()

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`statistics` to a CSV file (atomically); returns the path."""
        from ._table import write_atomic

        path = Path(path)
        write_atomic(path, self.statistics.to_csv(index=False))
        return path


def _main_unit(units: Any) -> str:
    vals = list(units)
    return "mm" if "mm" in vals else (vals[0] if vals else "px")


def _source_text(values: Iterable[Any]) -> str:
    kinds = sorted({str(v).split(":")[0].strip() for v in values if isinstance(v, str) and v})
    return "; ".join(kinds)


def _stat(statistic: str, measure: str, readers: str, unit: str, n: int, value: float,
          ci: tuple[float, float] = (math.nan, math.nan), spacing_source: str = "",
          method: str = "") -> dict[str, Any]:
    return {"statistic": statistic, "measure": measure, "readers": readers, "unit": unit,
            "n": int(n), "value": float(value), "ci_low": float(ci[0]), "ci_high": float(ci[1]),
            "spacing_source": spacing_source, "method": method}


def compare_readers(
    readers: Mapping[str, Any] | Sequence[Any],
    *,
    spacing: Any = None,
    missing: str = "raise",
    reference: str = "radelement",
) -> ReaderAgreement:
    """Agreement statistics of two or more readers of the same images.

    Parameters
    ----------
    readers : mapping name -> source, or sequence of sources
        Two or more readers; each source as in :func:`read_reader` (Landmarks, mapping
        image -> Landmarks, grade table or path). Unnamed readers are called A, B, ...
        (paths: by their file or folder name).
    spacing : None, float, (row_mm, col_mm) or mapping image -> spacing
        For landmark sources without a recorded spacing: mm per pixel.
    missing : {"raise", "drop"}
        A vertebra (image and level) that one reader has and another lacks raises an
        :class:`AgreementError` listing them; ``"drop"`` compares the vertebrae every reader
        has and lists the rest in :attr:`ReaderAgreement.unmatched`.
    reference : str
        Expected-height strategy used to grade landmark sources.

    Returns
    -------
    ReaderAgreement
        Statistics (``statistic`` column of :attr:`ReaderAgreement.statistics`):

        - per reader pair and measure: ``bias``, ``loa_low``, ``loa_high`` (Bland-Altman,
          ``first - second``, 95 % CIs), ``sd_diff``;
        - per measure over all readers: ``rms_sd``, ``cv_percent`` (Glüer precision
          error), ``icc_absolute`` ICC(A,1) and ``icc_consistency`` ICC(C,1) with 95 % CIs;
        - grades: ``kappa`` and ``kappa_linear`` per pair (95 % CIs), ``fleiss_kappa`` over
          all readers when there are more than two, ``percent_agreement``;
        - landmarks (when every reader has them): ``point_distance_mean``,
          ``point_distance_median``, ``point_distance_p95`` per point and ``"all"``.

        Heights are compared per unit (mm rows with mm rows, px with px); ratios are plain
        numbers (unit ``"1"``).

    Raises
    ------
    AgreementError
        Fewer than two readers; levels one reader lacks (with ``missing="raise"``); a
        vertebra measured in mm by one reader and px by another; no common vertebra.

    References
    ----------
    Bland & Altman 1986; Glüer et al. 1995; Shrout & Fleiss 1979; McGraw & Wong 1996;
    Cohen 1960, 1968; Fleiss 1971 (see the module docstring).

    Examples
    --------
    >>> from vcfmeasure import synthetic
    >>> truth = synthetic.make_spine(["T12", "L1", "L2", "L3"], seed=0).landmarks
    >>> moved = truth.map_points(lambda xy: xy + 1.0)
    >>> r = compare_readers({"truth": truth, "moved": moved}, spacing=0.1)
    >>> d = r.statistics.query("statistic == 'point_distance_mean' and measure == 'all'")
    >>> round(float(d["value"].iloc[0]), 4), d["unit"].iloc[0]
    (0.1414, 'mm')
    """
    import pandas as pd

    if missing not in ("raise", "drop"):
        raise AgreementError(f"missing={missing!r}: use 'raise' or 'drop'")
    names, sources = _reader_names(readers)
    if len(names) < 2:
        raise AgreementError(f"agreement needs at least two readers, got {len(names)}")
    tables = {n: read_reader(s, name=n, spacing=spacing, reference=reference)
              for n, s in zip(names, sources, strict=True)}
    failed = {n: dict(t.attrs.get("failed", {})) for n, t in tables.items()}
    keys = {n: set(zip(t["image"], t["level"], strict=True)) for n, t in tables.items()}
    common = set.intersection(*keys.values())
    unmatched = []
    for n in names:
        for other in names:
            lack = keys[other] - keys[n]
            if lack and missing == "raise":
                raise AgreementError(_missing_message(n, other, lack, failed[n]))
        unmatched += [{"reader": n, "image": i, "level": lv} for i, lv in sorted(keys[n] - common)]
    if not common:
        raise AgreementError(
            f"readers {', '.join(map(repr, names))} have no vertebra (image and level) in common"
        )
    parts = []
    for n in names:
        t = tables[n]
        t = t[[k in common for k in zip(t["image"], t["level"], strict=True)]].copy()
        t.insert(0, "reader", n)
        parts.append(t)
    values = pd.concat(parts, ignore_index=True)
    values["_order"] = [level_index(lv) if lv in LEVELS else 99 for lv in values["level"]]
    values = values.sort_values(["image", "_order", "reader"], kind="stable").drop(columns="_order")
    values = values.reset_index(drop=True)
    result = ReaderAgreement(tuple(names), values, None, None,
                             pd.DataFrame(unmatched, columns=["reader", "image", "level"]), failed)
    _check_units(result)
    result.points = _point_table(result)
    result.statistics = pd.DataFrame(_statistics(result))
    return result


def _check_units(result: ReaderAgreement) -> None:
    units = result.wide("unit")
    mixed = units.nunique(axis=1) > 1
    if mixed.any():
        image, level = units.index[int(np.argmax(mixed.to_numpy()))]
        row = units.loc[(image, level)]
        detail = ", ".join(f"{r!r} {u}" for r, u in row.items())
        raise AgreementError(
            f"{image} {level}: heights in different units ({detail}); give the landmark "
            "readers a spacing (spacing=, CLI --spacing) or compare tables graded alike"
        )


def _point_table(result: ReaderAgreement):
    import pandas as pd

    cols = ["image", "level", "point", "readers", "distance", "unit", "spacing_source"]
    v = result.values
    if v["xy"].isna().any():
        return pd.DataFrame(columns=cols)
    parts = []
    npt = len(POINT_NAMES)
    for a, b in result.pairs():
        va = v[v["reader"] == a].reset_index(drop=True)
        vb = v[v["reader"] == b].reset_index(drop=True)
        sp_a = va[["spacing_row_mm", "spacing_col_mm"]].to_numpy(float)
        sp_b = vb[["spacing_row_mm", "spacing_col_mm"]].to_numpy(float)
        same = np.isclose(sp_a, sp_b, rtol=1e-6, atol=0) | (np.isnan(sp_a) & np.isnan(sp_b))
        if not same.all():
            i = int(np.argmin(same.all(axis=1)))
            raise AgreementError(
                f"{va.at[i, 'image']} {va.at[i, 'level']}: readers {a!r} and {b!r} use different "
                f"pixel spacings {tuple(sp_a[i])} and {tuple(sp_b[i])} mm; point distances need one"
            )
        xa, xb = np.stack(va["xy"].to_list()), np.stack(vb["xy"].to_list())
        known = np.isfinite(sp_a[:, 0])
        scale = np.where(np.isfinite(sp_a), sp_a, 1.0)[:, None, ::-1]  # (col, row) for (x, y)
        dist = np.hypot(*np.moveaxis((xa - xb) * scale, -1, 0))
        parts.append(pd.DataFrame({
            "image": np.repeat(va["image"].to_numpy(), npt),
            "level": np.repeat(va["level"].to_numpy(), npt),
            "point": np.tile(POINT_NAMES, len(va)),
            "readers": f"{a} vs {b}",
            "distance": dist.ravel(),
            "unit": np.repeat(np.where(known, "mm", "px"), npt),
            "spacing_source": np.repeat(va["spacing_source"].to_numpy(), npt),
        }, columns=cols))
    return pd.concat(parts, ignore_index=True)


def _statistics(result: ReaderAgreement) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    units = result.wide("unit")[result.readers[0]]
    sources = result.wide("spacing_source")
    everyone = ", ".join(result.readers)
    for measure in MEASURES:
        wide = result.wide(measure)
        groups = ([(u, (units == u).to_numpy()) for u in sorted(set(units))]
                  if measure in _HEIGHTS else [("1", np.ones(len(wide), bool))])
        for unit, sel in groups:
            w = wide[sel]
            src = _source_text(sources[sel].to_numpy().ravel()) if measure in _HEIGHTS else ""
            for a, b in result.pairs():
                x, y = w[a].to_numpy(float), w[b].to_numpy(float)
                if (np.isfinite(x) & np.isfinite(y)).sum() < 2:
                    continue
                ba = bland_altman(x, y)
                pair = f"{a} vs {b}"
                method = "Bland-Altman 1986, first - second"
                out += [_stat("bias", measure, pair, unit, ba.n, ba.bias, ba.bias_ci, src, method),
                        _stat("sd_diff", measure, pair, unit, ba.n, ba.sd, spacing_source=src,
                              method=method),
                        _stat("loa_low", measure, pair, unit, ba.n, ba.loa_low, ba.loa_low_ci, src, method),
                        _stat("loa_high", measure, pair, unit, ba.n, ba.loa_high, ba.loa_high_ci, src,
                              method)]
            x = w.to_numpy(float)
            if np.isfinite(x).all(axis=1).sum() >= 1:
                p = precision_error(x)
                out += [_stat("rms_sd", measure, everyone, unit, p.n, p.rms_sd, spacing_source=src,
                              method=f"Glüer 1995 RMS SD, {p.df} df"),
                        _stat("cv_percent", measure, everyone, "%", p.n, p.cv_percent, spacing_source=src,
                              method="Glüer 1995 RMS CV")]
            if np.isfinite(x).all(axis=1).sum() >= 3:
                r = icc(x)
                out += [_stat("icc_absolute", measure, everyone, "1", r.n, r.absolute, r.absolute_ci, src,
                              "ICC(A,1) two-way absolute agreement, McGraw-Wong CI"),
                        _stat("icc_consistency", measure, everyone, "1", r.n, r.consistency,
                              r.consistency_ci, src, "ICC(C,1) two-way consistency, McGraw-Wong CI")]
    grades = result.wide("grade")
    for a, b in result.pairs():
        x, y = grades[a].to_numpy(float), grades[b].to_numpy(float)
        if not (np.isfinite(x) & np.isfinite(y)).any():
            continue
        pair = f"{a} vs {b}"
        for stat, weights, method in (("kappa", None, "Cohen 1960 (statsmodels)"),
                                      ("kappa_linear", "linear", "Cohen 1968 linear weights (statsmodels)")):
            k = cohen_kappa(x, y, weights=weights)
            out.append(_stat(stat, "grade", pair, "1", k.n, k.kappa, k.ci, method=method))
        out.append(_stat("percent_agreement", "grade", pair, "%", k.n, 100 * k.observed_agreement,
                         method="same grade"))
    g = grades.to_numpy(float)
    if len(result.readers) > 2 and np.isfinite(g).all(axis=1).any():
        k = fleiss_kappa(g)
        out += [_stat("fleiss_kappa", "grade", everyone, "1", k.n, k.kappa,
                      method="Fleiss 1971 (statsmodels)"),
                _stat("percent_agreement", "grade", everyone, "%", k.n, 100 * k.observed_agreement,
                      method="same grade from every reader")]
    pts = result.points
    if len(pts):
        for (pair, unit), grp in pts.groupby(["readers", "unit"], sort=False):
            src = _source_text(grp["spacing_source"])
            for point in ("all", *POINT_NAMES):
                d = grp["distance"] if point == "all" else grp.loc[grp["point"] == point, "distance"]
                d = d.to_numpy(float)
                for stat, val in (("point_distance_mean", d.mean()),
                                  ("point_distance_median", np.median(d)),
                                  ("point_distance_p95", np.percentile(d, 95))):
                    out.append(_stat(stat, point, str(pair), str(unit), d.size, float(val),
                                     spacing_source=src,
                                     method="Euclidean, x by column and y by row spacing"))
    return out
