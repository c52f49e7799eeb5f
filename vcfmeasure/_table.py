"""Shared behaviour of result objects: records, DataFrame and CSV views of named columns."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ResultTable", "atomic_write", "write_atomic"]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return math.nan
    return value


class ResultTable:
    """Base of :class:`Morphometry`, :class:`Grades` and :class:`Restoration`.

    Subclasses fill ``self._columns``: an insertion-ordered dict of column name -> a
    sequence with one entry per level (cranial -> caudal).
    """

    _columns: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        # columns read as attributes (``m.ha``); looked up only when nothing else matched
        cols = self.__dict__.get("_columns", {})
        if name in cols:
            return np.asarray(cols[name])
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _record_columns(self) -> dict[str, Any]:
        return self._columns

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per vertebra, cranial -> caudal, with plain Python values."""
        cols = self._record_columns()
        names = list(cols)
        values = [list(cols[n]) for n in names]
        return [
            {n: _plain(v) for n, v in zip(names, row, strict=True)}
            for row in zip(*values, strict=True)
        ]

    def to_dataframe(self):
        """The records as a :class:`pandas.DataFrame` (pandas imported on first use)."""
        import pandas as pd

        cols = self._record_columns()
        return pd.DataFrame({n: list(v) for n, v in cols.items()}, columns=list(cols))

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write the records to CSV atomically (temporary file, then rename).

        Uses :func:`vcfmeasure.io.results.write_results`, which adds the unit and
        spacing-source columns where a table lacks them.

        Returns
        -------
        pathlib.Path
            The written file.
        """
        from .io.results import write_results

        write_results(self, Path(path), format="csv")
        return Path(path)

    def __len__(self) -> int:
        first = next(iter(self._columns.values()), ())
        return len(first)


class atomic_write:
    """Context manager giving a temporary path beside ``path``; renamed over it on success.

    A crash or exception leaves any previous file untouched and no partial file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_write(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (d / "a.txt").read_text()
    'done'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __enter__(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        os.close(fd)
        self.tmp = Path(name)
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            # mkstemp makes the file private (0600); give it the mode an ordinary file gets
            mode = self.path.stat().st_mode & 0o777 if self.path.exists() else 0o644
            os.chmod(self.tmp, mode)
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> None:
    """Write text (UTF-8) or bytes to ``path`` through :class:`atomic_write`."""
    payload = data if isinstance(data, bytes) else data.encode("utf-8")
    with atomic_write(path) as tmp:
        tmp.write_bytes(payload)
