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


class OutputExistsError(FileExistsError):
    """The output folder holds files and overwriting was not asked for."""


def check_writable(target: Path, force: bool) -> None:
    """Refuse early, before any work, when ``target`` holds files and not ``force``."""
    if target.exists() and not target.is_dir():
        raise OutputExistsError(f"{target} exists and is not a folder")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise OutputExistsError(f"{target} already holds results; use --force to replace them")


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
