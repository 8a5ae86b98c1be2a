"""Calibration by rejection ABC (approximate Bayesian computation).

The experiment (``experiments/calibrate_viano2024.toml``) samples the
uncertain behavioural constants uniformly over a prior box (a Latin
hypercube) and runs each point with seeded replicates of the case scenario.
A run is *accepted* when every calibration pattern of
:mod:`analysis.validation` matches it exactly (the observed count of schools,
rounded; :meth:`CasePattern.matches`): rejection ABC with zero tolerance on
the counts.  A point's acceptance rate over its replicates estimates the
likelihood of the observations there, so the posterior weight of a point is
its acceptance rate (the prior is uniform).  The calibrated value of each
constant is its posterior median, reported with a 90% credible interval
and the effective sample size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from improvesim.analysis.validation import CasePattern, case_patterns


class CalibrationError(ValueError):
    """The store cannot be calibrated (no calibration outcome, nothing accepted)."""


def calibration_patterns(scenario: str) -> list[CasePattern]:
    """The calibration patterns observed in ``scenario`` (a scenario file's name, without .toml)."""
    return [p for p in case_patterns(scenario) if p.calibration]


def acceptance(outcomes: pd.DataFrame, patterns: list[CasePattern]) -> pd.Series:
    """Per run: accepted when every pattern matches."""
    missing = [p.outcome for p in patterns if p.outcome not in outcomes.columns]
    if missing:
        raise CalibrationError(f"the store lacks the calibration outcome(s) {', '.join(sorted(set(missing)))}")
    accepted = np.ones(len(outcomes), dtype=bool)
    for pattern in patterns:
        accepted &= pattern.matches({pattern.outcome: outcomes[pattern.outcome].to_numpy()})
    return pd.Series(accepted, index=outcomes.index)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Quantile ``q`` of ``values`` under ``weights`` (midpoint rule on the sorted values)."""
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return float(np.interp(q, cum, v))


@dataclass(frozen=True)
class Posterior:
    points: pd.DataFrame  # one row per design point: factors, runs, accepted, weight
    summary: pd.DataFrame  # one row per factor: prior range, posterior median and 90% interval
    ess: float
    accepted_runs: int
    runs: int
    patterns: tuple[CasePattern, ...]


def posterior(
    outcomes: pd.DataFrame, factors: list[str], prior: dict[str, tuple[float, float]], patterns: list[CasePattern]
) -> Posterior:
    """The ABC posterior over the design points of a calibration store."""
    if not patterns:
        raise CalibrationError("no calibration pattern is observed in this experiment's scenario")
    frame = outcomes.assign(accepted=acceptance(outcomes, patterns))
    points = frame.groupby("set").agg(
        **{f: (f, "first") for f in factors}, runs=("accepted", "size"), accepted=("accepted", "sum")
    )
    points["weight"] = points["accepted"] / points["runs"]
    total = points["weight"].sum()
    if total <= 0:
        raise CalibrationError("no run matched every calibration pattern; widen the prior or add replicates")
    points["weight"] /= total
    w = points["weight"].to_numpy()
    rows = []
    for f in factors:
        x = points[f].to_numpy(dtype=float)
        lo, hi = prior[f]
        rows.append(
            {
                "parameter": f,
                "prior_low": lo,
                "prior_high": hi,
                "posterior_median": weighted_quantile(x, w, 0.5),
                "posterior_q05": weighted_quantile(x, w, 0.05),
                "posterior_q95": weighted_quantile(x, w, 0.95),
                "posterior_mean": float(np.sum(w * x)),
            }
        )
    return Posterior(
        points=points.reset_index(),
        summary=pd.DataFrame(rows),
        ess=float(1.0 / np.sum(w**2)),
        accepted_runs=int(points["accepted"].sum()),
        runs=int(points["runs"].sum()),
        patterns=tuple(patterns),
    )


def calibrated_toml(post: Posterior, digits: int = 2) -> str:
    """The posterior medians as scenario-file lines, rounded to ``digits`` significant digits."""
    lines, section = [], None
    for row in post.summary.itertuples():
        sec, key = row.parameter.split(".", 1)
        if sec != section:
            lines.append(f"[{sec}]")
            section = sec
        lines.append(f"{key} = {float(f'{row.posterior_median:.{digits}g}')}")
    return "\n".join(lines) + "\n"
