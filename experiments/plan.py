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

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from improvesim.experiments.design import Design
from improvesim.experiments.spec import Experiment
from improvesim.sim.rng import derive_seeds


@dataclass(frozen=True)
class Plan:
    """All runs of an experiment: run ``run_id = set * replicates + replicate`` has the factor values
    of row ``set`` of ``values`` (the design's, one row per parameter set) and seed
    ``seeds[set, replicate]`` (``seeds``: (sets, replicates) uint64); ``chunk`` runs per chunk.

    The table of every run (run_id, set, replicate, seed, then the factors) is never held whole as
    a data frame: :meth:`rows` gives a range of it, :meth:`arrow` all of it as an Arrow table (for
    plan.parquet and the manifest), built column by column (a million runs of 199 factors took 4-5 s
    and 1.6 GB as a data frame, then seconds more to convert).
    """

    values: pd.DataFrame
    seeds: np.ndarray
    chunk: int

    @property
    def replicates(self) -> int:
        return self.seeds.shape[1]

    @property
    def runs(self) -> int:
        return self.seeds.size

    @property
    def chunks(self) -> int:
        return -(-self.runs // self.chunk)

    @property
    def factors(self) -> list[str]:
        return list(self.values.columns)

    def chunk_bounds(self, index: int) -> tuple[int, int]:
        """The run ids of chunk ``index``: ``range(*chunk_bounds(index))``."""
        return index * self.chunk, min((index + 1) * self.chunk, self.runs)

    def runs_in(self, chunks) -> int:
        """How many runs the chunks numbered in ``chunks`` hold."""
        return sum(stop - start for start, stop in map(self.chunk_bounds, chunks))

    def chunk_rows(self, index: int) -> pd.DataFrame:
        return self.rows(*self.chunk_bounds(index))

    def rows(self, start: int, stop: int) -> pd.DataFrame:
        """Runs ``start`` to ``stop - 1`` (run ids), one row each: run_id, set, replicate, seed, factors."""
        run_id = np.arange(start, stop, dtype=np.int64)
        sets, replicate = np.divmod(run_id, self.replicates)
        table = pd.DataFrame(
            {
                "run_id": run_id,
                "set": sets,
                "replicate": replicate.astype(np.int32),
                "seed": self.seeds.reshape(-1)[start:stop],
            },
            index=pd.RangeIndex(start, stop),
        )
        factors = self.values.iloc[sets].set_axis(table.index)
        return pd.concat([table, factors], axis=1)

    def arrow(self) -> pa.Table:
        """Every run as an Arrow table, the same as ``pa.Table.from_pandas(self.rows(0, self.runs),
        preserve_index=False)`` (same schema, pandas metadata included), without the data frame.
        Built once (seconds for a million runs) and kept: plan.parquet and the manifest share it."""
        return self._arrow

    @functools.cached_property
    def _arrow(self) -> pa.Table:
        schema = pa.Schema.from_pandas(self.rows(0, min(self.runs, 1)), preserve_index=False)
        sets = np.arange(len(self.values), dtype=np.int64)
        reps = self.replicates
        columns = [
            np.arange(self.runs, dtype=np.int64),
            np.repeat(sets, reps),
            np.tile(np.arange(reps, dtype=np.int32), len(sets)),
            self.seeds.reshape(-1),
        ]
        columns += [np.repeat(self.values[name].to_numpy(), reps) for name in self.factors]
        arrays = [pa.array(column, type=field.type) for column, field in zip(columns, schema, strict=True)]
        return pa.Table.from_arrays(arrays, schema=schema)


def run_seeds(exp: Experiment, sets: int) -> np.ndarray:
    """(sets, replicates) seeds."""
    if exp.common_random_numbers:
        per_replicate = np.array(derive_seeds(exp.seed, exp.replicates), dtype=np.uint64)
        return np.tile(per_replicate, (sets, 1))
    flat = derive_seeds(exp.seed, sets * exp.replicates, salt="run")
    return np.array(flat, dtype=np.uint64).reshape(sets, exp.replicates)


def make_plan(exp: Experiment, design: Design) -> Plan:
    """The runs of ``exp`` over the parameter sets of ``design``."""
    return Plan(values=design.values.reset_index(drop=True), seeds=run_seeds(exp, design.sets), chunk=exp.chunk)
