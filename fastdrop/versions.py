"""Installed package versions: the one place fastdrop asks for them (the run manifest and
the trainer's result)."""

from __future__ import annotations

from importlib import metadata

# what a run manifest records
PACKAGES = ("fastdrop", "numpy", "numba", "llvmlite", "numba-cuda", "pyperf", "rich", "mnist1d",
            "matplotlib", "torch")


def versions(packages=PACKAGES) -> dict[str, str | None]:
    """The installed version of each package (None where it is not installed)."""
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
