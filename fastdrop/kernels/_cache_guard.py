"""Numba's on-disk cache (cache=True) keys a compiled function by its own source file's
time stamp only. The kernels inline code from other modules (kernels/_numba_ext.py's
intrinsics, spec.py's constants, cpu.py's stages inside nn's fused layers), so an edit or
a `git pull` that changes only those would leave kernels compiled from the old code in
__pycache__: stale speed figures, or stale bits, with nothing to say so. This drops every
cached kernel of the package that is older than the newest of those sources, once per
process, before any kernel loads (kernels/cpu.py imports it first). A fresh install has
nothing to drop; a few stat calls otherwise.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parents[1]
# the sources other modules' kernels inline from
_SHARED = ("kernels/_numba_ext.py", "kernels/cpu.py", "kernels/plan.py", "spec.py",
           "nn/fused_draw.py", "nn/fused_loops.py")
_CACHED = ("kernels", "nn", "torch", "train", "bench")  # folders whose kernels use them


def drop_stale() -> int:
    """Delete cached kernels (.nbi index and its .nbc data) older than the newest shared
    source; returns how many index files went. Errors (a read-only install) are ignored:
    Numba then recompiles or uses what it has, as before."""
    try:
        newest = max((_PKG / f).stat().st_mtime for f in _SHARED if (_PKG / f).exists())
    except (OSError, ValueError):
        return 0
    dropped = 0
    for folder in _CACHED:
        cache = _PKG / folder / "__pycache__"
        if not cache.is_dir():
            continue
        try:
            for index in cache.glob("*.nbi"):
                if index.stat().st_mtime < newest:
                    stem = index.name[: -len(".nbi")]
                    for data in cache.glob(f"{stem}.*.nbc"):
                        data.unlink(missing_ok=True)
                    index.unlink(missing_ok=True)
                    dropped += 1
        except OSError:
            continue
    return dropped


drop_stale()
