"""Benchmarks: the grid of suites and its tasks, the kernel suite (K1) with its ceiling and
peers, the executors and the harness that runs a plan into a run folder.

The benchmarks write their results through fastdrop.results; fastdrop.report reads them.
This package never imports fastdrop.report.
"""
