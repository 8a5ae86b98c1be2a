"""Running an experiment: chunks of runs on a local process pool or Dask.

The plan (every run and its seed) is fixed up front; chunks are computed in
any order on any engine and saved as they finish, and at most a few chunks
per worker are in flight, so memory stays flat however many runs there
are.  Because each run's seed and each chunk's membership are fixed,
results are identical for any number of workers, local or Dask, resumed or
not.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from improvesim.experiments.design import build_design
from improvesim.experiments.plan import Plan, make_plan
from improvesim.experiments.runner import ChunkResult, ChunkTask, run_chunk
from improvesim.experiments.spec import Experiment
from improvesim.experiments.store import prepare, save_chunk, write_manifest

#: Chunks in flight per worker.
IN_FLIGHT_PER_WORKER = 2
#: Seconds to pause after saving each chunk; only the interruption tests set it,
#: so that a kill reliably lands part-way through a sweep.
SLOW_CHUNKS_ENV = "IMPROVESIM_TEST_SLOW_CHUNKS"


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

    @property
    def runs_per_second(self) -> float:
        return self.computed_runs / self.seconds if self.seconds > 0 else float("nan")


def tasks_for(exp: Experiment, plan: Plan, skip: set[int]) -> Iterator[ChunkTask]:
    factors = [c for c in plan.table.columns if c not in ("run_id", "set", "replicate", "seed")]
    for index in range(plan.chunks):
        if index in skip:
            continue
        rows = plan.chunk_rows(index)
        overrides = rows[factors].to_dict("records")
        runs = [
            (int(run_id), int(seed), {k: _native(v) for k, v in o.items()})
            for run_id, seed, o in zip(rows["run_id"], rows["seed"], overrides, strict=True)
        ]
        yield ChunkTask(index, exp.base, runs, exp.outcomes, exp.record_schools)


def _native(v):
    return v.item() if hasattr(v, "item") else v


def run_serial(tasks: Iterable[ChunkTask]) -> Iterator[ChunkResult]:
    for task in tasks:
        yield run_chunk(task)


def run_pool(tasks: Iterable[ChunkTask], workers: int) -> Iterator[ChunkResult]:
    """A local process pool (spawned workers, which stay up for the whole sweep)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        yield from _bounded(tasks, pool.submit, workers, _wait_futures)


def run_dask(tasks: Iterable[ChunkTask], client) -> Iterator[ChunkResult]:
    """A Dask distributed cluster: a LocalCluster or a scheduler's address."""
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    yield from _bounded(tasks, lambda fn, task: client.submit(fn, task, pure=False), workers, _wait_dask)


def _wait_futures(pending):
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    return done, rest


def _wait_dask(pending):
    from dask.distributed import wait as dask_wait

    result = dask_wait(list(pending), return_when="FIRST_COMPLETED")
    return set(result.done), set(result.not_done)


def _bounded(tasks: Iterable[ChunkTask], submit: Callable, workers: int, wait_some) -> Iterator[ChunkResult]:
    limit = workers * IN_FLIGHT_PER_WORKER
    pending: set = set()
    queue = iter(tasks)
    try:
        for task in queue:
            pending.add(submit(run_chunk, task))
            if len(pending) >= limit:
                done, pending = wait_some(pending)
                yield from (f.result() for f in done)
        while pending:
            done, pending = wait_some(pending)
            yield from (f.result() for f in done)
    finally:
        for f in pending:
            f.cancel()


def run_sweep(
    exp: Experiment,
    store: str | Path,
    *,
    workers: int = 1,
    resume: bool = False,
    force: bool = False,
    dask_local: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Run (or finish) an experiment into ``store``."""
    store = Path(store)
    design = build_design(exp)
    plan = make_plan(exp, design)
    done = prepare(store, exp, design, plan, resume=resume, force=force)
    todo_runs = plan.runs - sum(len(plan.chunk_rows(i)) for i in done)
    tasks = tasks_for(exp, plan, done)
    bar = _progress(plan.runs, plan.runs - todo_runs, progress)
    started = time.perf_counter()
    computed = 0
    pause = float(os.environ.get(SLOW_CHUNKS_ENV, "0"))
    try:
        with _engine(tasks, workers, dask_local, scheduler) as results:
            for result in results:
                save_chunk(store, result)
                computed += len(result.outcomes)
                bar.update(len(result.outcomes))
                if pause:
                    time.sleep(pause)
    finally:
        bar.close()
        manifest = write_manifest(store)
    counts = manifest["status"].value_counts()
    failed = manifest[manifest["status"] == "failed"]
    return SweepSummary(
        store=store,
        runs=plan.runs,
        ok=int(counts.get("ok", 0)),
        failed=int(counts.get("failed", 0)),
        missing=int(counts.get("missing", 0)),
        seconds=time.perf_counter() - started,
        computed_runs=computed,
        errors=sorted(set(failed["error"]))[:5],
    )


class _engine:
    """Context manager yielding an iterator of chunk results from the chosen engine."""

    def __init__(self, tasks, workers, dask_local, scheduler):
        self.tasks, self.workers, self.dask_local, self.scheduler = tasks, workers, dask_local, scheduler
        self.client = self.cluster = None

    def __enter__(self) -> Iterator[ChunkResult]:
        if self.dask_local or self.scheduler:
            from dask.distributed import Client, LocalCluster

            if self.scheduler:
                self.client = Client(self.scheduler)
            else:
                self.cluster = LocalCluster(
                    n_workers=self.dask_local, threads_per_worker=1, processes=True, dashboard_address=None
                )
                self.client = Client(self.cluster)
            return run_dask(self.tasks, self.client)
        if self.workers > 1:
            return run_pool(self.tasks, self.workers)
        return run_serial(self.tasks)

    def __exit__(self, *exc) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", file=sys.stderr, smoothing=0.1, dynamic_ncols=True)
