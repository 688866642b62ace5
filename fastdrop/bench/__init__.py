"""Benchmarks: pyperf worker entry points, the bandwidth ceiling, the peers, the manifest.

The benchmarks write result files (pyperf JSON plus a manifest); fastdrop.report reads them.
"""
