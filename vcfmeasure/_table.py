"""Shared behaviour of result objects: records, DataFrame and CSV views of named columns."""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ResultTable", "Column", "column_units", "atomic_write", "write_atomic"]

_LENGTH = re.compile(
    r"^(?:expected_|reference_|delta_)?h[amp](?:_pre|_post|_fu)?$|^fall_[amp]_(?:mm|px)$")
_FRACTION = re.compile(r"^(?:reduction_|preop_loss_|restored_|loss_)[amp]$|^fall_[amp]_fraction$"
                       r"|^(?:height_loss|area_reduction)$")


def column_units(columns: Any, unit: str) -> dict[str, str]:
    """The unit of each numeric column of a result table.

    ``unit`` for lengths, ``unit²`` for areas, ``deg`` for angles, ``ratio`` and
    ``fraction`` for plain numbers; columns without a unit (level, text) are left out.

    Examples
    --------
    >>> column_units(["level", "ha", "area", "wedge_ratio", "wedge_angle"], "mm")
    {'ha': 'mm', 'area': 'mm²', 'wedge_ratio': 'ratio', 'wedge_angle': 'deg'}
    """
    out = {}
    for name in columns:
        if _LENGTH.match(name):
            out[name] = unit
        elif name in ("area", "expected_area"):
            out[name] = f"{unit}²"
        elif name.startswith("spacing_") and name.endswith("_mm"):
            out[name] = "mm"
        elif "angle" in name or "kyphosis" in name:
            out[name] = "deg"
        elif name.endswith("_ratio") or name.endswith("_ratio_above") or name.endswith(
                "_ratio_below"):
            out[name] = "ratio"
        elif _FRACTION.match(name):
            out[name] = "fraction"
    return out


class Column:
    """A result column read as an attribute (``m.ha``): an ``(N,)`` array, listed by ``dir``."""

    def __init__(self, doc: str) -> None:
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, objtype: type | None = None) -> Any:
        if obj is None:
            return self
        return np.asarray(obj._columns[self.name])


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

    def __dir__(self) -> list[str]:
        # columns too, for tab completion
        return sorted(set(super().__dir__()) | set(self.__dict__.get("_columns", {})))

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
        """The records as a :class:`pandas.DataFrame` (pandas imported on first use).

        ``DataFrame.attrs`` holds ``units`` (column -> ``"mm"``, ``"px"``, ``"mm²"``,
        ``"deg"``, ``"ratio"`` or ``"fraction"``), ``unit`` and ``spacing_source``.
        """
        import pandas as pd

        cols = self._record_columns()
        df = pd.DataFrame({n: list(v) for n, v in cols.items()}, columns=list(cols))
        unit = getattr(self, "unit", None)
        if unit is not None:
            df.attrs["units"] = column_units(df.columns, unit)
            df.attrs["unit"] = unit
            df.attrs["spacing_source"] = getattr(self, "spacing_source", "unknown")
        return df

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


def writable_target(path: Path) -> Path:
    """The file an output given as ``path`` replaces.

    A symlink is written through (its target is replaced, the link stays); a folder,
    device, FIFO or socket is refused with a :class:`~vcfmeasure.VcfMeasureError`, since
    renaming a file over it would replace it (or writing to it would block).

    Examples
    --------
    >>> writable_target(Path("results.csv"))
    PosixPath('results.csv')
    """
    import stat

    from ._errors import VcfMeasureError

    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target
    if stat.S_ISREG(mode):
        return target
    what = "a folder" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
    raise VcfMeasureError(
        f"{path}: is {what}, not a file; an output is written to a temporary file and "
        "renamed into place, which would replace it. Give a file path (the command line "
        "takes --out - to print a CSV)"
    )


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
        self.path = writable_target(Path(path))

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
