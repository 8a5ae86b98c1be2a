"""Running an experiment: chunks of runs on a local process pool or Dask.

The plan (every run and its seed) is fixed up front; chunks are computed in
any order on any engine and saved as they finish, and at most a few chunks
per worker are in flight, so memory stays flat however many runs there
are.  The process that computes a chunk writes its parts too and sends
back only the chunk's number and run count: one process, a local pool, a
local Dask cluster, and a Dask cluster's workers when the sweep is told the
store is on a file system they share (``shared_store``, ``--shared-store``).
Otherwise a cluster's workers send their results back and the sweep writes
them (a cluster's workers need not see the store's file system).  Because
each run's seed and each chunk's membership are fixed, results are
identical for any number of workers, local or Dask, resumed or not.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from improvesim.experiments.design import build_design
from improvesim.experiments.lifeline import WATCHDOG, check_interrupted, interrupts_deferred, worker_init
from improvesim.experiments.output import FolderLock, out_of_room, recover
from improvesim.experiments.plan import Plan, make_plan
from improvesim.experiments.runner import ChunkResult, ChunkTask, run_chunk
from improvesim.experiments.spec import Experiment
from improvesim.experiments.store import (
    PARTS,
    PartNotWritten,
    StoreError,
    StoreNotShared,
    discard_unfinished_creation,
    discard_unfinished_parts,
    done_chunks,
    finish,
    prepare,
    save_chunk,
    staging_folder,
    write_manifest,
)
from improvesim.sim.posterior import pinned_constants
from improvesim.sim.precompile import compile_share, load_signatures, shares

#: Chunks in flight per worker.
IN_FLIGHT_PER_WORKER = 2
#: Seconds a worker pauses after saving each chunk; only the interruption tests set it,
#: so that a kill reliably lands part-way through a sweep.
SLOW_CHUNKS_ENV = "IMPROVESIM_TEST_SLOW_CHUNKS"
#: Pool restarts allowed after workers die without a chunk finishing in between.
MAX_POOL_RESTARTS = 3
#: Seconds a stopping sweep waits, silently, for the chunks a Dask cluster's workers are computing
#: before it says so (:func:`_await_dask`); and how long it waits in all before it gives up.
DASK_STOP_NOTE_AFTER = 10.0
DASK_STOP_LIMIT = 600.0
#: Seconds a sweep on a Dask cluster's shared store waits for the parts its workers saved to be
#: seen here (a network file system's cache of a folder's listing lasts up to a minute) before it
#: calls the store not shared (:func:`_await_parts_seen`).
SEEN_GRACE = 90.0


@dataclass
class SweepSummary:
    store: Path
    runs: int
    ok: int
    failed: int
    missing: int
    seconds: float
    computed_runs: int
    errors: list[str]
    already_done: int = 0  # runs found done in the store (--resume)

    @property
    def runs_per_second(self) -> float:
        return self.computed_runs / self.seconds if self.seconds > 0 else float("nan")


def tasks_for(exp: Experiment, plan: Plan, skip: set[int]) -> Iterator[ChunkTask]:
    factors = plan.factors
    pinned = frozenset(pinned_constants(exp.posterior, exp.base, factors)) if exp.posterior is not None else frozenset()
    for index in range(plan.chunks):
        if index in skip:
            continue
        rows = plan.chunk_rows(index)
        # one overrides dict per parameter set, shared by its replicates (sent once, checked once)
        sets = rows.drop_duplicates("set")
        columns = [sets[f].tolist() for f in factors]  # (tolist gives Python's own types)
        values = zip(*columns, strict=True) if columns else [()] * len(sets)
        by_set = {int(i): dict(zip(factors, v, strict=True)) for i, v in zip(sets["set"], values, strict=True)}
        runs = [
            (int(run_id), int(seed), by_set[int(i)])
            for run_id, seed, i in zip(rows["run_id"], rows["seed"], rows["set"], strict=True)
        ]
        yield ChunkTask(index, exp.base, runs, exp.outcomes, exp.record_schools, posterior=exp.posterior, pinned=pinned)


@dataclass(frozen=True)
class ChunkSaved:
    """A chunk computed and saved: its number and how many runs it holds."""

    index: int
    runs: int


def compute_and_save(task: ChunkTask, folder: Path) -> ChunkSaved:
    """Compute a chunk and write its parts into ``folder`` (:func:`save_chunk`: each file atomic,
    the outcomes part last) in the process that computed it, so that only its number and run count
    travel back: the sweep's own process then neither unpickles nor encodes results, work it did on
    the workers' cores (the parent's CPU time in a 20,000-run sweep on two workers fell from 1.4-1.5 s
    to 0.3-0.4 s)."""
    return _save(folder, run_chunk(task), task.outcomes)


def compute_and_save_in_shared_store(task: ChunkTask, folder: str, fingerprint: str) -> ChunkSaved:
    """:func:`compute_and_save` on a Dask worker, into the store ``folder`` (an absolute path) of
    the experiment ``fingerprint``, once the worker has checked that it sees that store there
    (:func:`check_store_seen`): a worker that does not share the sweep's file system would
    otherwise write its parts into a folder of the same name on its own disk."""
    check_store_seen(Path(folder), fingerprint)
    return compute_and_save(task, Path(folder))


def check_store_seen(folder: Path, fingerprint: str) -> None:
    """Raise :class:`~improvesim.experiments.store.StoreNotShared` unless ``folder`` holds the
    experiment.json of the experiment ``fingerprint``, as this process (a Dask worker) sees it."""
    try:
        seen = json.loads((folder / "experiment.json").read_text()).get("fingerprint")
    except (OSError, ValueError, AttributeError):  # absent, unreadable, not a folder, not the sweep's JSON
        seen = None
    if seen != fingerprint:
        what = "no experiment.json there" if seen is None else "another experiment's store is there"
        raise StoreNotShared(
            f"a Dask worker on {socket.gethostname()} does not see the store {folder}/ ({what}): "
            "--shared-store needs it on a file system every worker sees at that path"
        )


def _save(folder: Path, result: ChunkResult, outcomes: tuple[str, ...]) -> ChunkSaved:
    """Write a computed chunk's parts into ``folder`` (:func:`save_chunk`); what was saved."""
    save_chunk(folder, result, outcomes)
    _pause_if_testing()
    return ChunkSaved(result.index, len(result.outcomes))


