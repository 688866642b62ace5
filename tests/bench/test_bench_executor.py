"""Executors: tasks run in other processes, failures become records, a dead worker does
not take the run down."""

import os

from fastdrop.bench.executor import LocalProcessExecutor, SerialExecutor, TaskFailure, call


def test_call_turns_an_exception_into_a_failure():
    out = call("bench_tasks:boom", {"x": 7})
    assert isinstance(out, TaskFailure)
    assert out["error"] == "ValueError: bad payload 7" and "Traceback" in out["traceback"]


def test_serial_runs_in_this_process():
    with SerialExecutor() as ex:
        got = dict(ex.run([("a", "bench_tasks:where", {"n": 1})]))
    assert got["a"] == {"pid": os.getpid(), "echo": {"n": 1}}


def test_pool_runs_tasks_elsewhere_and_survives_failures():
    items = [("ok1", "bench_tasks:where", {"n": 1}), ("bad", "bench_tasks:boom", {"x": 2}),
             ("dead", "bench_tasks:die", {}), ("ok2", "bench_tasks:where", {"n": 2}),
             ("ok3", "bench_tasks:where", {"n": 3})]
    with LocalProcessExecutor(jobs=1) as ex:  # one at a time: the death hits one task
        got = dict(ex.run(iter(items)))
    assert set(got) == {"ok1", "bad", "dead", "ok2", "ok3"}
    assert got["ok1"]["pid"] != os.getpid() and got["ok3"]["echo"] == {"n": 3}
    assert isinstance(got["bad"], TaskFailure) and "bad payload 2" in got["bad"]["error"]
    assert isinstance(got["dead"], TaskFailure) and "died" in got["dead"]["error"]
    assert not isinstance(got["ok2"], TaskFailure)  # a new pool took over after the death


def test_pool_takes_items_only_as_slots_free():
    taken = []

    def items():
        for i in range(5):
            taken.append(i)
            yield f"k{i}", "bench_tasks:where", {"i": i}

    with LocalProcessExecutor(jobs=2) as ex:
        it = ex.run(items())
        next(it)
        assert len(taken) <= 3  # two in flight, one more once the first finished
        rest = list(it)
    assert len(rest) == 4
