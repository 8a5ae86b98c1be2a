"""``improvesim calibrate``: run a calibration experiment and write its ABC posterior.

    improvesim calibrate EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS]

The sweep store is DIR (default ``results/<experiment name>/``); the
posterior goes to ``DIR/calibration/``, written whole or not at all:

    posterior.csv     per constant: prior range, posterior median, mean and 90% interval
    points.csv        per design point: its values, runs, accepted runs and posterior weight
    calibrated.toml   the posterior medians as scenario-file lines
    posterior.png     weighted histograms of the marginal posteriors
    report.md         the procedure and the results in words
"""

from __future__ import annotations

import json
from pathlib import Path

from improvesim.analysis import plots
from improvesim.analysis.calibration import (
    CalibrationError,
    Posterior,
    calibrated_toml,
    calibration_patterns,
    posterior,
)
from improvesim.analysis.store import load_sweep
from improvesim.experiments.output import staged_folder


def prior_box(meta: dict) -> dict[str, tuple[float, float]]:
    missing = [f["name"] for f in meta["factors"] if f.get("low") is None]
    if missing:
        raise CalibrationError(
            f"calibration needs ranges (lhs design) for every parameter; no range for {', '.join(missing)}"
        )
    return {f["name"]: (float(f["low"]), float(f["high"])) for f in meta["factors"]}


def analyse_calibration(store: Path, scenario: str) -> tuple[Path, Posterior]:
    """ABC posterior of a calibration store of ``scenario`` (its name), written to ``store/calibration/``."""
    sweep = load_sweep(store)
    ok = sweep.outcomes[sweep.outcomes["status"] == "ok"]
    post = posterior(ok, sweep.factors, prior_box(sweep.meta), calibration_patterns(scenario))
    folder = store / "calibration"
    with staged_folder(folder, force=True) as stage:
        post.summary.to_csv(stage / "posterior.csv", index=False)
        post.points.to_csv(stage / "points.csv", index=False)
        (stage / "calibrated.toml").write_text(calibrated_toml(post))
        plots.posterior_plot(post.points, post.summary).savefig(stage / "posterior.png", dpi=120)
        (stage / "report.md").write_text(report(sweep.meta, post))
    return folder, post


def report(meta: dict, post: Posterior) -> str:
    targets = "; ".join(f"{p.description.lower()}: {p.observed}" for p in post.patterns)
    lines = [
        f"# Calibration: {meta.get('experiment', '')}",
        "",
        f"Rejection ABC over a uniform prior box: {len(post.points)} design points, {post.runs} runs; "
        f"a run is accepted when it matches every calibration pattern exactly ({targets}). "
        f"{post.accepted_runs} runs were accepted ({100 * post.accepted_runs / post.runs:.2f}%); "
        f"effective sample size of the weighted points {post.ess:.0f}.",
        "",
        "| Parameter | Prior | Posterior median | 90% credible interval |",
        "|---|---|---|---|",
    ]
    for row in post.summary.itertuples():
        lines.append(
            f"| `{row.parameter}` | {row.prior_low:g} to {row.prior_high:g} | {row.posterior_median:.3g} | "
            f"{row.posterior_q05:.3g} to {row.posterior_q95:.3g} |"
        )
    lines += [
        "",
        "![Marginal posteriors](posterior.png)",
        "",
        "Experiment:",
        "",
        "```json",
        json.dumps(
            {k: meta[k] for k in ("scenario", "design", "samples", "replicates", "seed") if k in meta}, indent=2
        ),
        "```",
        "",
    ]
    return "\n".join(lines)