def _pause_if_testing() -> None:
    pause = float(os.environ.get(SLOW_CHUNKS_ENV, "0"))
    if pause:
        time.sleep(pause)


def run_serial(tasks: Iterable[ChunkTask], folder: Path) -> Iterator[ChunkSaved]:
    for task in tasks:
        yield compute_and_save(task, folder)


class WorkersDied(RuntimeError):
    """Worker processes kept dying (for example killed for lack of memory)."""


class _PoolBroken(Exception):
    def __init__(self, lost: list[ChunkTask]):
        self.lost = lost


def run_pool(tasks: Iterable[ChunkTask], workers: int, folder: Path) -> Iterator[ChunkSaved]:
    """A local process pool of workers (see :func:`start_method`), which stay up for the whole sweep
    and save the chunks they compute into ``folder`` (:func:`compute_and_save`).

    If a worker dies (killed for memory, say), the pool is restarted and the
    chunks it lost are computed again; after :data:`MAX_POOL_RESTARTS`
    restarts without a finished chunk in between, :class:`WorkersDied` is
    raised.  Workers ignore Ctrl-C (the parent handles it) and die with the
    parent, however it ends.
    """
    queue = iter(tasks)
    again: collections.deque[ChunkTask] = collections.deque()  # chunks to compute again, first

    def source() -> Iterator[ChunkTask]:
        # next() by hand, not ``yield from``: closing an abandoned source must not close ``queue``
        while True:
            task = again.popleft() if again else next(queue, None)
            if task is None:
                return
            yield task

    failures = 0
    while True:
        pool = _new_pool(workers)
        try:
            submit = functools.partial(pool.submit, compute_and_save, folder=folder)
            for result in _bounded(source(), submit, workers, _wait_futures):
                failures = 0
                yield result
            pool.shutdown(wait=True)
            return
        except _PoolBroken as broken:
            lost, failures = broken.lost, failures + 1
            again.extendleft(reversed(lost))
            if failures > MAX_POOL_RESTARTS:
                raise WorkersDied(
                    f"worker processes died {failures} times in a row (out of memory?); try fewer --workers"
                ) from None
            print(
                f"a worker process died; restarting the pool and computing {len(lost)} chunk(s) again",
                file=sys.stderr,
            )
        finally:
            _stop_pool(pool)


