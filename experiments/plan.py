"""The run plan: every run of an experiment, with its seed, drawn up front.

Run ``run_id = set * replicates + replicate``.  With common random numbers
(the default) replicate r of every parameter set has the same seed, derived
from the experiment seed and r, so differences between sets are not
swamped by noise; otherwise each run's seed is derived from the experiment
seed and (set, replicate).  Either way a run's seed depends only on the
experiment and the run's identity, never on workers, batches or resuming.
Runs are grouped into chunks of ``chunk`` consecutive run ids; a chunk is
the unit of work and of storage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from improvesim.experiments.design import Design
from improvesim.experiments.spec import Experiment
from improvesim.sim.rng import derive_seeds


@dataclass(frozen=True)
class Plan:
    """All runs of an experiment: ``table`` has run_id, set, replicate, seed, then the factors."""

    table: pd.DataFrame
    chunk: int

    @property
    def runs(self) -> int:
        return len(self.table)

    @property
    def chunks(self) -> int:
        return -(-self.runs // self.chunk)

    def chunk_rows(self, index: int) -> pd.DataFrame:
        return self.table.iloc[index * self.chunk : (index + 1) * self.chunk]


def run_seeds(exp: Experiment, sets: int) -> np.ndarray:
    """(sets, replicates) seeds."""
    if exp.common_random_numbers:
        per_replicate = np.array(derive_seeds(exp.seed, exp.replicates), dtype=np.uint64)
        return np.tile(per_replicate, (sets, 1))
    flat = derive_seeds(exp.seed, sets * exp.replicates, salt="run")
    return np.array(flat, dtype=np.uint64).reshape(sets, exp.replicates)


def make_plan(exp: Experiment, design: Design) -> Plan:
    sets, reps = design.sets, exp.replicates
    seeds = run_seeds(exp, sets)
    table = pd.DataFrame(
        {
            "run_id": np.arange(sets * reps, dtype=np.int64),
            "set": np.repeat(np.arange(sets, dtype=np.int64), reps),
            "replicate": np.tile(np.arange(reps, dtype=np.int32), sets),
            "seed": seeds.reshape(-1),
        }
    )
    factors = design.values.loc[table["set"]].reset_index(drop=True)
    return Plan(table=pd.concat([table, factors], axis=1), chunk=exp.chunk)
