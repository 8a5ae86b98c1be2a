"""The sweep store: a folder of Parquet files that survives interruption.

Layout::

    STORE/
      experiment.toml        a copy of the experiment file
      experiment.json        the resolved experiment: fingerprint, design, factors, counts, and the
                             base parameters every run starts from ("base"; replays use them)
      plan.parquet           every run: run_id, set, replicate, seed, factor values
      design.parquet         sampled designs: the raw sample matrix (one row per set)
      parts/outcomes-00000.parquet   end-of-run outcomes, status and error, per chunk
      parts/yearly-00000.parquet     district metrics at each year's end, per chunk
      parts/schools-00000.parquet    monthly per-school records (only when asked for)
      manifest.parquet       the plan with each run's status and error (written at the end)
      .improvesim            marks the folder as improvesim results (``--force`` replaces only such folders)
      .lock                  while a sweep writes: its pid, host and start time (a second writer is refused)

Every file is written to a temporary name and renamed into place, so a
file is either complete or absent (a part's temporary file, left by a
worker stopped while writing it, is removed when the sweep stops or resumes).  A chunk is done when its outcomes part
exists (it is written last); ``--resume`` computes only the missing chunks.
Part files hold a fixed set of runs, so a resumed sweep, or one computed
with any number of workers, writes the same bytes; every part of one kind
has one schema (:func:`~improvesim.experiments.runner.part_dtypes`).

``--force`` never deletes the old results first: the new sweep is computed
in ``.NAME.next`` beside the store and swapped into place when complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from improvesim.experiments.design import Design
from improvesim.experiments.output import (
    LOCK,
    MARKER,
    FolderLock,
    holds_results,
    mark_results,
    new_staging,
    swap_into_place,
    write_atomic,
)
from improvesim.experiments.plan import Plan
from improvesim.experiments.runner import ChunkResult, part_dtypes
from improvesim.experiments.spec import Experiment

PARTS = "parts"
KINDS = ("outcomes", "yearly", "schools")
#: The staging folder of a ``--force`` sweep, beside the store: ``.NAME.next``.
NEXT = "next"


class StoreError(Exception):
    """The store cannot be used as asked (exit status 2)."""


class PartNotWritten(StoreError):
    """A chunk's parts could not be written mid-sweep (the disk is full, the parts folder was made
    read-only): the message names the folder, the chunk and the reason."""


class StoreNotShared(PartNotWritten):
    """A Dask cluster's workers, told that the store is on a file system they share
    (``--shared-store``), do not see it at its path: the message names the folder (and the worker's
    host, when a worker found out)."""


def part_path(store: Path, kind: str, index: int) -> Path:
    return store / PARTS / f"{kind}-{index:05d}.parquet"


def _parquet(frame: pd.DataFrame, dtypes: dict | None = None):
    """A writer of ``frame``; with ``dtypes`` (see :func:`part_dtypes`) the file has exactly that schema."""
    if dtypes is None:
        return lambda p: frame.to_parquet(p, index=False)
    schema = pa.schema([(name, _arrow_type(t)) for name, t in dtypes.items()])
    table = pa.Table.from_pandas(frame[list(dtypes)], schema=schema, preserve_index=False)
    return lambda p: pq.write_table(table, p)


def _arrow_type(t) -> pa.DataType:
    return pa.string() if t is str else pa.from_numpy_dtype(np.dtype(t))


def _meta(exp: Experiment, design: Design, plan: Plan) -> dict:
    return {
        "experiment": exp.name,
        "fingerprint": exp.fingerprint(),
        "posterior": exp.posterior.source if exp.posterior is not None else None,
        "design": exp.design,
        "factors": [f.__dict__ for f in exp.factors],
        "sets": design.sets,
        "replicates": exp.replicates,
        "runs": plan.runs,
        "chunk": plan.chunk,
        "chunks": plan.chunks,
        "seed": exp.seed,
        "samples": exp.samples,
        "second_order": exp.second_order,
        "levels": exp.levels,
        "groups": exp.groups,
        "horizon_months": exp.base.months,
        "outcomes": list(exp.outcomes),
        "common_random_numbers": exp.common_random_numbers,
        "problem": design.problem,
        # the resolved base (scenario and [set]), so a run can be replayed exactly after the files change
        "base": exp.base.as_nested(),
        "base_name": exp.base.name,
    }


def holds_files(folder: Path) -> bool:
    """Whether ``folder`` holds anything besides its lock file."""
    return folder.is_dir() and any(p.name != LOCK for p in folder.iterdir())


def staging_folder(store: Path) -> Path:
    """Where a ``--force`` sweep of ``store`` computes until it is complete."""
    return store.parent / f".{store.name}.{NEXT}"


def prepare(
    store: Path, exp: Experiment, design: Design, plan: Plan, *, resume: bool, force: bool
) -> tuple[Path, set[int]]:
    """Create or reopen the store; return the folder to write into and the chunks already done.

    The caller holds the store's lock.  Without ``force`` the folder is the
    store itself (new, empty, or reopened with ``resume``).  With ``force``
    and a store that holds results, the new sweep is computed in
    :func:`staging_folder` and swapped in by :func:`finish` only when it is
    complete, so the old results survive an interruption;
    ``force`` with ``resume`` goes on with that staging folder.

    Raises :class:`StoreError` when the store holds results and neither
    ``resume`` nor ``force`` is given, when ``resume`` finds no matching
    sweep, or when the folder holds files that are not improvesim results.
    """
    meta = _meta(exp, design, plan)
    unfinished = discard_unfinished_creation(store)
    if not holds_files(store):
        if resume and not force and not unfinished:
            raise StoreError(f"{store} holds no sweep to resume")
        return _create(store, exp, design, plan, meta), set()
    if not holds_results(store):
        raise StoreError(
            f"{store} holds files that are not improvesim results; a sweep never replaces them, "
            "even with --force: choose another --out"
        )
    if not force:
        if resume:
            return store, _reopen(store, meta)
        raise StoreError(f"{store} already holds results; use --resume to finish them or --force to replace them")
    staging = staging_folder(store)
    if resume and (staging / "experiment.json").exists():
        return staging, _reopen(staging, meta)
    shutil.rmtree(staging, ignore_errors=True)
    return _create(new_staging(store, NEXT), exp, design, plan, meta), set()


#: What :func:`_create` writes before experiment.json (which it writes last).
_WRITTEN_FIRST = (MARKER, "experiment.toml", "plan.parquet", "design.parquet")


def discard_unfinished_creation(store: Path) -> bool:
    """Remove what a sweep killed while creating ``store`` left (no experiment.json yet); True if it did."""
    if not store.is_dir() or (store / "experiment.json").exists():
        return False
    entries = [p for p in store.iterdir() if p.name != LOCK]
    if not entries or not all(p.is_file() and (p.name in _WRITTEN_FIRST or p.name.endswith(".tmp")) for p in entries):
        return False
    for p in entries:
        p.unlink(missing_ok=True)
    return True


def _create(folder: Path, exp: Experiment, design: Design, plan: Plan, meta: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    mark_results(folder, "sweep")
    write_atomic(folder / "experiment.toml", lambda p: shutil.copyfile(exp.path, p))
    plan_table = plan.arrow()
    write_atomic(folder / "plan.parquet", lambda path: pq.write_table(plan_table, path))
    if design.X is not None:
        x = pd.DataFrame(design.X, columns=[f.name for f in exp.factors])
        write_atomic(folder / "design.parquet", _parquet(x))
    # experiment.json is written last: its presence marks a usable store
    write_atomic(folder / "experiment.json", lambda p: p.write_text(json.dumps(meta, indent=2, default=str)))
    return folder


def finish(store: Path, folder: Path, lock: FolderLock) -> None:
    """Swap a complete ``--force`` sweep computed in ``folder`` into place as ``store`` (keeping the lock)."""
    if folder == store:
        return
    lock.copy_into(folder)
    swap_into_place(folder, store)


def _reopen(store: Path, meta: dict) -> set[int]:
    try:
        old = json.loads((store / "experiment.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        raise StoreError(f"{store} is not a sweep store (no experiment.json); use --force to replace it") from None
    if old.get("fingerprint") != meta["fingerprint"]:
        raise StoreError(
            f"{store} was made by a different experiment (or scenario) than this one; "
            "resume with the same files, or use --force to start over"
        )
    discard_unfinished_parts(store)
    return done_chunks(store)


def discard_unfinished_parts(store: Path) -> int:
    """Remove the temporary files of parts whose writing was cut off (a worker stopped part-way
    through :func:`write_atomic`); how many.  Call it only while no worker writes into ``store``."""
    folder = store / PARTS
    unfinished = list(folder.glob(".*.tmp")) if folder.is_dir() else []
    for path in unfinished:
        with contextlib.suppress(OSError):  # a folder made read-only keeps them until --resume
            path.unlink(missing_ok=True)
    return len(unfinished)


def done_chunks(store: Path) -> set[int]:
    folder = store / PARTS
    if not folder.is_dir():
        return set()
    return {int(p.stem.split("-")[1]) for p in folder.glob("outcomes-*.parquet") if _complete_parquet(p)}


def _complete_parquet(path: Path) -> bool:
    """Whether ``path`` is a whole Parquet file (magic bytes at both ends); an empty or cut part is not,
    and its chunk is computed again on ``--resume``."""
    try:
        with path.open("rb") as file:
            head = file.read(4)
            file.seek(-4, os.SEEK_END)
            return head == b"PAR1" and file.read(4) == b"PAR1"
    except OSError:
        return False


def save_chunk(store: Path, result: ChunkResult, outcomes: tuple[str, ...]) -> None:
    """Write a chunk's parts, each with its kind's one schema; the outcomes part last (it marks the chunk done).

    Raises :class:`PartNotWritten` when a part cannot be written (a pool worker's exception
    travels back to the sweep: one line of text, not the worker's traceback)."""
    try:
        write_atomic(part_path(store, "yearly", result.index), _parquet(result.yearly, part_dtypes("yearly")))
        if result.schools is not None:
            write_atomic(part_path(store, "schools", result.index), _parquet(result.schools, part_dtypes("schools")))
        write_atomic(
            part_path(store, "outcomes", result.index), _parquet(result.outcomes, part_dtypes("outcomes", outcomes))
        )
    except OSError as exc:
        raise PartNotWritten(f"cannot write {store / PARTS}/ (chunk {result.index}): {_reason(exc)}") from None


def _reason(exc: OSError) -> str:
    """An OSError's reason in a few words ("No space left on device"), also for pyarrow's, whose
    text repeats its errno."""
    return os.strerror(exc.errno) if exc.errno else str(exc) or type(exc).__name__


def read_parts(store: Path, kind: str, columns: list[str] | None = None) -> pd.DataFrame:
    """All parts of one kind, in chunk order (one data frame, index 0 to rows - 1; empty if none).

    Read as Arrow tables and converted once: half the time of a data frame per part.  Every part
    of a kind has one schema; parts written otherwise (by hand, say) are unified as pandas would."""
    paths = sorted((store / PARTS).glob(f"{kind}-*.parquet"))
    if not paths:
        return pd.DataFrame()
    tables = [pq.read_table(p, columns=columns) for p in paths]
    return pa.concat_tables(tables, promote_options="permissive").to_pandas()


def write_manifest(store: Path, plan: Plan | None = None) -> pd.DataFrame:
    """Write ``manifest.parquet``: the plan (every column) with each run's status (ok, failed,
    missing) and error.  Returns the runs' statuses: run_id, status and error, in plan order.

    ``plan`` is the store's plan when the caller has it (a sweep), else plan.parquet is read.  It is
    carried through as an Arrow table, never as a data frame: a million runs of 199 parameters took
    10-20 s to convert, which an interrupted sweep made its user wait."""
    plan = plan.arrow() if plan is not None else pq.read_table(store / "plan.parquet")
    run_ids = plan.column("run_id").to_numpy()
    status = np.full(len(run_ids), "missing", dtype=object)
    error = np.full(len(run_ids), "", dtype=object)
    saved = read_parts(store, "outcomes", columns=["run_id", "status", "error"])
    if len(saved):
        rows = pd.Index(run_ids).get_indexer(saved["run_id"])
        if (rows < 0).any():
            raise StoreError(
                f"{store}: parts/outcomes-*.parquet hold runs that plan.parquet does not have; "
                "the store mixes two sweeps: write it again into a new folder"
            )
        status[rows] = saved["status"].astype(str).to_numpy()
        error[rows] = saved["error"].fillna("").astype(str).to_numpy()
    table = plan.append_column("status", pa.array(status, pa.string())).append_column(
        "error", pa.array(error, pa.string())
    )
    write_atomic(store / "manifest.parquet", lambda path: pq.write_table(table, path))
    return pd.DataFrame({"run_id": run_ids, "status": status, "error": error})
