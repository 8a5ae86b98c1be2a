"""Result folders that are written whole or not at all.

Everything is written into a hidden staging folder beside the target; only
when every file is complete is the staging folder renamed into place.  A
folder that already holds files is replaced only with ``force``, and then
only after the new results are complete, so an interrupted run never
leaves half-written files or destroys the old results.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

#: Free space the output folder's file system must have before any work (bytes).
MIN_FREE_BYTES = 16 * 2**20


class OutputExistsError(FileExistsError):
    """The output folder holds files and overwriting was not asked for."""


class OutputNotWritableError(OSError):
    """The output folder cannot be written: not a folder, read-only, full, or in a system folder."""


def check_writable(target: Path, force: bool, need_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse early, before any work, an output folder that could not take the results.

    Raises :class:`OutputExistsError` when ``target`` holds files and not
    ``force``; :class:`OutputNotWritableError` when ``target`` is empty text,
    is or lies under a file, or its nearest existing folder cannot take a new
    file (read-only, a system folder such as ``/proc``, no permission) or has
    less than ``need_bytes`` free.  A probe file is created and removed there;
    nothing else is created.
    """
    if not str(target).strip() or target.absolute().name in ("", "..") or target == Path("."):
        raise OutputNotWritableError(
            f"--out: got {str(target)!r}; allowed: a folder of its own for the results (not the current folder or /)"
        )
    try:
        if target.exists() and not target.is_dir():
            raise OutputNotWritableError(f"--out: {target}: exists and is not a folder; allowed: a folder")
        if target.is_dir() and any(target.iterdir()) and not force:
            raise OutputExistsError(f"{target} already holds results; use --force to replace them")
        _check_can_create(target, need_bytes)
    except OSError as exc:
        if isinstance(exc, OutputExistsError | OutputNotWritableError):
            raise
        raise OutputNotWritableError(
            f"--out: {target}: cannot use it ({exc.strerror or exc}); allowed: a folder you can write to"
        ) from None


def _check_can_create(target: Path, need_bytes: int) -> None:
    """A file can be created, written and removed in ``target``'s nearest existing folder, with room to spare."""
    # the results are written in the target, and staged beside it: both folders are checked
    for start in {target.absolute(), target.absolute().parent}:
        _check_folder(target, _nearest_existing(start), need_bytes)


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_folder(target: Path, folder: Path, need_bytes: int) -> None:
    if not folder.is_dir():
        raise OutputNotWritableError(f"--out: {target}: {folder} is a file, not a folder; allowed: a folder")
    try:
        with tempfile.TemporaryFile(dir=folder) as probe:
            probe.write(b"\0" * 4096)
            probe.flush()
            os.fsync(probe.fileno())
        space = os.statvfs(folder)
    except OSError as exc:
        raise OutputNotWritableError(
            f"--out: {target}: cannot write in {folder} ({exc.strerror or exc}); allowed: a folder you can write to"
        ) from None
    free = space.f_bavail * space.f_frsize
    if free < need_bytes:
        raise OutputNotWritableError(
            f"--out: {target}: {free / 2**20:,.1f} MB free in {folder}; allowed: a folder with at least "
            f"{need_bytes / 2**20:,.0f} MB free"
        )


@contextlib.contextmanager
def staged_folder(target: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it becomes ``target`` atomically.

    On any exception the staging folder is removed and ``target`` is left
    exactly as it was.
    """
    target = Path(target)
    check_writable(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield staging
        _swap_into_place(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_into_place(staging: Path, target: Path) -> None:
    os.chmod(staging, 0o755)
    if not target.exists():
        os.replace(staging, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
