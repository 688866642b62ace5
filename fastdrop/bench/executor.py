"""Where tasks run: one interface, so that a distributed engine can replace the local pool.

A task function is named by "module:function" and takes one JSON-serialisable payload
(a dict) and returns a JSON-serialisable dict. Nothing else crosses the boundary: a task
shares no memory with the process that scheduled it, so any executor that can import
fastdrop where it runs (a local process pool, a Dask cluster) can run it.

    executor.run(items) yields (key, outcome) as tasks finish, in any order, where items
    are (key, fn, payload) triples and outcome is fn's dict, or a TaskFailure when fn
    raised or its worker died.

LocalProcessExecutor runs tasks in a concurrent.futures process pool (spawn: a fresh
interpreter per worker, no state inherited from the parent), with at most `jobs` tasks
in flight, so a worker that dies takes down only the tasks it and its neighbours were
running. SerialExecutor runs them one at a time in this process (timing tasks, which start
their own pyperf subprocesses and must not overlap).
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import importlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterable, Iterator


class TaskFailure(dict):
    """The outcome of a task that raised or whose worker died: {"error", "traceback"}."""


def resolve(fn: str):
    """The function named by "package.module:function"."""
    module, _, name = fn.partition(":")
    return getattr(importlib.import_module(module), name)


def call(fn: str, payload: dict) -> dict:
    """Run one task where it lands; an exception becomes a TaskFailure, never a crash."""
    try:
        return resolve(fn)(payload)
    except Exception as exc:  # the harness records it and goes on
        return TaskFailure(error=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc())


class Executor(abc.ABC):
    """Runs task functions on payloads; yields outcomes as they finish."""

    jobs: int = 1

    @abc.abstractmethod
    def run(self, items: Iterable[tuple[str, str, dict]]) -> Iterator[tuple[str, dict]]:
        """Yield (key, outcome) for every (key, fn, payload) in items, as each finishes.
        Items are taken from the iterable only as a task can start."""

    def close(self) -> None:  # noqa: B027 - nothing to stop by default
        """Stop: cancel what has not started and end running workers."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SerialExecutor(Executor):
    """One task at a time, in this process."""

    def run(self, items):
        for key, fn, payload in items:
            yield key, call(fn, payload)


def _worker_init(parent: int) -> None:
    # Ctrl-C is the parent's to handle: it stops the pool and keeps what finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker whose parent was killed (SIGKILL: no chance to stop the pool) would wait
    # for work forever; it exits once the parent is gone.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


class LocalProcessExecutor(Executor):
    """A pool of `jobs` worker processes on this machine (spawn context by default)."""

    def __init__(self, jobs: int | None = None, context: str = "spawn"):
        self.jobs = max(1, int(jobs or os.cpu_count() or 1))
        self._ctx = multiprocessing.get_context(context)
        self._pool: cf.ProcessPoolExecutor | None = None

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.jobs, mp_context=self._ctx,
                                      initializer=_worker_init, initargs=(os.getpid(),))

    def run(self, items):
        pending = iter(items)
        running: dict[cf.Future, str] = {}
        self._pool = self._pool or self._new_pool()

        def fill():
            while len(running) < self.jobs:
                item = next(pending, None)
                if item is None:
                    return
                key, fn, payload = item
                running[self._pool.submit(call, fn, payload)] = key

        fill()
        while running:
            done, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            broken = False
            for fut in done:
                key = running.pop(fut)
                try:
                    yield key, fut.result()
                except cf.process.BrokenProcessPool as exc:
                    broken = True
                    yield key, TaskFailure(
                        error=f"the worker process died while running this task or one "
                        f"beside it ({exc})", traceback="")
            if broken:  # the pool is unusable: the tasks still in it failed too
                for fut, key in list(running.items()):
                    running.pop(fut)
                    yield key, TaskFailure(error="the worker pool broke (a worker process "
                                           "died) while this task was running", traceback="")
                self._terminate()
                self._pool = self._new_pool()
            fill()

    def _terminate(self) -> None:
        pool, self._pool = self._pool, None
        if pool is None:
            return
        procs = list(getattr(pool, "_processes", {}).values())  # no public handle (<3.14)
        pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def close(self) -> None:
        self._terminate()
