"""The kernel table's statistics: shares from best times on both sides, each kernel against
the ceiling timed beside it, faults flagged, thread scaling with its range."""

import pyperf

from fastdrop.report import kernel_table as K


def bench(name, impl, op, n, values, p=None, threads=2, beside=None, mask=0.125):
    md = {"name": name, "unit": "second", "loops": 1, "fastdrop_impl": impl,
          "fastdrop_op": op, "fastdrop_elements": n, "fastdrop_p": -1.0 if p is None else p,
          "fastdrop_threads": threads, "fastdrop_bytes": int(n * (8 + mask)),
          "fastdrop_dtype": "float32"}
    if beside:
        md["fastdrop_beside"] = beside
    return pyperf.Benchmark([pyperf.Run(values, metadata=md, collect_metadata=False)])


def suite(*benches):
    return pyperf.BenchmarkSuite(list(benches))


N = 1 << 20


def test_share_is_best_over_best_against_its_own_ceiling():
    rows = K.rows_from_suite(suite(
        bench("fastdrop forward 2^20 p=0.5", "fastdrop", "forward", N, [2.0, 4.0, 3.0], 0.5),
        bench("ceiling beside fastdrop forward 2^20 p=0.5", "ceiling", "scale", N,
              [1.0, 5.0, 1.5], beside="fastdrop forward 2^20 p=0.5"),
    ))
    ceiling, fwd = rows  # one pooled ceiling row per size, before the size's rows
    assert (ceiling.impl, ceiling.n, ceiling.min_s) == ("ceiling", N, 1.0)
    assert fwd.ceiling is not None and fwd.share == 0.5  # 1.0 / 2.0, not a median's ratio
    assert fwd.share_median == 1.5 / 3.0
    assert fwd.gelems == N / 2.0 / 1e9 and fwd.gelems_median == N / 3.0 / 1e9
    assert not fwd.fault and K.share_cell(fwd) == "0.50"


def test_share_above_one_is_a_fault_never_a_result():
    rows = K.rows_from_suite(suite(
        bench("fastdrop backward-mask 2^20 p=0.5", "fastdrop", "backward-mask", N, [1.0], 0.5),
        bench("ceiling beside fastdrop backward-mask 2^20 p=0.5", "ceiling", "scale", N,
              [1.2], beside="fastdrop backward-mask 2^20 p=0.5"),
    ))
    row = rows[1]
    assert row.fault and K.share_cell(row) == "FAULT (1.20 > 1)"
    assert any("Measurement faults: 1" in ln for ln in K.header_lines({}, rows))


def test_thread_scaling_has_a_range_and_flags_noise():
    name = "fastdrop forward 2^20 p=0.5"
    rows = K.rows_from_suite(suite(
        bench(name, "fastdrop", "forward", N, [1.0, 1.2], 0.5),
        bench("fastdrop forward-1thread 2^20 p=0.5", "fastdrop", "forward-1thread", N,
              [2.5, 3.0], 0.5, threads=1),
    ))
    (s,) = K.thread_scaling(rows)
    assert (s.best, s.low, s.high, s.threads) == (2.5, 2.5 / 1.2, 3.0, 2)
    assert s.noise  # 2.5x on 2 threads
    assert any("NOISE" in ln for ln in K.header_lines({}, rows))
