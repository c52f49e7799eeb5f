"""The output of a run: earlier rows (resume), the journal beside it, the final write."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .._errors import FileFormatError, VcfMeasureError, require
from .._table import writable_target as _writable
from ._columns import _COMPARE_KEY, _GRADE_KEY, COMPARE_COLUMNS, GRADE_COLUMNS
from ._csv import _cell, _frame, _missing


class _Output:
    """The output of one run: existing rows (resume), a journal, an atomic final write."""

    def __init__(self, path: Path | None, kind: str, *, resume: bool, parquet: bool | None,
                 journal: bool = True):
        self.path = path
        self.kind = kind
        self.columns = GRADE_COLUMNS if kind == "grade" else COMPARE_COLUMNS
        self.key_idx = [i for i, (name, _) in enumerate(self.columns)
                        if name in (_GRADE_KEY if kind == "grade" else _COMPARE_KEY)]
        self.error_idx = [name for name, _ in self.columns].index("error")
        self.blocks: dict[tuple[str, ...], str] = {}
        self.previous: dict[tuple[str, ...], str] = {}
        self.journal_fh: Any = None
        self.lock_fh: Any = None
        if path is None:
            return
        path = _writable(path) if journal else path
        self.path = path
        self.parquet_path, self.csv_path = self._paths(path, parquet)
        if self.parquet_path is not None and self.parquet_path != path and journal:
            self.parquet_path = _writable(self.parquet_path)
        self.journal = path.with_name(f".{path.name}.journal")
        if not journal:
            return
        self._lock(path)
        if resume:
            self.previous = self._read_existing()
            for key, block in self._read_journal():
                self.previous[key] = block
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        self.journal_fh = open(self.journal, "a" if resume else "w", encoding="utf-8")  # noqa: SIM115

    @staticmethod
    def _paths(path: Path, parquet: bool | None) -> tuple[Path | None, Path | None]:
        has_arrow = True
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            has_arrow = False
        if path.suffix.lower() == ".parquet":
            require("pyarrow", extra="parquet", feature=f"writing {path.name}")
            return path, None
        want = has_arrow if parquet is None else parquet
        if want and not has_arrow:
            require("pyarrow", extra="parquet", feature="Parquet output")
        return (path.with_suffix(".parquet") if want else None), path

    def _blocks_from_lines(self, lines: Iterable[list[str]]) -> dict[tuple[str, ...], str]:
        out: dict[tuple[str, ...], list[list[str]]] = {}
        for row in lines:
            if len(row) != len(self.columns):
                continue
            out.setdefault(tuple(row[i] for i in self.key_idx), []).append(row)
        blocks = {}
        for key, rows in out.items():
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows)
            blocks[key] = buf.getvalue()
        return blocks

    def read_csv(self) -> dict[tuple[str, ...], str]:
        """The rows of the CSV output, per input, in file order."""
        assert self.csv_path is not None  # read only when writing a CSV
        with open(self.csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            try:
                if next(reader, None) != [name for name, _ in self.columns]:
                    raise FileFormatError(
                        f"{self.csv_path}: cannot resume: its columns are not those of a "
                        f"vcfmeasure {self.kind} output; write to a new file"
                    )
                return self._blocks_from_lines(reader)
            except csv.Error as exc:  # a cell over csv.field_size_limit() (older outputs)
                raise FileFormatError(
                    f"{self.csv_path}: line {reader.line_num}: unreadable CSV ({exc}); "
                    "write to a new file"
                ) from None

    def _lock(self, path: Path) -> None:
        """Hold an exclusive lock on the output for the run: a second run fails at once."""
        import fcntl

        lock = path.with_name(f".{path.name}.lock")
        lock.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(10):
            fh = open(lock, "a+", encoding="utf-8")  # noqa: SIM115
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                fh.seek(0)
                holder = fh.read().strip() or "unknown"
                fh.close()
                raise VcfMeasureError(
                    f"{path}: another vcfmeasure run (process {holder}) is writing this "
                    "output; wait for it to finish, or give this run another --out"
                ) from None
            try:  # the holder before us may have removed the file: lock the one in place
                same = os.stat(lock).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                fh.seek(0)
                fh.truncate()
                fh.write(str(os.getpid()))
                fh.flush()
                self.lock_fh, self.lock_path = fh, lock
                return
            fh.close()
        raise VcfMeasureError(f"{path}: could not lock the output ({lock} keeps changing)")

    def unlock(self) -> None:
        if self.lock_fh is not None:
            self.lock_path.unlink(missing_ok=True)
            self.lock_fh.close()
            self.lock_fh = None

    def _read_existing(self) -> dict[tuple[str, ...], str]:
        names = [name for name, _ in self.columns]
        if self.csv_path is not None and self.csv_path.is_file():
            return self.read_csv()
        if self.parquet_path is not None and self.parquet_path.is_file():
            import pandas as pd

            df = pd.read_parquet(self.parquet_path)
            if list(df.columns) != names:
                raise FileFormatError(
                    f"{self.parquet_path}: cannot resume: its columns are not those of a "
                    f"vcfmeasure {self.kind} output; write to a new file"
                )
            rows = ([_cell(None if _missing(v) else v) for v in rec]
                    for rec in df.itertuples(index=False, name=None))
            return self._blocks_from_lines(rows)
        return {}

    def _read_journal(self) -> Iterator[tuple[tuple[str, ...], str]]:
        if not self.journal.is_file():
            return
        with open(self.journal, encoding="utf-8") as fh:
            for line in fh:
                try:
                    entry = json.loads(line)
                    yield tuple(entry["key"]), entry["rows"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill: that input is simply redone

    def _failed(self, block: str) -> bool:
        return any(row[self.error_idx] for row in csv.reader(io.StringIO(block)))

    def is_done(self, key: tuple[str, ...]) -> bool:
        block = self.previous.get(key)
        return block is not None and not self._failed(block)

    def drop_failed(self, keys: Iterable[tuple[str, ...]]) -> None:
        """Forget earlier error rows of the inputs (image / patient) about to be redone.

        The first key field identifies the input; the others (the landmark file, the
        images of a patient) may have changed since the failure.
        """
        redo = {k[0] for k in keys}
        for key in [k for k, b in self.previous.items() if k[0] in redo and self._failed(b)]:
            del self.previous[key]

    def add(self, key: tuple[str, ...], block: str) -> None:
        self.blocks[key] = block
        if self.journal_fh is not None:
            self.journal_fh.write(json.dumps({"key": list(key), "rows": block}) + "\n")
            self.journal_fh.flush()

    def text(self, order: Sequence[tuple[str, ...]]) -> str:
        merged = {**self.previous, **self.blocks}
        listed = [k for k in order if k in merged]
        rest = [k for k in merged if k not in set(listed)]
        header = io.StringIO()
        csv.writer(header, lineterminator="\n").writerow([name for name, _ in self.columns])
        return header.getvalue() + "".join(merged[k] for k in listed + rest)

    def finish(self, order: Sequence[tuple[str, ...]]) -> str:
        text = self.text(order)
        if self.path is None:
            return text
        from ..io.results import write_csv_text, write_parquet

        if self.csv_path is not None:
            write_csv_text(self.csv_path, text)
        if self.parquet_path is not None:
            write_parquet(_frame(text, self.columns), self.parquet_path)
        self.close(remove_journal=True)
        return text

    def close(self, *, remove_journal: bool = False) -> None:
        if self.journal_fh is not None:
            self.journal_fh.close()
            self.journal_fh = None
            if remove_journal:
                self.journal.unlink(missing_ok=True)
        self.unlock()