def start_method() -> str:
    """How pool workers start: ``"fork"`` on Linux when this process runs no Python thread
    but its main one (and, in a pool worker, the watchdog that ends it with its parent, which
    holds no lock: it sleeps and reads its parent's pid), else ``"spawn"``.

    A forked worker starts at once with this process's imports and loaded
    kernels; a spawned one starts a new interpreter, imports the model and
    loads its kernels again (about 1.3 s of CPU each on the project's
    2-core machine, most of a small sweep's fixed cost).  Forking a process
    that runs other Python threads can leave a lock held in the child
    (Python 3.12 warns), and macOS forbids it for system libraries, so
    workers are spawned then.  A worker's results are the same bytes either way.
    """
    others = [t for t in threading.enumerate() if t is not threading.main_thread() and t.name != WATCHDOG]
    if sys.platform.startswith("linux") and not others:
        return "fork"
    return "spawn"


def local_cluster(workers: int):
    """A Dask ``LocalCluster`` of ``workers`` one-thread worker processes for a command that handles Ctrl-C itself.

    The workers are started while Ctrl-C is ignored, so they keep ignoring it (the command
    stops them), and log at ERROR level only: no warnings or tracebacks about the tasks
    cancelled when the command stops.  No dashboard.
    """
    from dask.distributed import LocalCluster

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    finally:
        signal.signal(signal.SIGINT, previous)


