"""Grade whole archives: input discovery, isolated workers, resumable atomic outputs, Dask.

:func:`grade_many` grades every image it is given (files, folders searched recursively,
glob patterns, CSV manifests) and returns one row per vertebra; :func:`compare_many`
compares the pre/post(/follow-up) images of each patient of a manifest. Both

- run each input in isolation: any failure becomes an *error row* for that input (its
  ``error`` column says what and where) and never stops the run;
- run serially, in a process pool (``jobs=N``, workers recycled and optionally limited in
  memory), or on a Dask cluster (``client=`` or ``scheduler=``);
- write their output atomically (a temporary file renamed over the target), keep a
  journal beside it while running so that an interrupted run resumes with
  ``resume=True``, and give identical rows when re-run;
- split the inputs into shards (``shard=(i, n)``) for job arrays.

The row schemas are :data:`GRADE_COLUMNS` and :data:`COMPARE_COLUMNS`; ``docs/batch.md``
describes every column, the manifest format and the command line.

The parts, one module each:

========================  ==============================================================
``_inputs``               files, folders, globs and manifests -> :class:`Task`; landmark
                          matching; shards; patients for compare
``_columns``              the row schemas and the key of each input's rows
``_worker``               one input: load, landmarks, measure, grade/compare, error rows
``_csv``                  rows as CSV text (identical bytes on every run) and back
``_journal``              the output file: resume, the journal, the final write
``_pool``                 serial and process-pool executors (isolation, crash retry)
``_dask``                 the Dask backend
``_run``                  :func:`grade_many`, :func:`compare_many`, :func:`merge_outputs`
========================  ==============================================================
"""

from __future__ import annotations

from .._qc_report import qc_report
from ._columns import COMPARE_COLUMNS, GRADE_COLUMNS, _key_fields, _task_key
from ._csv import _cell, _frame, _render
from ._inputs import (
    IMAGE_SUFFIXES,
    LANDMARK_SUFFIXES,
    TIME_POINTS,
    Task,
    _stem,
    collect_inputs,
    group_patients,
    parse_shard,
    read_manifest,
    shard_of,
)
from ._journal import _Output
from ._run import BatchSummary, _run_batch, compare_many, grade_many, merge_outputs
from ._worker import _detect, _load_image, _measure_task, _Options, _run_one

__all__ = [
    "grade_many",
    "compare_many",
    "collect_inputs",
    "read_manifest",
    "shard_of",
    "parse_shard",
    "group_patients",
    "merge_outputs",
    "qc_report",
    "Task",
    "BatchSummary",
    "GRADE_COLUMNS",
    "COMPARE_COLUMNS",
    "IMAGE_SUFFIXES",
    "LANDMARK_SUFFIXES",
    "TIME_POINTS",
]

# used by the command line (vcfmeasure.cli) and the benchmarks; not public API
_INTERNAL = (_Options, _Output, _cell, _detect, _frame, _key_fields, _load_image,
             _measure_task, _render, _run_batch, _run_one, _stem, _task_key)
