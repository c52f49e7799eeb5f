"""Executors on this machine: serially in this process, or in a pool of worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

from ._inputs import Task
from ._worker import _error_block, _Options, _run_one

#: Imported by every worker process as it starts (all workers at once, not one by one
#: inside their first input).
_WORKER_MODULES = ("vcfmeasure.io.images", "vcfmeasure.io.landmark_files",
                   "vcfmeasure.morphometry", "vcfmeasure.grading", "vcfmeasure.restoration",
                   "pydicom", "jsonschema")


def _init_worker(memory_limit: int | None) -> None:
    """Set up a pool worker: Ctrl-C left to the parent, address space capped, imports done."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in _WORKER_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    if memory_limit:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))


_DIED = (
    "the worker process died while processing this input (killed for memory, or a crash "
    "in native code); retry it alone, or lower the image size / raise --max-memory"
)


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    """Workers are processes: keep BLAS/OpenMP inside each one to a single thread."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ.setdefault(n, "1")
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


_DECODER_DIED = (
    "the image decoder died on this file (a crash in native decoding code, or killed for "
    "memory); the file was skipped and the run went on. Check it with `vcfmeasure info`, "
    "or convert it with another tool"
)


class _IsolatedDecoder:
    """Pixel decoding in one child process, restarted after it dies.

    Serial runs (``jobs=1``) measure in this process, but the image decoders (GDCM,
    OpenJPEG, libjpeg, Pillow) are native code: an abort or a segfault on one malformed
    file would end the whole run with no output. Here the pixels are decoded by a
    separate process (spawned on first use, capped like a pool worker); if it dies, that
    file becomes an :class:`~vcfmeasure.ImageError` row and the next file gets a fresh
    decoder.
    """

    def __init__(self, memory_limit: int | None) -> None:
        self._limit = memory_limit
        self._pool: Any = None

    def __call__(self, loader: Any, path: str, spacing: Any) -> Any:
        from concurrent.futures.process import BrokenProcessPool

        from .._errors import ImageError
        from ._worker import _decode

        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_worker, initargs=(self._limit,))
        try:
            return self._pool.submit(_decode, loader, path, spacing).result()
        except BrokenProcessPool:
            self.close()
            raise ImageError(f"{path}: {_DECODER_DIED}") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _picklable(obj: Any) -> bool:
    import pickle

    try:
        pickle.dumps(obj)
    except Exception:  # noqa: BLE001 - a closure, a lambda, a bound local object
        return False
    return True


def _run_serial(kind, tasks, opts, done, *, memory_limit=None, isolate=True):
    """Inputs one by one in this process (pixels decoded by :class:`_IsolatedDecoder`).

    The decoder is used when ``isolate`` and the ``image_loader``, if any, can be pickled.
    """
    from . import _worker

    decoder = (_IsolatedDecoder(memory_limit)
               if isolate and _picklable(opts.image_loader) else None)
    _worker._DECODER = decoder
    try:
        for idx, task in tasks:
            done(idx, _run_one(kind, task, opts))
    finally:
        _worker._DECODER = None
        if decoder is not None:
            decoder.close()


def _run_chunk(kind: str, tasks: list[Task], opts: _Options) -> list[str]:
    """Several inputs in one submission: amortises the inter-process round trip."""
    return [_run_one(kind, task, opts) for task in tasks]


def _chunk_size(n: int, jobs: int) -> int:
    """Up to 16 inputs per submission, small enough to keep every worker busy to the end."""
    return max(1, min(16, n // (8 * jobs)))


def _run_pool(kind, tasks, opts, done, *, jobs, memory_limit, max_tasks_per_child):
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    size = _chunk_size(len(tasks), jobs)
    queue = [list(tasks[i:i + size]) for i in range(0, len(tasks), size)]
    queue.reverse()
    suspects: list[tuple[int, Task]] = []

    def new_pool():
        return ProcessPoolExecutor(
            max_workers=jobs,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(memory_limit,),
            max_tasks_per_child=max_tasks_per_child,
        )

    def submit(items: list[tuple[int, Task]], alone: bool) -> None:
        fut = pool.submit(_run_chunk, kind, [t for _, t in items], opts)
        pending[fut] = (items, alone)

    with _single_threaded_children():
        pool = new_pool()
        pending: dict[Any, tuple[list[tuple[int, Task]], bool]] = {}
        try:
            while queue or suspects or pending:
                # after a crash, the inputs that were in flight are retried one at a time,
                # so the one that kills its worker is found and recorded, and no other
                if suspects:
                    if not pending:
                        submit([suspects.pop()], True)
                else:
                    while queue and len(pending) < 2 * jobs:
                        submit(queue.pop(), False)
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                broken = False
                for fut in finished:
                    items, alone = pending.pop(fut)
                    try:
                        blocks = fut.result()
                    except BrokenProcessPool:
                        broken = True
                        if alone:
                            done(items[0][0], _error_block(kind, items[0][1], _DIED))
                        else:
                            suspects.extend(items)
                        continue
                    for (idx, _), block in zip(items, blocks, strict=True):
                        done(idx, block)
                if broken:
                    for fut, (items, _) in pending.items():
                        fut.cancel()
                        suspects.extend(items)
                    pending.clear()
                    pool.shutdown(wait=True, cancel_futures=True)
                    pool = new_pool()
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
