"""Load a sweep store into pandas with one call.

    from improvesim.analysis.store import load_sweep
    sweep = load_sweep("results/turnover_coaching")
    sweep.outcomes      # one row per run: run_id, set, replicate, seed, factors, status, error, outcomes
    sweep.yearly        # one row per run and year: factors and district metrics
    sweep.schools()     # monthly per-school rows (only if the experiment kept them)

The store is plain Parquet, so DuckDB reads it directly, e.g.::

    SELECT p."turnover.teacher", avg(o.institutionalized_share)
    FROM 'results/turnover_coaching/parts/outcomes-*.parquet' o
    JOIN 'results/turnover_coaching/plan.parquet' p USING (run_id)
    GROUP BY 1 ORDER BY 1;
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from improvesim.experiments.store import read_parts


@dataclass
class Sweep:
    path: Path
    meta: dict
    plan: pd.DataFrame
    outcomes: pd.DataFrame
    yearly: pd.DataFrame

    @property
    def factors(self) -> list[str]:
        return [f["name"] for f in self.meta["factors"]] or [
            c for c in self.plan.columns if c not in ("run_id", "set", "replicate", "seed")
        ]

    def schools(self) -> pd.DataFrame:
        frame = read_parts(self.path, "schools")
        return frame.merge(self.plan, on="run_id", how="left") if len(frame) else frame


def load_sweep(path: str | Path) -> Sweep:
    """Read a sweep store: plan, outcomes (with factors) and yearly series, sorted by run."""
    path = Path(path)
    meta = json.loads((path / "experiment.json").read_text())
    plan = pd.read_parquet(path / "plan.parquet")
    outcomes = read_parts(path, "outcomes")
    if len(outcomes):
        outcomes = plan.merge(outcomes, on="run_id", how="inner").sort_values("run_id").reset_index(drop=True)
    yearly = read_parts(path, "yearly")
    if len(yearly):
        yearly = plan.merge(yearly, on="run_id", how="inner").sort_values(["run_id", "year"]).reset_index(drop=True)
    return Sweep(path=path, meta=meta, plan=plan, outcomes=outcomes, yearly=yearly)
