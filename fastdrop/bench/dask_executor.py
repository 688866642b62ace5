"""Run the grid's tasks on an existing Dask distributed cluster.

The same Executor interface as the local pool: tasks are named functions of a JSON-like
payload that return a dict, so they share nothing with this process. Results stream back
to the client, which alone writes the run folder (the harness does that as `run` yields);
workers never touch it.

Faults: a task whose worker dies is rescheduled by Dask's scheduler; after the second
death (`retries`, default 1, one retry) the client records it as failed with the reason.
The scheduler's own limit, `distributed.scheduler.allowed-failures`, must be at least
`retries` for that count to hold (Dask's default is 3); `LocalCluster`s made here set it.
Ctrl-C on the client cancels the futures that have not finished (`close`).

`dask[distributed]` is an optional extra: `pip install fastdrop[dask]`.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

from .executor import Executor, TaskFailure, call

SCHEDULER_ENV = "FASTDROP_DASK_SCHEDULER"
INSTALL_HINT = "the Dask executor needs dask[distributed]: pip install 'fastdrop[dask]'"


def require_distributed():
    """The distributed module, or an ImportError that says how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return distributed


def scheduler_address(given: str | None) -> str:
    """--scheduler, else $FASTDROP_DASK_SCHEDULER; a clear error when neither is set."""
    address = given or os.environ.get(SCHEDULER_ENV)
    if not address:
        raise ValueError(
            f"the dask executor needs a scheduler address: pass --scheduler tcp://HOST:PORT "
            f"or set {SCHEDULER_ENV}")
    return address


class DaskExecutor(Executor):
    """Tasks on the workers of a Dask cluster, at most `jobs` in flight (default: the
    cluster's worker threads, so the scheduler is never handed the whole grid at once)."""

    def __init__(self, scheduler: str | None = None, *, client=None, jobs: int | None = None,
                 retries: int = 1, connect_timeout: float = 30.0):
        distributed = require_distributed()
        self.retries = retries
        if client is None:
            address = scheduler_address(scheduler)
            try:
                client = distributed.Client(address, timeout=connect_timeout,
                                            set_as_default=False)
            except OSError as exc:
                raise ConnectionError(
                    f"no Dask scheduler answered at {address} within {connect_timeout:g} s "
                    f"({exc}); start one with `dask scheduler` and workers with "
                    f"`dask worker {address}`") from exc
            self._own_client = True
        else:
            self._own_client = False
        self.client = client
        threads = sum(client.nthreads().values()) or 1
        self.jobs = max(1, int(jobs or threads))
        self._futures: dict = {}
        self._run_id = next(_RUNS)

    def workers(self) -> dict[str, int]:
        """Worker address -> threads, as the scheduler sees them now."""
        return dict(self.client.nthreads())

    def run(self, items) -> Iterator[tuple[str, dict]]:
        from distributed import as_completed

        pending = iter(items)
        seq = as_completed(loop=self.client.loop)
        count = itertools.count()

        def submit_one() -> bool:
            item = next(pending, None)
            if item is None:
                return False
            key, fn, payload = item
            # a unique Dask key: the same task id may run again in a resumed run
            fut = self.client.submit(call, fn, payload, key=f"fastdrop-{self._run_id}-"
                                     f"{next(count)}-{key}", pure=False, retries=self.retries)
            self._futures[fut] = key
            seq.add(fut)
            return True

        while len(self._futures) < self.jobs and submit_one():
            pass
        for fut in seq:
            key = self._futures.pop(fut)
            yield key, self._outcome(fut)
            submit_one()

    def _outcome(self, fut) -> dict:
        if fut.status == "finished":
            try:
                return fut.result()
            except Exception as exc:  # lost between finishing and fetching
                return TaskFailure(error=f"{type(exc).__name__}: {exc}", traceback="")
        if fut.status == "cancelled":
            return TaskFailure(error="cancelled on the cluster", traceback="")
        exc = fut.exception()
        name = type(exc).__name__
        if name == "KilledWorker":
            return TaskFailure(
                error=f"its Dask worker died {self.retries + 1} times while running it "
                f"(KilledWorker: {exc})", traceback="")
        return TaskFailure(error=f"{name}: {exc}", traceback="")

    def close(self) -> None:
        futures, self._futures = list(self._futures), {}
        if futures:
            try:
                self.client.cancel(futures, force=True)
            except Exception:  # a closed or unreachable scheduler: nothing to cancel
                pass
        if self._own_client:
            self.client.close()


_RUNS = itertools.count(os.getpid() * 1000)


def local_cluster(workers: int = 2, threads: int = 1, retries: int = 1, **kw):
    """A LocalCluster of process workers on loopback only (tests, benchmarks), with the
    scheduler's allowed-failures set so that a task is retried `retries` times."""
    distributed = require_distributed()
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": retries}):
        return distributed.LocalCluster(
            n_workers=workers, threads_per_worker=threads, processes=True,
            host="127.0.0.1", dashboard_address=None, **kw)
