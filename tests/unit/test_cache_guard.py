"""kernels/_cache_guard: cached kernels older than the sources they inline are dropped
(Numba's cache only watches a function's own file)."""

from __future__ import annotations

import os

from fastdrop.kernels import _cache_guard


def test_drops_only_kernels_cached_before_a_shared_source_changed(tmp_path, monkeypatch):
    cache = tmp_path / "kernels" / "__pycache__"
    cache.mkdir(parents=True)
    (tmp_path / "nn" / "__pycache__").mkdir(parents=True)
    src = tmp_path / "kernels" / "_numba_ext.py"
    src.write_text("# edited\n")
    old = [cache / "cpu._masked_body-146.py311.nbi", cache / "cpu._masked_body-146.py311.1.nbc",
           cache / "cpu._masked_body-146.py311.2.nbc",
           tmp_path / "nn" / "__pycache__" / "fused.f-10.py311.nbi"]
    new = [cache / "cpu._copy_body-280.py311.nbi", cache / "cpu._copy_body-280.py311.1.nbc"]
    for f in old + new:
        f.write_bytes(b"x")
    t = src.stat().st_mtime
    for f in old:
        os.utime(f, (t - 100, t - 100))
    for f in new:
        os.utime(f, (t + 100, t + 100))
    monkeypatch.setattr(_cache_guard, "_PKG", tmp_path)
    assert _cache_guard.drop_stale() == 2  # two index files, with their data
    assert not any(f.exists() for f in old)
    assert all(f.exists() for f in new)
    assert _cache_guard.drop_stale() == 0


def test_nothing_to_do_without_sources_or_caches(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache_guard, "_PKG", tmp_path)
    assert _cache_guard.drop_stale() == 0
