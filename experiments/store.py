"""The sweep store: a folder of Parquet files that survives interruption.

Layout::

    STORE/
      experiment.toml        a copy of the experiment file
      experiment.json        the resolved experiment: fingerprint, design, factors, counts
      plan.parquet           every run: run_id, set, replicate, seed, factor values
      design.parquet         sampled designs: the raw sample matrix (one row per set)
      parts/outcomes-00000.parquet   end-of-run outcomes, status and error, per chunk
      parts/yearly-00000.parquet     district metrics at each year's end, per chunk
      parts/schools-00000.parquet    monthly per-school records (only when asked for)
      manifest.parquet       the plan with each run's status and error (written at the end)

Every file is written to a temporary name and renamed into place, so a
file is either complete or absent.  A chunk is done when its outcomes part
exists (it is written last); ``--resume`` computes only the missing chunks.
Part files hold a fixed set of runs, so a resumed sweep, or one computed
with any number of workers, writes the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from improvesim.experiments.design import Design
from improvesim.experiments.plan import Plan
from improvesim.experiments.runner import ChunkResult
from improvesim.experiments.spec import Experiment

PARTS = "parts"
KINDS = ("outcomes", "yearly", "schools")


class StoreError(Exception):
    """The store cannot be used as asked (exit status 2)."""


def part_path(store: Path, kind: str, index: int) -> Path:
    return store / PARTS / f"{kind}-{index:05d}.parquet"


def write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and rename the result to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _parquet(frame: pd.DataFrame):
    return lambda p: frame.to_parquet(p, index=False)


def prepare(store: Path, exp: Experiment, design: Design, plan: Plan, *, resume: bool, force: bool) -> set[int]:
    """Create or reopen the store; return the chunks already done."""
    meta = {
        "experiment": exp.name,
        "fingerprint": exp.fingerprint(),
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
    }
    if store.exists() and any(store.iterdir()):
        if resume:
            return _reopen(store, meta)
        if not force:
            raise StoreError(f"{store} already holds results; use --resume to finish them or --force to replace them")
        _remove(store)
    elif resume:
        raise StoreError(f"{store} holds no sweep to resume")
    store.mkdir(parents=True, exist_ok=True)
    write_atomic(store / "experiment.toml", lambda p: shutil.copyfile(exp.path, p))
    write_atomic(store / "plan.parquet", _parquet(plan.table))
    if design.X is not None:
        x = pd.DataFrame(design.X, columns=[f.name for f in exp.factors])
        write_atomic(store / "design.parquet", _parquet(x))
    # experiment.json is written last: its presence marks a usable store
    write_atomic(store / "experiment.json", lambda p: p.write_text(json.dumps(meta, indent=2, default=str)))
    return set()


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
    return done_chunks(store)


def _remove(store: Path) -> None:
    aside = Path(tempfile.mkdtemp(prefix=f".{store.name}.old-", dir=store.parent))
    os.rmdir(aside)
    os.replace(store, aside)
    shutil.rmtree(aside, ignore_errors=True)


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


def save_chunk(store: Path, result: ChunkResult) -> None:
    """Write a chunk's parts; the outcomes part last (it marks the chunk done)."""
    write_atomic(part_path(store, "yearly", result.index), _parquet(result.yearly))
    if result.schools is not None:
        write_atomic(part_path(store, "schools", result.index), _parquet(result.schools))
    write_atomic(part_path(store, "outcomes", result.index), _parquet(result.outcomes))


def read_parts(store: Path, kind: str, columns: list[str] | None = None) -> pd.DataFrame:
    """All parts of one kind, in chunk order."""
    paths = sorted((store / PARTS).glob(f"{kind}-*.parquet"))
    if not paths:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(p, columns=columns) for p in paths], ignore_index=True)


def write_manifest(store: Path) -> pd.DataFrame:
    """The plan with each run's status (ok, failed, missing) and error."""
    plan = pd.read_parquet(store / "plan.parquet")
    status = read_parts(store, "outcomes", columns=["run_id", "status", "error"])
    manifest = plan.merge(status, on="run_id", how="left") if len(status) else plan.assign(status=None, error=None)
    manifest["status"] = manifest["status"].fillna("missing")
    manifest["error"] = manifest["error"].fillna("")
    write_atomic(store / "manifest.parquet", _parquet(manifest))
    return manifest
