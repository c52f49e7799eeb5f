"""The Dask backend: inputs submitted to a ``distributed`` cluster, a window at a time."""

from __future__ import annotations

from typing import Any

from .._errors import require
from ._inputs import Task
from ._worker import _error_block, _error_text, _run_one


def _run_dask(kind, tasks, opts, done, *, client, window):
    from distributed import as_completed

    queue = list(tasks)
    queue.reverse()
    pending: dict[Any, tuple[int, Task]] = {}

    def submit():
        idx, task = queue.pop()
        fut = client.submit(_run_one, kind, task, opts, pure=False)
        pending[fut] = (idx, task)
        return fut

    first = [submit() for _ in range(min(window, len(queue)))]
    ac = as_completed(first)
    try:
        for fut in ac:
            idx, task = pending.pop(fut)
            try:
                block = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker is this input's error
                block = _error_block(kind, task, f"dask: {_error_text(exc)}")
            fut.release()
            done(idx, block)
            if queue:
                ac.add(submit())
    except BaseException:
        client.cancel(list(pending))
        raise



def _client_for(client: Any, scheduler: str | None):
    if client is not None:
        return client, False
    if scheduler:
        distributed = require("distributed", extra="dask", feature="the Dask backend")
        return distributed.Client(scheduler), True
    return None, False
