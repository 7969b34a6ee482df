"""Writing site files so a reader (a web server, a CDN, rsync) never sees half a page.

Each file is written to a temporary file in its own folder (same file system, so the
rename is atomic), flushed to disk, then renamed over the old one. An unchanged file is not
rewritten: its modification time and ETag stay, and caches keep serving it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".alertcast-tmp"
FILE_MODE = 0o644  # mkstemp creates 0600 files, which a web server running as another user cannot read


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` in one step; False when it already held exactly that."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp_name, FILE_MODE)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return True


def sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash after a rename could lose it otherwise)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
