"""Rows as CSV text (fixed formatting: identical bytes on every run) and back to a frame."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        f = float(value)
        return "" if math.isnan(f) else repr(f)
    return str(value).replace("\r", " ").replace("\n", " ")


def _render(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    """Rows as CSV lines (one line per row, fixed formatting: identical on every run)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name, _ in columns])
    return buf.getvalue()


def _frame(text: str, columns: Sequence[tuple[str, str]]):
    """Typed DataFrame from rendered CSV text (header included)."""
    import pandas as pd

    dtypes = {"str": str, "float": "float64", "int": "Int64", "bool": "boolean"}
    return pd.read_csv(
        io.StringIO(text),
        dtype={name: dtypes[kind] for name, kind in columns},
        keep_default_na=False,
        na_values={name: [""] for name, kind in columns if kind != "str"},
        # rows must read back bit for bit; pandas >= 3 parses exactly by default
        **({} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}),
    )


def _missing(value: Any) -> bool:
    try:
        import pandas as pd

        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