def _new_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool of ``workers`` workers; forked ones (:func:`start_method`) are started at once."""
    method = start_method()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=worker_init,
        initargs=(os.getpid(),),
    )
    if method == "fork":
        with forks_quietly():
            pool.submit(int).result()  # a pool of forked workers starts them all at its first task
    return pool


@contextlib.contextmanager
def forks_quietly() -> Iterator[None]:
    """Within the block, no warning that this process forks while it has other threads: call it
    only where :func:`start_method` is ``"fork"``.

    Python 3.12 warns at a fork from any process with more than one native thread.  This one
    then runs no Python thread but its main one; the others belong to libraries (NumPy's
    OpenBLAS and pyarrow's jemalloc, which prepare for a fork with pthread_atfork, and an idle
    one of Numba's compiler; a forked child compiles too).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)
        yield


def compile_kernels(processes: int) -> int:
    """The model's kernels compiled into the kernel cache on a pool of ``processes`` workers, at
    its first use on a machine (:mod:`improvesim.sim.precompile`); how many were compiled.
    Nothing is done with fewer than two processes: the kernels then compile when first called,
    as do a share's when its worker dies (killed for memory, say)."""
    parts = shares(load_signatures(), processes)
    if len(parts) < 2:
        return 0
    pool = _new_pool(len(parts))
    try:
        futures = [pool.submit(compile_share, part) for part in parts]
        return sum(future.result() for future in futures if not _lost(future))
    finally:
        _stop_pool(pool)


def run_calls(calls: list[tuple[Callable, tuple]], processes: int) -> list:
    """``function(*arguments)`` of each of ``calls``, in order, on a pool of up to ``processes``
    worker processes (:func:`_new_pool`: forked when :func:`start_method` allows, so they start at
    once), each call on the first idle worker in the order given (put the longest first); in this
    process when ``processes`` or the calls are fewer than two.  An exception of a call is raised
    here; Ctrl-C ends the workers at once."""
    if processes < 2 or len(calls) < 2:
        return [function(*arguments) for function, arguments in calls]
    pool = _new_pool(min(processes, len(calls)))
    try:
        futures = [pool.submit(function, *arguments) for function, arguments in calls]
        results = [future.result() for future in futures]
        pool.shutdown(wait=True)  # its threads joined: the next pool's workers may be forked
        return results
    finally:
        _stop_pool(pool)


def _lost(future) -> bool:
    """Whether a pool's task ended with its worker process dying (waits for the task)."""
    return isinstance(future.exception(), BrokenProcessPool)


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what is queued and end the workers now (a no-op after a clean shutdown).

    The pool's feeder thread may be part-way through writing a queued chunk (larger than the pipe)
    into the call queue's pipe, which no worker reads once they are ended: the pool's manager thread
    then closes the pipe, which ends the write, unless another process holds it too (one forked
    meanwhile, as a restarted pool's workers are), and then waited for the feeder forever, and so
    did this process's exit.  The feeder is told not to be waited for (``cancel_join_thread``;
    its thread ends with the process): what it was writing is cancelled anyway.

    A Ctrl-C that comes meanwhile waits for the workers' end (:func:`interrupts_deferred`): the
    pool is stopped here, not only from the sweep's ``_engine``, when the first Ctrl-C lands in
    it, and a second one cut the stop short, leaving workers that went on saving chunks.

    The pool's manager thread is waited for (at most 5 s) once the workers are ended: left to
    end on its own, it still ran when the next pool started (a restarted pool, a sweep resumed in
    the same process, a library caller's next call), which :func:`start_method` then spawned.
    """
    with interrupts_deferred():
        processes = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)  # (None once shut down)
        call_queue = getattr(pool, "_call_queue", None)
        if call_queue is not None:
            call_queue.cancel_join_thread()
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=5)
        if manager is not None and manager.is_alive():
            manager.join(timeout=5)


def run_dask(
    tasks: Iterable[ChunkTask],
    client,
    folder: Path,
    outcomes: tuple[str, ...],
    *,
    shared: bool = False,
    fingerprint: str = "",
    joined_on_close: bool = False,
) -> Iterator[ChunkSaved]:
    """A Dask distributed cluster (a LocalCluster or a scheduler's address) computes the chunks.

    With ``shared`` (the store ``folder`` is on a file system every worker sees at the same path),
    each worker writes the parts of the chunks it computes (:func:`compute_and_save_in_shared_store`:
    it checks first that it sees the store of the experiment ``fingerprint``) and sends back only
    their number and run count.  Otherwise the results come back here and are saved into ``folder``:
    a cluster's workers need not see the store's file system (docs/scale.md).

    When the sweep stops (Ctrl-C, a part that cannot be written), the chunks in flight are
    cancelled, unless workers write parts that the sweep does not end: a Dask worker cannot stop a
    task that runs, and a cancelled one still writes its parts when it ends.  So with ``shared``,
    unless the cluster's close ends and joins its workers (``joined_on_close``: a LocalCluster's),
    nothing is cancelled and the sweep waits for the end of every chunk in flight
    (:func:`_await_dask`): no part is written after its manifest.
    """
    from dask.distributed import KilledWorker

    workers = max(1, len(client.scheduler_info().get("workers", {})))
    try:
        if not shared:
            submit = functools.partial(client.submit, run_chunk, pure=False)
            for result in _bounded(tasks, submit, workers, _wait_dask, stop=client.cancel):
                yield _save(folder, result, outcomes)
            return
        submit = functools.partial(
            client.submit,
            compute_and_save_in_shared_store,
            folder=os.path.abspath(folder),  # the same path on every machine, wherever each worker runs
            fingerprint=fingerprint,
            pure=False,
        )
        stop = client.cancel if joined_on_close else _await_dask
        yield from _bounded(tasks, submit, workers, _wait_dask, stop=stop)
    except KilledWorker as exc:  # the scheduler's retries of a chunk all ended with their worker's death
        raise WorkersDied(f"Dask workers kept dying while computing a chunk (out of memory?): {exc}") from None


def _await_dask(futures: list) -> None:
    """Wait until every one of ``futures`` (a Dask cluster's chunks in flight) has ended, with or
    without an error, so that none writes a part after the sweep's manifest; say so on stderr
    after :data:`DASK_STOP_NOTE_AFTER` seconds, and give up (saying so) after :data:`DASK_STOP_LIMIT`.
    A second Ctrl-C does not cut the wait short.

    Nothing is cancelled: a chunk not yet started would be dropped, but one that started goes on
    (Dask cannot stop a running task) and only its future says when it ends.  At most
    ``IN_FLIGHT_PER_WORKER`` chunks per worker are in flight, so the wait is a few chunks' time;
    what they save is kept.
    """
    from dask.distributed import wait as dask_wait
    from distributed.client import FuturesCancelledError

    with interrupts_deferred():
        for timeout in (DASK_STOP_NOTE_AFTER, DASK_STOP_LIMIT):
            try:
                dask_wait(futures, timeout=timeout)
                return
            except TimeoutError:
                running = sum(not f.done() for f in futures)
            except FuturesCancelledError:  # the scheduler is gone (or another client cancelled them)
                print(
                    "the connection to the Dask scheduler was lost while the sweep waited for its chunks in flight; "
                    "their parts may be saved after the manifest: run the sweep again with --resume once the "
                    "workers have ended",
                    file=sys.stderr,
                )
                return
            if timeout == DASK_STOP_NOTE_AFTER:
                print(
                    f"waiting for the {running} chunk(s) the Dask workers are computing: a running task cannot be "
                    "stopped, and its parts must be saved before the manifest",
                    file=sys.stderr,
                )
        print(
            f"the Dask workers still compute {running} chunk(s) after {DASK_STOP_LIMIT:.0f} s; their parts may "
            "be saved after the manifest: run the sweep again with --resume once they end",
            file=sys.stderr,
        )


def _wait_futures(pending):
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    return done, rest


def _wait_dask(pending):
    from dask.distributed import wait as dask_wait

    result = dask_wait(list(pending), return_when="FIRST_COMPLETED")
    return set(result.done), set(result.not_done)


def _bounded(
    tasks: Iterable[ChunkTask], submit: Callable, workers: int, wait_some, stop: Callable | None = None
) -> Iterator:
    """Results of ``submit(task)`` (a future) for each of ``tasks``, with at most
    ``workers * IN_FLIGHT_PER_WORKER`` in flight; ``stop(futures)`` is called with the futures
    still in flight when it ends early (by default each is cancelled).

    Raises :class:`_PoolBroken` with every task in flight when the process
    pool breaks (the results finished before are yielded first).
    """
    limit = workers * IN_FLIGHT_PER_WORKER
    pending: dict = {}
    try:
        for task in tasks:
            try:
                pending[submit(task)] = task
            except BrokenProcessPool:
                raise _PoolBroken([task, *pending.values()]) from None
            while len(pending) >= limit:
                yield from _collect(pending, wait_some)
        while pending:
            yield from _collect(pending, wait_some)
    finally:
        if pending and stop is not None:
            stop(list(pending))
        else:
            for f in pending:
                f.cancel()


def _collect(pending: dict, wait_some) -> Iterator:
    done, _ = wait_some(set(pending))
    lost = []
    for future in done:
        task = pending.pop(future)
        try:
            result = future.result()
        except BrokenProcessPool:
            lost.append(task)
            continue
        yield result
    if lost:
        lost += pending.values()
        pending.clear()
        raise _PoolBroken(sorted(lost, key=lambda t: t.index))


class SweepInterrupted(KeyboardInterrupt):
    """The sweep was interrupted (Ctrl-C, SIGTERM), its workers kept dying or a part could not be
    written (:class:`~improvesim.experiments.store.PartNotWritten`); finished chunks are saved.

    ``store`` is the store asked for; ``folder`` where the chunks were saved
    (the store, or its ``.NAME.next`` staging folder for a ``--force``
    sweep, in which case the old results in ``store`` are untouched);
    ``saved`` and ``runs`` count runs; ``cause`` is the original exception.
    """

    def __init__(self, store: Path, folder: Path, saved: int, runs: int, cause: BaseException):
        super().__init__(str(cause))
        self.store, self.folder, self.saved, self.runs, self.cause = store, folder, saved, runs, cause

    @property
    def forced(self) -> bool:
        return self.folder != self.store


def run_sweep(
    exp: Experiment,
    store: str | Path,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    dask_local: int | None = None,
    scheduler: str | None = None,
    shared_store: bool = False,
    progress: bool = True,
) -> SweepSummary:
    """Run (or finish) an experiment into ``store``, holding the store's lock throughout.

    Chunks are computed by this process (``workers=1``), a local pool of ``workers`` processes, a
    local Dask cluster of ``dask_local`` workers or the Dask cluster whose scheduler is at
    ``scheduler``.  The process that computes a chunk writes its parts, except on a ``scheduler``'s
    cluster whose workers are not said to see the store (``shared_store``: the store is on a file
    system every worker sees at the same path, as on an HPC cluster's shared scratch); their results
    come back here and are written by this process.  A local cluster's workers always write their
    parts (they run on this machine), so ``shared_store`` changes only a ``scheduler``'s sweep.

    Raises :class:`~improvesim.experiments.store.StoreError` (the store
    cannot be used as asked, or stopped taking files: its disk full, say),
    :class:`~improvesim.experiments.output.FolderLockedError`
    (another process is writing into it) or :class:`SweepInterrupted`
    (interrupted, the workers kept dying, or a part could not be written;
    finished chunks are saved and the manifest written).
    """
    store = Path(store)
    design = build_design(exp)
    plan = make_plan(exp, design)
    recover(store)
    created = not store.exists()
    folder, kept = None, None
    try:
        with FolderLock(store, command=f"improvesim sweep {exp.path}") as lock:
            try:
                folder, done = prepare(store, exp, design, plan, resume=resume, force=force)
                engine = _engine(folder, exp, workers, dask_local, scheduler, shared_store)
                summary = _compute(exp, plan, folder, done, engine, progress, store)
                finish(store, folder, lock)
            except OSError as exc:
                if out_of_room(exc):  # what to keep is settled while the lock is held
                    kept = _kept_or_undone(store, folder, resume=resume, force=force)
                raise
            except KeyboardInterrupt:
                if folder is None:  # Ctrl-C while the store was made: undo it, under the lock
                    _undo_creation(store)
                raise
    except StoreError:
        if created:  # refused before writing anything: leave no empty folder behind
            with contextlib.suppress(OSError):
                store.rmdir()
        raise
    except KeyboardInterrupt:
        if folder is None:  # interrupted before computing: the folders it made, now empty, go
            _remove_emptied(store, created)
        raise
    except OSError as exc:
        reason = out_of_room(exc)
        if not reason:
            raise
        raise _stopped_taking_files(store, reason, kept, created, resume=resume, force=force) from None
    summary.store = store
    return summary


def _stopped_taking_files(
    store: Path, reason: str, kept: bool | None, created: bool, *, resume: bool, force: bool
) -> StoreError:
    """The error of a sweep whose disk filled (or went read-only) outside a chunk's parts: taking
    the lock, creating the store, writing the manifest or swapping a --force sweep into place.
    ``kept`` is what :func:`_kept_or_undone` said under the lock (None: the lock could not be
    taken or let go, so nothing is undone that another process may write); folders the sweep
    created and left empty are removed."""
    if kept is None:
        kept = _kept_or_undone(store, None, resume=resume, force=force, undo=False)
    if not kept:  # the folders it created, emptied under the lock, now without their lock file
        _remove_emptied(store, created)
    advice = (
        "the runs saved so far are kept: make room, then run the same command with --resume"
        if kept
        else "nothing was computed: make room, then run the same command again"
    )
    return StoreError(f"cannot write {store} ({reason}); {advice}")


def _kept_or_undone(store: Path, folder: Path | None, *, resume: bool, force: bool, undo: bool = True) -> bool:
    """Whether a sweep into ``store`` that stopped taking files (its disk full) keeps runs of its own
    to resume, in ``folder`` where it was writing (None before it had one); if it keeps none and
    ``undo`` (call it so only under the store's lock), the files of the store it was creating (or
    of a --force sweep's staging folder) are removed, so the output is as it was once the caller
    removes the emptied folders."""
    if folder is None and resume:
        folder = staging_folder(store) if force else store
    if folder is not None and done_chunks(folder):  # (a --force sweep's old results are not its runs)
        return True
    if undo:
        _undo_creation(store)
    return False


def _undo_creation(store: Path) -> None:
    """Remove the files of the store a sweep was creating (or of a --force sweep's staging folder):
    only a store without experiment.json yet; a file system gone read-only keeps them.  Call it
    only under the store's lock."""
    for made in (staging_folder(store), store):
        with contextlib.suppress(OSError):
            discard_unfinished_creation(made)


def _remove_emptied(store: Path, created: bool) -> None:
    """Remove the staging folder and, if the sweep ``created`` it, the store, where they are empty."""
    for made in (staging_folder(store), *([store] if created else [])):
        with contextlib.suppress(OSError):
            made.rmdir()  # only if empty


def _compute(exp, plan, folder, done, engine: _engine, progress, store) -> SweepSummary:
    todo_runs = plan.runs - plan.runs_in(done)
    tasks = tasks_for(exp, plan, done)
    bar = _progress(plan.runs, plan.runs - todo_runs, progress)
    started = time.perf_counter()
    computed = 0
    saved_elsewhere = []  # the chunks other machines saved (a shared store on a Dask cluster)
    try:
        with engine.start(tasks) as chunks:
            for chunk in chunks:
                computed += chunk.runs
                bar.update(chunk.runs)
                if engine.elsewhere:
                    saved_elsewhere.append(chunk.index)
                check_interrupted()
        check_interrupted()
        _await_parts_seen(folder, saved_elsewhere)
    except (KeyboardInterrupt, WorkersDied, PartNotWritten) as exc:
        saved, again = _close_out(bar, folder, lambda: _manifest_after_stop(folder, plan))
        cause = exc if again is None or isinstance(exc, KeyboardInterrupt) else again
        raise SweepInterrupted(store, folder, saved, plan.runs, cause) from None
    manifest, again = _close_out(bar, folder, lambda: write_manifest(folder, plan))
    if again is not None:  # outside the command line: the caller's Ctrl-C, once the manifest is written
        saved = int((manifest["status"] != "missing").sum())
        raise SweepInterrupted(store, folder, saved, plan.runs, again) from None
    counts = manifest["status"].value_counts()
    failed = manifest[manifest["status"] == "failed"]
    return SweepSummary(
        store=folder,
        runs=plan.runs,
        ok=int(counts.get("ok", 0)),
        failed=int(counts.get("failed", 0)),
        missing=int(counts.get("missing", 0)),
        seconds=time.perf_counter() - started,
        computed_runs=computed,
        errors=sorted(set(failed["error"]))[:5],
        already_done=plan.runs - todo_runs,
    )


def _close_out[T](bar, folder: Path, write: Callable[[], T]) -> tuple[T, KeyboardInterrupt | None]:
    """Close the progress bar, remove the parts a stopped worker left unfinished, and call
    ``write`` (the manifest), with Ctrl-C held back so that a second one does not cut the stop
    short (:func:`interrupts_deferred`).  Returns what ``write`` returned and the
    ``KeyboardInterrupt`` that a library caller's held-back Ctrl-C raised once it was done (None
    if none came); one raised before ``write`` finished propagates."""
    written = done = None
    try:
        with interrupts_deferred():
            bar.close()
            discard_unfinished_parts(folder)
            written, done = write(), True
    except KeyboardInterrupt as again:
        if not done:
            raise
        return written, again
    return written, None


def _manifest_after_stop(folder: Path, plan: Plan) -> int:
    """Write the manifest of a stopped sweep; how many runs are saved.  When it cannot be written
    (the disk is full), an older one is removed, so that no manifest disagrees with the parts."""
    try:
        manifest = write_manifest(folder, plan)
    except OSError:
        with contextlib.suppress(OSError):
            (folder / "manifest.parquet").unlink(missing_ok=True)
        return plan.runs_in(done_chunks(folder))
    return int((manifest["status"] != "missing").sum())


class _engine:
    """The chosen engine: ``start(tasks)`` is a context manager yielding an iterator of the chunks
    saved into ``folder``; ``elsewhere`` says whether other machines' processes save them (a Dask
    cluster's workers on a shared store), whose parts this process may see only a while later."""

    def __init__(self, folder, exp, workers, dask_local, scheduler, shared_store):
        self.folder, self.outcomes, self.fingerprint = folder, exp.outcomes, exp.fingerprint()
        self.workers, self.dask_local, self.scheduler = workers, dask_local, scheduler
        self.shared = bool(dask_local or shared_store)  # a LocalCluster's workers run on this machine
        self.elsewhere = bool(scheduler and shared_store)
        self.tasks = None
        self.client = self.cluster = None
        self.results = None

    def start(self, tasks) -> _engine:
        self.tasks = tasks
        return self

    def __enter__(self) -> Iterator[ChunkSaved]:
        self.results = self._start()
        return self.results

    def _start(self) -> Iterator[ChunkSaved]:
        if self.dask_local or self.scheduler:
            from dask.distributed import Client

            if self.scheduler:
                self.client = Client(self.scheduler)
            else:
                self.cluster = local_cluster(self.dask_local)
                self.client = Client(self.cluster)
            return run_dask(
                self.tasks,
                self.client,
                self.folder,
                self.outcomes,
                shared=self.shared,
                fingerprint=self.fingerprint,
                joined_on_close=self.cluster is not None,  # its close ends and joins the worker processes
            )
        if self.workers > 1:
            return run_pool(self.tasks, self.workers, self.folder)
        return run_serial(self.tasks, self.folder)

    def __exit__(self, *exc) -> None:
        with interrupts_deferred():  # the workers are ended even if Ctrl-C comes again meanwhile
            if self.results is not None:
                self.results.close()  # a pool generator stops its workers; a Dask one waits for its chunks in flight
            if self.client is not None:
                self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _await_parts_seen(folder: Path, chunks: list[int]) -> None:
    """Wait until this process sees the outcomes part of every one of ``chunks``, which a Dask
    cluster's workers said they saved into ``folder`` (a network file system may list a folder
    from its cache for a while), for up to :data:`SEEN_GRACE` seconds; then raise
    :class:`~improvesim.experiments.store.StoreNotShared`: the workers wrote into another folder
    of the same path (a copy of the store on their own disks), not this one."""
    if not chunks:
        return
    deadline = time.monotonic() + SEEN_GRACE
    while True:
        unseen = sorted(set(chunks) - done_chunks(folder))
        if not unseen or time.monotonic() >= deadline:
            break
        time.sleep(min(1.0, SEEN_GRACE / 10))
    if unseen:
        raise StoreNotShared(
            f"{len(unseen)} chunk(s) the Dask workers saved (chunk {unseen[0]}, ...) are not in {folder / PARTS}/ as this "
            f"process sees it after {SEEN_GRACE:g} s: the workers wrote into another folder of that path; "
            "--shared-store needs the store on a file system every worker shares with this process"
        )


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    class Bar(tqdm):
        monitor_interval = 0  # no monitor thread: pool workers can then be forked (start_method)

    return Bar(total=total, initial=initial, unit="run", file=sys.stderr, smoothing=0.1, dynamic_ncols=True)
