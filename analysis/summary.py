"""Summaries of a scenario's replicates: means, 90% intervals, yearly series."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from improvesim.sim.engine import SimulationResult
from improvesim.sim.outcomes import DISTRICT_METRICS, HEADLINE, PRINCIPLE_SHARES, SCHOOL_METRICS
from improvesim.sim.state import Authenticity, Engagement

#: Central interval reported everywhere: 5th to 95th percentile over replicates.
INTERVAL = (5.0, 95.0)


def interval(values: np.ndarray) -> dict[str, float | None]:
    """Mean and 90% interval over replicates of finite values (None when there are none)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"mean": None, "p05": None, "p95": None, "defined_in": 0.0}
    lo, hi = np.percentile(finite, INTERVAL)
    return {
        "mean": float(finite.mean()),
        "p05": float(lo),
        "p95": float(hi),
        "defined_in": finite.size / values.size,
    }


def summarize(result: SimulationResult, scenario: str, seed: int) -> dict[str, Any]:
    """The content of ``summary.json`` for one scenario's replicates."""
    params = result.params[0]
    months = result.district.shape[1]
    year_ends = np.arange(11, months, 12)
    out: dict[str, Any] = {
        "scenario": scenario,
        "seed": seed,
        "replicates": len(result.seeds),
        "years": int(params["run.years"]),
        "schools": int(params["district.schools"]),
        "interval": "5th to 95th percentile over replicates (90% interval)",
        "final": {},
        "yearly": {},
    }
    for name in (*HEADLINE, *PRINCIPLE_SHARES, "tool_use_share"):
        series = result.metric(name)
        out["final"][name] = interval(series[:, -1])
        out["yearly"][name] = [float(v) for v in series[:, year_ends].mean(axis=0)]
    out["final"]["time_to_first_institutionalization_months"] = interval(result.time_to_first_institutionalization)
    out["final"]["cost_total_dollars"] = interval(result.metric("cost_total")[:, -1])
    out["final"]["deep_bench"] = interval(result.metric("deep_bench")[:, -1])
    out["final"]["knowledge_base"] = interval(result.metric("knowledge_base")[:, -1])
    return out


def summary_table(summary: dict[str, Any]) -> str:
    """A short plain-text table of the final outcomes for the terminal."""
    rows = [
        f"{summary.get('title', summary['scenario'])}: {_count(summary['replicates'], 'replicate')}, "
        f"{_count(summary['years'], 'year')}, {_count(summary['schools'], 'school')}, seed {summary['seed']}",
        f"{'outcome at the final month':44s} {'mean':>8s}   90% interval",
    ]
    for name, stats in summary["final"].items():
        if stats["mean"] is None:
            rows.append(f"{name:44s} {'never':>8s}")
            continue
        fmt = _format_for(name)
        note = "" if stats["defined_in"] == 1.0 else f"  (in {stats['defined_in']:.0%} of runs)"
        rows.append(f"{name:44s} {fmt(stats['mean']):>8s}   {fmt(stats['p05'])} to {fmt(stats['p95'])}{note}")
    return "\n".join(rows)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _format_for(name: str):
    if "share" in name:
        return lambda v: f"{v:.1%}"
    if "dollars" in name:
        return lambda v: f"${v / 1e6:,.2f}M"
    return lambda v: f"{v:,.2f}" if not math.isnan(v) else "nan"


def district_frame(result: SimulationResult, first_replicate: int = 0) -> pd.DataFrame:
    """One row per replicate and month, with every district metric.

    Replicates are numbered from ``first_replicate`` (for a result that is one
    batch of a longer run).
    """
    R, T, _ = result.district.shape
    frame = pd.DataFrame(result.district.reshape(R * T, -1), columns=list(DISTRICT_METRICS))
    frame.insert(0, "replicate", np.repeat(np.arange(first_replicate, first_replicate + R), T).astype(np.int32))
    frame.insert(1, "seed", np.repeat(np.asarray(result.seeds, dtype=np.uint64), T))
    frame.insert(2, "month", np.tile(np.arange(T), R).astype(np.int32))
    frame.insert(3, "year", (frame["month"] // 12 + 1).astype(np.int32))
    return frame


_LABELS = {
    "engagement": [e.name.lower() for e in Engagement],
    "authenticity": [a.name.lower() for a in Authenticity],
}


def schools_frame(result: SimulationResult, first_replicate: int = 0) -> pd.DataFrame:
    """One row per replicate, school and month, with every per-school metric.

    Replicates are numbered from ``first_replicate``.  Raises ValueError when
    the result kept no per-school records.
    """
    if result.schools is None:
        raise ValueError("per-school records were not kept for this result")
    R, T, S = result.schools["engagement"].shape
    cols: dict[str, Any] = {
        "replicate": np.repeat(np.arange(first_replicate, first_replicate + R, dtype=np.int32), T * S),
        "seed": np.repeat(np.asarray(result.seeds, dtype=np.uint64), T * S),
        "month": np.tile(np.repeat(np.arange(T, dtype=np.int32), S), R),
        "school": np.tile(np.arange(S, dtype=np.int32), R * T),
    }
    for name in SCHOOL_METRICS:
        values = result.schools[name].reshape(-1)
        if name in _LABELS:
            values = pd.Categorical.from_codes(values.astype(np.int64), categories=_LABELS[name])
        cols[name] = values
    return pd.DataFrame(cols)
