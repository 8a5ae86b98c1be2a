"""Result folders that are written whole or not at all, by one writer at a time.

Everything is written into a hidden staging folder beside the target
(``.NAME.partial-PID-XXXX``); only when every file is complete is the
staging folder swapped into place (the old folder is first renamed to
``.NAME.old-PID-XXXX``, then removed).  A folder that already holds files
is replaced only with ``force``, only if it holds improvesim results (it
carries the :data:`MARKER` file, or one of the files the commands write),
and only after the new results are complete, so an interrupted run never
leaves half-written files or destroys the old results.

Every writer first calls :func:`recover`, which cleans up after writers
that were killed: staging folders of dead processes are removed, and if a
writer died between the two renames of a swap (the target missing, the old
folder aside) the old folder is put back.

:class:`FolderLock` keeps a second writer out of a folder (a sweep store)
while the first is still writing; a lock left by a dead process is taken
over.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import socket
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from improvesim.experiments.lifeline import check_interrupted

#: Written into every result folder: marks it as improvesim results that ``--force`` may replace.
MARKER = ".improvesim"
#: Files that mark a folder as improvesim results written before :data:`MARKER` existed.
RESULT_FILES = (
    "summary.json",  # run
    "experiment.json",  # sweep store
    "validation.csv",  # validate
    "report.html",  # compare
    "report.md",  # sensitivity, calibration
    "frontier.csv",  # frontier
)
#: Seconds to pause before a swap and between its two renames; only the kill tests set it.
PAUSE_SWAP_ENV = "IMPROVESIM_TEST_PAUSE_SWAP"
#: The lock file of a folder that one process writes into over a long time (a sweep store).
LOCK = ".lock"


#: Free space the output folder's file system must have before any work (bytes).
MIN_FREE_BYTES = 16 * 2**20


class OutputExistsError(FileExistsError):
    """The output folder holds files and overwriting was not asked for (or is not allowed)."""


class FolderLockedError(OutputExistsError):
    """Another live process is writing into the folder."""


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (a zombie counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holds_results(folder: Path) -> bool:
    """Whether ``folder`` holds improvesim results (its marker or a known result file)."""
    return any((folder / name).exists() for name in (MARKER, *RESULT_FILES))


class OutputNotWritableError(OSError):
    """The output folder cannot be written: not a folder, read-only, full, or in a system folder."""


def check_writable(target: Path, force: bool, need_bytes: int = MIN_FREE_BYTES) -> None:
    """Refuse early, before any work, an output folder that could not take the results.

    Raises :class:`OutputExistsError` when ``target`` holds files and not
    ``force``, or holds files that are not improvesim results (never
    replaced, even with ``force``); :class:`FolderLockedError` when a live
    process holds its lock (a sweep writing into it);
    :class:`OutputNotWritableError` when ``target`` is empty text, is or lies
    under a file, or its nearest existing folder cannot take a new file
    (read-only, a system folder such as ``/proc``, no permission) or has less
    than ``need_bytes`` free.  A probe file is created and removed there;
    nothing else is created (results left half-swapped by a killed writer are
    put back first, see :func:`recover`).
    """
    target = Path(target)
    if not str(target).strip() or target.absolute().name in ("", "..") or target == Path("."):
        raise OutputNotWritableError(
            f"--out: got {str(target)!r}; allowed: a folder of its own for the results (not the current folder or /)"
        )
    try:
        recover(target)
        if target.exists() and not target.is_dir():
            raise OutputNotWritableError(f"--out: {target}: exists and is not a folder; allowed: a folder")
        if target.is_dir() and any(target.iterdir()):
            _check_replaceable(target, force)
        _check_can_create(target, need_bytes)
    except OSError as exc:
        if isinstance(exc, OutputExistsError | OutputNotWritableError | FolderLockedError):
            raise
        raise OutputNotWritableError(
            f"--out: {target}: cannot use it ({exc.strerror or exc}); allowed: a folder you can write to"
        ) from None


def _check_replaceable(target: Path, force: bool) -> None:
    """A folder that holds files may be replaced only with ``force``, only when unlocked and only if it holds results."""
    holder = read_lock(target / LOCK) if (target / LOCK).exists() else None
    if holder is not None and not _stale(holder):
        raise FolderLockedError(_locked_message(target, holder))
    if not holds_results(target):
        raise OutputExistsError(
            f"{target} holds files that are not improvesim results; --force replaces only results, "
            "so choose another output folder (or empty this one yourself)"
        )
    if not force:
        raise OutputExistsError(f"{target} already holds results; use --force to replace them")


def mark_results(folder: Path, command: str = "") -> None:
    """Write the :data:`MARKER` file that lets a later ``--force`` replace ``folder``."""
    (folder / MARKER).write_text(json.dumps({"written_by": "improvesim", "command": command}) + "\n")


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


def write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path``: ``path`` is the old file or the
    whole new one, never part of it (the temporary file is removed if ``write`` fails).  The file
    gets the permissions any new file gets (the umask's), as a plain write would give it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temporary_file(path)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _new_temporary_file(path: Path) -> Path:
    """A new empty file ``.NAME.XXXXXXXX.tmp`` beside ``path``, created with the umask's permissions
    (``tempfile.mkstemp`` gives 0600, which would leave results unreadable to the user's group)."""
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


def _new_folder(parent: Path, prefix: str) -> Path:
    """A new empty folder ``PREFIX`` + 8 random characters in ``parent``, created with the umask's
    permissions (``tempfile.mkdtemp`` gives 0700, and a staging folder becomes the results)."""
    while True:
        folder = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder


@contextlib.contextmanager
def staged_folder(target: str | Path, force: bool = False) -> Iterator[Path]:
    """Yield a staging folder; on success it becomes ``target`` atomically.

    On any exception the staging folder is removed and ``target`` is left
    exactly as it was.  Raises :class:`OutputExistsError` as
    :func:`check_writable` does, and :class:`OutputNotWritableError` (one
    line, naming ``target`` and the reason) when the folder stops taking
    files mid-write (:func:`out_of_room`: its disk full, say).
    """
    target = Path(target)
    check_writable(target, force)
    staging = new_staging(target)
    try:
        yield staging
        check_interrupted()  # a SIGTERM whose exception was lost still stops the swap
        mark_results(staging)
        swap_into_place(staging, target)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        reason = out_of_room(exc)
        if reason and not isinstance(exc, OutputNotWritableError):
            raise OutputNotWritableError(
                f"--out: {target}: the results could not be written ({reason}); nothing was "
                f"written and {target} is as it was; allowed: a folder with room for them"
            ) from None
        raise


#: What an ``OSError`` says when a folder stops taking files mid-write: its disk or quota is full,
#: its file system went read-only, or a file grew past the largest allowed.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


#: SQLite's result codes (pyabc's History is a SQLite file) for the same: full, or read-only.
SQLITE_NO_ROOM = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY})


