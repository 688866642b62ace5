"""Atomic file writes, the one way fastdrop writes a file a reader may look at mid-run.

The text goes to a temporary file in the same folder, is flushed to disk and renamed over
the name (os.replace), so a reader sees the old file or the new one, never half of one.
Any failure removes the temporary file and leaves the old file as it was; an OSError
(disk full, read-only folder) becomes a WriteError whose message is one line naming the
file and the cause.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


class WriteError(OSError):
    """A file that could not be written (disk full, read-only folder, ...). str() is one
    line naming the file and the cause; `.path` the file, `.cause` the OSError."""

    def __init__(self, path, cause: OSError):
        self.path, self.cause = Path(path), cause
        super().__init__(cause.errno, cause.strerror or str(cause), str(path))

    def __str__(self) -> str:
        return f"cannot write {self.path}: {self.cause.strerror or self.cause}"


def make_dir(path: Path) -> None:
    """mkdir -p, a failure raised as a WriteError naming the folder."""
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(path, exc) from exc


def write_text(path: Path, text: str) -> None:
    """Atomically replace `path` with `text` (temp file, fsync, os.replace). On any failure
    the temporary file is removed and `path` is as it was; an OSError becomes a
    WriteError naming `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # disk full, read-only, or Ctrl-C halfway: leave no temp
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise WriteError(path, exc) from exc
        raise
    try:  # make the rename itself durable
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass
