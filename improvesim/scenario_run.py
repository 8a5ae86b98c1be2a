"""``improvesim run``: a scenario's replicates, streamed batch by batch into a result folder.

Replicates are simulated in batches of :data:`~improvesim.sim.engine.DEFAULT_BATCH`;
each batch's rows go to ``district.parquet`` and ``schools.parquet`` as soon
as it is done and its per-school records are then dropped, so memory grows
by the district series only (about 40 kB a replicate at 40 schools over 10
years), not by the per-school records (about 0.5 MB a replicate).  Batches
do not change any value: replicate i's seed depends only on the run's seed
and i.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from improvesim.analysis.plots import survival_curves, trajectories
from improvesim.analysis.summary import district_frame, schools_frame, summarize
from improvesim.analysis.survival import survival_frame
from improvesim.analysis.validation import case_comparison
from improvesim.experiments.lifeline import check_interrupted
from improvesim.sim import rng
from improvesim.sim.bundled import is_bundled_file
from improvesim.sim.end_of_run import end_of_run_outcomes
from improvesim.sim.engine import DEFAULT_BATCH, SimulationResult, concatenate, parallel_batch, simulate_batches
from improvesim.sim.params import Params
from improvesim.sim.posterior import Posterior, pinned_constants, replicate_params, uncertainty_note


def run_title(name: str, overrides: Sequence[str]) -> str:
    """The run's name as shown in tables and figures: the scenario, and every ``--set`` it was run with."""
    return f"{name} with {', '.join(overrides)}" if overrides else name


class _ParquetStream:
    """Frames appended to one Parquet file in row groups of :attr:`ROWS` rows (the last one
    shorter); nothing written until the first frame.  The groups follow the rows, not the
    batches the frames came in, so the file's bytes do not depend on the batch size or the
    number of threads (same seed, same bytes)."""

    #: Rows per row group.
    ROWS = 2**16

    def __init__(self, path: Path):
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pa.Table] = []
        self.pending_rows = 0

    def append(self, frame) -> None:
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.pending.append(table)
        self.pending_rows += table.num_rows
        while self.pending_rows >= self.ROWS:
            self._write(self.ROWS)

    def _write(self, rows: int) -> None:
        """Write the first ``rows`` pending rows as one row group; keep the rest."""
        table = pa.concat_tables(self.pending).unify_dictionaries().combine_chunks()
        self.writer.write_table(table.slice(0, rows), row_group_size=rows)
        rest = table.slice(rows)
        self.pending = [rest] if rest.num_rows else []
        self.pending_rows = rest.num_rows

    def close(self) -> None:
        if self.writer is not None:
            if self.pending_rows:
                self._write(self.pending_rows)
            self.writer.close()


def simulate_into(
    params: Params,
    replicates: int,
    seed: int,
    folder: Path,
    *,
    overrides: Sequence[str] = (),
    record_schools: bool = True,
    batch: int = DEFAULT_BATCH,
    posterior: Posterior | None = None,
    workers: int = 1,
) -> tuple[dict[str, Any], SimulationResult]:
    """Simulate ``replicates`` runs of ``params`` and write a run's files into ``folder``.

    Writes ``district.parquet``, ``schools.parquet`` (unless ``record_schools``
    is false), ``survival.parquet``, ``summary.json``, ``trajectories.png`` and
    ``survival.png``.  Per-school records are kept batch by batch whatever
    ``record_schools`` says (survival needs them), and dropped once written.
    Returns the summary (as in ``summary.json``) and the result without
    per-school records.  With ``posterior``, each replicate draws its
    constants from it, except those the scenario or ``--set`` gives a value
    other than the default (:func:`~improvesim.sim.posterior.pinned_constants`);
    ``summary.json`` says so under ``intervals``.
    With ``workers`` > 1 the batches (of at most
    ``batch`` runs, fewer when that gives every worker a batch) are computed
    that many at a time in threads (:func:`~improvesim.sim.engine.simulate_batches`);
    the files hold the same rows and values whatever ``workers`` and ``batch``.
    """
    seeds = rng.derive_seeds(seed, replicates)
    pinned = pinned_constants(posterior, params) if posterior is not None else set()
    district = _ParquetStream(folder / "district.parquet")
    schools = _ParquetStream(folder / "schools.parquet")
    survival = _ParquetStream(folder / "survival.parquet")
    parts, events = [], []
    batch = parallel_batch(replicates, workers, batch) if workers > 1 else batch
    runs = replicate_params(params, seeds, posterior, pinned)
    computed = simulate_batches(runs, seeds, batch=batch, workers=workers, record_schools=True)
    try:
        first = 0
        for part in computed:
            check_interrupted()  # a SIGTERM that landed where it could not raise (see lifeline)
            district.append(district_frame(part, first))
            if record_schools:
                schools.append(schools_frame(part, first))
            events.append(survival_frame(part, first))
            survival.append(events[-1])
            parts.append(_without_schools(part))
            first += len(part.seeds)
    finally:
        computed.close()  # at once if writing failed: no batch is started after it, its threads end
        for stream in (district, schools, survival):
            stream.close()
    result = concatenate(parts)
    title = run_title(params.title or params.name, overrides)
    summary = summarize(result, params.name, seed)
    summary["title"] = title
    summary["intervals"] = uncertainty_note(posterior, pinned)
    if posterior is not None:
        summary["posterior"] = posterior.source
    if params.description:
        summary["description"] = params.description
    if _is_the_observed_case(params, overrides):
        observed = case_comparison(params.name, end_of_run_outcomes(result))
        if observed:
            summary["observed"] = observed
    summary["parameters"] = params.as_nested()
    summary["overrides"] = list(overrides)
    (folder / "summary.json").write_text(json.dumps(_json_ready(summary), indent=2) + "\n")
    trajectories(result, title).savefig(folder / "trajectories.png")
    survival_curves(pd.concat(events, ignore_index=True), title).savefig(folder / "survival.png")
    return summary, result


def _is_the_observed_case(params: Params, overrides: Sequence[str]) -> bool:
    """Observed patterns describe a bundled scenario as shipped: not a user's file of that name, nor a changed copy."""
    return not overrides and is_bundled_file(params.source, params.name)


def _json_ready(value):
    """``value`` with every non-finite float as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _without_schools(part: SimulationResult) -> SimulationResult:
    return replace(part, schools=None)
