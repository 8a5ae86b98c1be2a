"""``improvesim discover``: scenario discovery (PRIM) on a sweep store, written to a folder.

    improvesim discover STORE --outcome NAME (--below X | --above X) [--share S] [--min-coverage C] [--out DIR] [--force]

The folder (default ``STORE/discovery-<outcome>/``) is written whole into a
staging folder and swapped into place:

    report.md            the finding in plain words, the box, the warnings, the feature scores
    trajectory.png       density against coverage for every peeling step, the chosen step marked
    trajectory.csv       every step: coverage, density, mass, sets, sets of interest, restricted, chosen
    box.csv              the chosen box: each restricted parameter's limits and quasi-p-values
    feature_scores.csv   extra-trees feature scores, largest first
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from improvesim.analysis import discovery as sd
from improvesim.analysis.plots import discovery_tradeoff
from improvesim.experiments.output import staged_folder


def default_folder(store: Path, outcome: str) -> Path:
    return Path(store) / f"discovery-{outcome}"


def write_discovery(d: sd.Discovery, out: Path, force: bool = False) -> Path:
    """Write the files of the module docstring into ``out`` (atomically); returns ``out``."""
    with staged_folder(out, force=force) as stage:
        title = f"PRIM peeling trajectory: {d.condition.as_given}"
        discovery_tradeoff(d.trajectory, d.chosen, d.min_coverage, title).savefig(stage / "trajectory.png")
        d.trajectory.to_csv(stage / "trajectory.csv", index=False)
        d.box.to_csv(stage / "box.csv", index=False)
        d.feature_scores.to_csv(stage / "feature_scores.csv", index=False)
        (stage / "report.md").write_text(report(d))
    return out


def report(d: sd.Discovery) -> str:
    """The report in Markdown."""
    step = d.chosen_step
    meaning = sd.outcome_meaning(d.condition.outcome)
    lines = [
        f"# Scenario discovery: {d.condition.as_given}",
        "",
        f"Store `{d.store}` (experiment {d.experiment}, {d.design} design, {d.sets} parameter sets x "
        f"{d.replicates} replicates). The outcome {d.condition.outcome} is the {meaning}.",
        "",
        f"A parameter set is **of interest** when it {d.condition.set_phrase(d.replicates)}. "
        f"{d.sets_of_interest} of {d.sets} parameter sets ({d.sets_of_interest / d.sets:.0%}) are of interest.",
        "",
    ]
    if d.warnings:
        lines += ["**Warning.** " + w for w in d.warnings] + [""]
    lines += ["## Finding", "", d.summary(), ""]
    weak = sd.weak_limits(d.box)
    if weak:
        lines += [
            f"Limits with a quasi-p-value of {sd.SIGNIFICANCE} or more (the box's density could come about by "
            f"chance without them): {', '.join(weak)}.",
            "",
        ]
    lines += [
        f"The box is step {int(step['step'])} of PRIM's peeling trajectory, chosen by a rule fixed before the run: "
        f"{sd.SELECTION_RULE.format(min_coverage=d.min_coverage)}. It holds {int(step['sets'])} parameter sets, "
        f"{int(step['sets_of_interest'])} of them of interest: coverage {step['coverage']:.3f}, density "
        f"{step['density']:.3f}, mass {step['mass']:.3f}.",
        "",
        "![peeling trajectory](trajectory.png)",
        "",
        "## The box",
        "",
        _box_markdown(d.box),
        "",
        "## Feature scores",
        "",
        "How well each parameter separates the sets of interest from the others (extra trees; the scores sum to 1), "
        "whether or not the separation can be drawn as a box.",
        "",
        _scores_markdown(d.feature_scores),
        "",
        "## Reading the numbers",
        "",
        "- **Coverage**: the share of all sets of interest that lie in the box.",
        "- **Density**: the share of the sets in the box that are of interest.",
        "- **Mass**: the share of all sets that lie in the box.",
        "- **Quasi-p-value** of a limit (Bryant and Lempert 2010): a one-sided binomial test of whether the box's "
        "density would arise by chance if that one limit were dropped; small (below 0.05, say) means the limit matters.",
        "- Only the first box is searched; sets of interest outside it are not described by it.",
        "",
    ]
    if d.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in d.notes], ""]
    return "\n".join(lines)


def _fmt(value, kind: str) -> str:
    if isinstance(value, float) and np.isnan(value):
        return ""
    return str(int(value)) if kind == "int" else f"{value:.4g}"


def _box_markdown(box: pd.DataFrame) -> str:
    if box.empty:
        return "The chosen step restricts no parameter."
    rows = [
        "| parameter | limits in the box | range in the sweep | quasi-p lower | quasi-p upper |",
        "|---|---|---|---|---|",
    ]
    for _, r in box.iterrows():
        if r["kind"] == "choice":
            limits, sweep = r["categories"], r["sweep_categories"]
        else:
            limits = f"{_fmt(r['lower'], r['kind'])} to {_fmt(r['upper'], r['kind'])}"
            sweep = f"{_fmt(r['sweep_lower'], r['kind'])} to {_fmt(r['sweep_upper'], r['kind'])}"
        qp = [("" if np.isnan(r[c]) else f"{r[c]:.2g}") for c in ("qp_lower", "qp_upper")]
        rows.append(f"| {r['parameter']} | {limits} | {sweep} | {qp[0]} | {qp[1]} |")
    return "\n".join(rows)


def _scores_markdown(scores: pd.DataFrame) -> str:
    rows = ["| parameter | score |", "|---|---|"]
    rows += [f"| {r.parameter} | {r.score:.3f} |" for r in scores.itertuples()]
    return "\n".join(rows)
