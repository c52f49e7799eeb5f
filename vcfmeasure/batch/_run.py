"""The driver: :func:`grade_many`, :func:`compare_many`, the run summary, shard merging."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import FileFormatError, VcfMeasureError
from ._columns import COMPARE_COLUMNS, GRADE_COLUMNS, _task_key
from ._csv import _frame
from ._dask import _client_for, _run_dask
from ._inputs import Task, collect_inputs, group_patients, shard_of
from ._journal import _Output
from ._pool import _run_pool, _run_serial
from ._worker import _Options


@dataclass
class BatchSummary:
    """What a batch run did.

    Attributes
    ----------
    output : str or None
        The CSV text of every row (header included) in output order.
    n_tasks : int
        Inputs of this run (after sharding).
    n_skipped : int
        Already in the output (``resume``) and not redone.
    failed : list of tuple
        Keys of the inputs whose rows carry an error.
    interrupted : bool
        The run was stopped (Ctrl-C / SIGTERM); outputs hold what was finished.
    paths : list of Path
        Files written.
    in_px : list of tuple
        Keys of the inputs graded without error whose lengths are in pixels (no spacing).
    """

    output: str = ""
    n_tasks: int = 0
    n_skipped: int = 0
    failed: list[tuple[str, ...]] = field(default_factory=list)
    interrupted: bool = False
    paths: list[Path] = field(default_factory=list)
    in_px: list[tuple[str, ...]] = field(default_factory=list)


def _run_batch(
    kind: str,
    tasks: list[Task],
    opts: _Options,
    *,
    out: str | os.PathLike[str] | None,
    jobs: int,
    resume: bool,
    shard: tuple[int, int] | str | None,
    client: Any,
    scheduler: str | None,
    progress: bool | None,
    parquet: bool | None,
    memory_limit: int | None,
    max_tasks_per_child: int | None,
    isolate_decoding: bool = True,
) -> BatchSummary:
    tasks = shard_of(tasks, shard)
    if jobs < 1:
        raise VcfMeasureError(f"jobs must be 1 or more, got {jobs}")
    output = _Output(Path(out) if out is not None else None, kind, resume=resume,
                     parquet=parquet)
    keys = [_task_key(kind, t) for t in tasks]
    todo = [(i, t) for i, t in enumerate(tasks) if not output.is_done(keys[i])]
    output.drop_failed(keys[i] for i, _ in todo)
    summary = BatchSummary(n_tasks=len(tasks), n_skipped=len(tasks) - len(todo))
    if progress is None:
        progress = sys.stderr.isatty()
    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), disable=not progress, unit="input", file=sys.stderr,
               desc=f"vcfmeasure {kind}")

    def done(idx: int, block: str) -> None:
        output.add(keys[idx], block)
        bar.update(1)

    dask_client, own_client = _client_for(client, scheduler)
    try:
        if dask_client is not None:
            _run_dask(kind, todo, opts, done, client=dask_client, window=max(64, 4 * jobs))
        elif jobs == 1:
            with _memory_capped(memory_limit):
                _run_serial(kind, todo, opts, done, memory_limit=memory_limit,
                            isolate=isolate_decoding)
        else:
            _run_pool(kind, todo, opts, done, jobs=jobs, memory_limit=memory_limit,
                      max_tasks_per_child=max_tasks_per_child)
    except KeyboardInterrupt:
        summary.interrupted = True
    finally:
        bar.close()
        if own_client:
            dask_client.close()
    summary.output = output.finish(keys)
    if out is not None:
        summary.paths = [p for p in (output.csv_path, output.parquet_path) if p is not None]
    error_idx = output.error_idx
    unit_idx = [name for name, _ in output.columns].index("unit")
    rows = csv.reader(io.StringIO(summary.output))
    next(rows, None)
    failed: dict[tuple[str, ...], None] = {}
    in_px: dict[tuple[str, ...], None] = {}
    wanted = set(keys)
    for row in rows:
        key = tuple(row[i] for i in output.key_idx)
        if key not in wanted:
            continue
        if row[error_idx]:
            failed.setdefault(key, None)
        elif row[unit_idx] == "px":
            in_px.setdefault(key, None)
    summary.failed = list(failed)
    summary.in_px = [k for k in in_px if k not in failed]
    return summary


@contextlib.contextmanager
def _memory_capped(limit: int | None) -> Iterator[None]:
    """With ``jobs=1`` the inputs run in this process: cap its address space meanwhile.

    The cap is ``limit`` bytes on top of what the process holds when the run starts (the
    interpreter and its imports), so that one input asking for more fails with a
    ``MemoryError`` error row instead of exhausting the machine; the previous limit is
    restored afterwards.
    """
    if not limit:
        yield
        return
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as fh:
        size = next((int(line.split()[1]) * 1024 for line in fh if line.startswith("VmSize:")),
                    0)
    cap = size + int(limit)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _common_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    defaults = {"out": None, "jobs": 1, "resume": False, "shard": None, "client": None,
                "scheduler": None, "progress": False, "parquet": None, "memory_limit": None,
                "max_tasks_per_child": 100, "isolate_decoding": True}
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    return {**defaults, **kwargs}


def grade_many(
    inputs: Any,
    *,
    landmarks: str | os.PathLike[str] | None = None,
    detect: bool = False,
    levels: Sequence[str] | None = None,
    spacing: float | tuple[float, float] | None = None,
    reference: str = "radelement",
    image_loader: Callable[..., Any] | None = None,
    **run: Any,
):
    """Grade every image given: one row per vertebra, failures as error rows.

    Parameters
    ----------
    inputs : path, glob, manifest, or an iterable of them; or a list of :class:`Task`
        See :func:`collect_inputs`.
    landmarks : path, optional
        Folder of landmark files matched by stem, or one landmark file (see
        :func:`collect_inputs`); default: the file beside each image with its stem.
    detect : bool
        Detect landmarks with :func:`vcfmeasure.detect_landmarks` instead of reading
        them; where detection is unavailable, every row says so in ``error``.
    levels : sequence of str, optional
        With ``detect``: the levels in view (or one anchor level).
    spacing : float or (row_mm, col_mm), optional
        Overrides every file's spacing (a manifest ``spacing`` cell overrides this).
    reference : str
        Expected-height strategy of :func:`vcfmeasure.grade`.
    image_loader : callable, optional
        ``image_loader(path, spacing=...) -> Radiograph`` replacing
        :func:`vcfmeasure.load_image` (for formats vcfmeasure does not read); it must be
        importable by the workers (a module-level function) when ``jobs > 1`` or on Dask.
    **run
        ``out`` (CSV or Parquet path; a ``.csv`` gets a ``.parquet`` twin when pyarrow is
        installed, unless ``parquet=False``), ``jobs`` (worker processes, default 1),
        ``resume`` (skip inputs already in ``out`` without error), ``shard`` (``(i, n)``
        or ``"i/n"``, 1-based), ``client`` (a ``dask.distributed.Client``) or
        ``scheduler`` (its address), ``progress`` (tqdm bar), ``memory_limit`` (bytes of
        address space per worker process), ``max_tasks_per_child`` (workers are replaced
        after this many submissions of up to 16 inputs each, default 100),
        ``isolate_decoding`` (default True: with ``jobs=1`` the pixels are decoded in a
        child process, so that a crash in a native decoder is an error row for that file,
        not the end of the run; an ``image_loader`` that cannot be pickled runs in this
        process), ``require_spacing`` (an image without a usable spacing is an error row instead of
        rows in px; rows in px always say so in ``warnings``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GRADE_COLUMNS`, one row per vertebra (one row with ``error`` set
        for an input that failed), in input order, cranial -> caudal; with ``out``, every
        row of the output file (earlier rows included when resuming). An interrupted run
        (Ctrl-C) writes what was finished and then raises ``KeyboardInterrupt``.

    Notes
    -----
    Spacing, grades and references follow docs/reference.md sections 2 and 7 through
    :func:`vcfmeasure.load_image`, :func:`vcfmeasure.measure` and :func:`vcfmeasure.grade`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> missing = pathlib.Path(tempfile.mkdtemp()) / "nothing.dcm"
    >>> df = grade_many([missing])
    >>> len(df), df.loc[0, "error"].endswith("no such file, folder or matching pattern")
    (1, True)
    """
    return _many("grade", inputs, landmarks=landmarks, detect=detect, levels=levels,
                 spacing=spacing, reference=reference, image_loader=image_loader, run=run)


def _many(kind: str, inputs: Any, *, landmarks: Any, detect: bool, levels: Any, spacing: Any,
          reference: str, image_loader: Any, run: dict[str, Any]):
    from .._checks import check_many, check_number
    from ..grading import REFERENCE_STRATEGIES

    check_many(inputs, spacing, levels, f"{kind}_many", "inputs" if kind == "grade" else
               "manifest")
    require_spacing = bool(run.pop("require_spacing", False))
    settings = _common_kwargs(run)
    check_number(settings["jobs"], f"{kind}_many", "jobs", low=1, integer=True)
    if reference not in REFERENCE_STRATEGIES:  # a usage error: fail before any input
        raise VcfMeasureError(
            f"reference {reference!r} is not one of {', '.join(REFERENCE_STRATEGIES)}"
        )
    tasks = _as_tasks(inputs, landmarks=landmarks, detect=detect)
    if kind == "compare" and tasks and not any(t.members for t in tasks):
        tasks = group_patients(tasks)
    opts = _Options(spacing=spacing, reference=reference, detect=detect,
                    levels=tuple(levels) if levels else None, image_loader=image_loader,
                    require_spacing=require_spacing)
    summary = _run_batch(kind, tasks, opts, **settings)
    frame = _frame(summary.output, GRADE_COLUMNS if kind == "grade" else COMPARE_COLUMNS)
    if summary.interrupted:
        raise KeyboardInterrupt
    return frame


def _as_tasks(inputs: Any, *, landmarks: Any, detect: bool) -> list[Task]:
    if isinstance(inputs, list | tuple) and inputs and all(isinstance(t, Task) for t in inputs):
        return list(inputs)
    return collect_inputs(inputs, landmarks=landmarks, detect=detect)


def compare_many(
    manifest: Any,
    *,
    landmarks: str | os.PathLike[str] | None = None,
    detect: bool = False,
    levels: Sequence[str] | None = None,
    spacing: float | tuple[float, float] | None = None,
    reference: str = "radelement",
    image_loader: Callable[..., Any] | None = None,
    **run: Any,
):
    """Compare pre/post(/follow-up) images of every patient of a manifest.

    Parameters
    ----------
    manifest : path or list of Task
        A CSV manifest (:func:`read_manifest`) with ``image``, ``patient`` and
        ``time_point`` (``pre``, ``post``, optional ``follow_up``), optionally
        ``landmarks`` and ``treated`` (levels, e.g. ``"L1 L2"``).
    landmarks, detect, levels, spacing, reference, image_loader, **run
        As in :func:`grade_many`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COMPARE_COLUMNS`: per patient and level present in every image,
        the :func:`vcfmeasure.compare` records plus each image's grade; one error row
        for a patient that failed.

    References
    ----------
    docs/reference.md section 5 (restoration, kyphosis correction, re-collapse).

    Examples
    --------
    >>> compare_many([]).shape[1] == len(COMPARE_COLUMNS)
    True
    """
    return _many("compare", manifest, landmarks=landmarks, detect=detect, levels=levels,
                 spacing=spacing, reference=reference, image_loader=image_loader, run=run)


def merge_outputs(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> Path:
    r"""Merge the CSV outputs of shards ``1/n ... n/n`` into one file, atomically.

    Shards take the inputs round robin (:func:`shard_of`), so taking one input's rows from
    each shard in turn, in the order given, restores the order of an unsharded run: the
    merged file is the file one run over all inputs would have written.

    Parameters
    ----------
    paths : sequence of path
        The shard outputs (``grade`` or ``compare`` CSV files), shard 1 first.
    out : path
        The merged CSV file.

    Raises
    ------
    FileFormatError
        When a file is not a vcfmeasure batch output or the files' columns differ.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> head = ",".join(name for name, _ in GRADE_COLUMNS) + "\n"
    >>> def rows(*images):
    ...     tail = "," * (len(GRADE_COLUMNS) - 8)
    ...     return "".join(f"{im},,,,,,,L{k}{tail}\n" for im in images for k in (1, 2))
    >>> _ = (d / "s1.csv").write_text(head + rows("a", "c"))
    >>> _ = (d / "s2.csv").write_text(head + rows("b"))
    >>> text = merge_outputs([d / "s1.csv", d / "s2.csv"], d / "all.csv").read_text()
    >>> [line.split(",")[0] + line.split(",")[7] for line in text.splitlines()[1:]]
    ['aL1', 'aL2', 'bL1', 'bL2', 'cL1', 'cL2']
    """
    queues = []
    header = None
    for p in paths:
        with open(p, newline="", encoding="utf-8") as fh:
            first = fh.readline()
        names = next(csv.reader([first]), [])
        kind = {tuple(n for n, _ in GRADE_COLUMNS): "grade",
                tuple(n for n, _ in COMPARE_COLUMNS): "compare"}.get(tuple(names))
        if kind is None:
            raise FileFormatError(f"{p}: not a vcfmeasure grade or compare output; cannot merge")
        if header is not None and first != header:
            raise FileFormatError(f"{p}: columns differ from {paths[0]}; cannot merge")
        header = first
        shard = _Output(Path(p), kind, resume=False, parquet=False, journal=False)
        queues.append(list(shard.read_csv().values()))
    blocks = []
    for turn in range(max((len(q) for q in queues), default=0)):
        blocks += [q[turn] for q in queues if turn < len(q)]
    from ..io.results import write_csv_text

    return write_csv_text(Path(out), (header or "") + "".join(blocks))
