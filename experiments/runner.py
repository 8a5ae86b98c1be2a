"""Computing one chunk of runs: pure computation, no files.

Runs of a chunk are sent to the model in vectorized batches (runs that
share schools, team size and years go together).  A run that raises —
because its parameter set is invalid, or the model fails — is recorded
with its error; the others go on: when a batch fails, its runs are retried
one by one to find the failing ones.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from improvesim.sim.end_of_run import end_of_run_outcomes, yearly_series
from improvesim.sim.engine import batch_shape, simulate
from improvesim.sim.outcomes import DISTRICT_METRICS, SCHOOL_METRICS
from improvesim.sim.params import Params
from improvesim.sim.posterior import Posterior, replicate_params

#: Runs per vectorized model call (the model is fastest around this size).
BATCH = 256


def part_dtypes(kind: str, outcomes: tuple[str, ...] = ()) -> dict[str, Any]:
    """Column name -> dtype of every part of ``kind`` ("outcomes", "yearly" or "schools").

    Every part of one kind has exactly these columns and types, whatever its
    runs did (a chunk whose runs all failed has an empty yearly part of the
    same schema), so the parts read as one dataset.
    """
    if kind == "outcomes":
        return {"run_id": np.int64, "status": str, "error": str, **dict.fromkeys(outcomes, np.float64)}
    if kind == "yearly":
        return {"run_id": np.int64, "year": np.int32, **dict.fromkeys(DISTRICT_METRICS, np.float64)}
    if kind == "schools":
        return {"run_id": np.int64, "month": np.int32, "school": np.int32, **SCHOOL_METRICS}
    raise ValueError(f"unknown part kind {kind!r}")


def typed_frame(frames: list[pd.DataFrame], dtypes: dict[str, Any], keys: list[str]) -> pd.DataFrame:
    """``frames`` concatenated, sorted by ``keys``, with exactly the columns and types of ``dtypes``."""
    if not frames:
        return pd.DataFrame({name: pd.Series([], dtype=_pandas_dtype(t)) for name, t in dtypes.items()})
    frame = pd.concat(frames, ignore_index=True).sort_values(keys, kind="stable").reset_index(drop=True)
    return frame[list(dtypes)].astype({name: _pandas_dtype(t) for name, t in dtypes.items()})


def _pandas_dtype(t):
    return object if t is str else t


@dataclass(frozen=True)
class ChunkTask:
    """Everything a worker needs to compute one chunk (picklable)."""

    index: int
    base: Params
    runs: list[tuple[int, int, dict[str, Any]]]  # (run_id, seed, overrides)
    outcomes: tuple[str, ...]
    record_schools: bool = False
    batch: int = BATCH
    posterior: Posterior | None = None  # each run draws its constants from it (by its seed), but not ``pinned``
    pinned: frozenset[str] = frozenset()


@dataclass
class ChunkResult:
    index: int
    outcomes: pd.DataFrame  # one row per run: run_id, status, error, outcomes
    yearly: pd.DataFrame  # one row per run and year
    schools: pd.DataFrame | None = None  # one row per run, month and school


def run_chunk(task: ChunkTask) -> ChunkResult:
    """Compute every run of a chunk; never raises for a failing run."""
    rows: dict[int, dict[str, Any]] = {}
    yearly: list[pd.DataFrame] = []
    schools: list[pd.DataFrame] = []
    groups: dict[tuple, list[tuple[int, int, Params]]] = defaultdict(list)
    checked: dict[int, Params] = {}  # by the overrides dict, which a parameter set's replicates share
    for run_id, seed, overrides in task.runs:
        try:
            if id(overrides) not in checked:
                checked[id(overrides)] = task.base.with_overrides(overrides, where=f"run {run_id}")
            params = replicate_params(checked[id(overrides)], [seed], task.posterior, task.pinned)[0]
        except Exception as exc:  # an invalid parameter set fails its runs only
            rows[run_id] = _failed(run_id, exc, task.outcomes)
            continue
        groups[batch_shape(params)].append((run_id, seed, params))
    for members in groups.values():
        for start in range(0, len(members), task.batch):
            _run_batch(members[start : start + task.batch], task, rows, yearly, schools)
    table = pd.DataFrame([rows[r] for r in sorted(rows)])
    return ChunkResult(
        index=task.index,
        outcomes=typed_frame([table], part_dtypes("outcomes", task.outcomes), ["run_id"]),
        yearly=typed_frame(yearly, part_dtypes("yearly"), ["run_id", "year"]),
        schools=typed_frame(schools, part_dtypes("schools"), ["run_id", "month", "school"])
        if task.record_schools
        else None,
    )


def _run_batch(members, task: ChunkTask, rows, yearly, schools) -> None:
    ids = [m[0] for m in members]
    try:
        result = simulate(
            [m[2] for m in members],
            [m[1] for m in members],
            record_schools=task.record_schools,
            record_every_month=task.record_schools,  # (outcomes and yearly series read only the ends of years)
        )
    except Exception as exc:
        if len(members) == 1:
            rows[ids[0]] = _failed(ids[0], exc, task.outcomes)
            return
        for member in members:  # isolate the failing runs
            _run_batch([member], task, rows, yearly, schools)
        return
    outcomes = end_of_run_outcomes(result)
    for i, run_id in enumerate(ids):
        rows[run_id] = {
            "run_id": run_id,
            "status": "ok",
            "error": "",
            **{k: float(outcomes[k][i]) for k in task.outcomes},
        }
    yearly.append(_yearly_frame(ids, yearly_series(result)))
    if task.record_schools:
        schools.append(_schools_frame(ids, result.schools))


def _failed(run_id: int, exc: BaseException, outcomes) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "status": "failed",
        "error": f"{type(exc).__name__}: {exc}",
        **dict.fromkeys(outcomes, np.nan),
    }


def _yearly_frame(ids: list[int], series: np.ndarray) -> pd.DataFrame:
    R, Y, _ = series.shape
    frame = pd.DataFrame(series.reshape(R * Y, -1), columns=list(DISTRICT_METRICS))
    frame.insert(0, "run_id", np.repeat(np.asarray(ids, dtype=np.int64), Y))
    frame.insert(1, "year", np.tile(np.arange(1, Y + 1, dtype=np.int32), R))
    return frame


def _schools_frame(ids: list[int], records: dict[str, np.ndarray]) -> pd.DataFrame:
    R, T, S = records["engagement"].shape
    cols = {
        "run_id": np.repeat(np.asarray(ids, dtype=np.int64), T * S),
        "month": np.tile(np.repeat(np.arange(T, dtype=np.int32), S), R),
        "school": np.tile(np.arange(S, dtype=np.int32), R * T),
    }
    cols.update({name: records[name].reshape(-1) for name in SCHOOL_METRICS})
    return pd.DataFrame(cols)
