"""Write result tables (measurements, grades, comparisons) to CSV, JSON or Parquet.

Every file says its unit and where the spacing came from: as columns (``unit``,
``spacing_row_mm``, ``spacing_col_mm``, ``spacing_source``) in CSV and Parquet, and in a
small header in JSON (and in the Parquet schema metadata, key ``vcfmeasure``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from .._checks import check_path, check_results_obj
from .._errors import FileFormatError, require
from ._common import atomic_write, dump_json

__all__ = ["RESULT_FORMATS", "write_results", "write_csv_text", "write_parquet"]

#: ``format=`` names and the suffixes that select them when ``format=None``.
RESULT_FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv",),
    "json": (".json",),
    "parquet": (".parquet", ".pq"),
}


#: Characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(text: str) -> str:
    """Prefix ``'`` to text a spreadsheet would run as a formula (CSV cells only).

    Text starting with ``'`` is prefixed too, so that removing one leading ``'`` gives
    the raw value back exactly.

    Examples
    --------
    >>> print(neutralise_formula('=HYPERLINK("http://x")'), neutralise_formula("L1"))
    '=HYPERLINK("http://x") L1
    """
    return "'" + text if text.startswith((*FORMULA_START, "'")) else text


def _csv_safe(df: Any) -> Any:
    """A copy of ``df`` whose text cells are neutralised (numbers are left alone)."""
    from pandas.api.types import is_string_dtype

    df = df.copy()
    for name in df.columns:
        if df[name].dtype == object or is_string_dtype(df[name].dtype):
            df[name] = df[name].map(
                lambda v: neutralise_formula(v) if isinstance(v, str) else v)
    return df


def _format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in RESULT_FORMATS:
            raise FileFormatError(
                f"{path}: unknown results format {fmt!r}; use one of {', '.join(RESULT_FORMATS)}"
            )
        return fmt
    for name, suffixes in RESULT_FORMATS.items():
        if path.suffix.lower() in suffixes:
            return name
    raise FileFormatError(
        f"{path}: cannot tell the results format from the suffix {path.suffix!r}; use .csv, "
        ".json or .parquet, or pass format="
    )


def _table(obj: Any) -> tuple[Any, dict[str, Any]]:
    """Return a DataFrame with unit and spacing columns, and the header describing it."""
    import pandas as pd

    if isinstance(obj, pd.DataFrame):
        df = obj.copy()
    elif hasattr(obj, "to_dataframe"):
        df = obj.to_dataframe()
    elif isinstance(obj, (list, tuple)):
        df = pd.DataFrame.from_records(list(obj))
    else:
        raise FileFormatError(
            f"write_results needs a Morphometry, Grades, Restoration, DataFrame or list of "
            f"records, got {type(obj).__name__}"
        )
    # a DataFrame's attributes are its columns: only result objects describe themselves
    described = not isinstance(obj, (pd.DataFrame, list, tuple))
    unit = getattr(obj, "unit", None) if described else None
    spacing = getattr(obj, "spacing", None) if described else None
    source = getattr(obj, "spacing_source", None) if described else None
    n = len(df)
    front = {}
    if "unit" not in df and unit is not None:
        front["unit"] = [unit] * n
    if spacing is not None or source is not None:
        row, col = spacing if spacing is not None else (math.nan, math.nan)
        if "spacing_row_mm" not in df:
            front["spacing_row_mm"] = [row] * n
            front["spacing_col_mm"] = [col] * n
        if "spacing_source" not in df:
            front["spacing_source"] = [source or "unknown"] * n
    if front:
        at = 1 if "level" in df.columns else 0
        for offset, (name, values) in enumerate(front.items()):
            df.insert(at + offset, name, values)

    from .. import __version__

    header = {
        "format": "vcfmeasure-results",
        "version": 1,
        "vcfmeasure_version": __version__,
        "kind": type(obj).__name__ if described else "table",
        "unit": _single(df, "unit", unit),
        "spacing": list(spacing) if spacing is not None else None,
        "spacing_source": _single(df, "spacing_source", source),
    }
    return df, header


def _single(df: Any, column: str, given: Any) -> Any:
    """``given``, else the one value of ``column`` when all rows agree, else None."""
    if given is not None or column not in df:
        return given
    values = df[column].dropna().unique()
    return _plain(values[0]) if len(values) == 1 else None


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_results(obj: Any, path: str | Path, *, format: str | None = None) -> Path:  # noqa: A002
    """Write measurements, grades or a comparison to CSV, JSON or Parquet, atomically.

    Parameters
    ----------
    obj : Morphometry, Grades, Restoration, pandas.DataFrame or list of dict
        Anything with ``to_dataframe()``, a DataFrame, or records.
    path : str or Path
    format : {"csv", "json", "parquet"}, optional
        From the suffix when ``None`` (``.csv``, ``.json``, ``.parquet``/``.pq``).

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    Columns ``unit``, ``spacing_row_mm``, ``spacing_col_mm`` and ``spacing_source`` are
    added when the object knows them and the table lacks them. In CSV, text that a
    spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab, a
    carriage return, or ``'``) gets a leading ``'``; JSON and Parquet keep the raw text.
    CSV leaves not-a-number
    cells empty; JSON writes them as ``null`` under a header
    ``{"format": "vcfmeasure-results", "version": 1, "vcfmeasure_version", "kind",
    "unit", "spacing", "spacing_source", "records": [...]}``. Parquet needs the
    ``parquet`` extra (pyarrow) and keeps the same header as schema metadata.

    Raises
    ------
    FileFormatError
        Unknown format or object.
    MissingDependencyError
        Parquet without pyarrow.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "heights.json"
    >>> _ = write_results([{"level": "L1", "unit": "mm", "ha": 25.0}], out)
    >>> doc = json.loads(out.read_text())
    >>> doc["unit"], doc["records"][0]["ha"]
    ('mm', 25.0)
    """
    check_results_obj(obj)
    check_path(path, "write_results", "path")
    path = Path(path)
    fmt = _format(path, format)
    df, header = _table(obj)
    if fmt == "csv":
        write_csv_text(path, _csv_safe(df).to_csv(index=False, lineterminator="\n"))
    elif fmt == "json":
        records = [{k: _plain(v) for k, v in row.items()} for row in df.to_dict("records")]
        atomic_write(path, dump_json({**header, "records": records}))
    else:
        write_parquet(df, path, header=header)
    return path


def write_csv_text(path: str | Path, text: str) -> Path:
    r"""Write CSV text, already rendered, to ``path`` atomically (UTF-8).

    The one place result tables reach the disk as CSV: :func:`write_results` and the batch
    outputs (:mod:`vcfmeasure.batch`) both come through here.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = write_csv_text(pathlib.Path(tempfile.mkdtemp()) / "t.csv", "level,ha\nL1,25.0\n")
    >>> out.read_text().splitlines()[1]
    'L1,25.0'
    """
    path = Path(path)
    atomic_write(path, text)
    return path


def write_parquet(df: Any, path: str | Path, *, header: dict[str, Any] | None = None) -> Path:
    """Write a DataFrame to Parquet atomically; ``header`` goes in the schema metadata.

    Needs the ``parquet`` extra (pyarrow). The header is stored under the key
    ``vcfmeasure`` as JSON, beside pandas' own metadata (dtypes read back unchanged).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
    >>> _ = write_parquet(pd.DataFrame({"level": ["L1"], "ha": [25.0]}), out)
    >>> pd.read_parquet(out).ha.tolist()
    [25.0]
    """
    import io
    import json

    pa = require("pyarrow", extra="parquet", feature="Parquet export")
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pandas(df, preserve_index=False)
    if header is not None:
        meta = {**(table.schema.metadata or {}), b"vcfmeasure": json.dumps(header).encode()}
        table = table.replace_schema_metadata(meta)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    atomic_write(path, buffer.getvalue())
    return path
