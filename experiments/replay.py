"""One run of a sweep store, rebuilt exactly: its parameters and seed.

A run is the store's base parameters (the experiment's scenario with its
``[set]`` constants, resolved when the sweep was drawn up and kept in
``experiment.json`` under ``"base"``) with the run's factor values from
``plan.parquet``, on the run's seed.  Nothing is read from the scenario
files as they are now, so a replay gives the run the sweep stored even
after those files changed.

Stores written before the base was kept have no ``"base"``: they are
replayed from the experiment file copied into the store and the scenario
it names, and only when those still give the fingerprint the store
recorded; otherwise the replay is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from improvesim.experiments.store import StoreError
from improvesim.sim.params import ParameterError, Params, from_mapping

#: plan.parquet columns that are not factors.
PLAN_COLUMNS = ("run_id", "set", "replicate", "seed")


@dataclass(frozen=True)
class ReplayedRun:
    """A run of a store: its full parameter set and its seed (0 to 2**64 - 1)."""

    store: Path
    run_id: int
    params: Params
    seed: int


def parse_run(spec: str) -> tuple[Path, int]:
    """``STORE:RUN_ID`` as (store folder, run id); StoreError when it is not of that form."""
    store, sep, run_id = spec.rpartition(":")
    if not sep or not store or not run_id.isdigit():
        raise StoreError(f"{spec}: expected STORE:RUN_ID (a sweep store folder, a colon and a run number)")
    return Path(store), int(run_id)


def replay_run(spec: str) -> ReplayedRun:
    """Run ``RUN_ID`` of the sweep store ``STORE``, from ``STORE:RUN_ID``.

    Raises StoreError (naming the store and what is wrong) when the spec is
    malformed, the store or run does not exist, or an old store's scenario or
    experiment changed since the sweep.
    """
    store, run_id = parse_run(spec)
    meta = _meta(store)
    factors, seed = _plan_row(store, run_id)
    base = _stored_base(store, meta) if "base" in meta else _unchanged_base(store, meta)
    try:
        params = base.with_overrides(factors, where=f"{store} run {run_id}")
    except ParameterError as exc:
        raise StoreError(f"{store}: run {run_id} cannot be rebuilt: {exc}") from None
    return ReplayedRun(store=store, run_id=run_id, params=params, seed=seed)


def _meta(store: Path) -> dict:
    try:
        meta = json.loads((store / "experiment.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"{store}: not a sweep store (no experiment.json)") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{store}: experiment.json cannot be read ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("base", {}), dict):
        raise StoreError(f"{store}: experiment.json is not a sweep store's description")
    return meta


def _plan_row(store: Path, run_id: int) -> tuple[dict, int]:
    try:
        plan = pd.read_parquet(store / "plan.parquet")
    except (OSError, ValueError) as exc:
        raise StoreError(f"{store}: plan.parquet cannot be read ({exc})") from None
    if not set(PLAN_COLUMNS) <= set(plan.columns):
        raise StoreError(f"{store}: plan.parquet lacks the columns {', '.join(PLAN_COLUMNS)}")
    rows = plan[plan["run_id"] == run_id]
    if len(rows) != 1:
        raise StoreError(f"{store}: no run {run_id}; runs are 0 to {len(plan) - 1}")
    # column by column: a row of mixed types would turn the 64-bit seed into a float
    factors = {k: rows[k].tolist()[0] for k in plan.columns if k not in PLAN_COLUMNS}
    return factors, int(rows["seed"].tolist()[0])


def _stored_base(store: Path, meta: dict) -> Params:
    try:
        return from_mapping(meta["base"], f"{store / 'experiment.json'} (base)", name=meta.get("base_name", "base"))
    except ParameterError as exc:
        raise StoreError(f"{store}: the stored base parameters are not valid now: {exc}") from None


def _unchanged_base(store: Path, meta: dict) -> Params:
    """An old store's base, from its experiment file, if it still gives the store's fingerprint."""
    from improvesim.experiments.spec import load_experiment

    refuse = (
        f"{store} predates stored parameters, and its experiment or scenario file {{why}}, so the run "
        "cannot be replayed exactly; run the sweep again to replay its runs"
    )
    try:
        exp = load_experiment(store / "experiment.toml")
    except ParameterError as exc:
        raise StoreError(refuse.format(why=f"cannot be read now ({exc})")) from None
    if exp.fingerprint() != meta.get("fingerprint"):
        raise StoreError(refuse.format(why="changed since the sweep (its fingerprint differs)"))
    return exp.base
