"""Rows as CSV text (fixed formatting: identical bytes on every run) and back to a frame."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..io.results import FORMULA_START as FORMULA_START
from ..io.results import neutralise_formula as _neutralise

#: Longest text kept in one CSV cell; longer text (a 64 KB attribute quoted in a warning)
#: is cut, saying how much was cut, so that every output reads back with any CSV reader.
MAX_CELL_CHARS = 4096


def _raw(text: Any) -> Any:
    """Undo :func:`_neutralise` (the DataFrame and Parquet keep the raw values)."""
    return text[1:] if isinstance(text, str) and text.startswith("'") else text


def _cell(value: Any) -> str:
    """One CSV cell: fixed number formats, one line, bounded, formulas neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return "" if math.isnan(f) else repr(f)
    text = _neutralise(str(value)).replace("\r", " ").replace("\n", " ")
    if len(text) > MAX_CELL_CHARS:
        cut = len(text) - MAX_CELL_CHARS + 40
        text = f"{text[:MAX_CELL_CHARS - 40]} ... [{cut} characters cut]"
    return text


def _render(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Rows as CSV lines (one line per row, fixed formatting: identical on every run)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name, _ in columns])
    return buf.getvalue()


def _frame(text: str, columns: Sequence[tuple[str, str]]):
    """Typed DataFrame from rendered CSV text (header included), raw text values."""
    import pandas as pd

    dtypes = {"str": str, "float": "float64", "int": "Int64", "bool": "boolean"}
    frame = pd.read_csv(
        io.StringIO(text),
        dtype={name: dtypes[kind] for name, kind in columns},
        keep_default_na=False,
        na_values={name: [""] for name, kind in columns if kind != "str"},
        # rows must read back bit for bit; pandas >= 3 parses exactly by default
        **({} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}),
    )
    for name, kind in columns:
        if kind == "str" and len(frame):
            frame[name] = frame[name].map(_raw)
    return frame


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
