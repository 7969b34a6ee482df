"""Writing site files so a reader (a web server, a CDN, rsync) never sees half a page.

Each file is written to a temporary file in its own folder (same file system, so the
rename is atomic), flushed to disk, then renamed over the old one. An unchanged file is not
rewritten: its modification time and ETag stay, and caches keep serving it.

A publish writes about ten files; flushing them one after the other cost more than drawing
them, so `write_files` flushes a batch together (the file system commits concurrent flushes
at once), then renames in the order given: pages before the lists that link to them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

TEMP_SUFFIX = ".alertcast-tmp"
FILE_MODE = 0o644  # mkstemp creates 0600 files, which a web server running as another user cannot read
_FLUSHERS = 8
_pool: ThreadPoolExecutor | None = None


def _flushers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=_FLUSHERS, thread_name_prefix="site-fsync")
    return _pool


def _unchanged(path: Path, data: bytes) -> bool:
    try:
        return path.read_bytes() == data
    except FileNotFoundError:
        return False


def _temporary(path: Path, data: bytes) -> str:
    """`data` in a new temporary file beside `path`, not yet flushed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        os.chmod(temp_name, FILE_MODE)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    return temp_name


def _flush(name: str | Path) -> None:
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace `path` with `data` in one step; False when it already held exactly that."""
    return bool(write_files([(path, data)]))


def write_files(files: Sequence[tuple[Path, bytes]]) -> list[Path]:
    """Replace each path with its data, each in one step, renaming in the given order once
    all are on disk; return the paths that changed. Call `sync_folders` on their folders
    after (and after any removal) to make the renames durable."""
    pending = [(path, data) for path, data in files if not _unchanged(path, data)]
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in pending:
            temps.append((_temporary(path, data), path))
        if len(temps) == 1:
            _flush(temps[0][0])
        else:
            list(_flushers().map(_flush, [name for name, _ in temps]))
        while temps:
            name, path = temps[0]
            os.replace(name, path)
            temps.pop(0)
    finally:
        for name, _ in temps:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name)
    return [path for path, _ in pending]


def sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable (a crash after a rename could lose it otherwise)."""
    _flush(folder)


def sync_folders(folders: Iterable[Path]) -> None:
    list(_flushers().map(sync_folder, sorted(set(folders))))


def remove_leftovers(folder: Path) -> list[Path]:
    """Delete the temporary files a writer killed mid-write left under `folder` (it renames
    them only once all are on disk); the caller must be the folder's one writer."""
    removed = []
    for path in sorted(folder.rglob(f"*{TEMP_SUFFIX}")):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