def out_of_room(exc: BaseException) -> str | None:
    """Why the output stopped taking files, if ``exc`` says it did (the output, not an input, is
    at fault), else None: an ``OSError`` of :data:`NO_ROOM` (its reason as the system words it),
    or SQLite's error of :data:`SQLITE_NO_ROOM`, also as SQLAlchemy wraps it (its ``orig``)."""
    if isinstance(exc, OSError) and exc.errno in NO_ROOM:
        return os.strerror(exc.errno)
    original = getattr(exc, "orig", exc)
    if isinstance(original, sqlite3.Error) and getattr(original, "sqlite_errorcode", None) in SQLITE_NO_ROOM:
        return str(original)
    return None


def _prefix(target: Path, kind: str) -> str:
    return f".{target.name}.{kind}-"


def _owner(path: Path, prefix: str) -> int:
    """The pid in a ``.NAME.KIND-PID-XXXX`` name (0 if there is none)."""
    head = path.name[len(prefix) :].split("-", 1)[0]
    return int(head) if head.isdigit() else 0


def new_staging(target: Path, name: str | None = None) -> Path:
    """A fresh hidden staging folder beside ``target``, named after this process.

    With ``name``, the folder is ``.TARGET.NAME`` (a staging folder a later
    run may resume); it is created if missing and returned as it is.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if name is not None:
        folder = target.parent / f".{target.name}.{name}"
        folder.mkdir(exist_ok=True)
        return folder
    return _new_folder(target.parent, f"{_prefix(target, 'partial')}{os.getpid()}-")


def swap_into_place(staging: Path, target: Path) -> None:
    """Make ``staging`` the new ``target``; the old ``target`` (if any) is removed afterwards.

    Between the two renames the old folder waits as ``.NAME.old-PID-XXXX``;
    :func:`recover` puts it back if this process dies there.
    """
    os.chmod(staging, 0o755)
    _test_pause()
    if not target.exists():
        os.replace(staging, target)
        return
    old = _new_folder(target.parent, f"{_prefix(target, 'old')}{os.getpid()}-")
    os.rmdir(old)
    os.replace(target, old)
    try:
        _test_pause()
        os.replace(staging, target)
    except BaseException:  # interrupted between the renames: the old results go back
        if not target.exists():
            os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _test_pause() -> None:
    """Pause for ``$IMPROVESIM_TEST_PAUSE_SWAP`` seconds (only the kill tests set it, to land a kill mid-swap)."""
    pause = float(os.environ.get(PAUSE_SWAP_ENV, "0"))
    if pause:
        time.sleep(pause)


def recover(target: str | Path) -> list[str]:
    """Clean up after writers of ``target`` that died; return what was done, in words.

    * staging folders (``.NAME.partial-PID-*``) of dead processes are removed;
    * if ``target`` is missing and a dead writer's old folder
      (``.NAME.old-PID-*``) is left, the old folder is put back as ``target``;
      old folders left beside an existing ``target`` are removed.
    """
    target = Path(target)
    parent = target.parent
    if not parent.is_dir():
        return []
    done = []
    for kind in ("partial", "old"):
        prefix = _prefix(target, kind)
        stale = [p for p in parent.glob(prefix + "*") if p.is_dir() and not pid_alive(_owner(p, prefix))]
        for folder in sorted(stale, key=lambda p: p.stat().st_mtime, reverse=True):
            if kind == "old" and not target.exists():
                os.replace(folder, target)
                done.append(f"recovered {target} from {folder.name} (a writer died while replacing it)")
            else:
                shutil.rmtree(folder, ignore_errors=True)
                done.append(f"removed {folder.name} (left by a writer that died)")
    return done


class FolderLock:
    """An exclusive lock on a folder: the file ``FOLDER/.lock`` naming pid, host and start time.

    ``acquire`` creates the folder if needed and raises
    :class:`FolderLockedError` naming the holder when another live process
    holds the lock; a lock whose process is dead (same host) is taken over.
    Used as a context manager it releases the lock on exit.
    """

    def __init__(self, folder: str | Path, command: str = ""):
        self.folder = Path(folder)
        self.command = command
        self.held = False

    @property
    def path(self) -> Path:
        return self.folder / LOCK

    def record(self) -> dict:
        return {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": self.command,
        }

    def acquire(self) -> FolderLock:
        self.folder.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = read_lock(self.path)
                if holder is None or not _stale(holder):
                    raise FolderLockedError(_locked_message(self.folder, holder)) from None
                self.path.unlink(missing_ok=True)  # its process is dead: take it over
                continue
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(self.record()) + "\n")
            self.held = True
            return self
        raise FolderLockedError(_locked_message(self.folder, read_lock(self.path)))

    def copy_into(self, folder: Path) -> None:
        """Put this lock's file into ``folder`` too (a staging folder about to replace the locked one)."""
        shutil.copyfile(self.path, folder / LOCK)

    def release(self) -> None:
        if self.held:
            holder = read_lock(self.path)
            if holder is not None and holder.get("pid") == os.getpid():
                # on a file system gone read-only the file stays: its process dead, the next writer takes it over
                with contextlib.suppress(OSError):
                    self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def read_lock(path: Path) -> dict | None:
    """The holder recorded in a lock file, or None if it is unreadable (being written)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _stale(holder: dict) -> bool:
    """A lock whose process is gone (only decidable on the host that wrote it)."""
    return holder.get("host") == socket.gethostname() and not pid_alive(int(holder.get("pid", 0)))


def _locked_message(folder: Path, holder: dict | None) -> str:
    if holder is None:
        return f"{folder} is being written by another process (its lock file {folder / LOCK} is being written)"
    return (
        f"{folder} is being written by another process: pid {holder.get('pid')} on {holder.get('host')}, "
        f"started {holder.get('started')} ({holder.get('command') or 'improvesim'}); wait for it to finish, "
        f"or if that process is gone, delete {folder / LOCK}"
    )
