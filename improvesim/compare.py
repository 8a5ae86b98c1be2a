"""``improvesim compare``: compare plans for a school board, and ``improvesim frontier``.

    improvesim compare PLAN... [--base SCENARIO] [--replicates R] [--seed N] [--conditions low,typical,high]
                       [--outcome institutionalized] [--wtp 0,50000,...] [--discover EXPERIMENT]
                       [--out DIR] [--force]

writes into DIR (default ``results/compare/``), whole or not at all:

    report.html        self-contained (figures embedded), readable offline, printable
    outcomes.csv       every outcome at years 3, 5, 10 per plan and condition, with 90% intervals
    differences.csv    the decision outcome against the first plan, paired on common seeds
    best.csv           probability that each plan is the best, per condition
    pairwise.csv       probability that plan A beats plan B, for every pair and condition
    costs.csv          cash over the horizon, grant and district shares, integrated time, cost per additional school
    budget.csv         every budget line per plan, condition and year
    acceptability.csv  the acceptability curve: probability each plan is the best buy at each willingness to pay
    discovery.csv      with --discover: where each plan loses its advantage (PRIM boxes over the uncertainties)
    discovery_conditions.csv  with --discover: the sampled conditions and each plan's paired difference there
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from improvesim import __version__
from improvesim.analysis.compare import (
    CONDITIONS,
    DECISION_OUTCOMES,
    TRAJECTORY_METRICS,
    Plan,
    acceptability_table,
    best_table,
    budget_table,
    compare,
    costs_table,
    differences_table,
    load_plan,
    outcomes_table,
    pairwise_table,
)
from improvesim.analysis.compare_report import build_html, summary_sentences
from improvesim.analysis.plan_discovery import findings_table, plan_conditions, uncertainties
from improvesim.experiments.design import (
    BASE_BYTES,
    BATCH_SCHOOL_BYTES,
    BATCH_SCHOOL_MONTH_BYTES,
    check_memory,
)
from improvesim.experiments.output import check_writable, staged_folder
from improvesim.experiments.spec import load_experiment
from improvesim.sim.engine import DEFAULT_BATCH
from improvesim.sim.outcomes import DISTRICT_METRICS
from improvesim.sim.params import ParameterError, load_scenario, show
from improvesim.sim.posterior import Posterior, pinned_constants, uncertainty_note
from improvesim.sim.schema import BY_NAME


def parse_conditions(text: str) -> list[str]:
    """The conditions named in ``--conditions`` (comma-separated); raises :class:`ParameterError` for an
    unknown or repeated name, or none."""
    names = [c.strip() for c in text.split(",") if c.strip()]
    for name in names:
        if name not in CONDITIONS:
            raise ParameterError(f"unknown condition {show(name)}; allowed: {', '.join(CONDITIONS)}", "--conditions")
        if names.count(name) > 1:
            raise ParameterError(f"{name} named twice; allowed: each of {', '.join(CONDITIONS)} once", "--conditions")
    if not names:
        raise ParameterError(f"name at least one condition; allowed: {', '.join(CONDITIONS)}", "--conditions")
    return names


def parse_wtp(text: str | None) -> np.ndarray | None:
    """The willingness-to-pay grid of ``--wtp`` (comma-separated dollars, strictly increasing, at least
    two, none negative), or None for the automatic grid; raises :class:`ParameterError` otherwise."""
    if text is None:
        return None
    allowed = (
        "allowed: at least two amounts in dollars, from 0 up, each larger than the one before (e.g. 0,50000,100000)"
    )
    try:
        values = np.array([float(v.replace("_", "")) for v in text.split(",") if v.strip()])
    except ValueError:
        raise ParameterError(f"got {show(text)}; {allowed}", "--wtp") from None
    if len(values) < 2 or not np.all(np.isfinite(values)) or values.min() < 0 or np.any(np.diff(values) <= 0):
        raise ParameterError(f"got {show(text)}; {allowed}", "--wtp")
    return values


def memory_needed(plans: list[Plan], conditions: list[str], replicates: int) -> int:
    """Bytes a comparison needs at its peak: the trajectories it keeps for every plan and condition, the
    district records of the plan and condition being run (and their concatenated copy), and the batch
    the model steps (the sweep's measured figures, :mod:`improvesim.experiments.design`)."""
    months = 12 * max(int(p.params["run.years"]) for p in plans)
    schools = max(int(p.params["district.schools"]) for p in plans)
    kept = len(plans) * len(conditions) * replicates * months * (len(TRAJECTORY_METRICS) + 1) * 8
    running = 2 * replicates * months * len(DISTRICT_METRICS) * 8
    batch = min(replicates, DEFAULT_BATCH) * schools * (BATCH_SCHOOL_BYTES + months * BATCH_SCHOOL_MONTH_BYTES)
    return BASE_BYTES + kept + running + batch


def run_compare(
    plan_paths,
    base: str | None,
    replicates: int,
    seed: int,
    conditions: str,
    out: Path,
    force: bool,
    outcome: str = "institutionalized",
    wtp: str | None = None,
    command: str = "",
    discover: str | None = None,
    posterior: Posterior | None = None,
) -> Path:
    """Compare plans and write the report and tables into ``out`` (whole or not at all); ``command`` is
    the command line shown in the report.  Raises ParameterError for any bad input, before simulating."""
    if len(plan_paths) < 2:
        raise ParameterError("give at least two plan files; the first is the reference", "compare")
    most = BY_NAME["run.replicates"].high
    if not 2 <= replicates <= most:
        raise ParameterError(f"got {replicates}; allowed: at least 2 and at most {most:,} replicates", "--replicates")
    if outcome not in DECISION_OUTCOMES:
        raise ParameterError(f"got {show(outcome)}; allowed: {', '.join(DECISION_OUTCOMES)}", "--outcome")
    names = parse_conditions(conditions)
    grid = parse_wtp(wtp)
    conditions_exp = uncertainties(load_experiment(discover)) if discover else None
    base_params = load_scenario(base) if base else None
    plans = [load_plan(p, base_params) for p in plan_paths]
    for i, plan in enumerate(plans):
        twin = next((other for other in plans[:i] if other.name == plan.name), None)
        if twin is not None:
            raise ParameterError(
                f"{show(plan.name)} names both {twin.path} and {plan.path}; allowed: plans with different names "
                '(give each plan file its own name = "...")',
                "compare",
                "name",
            )
    check_memory(
        memory_needed(plans, names, replicates),
        f"{len(plans)} plans x {len(names)} conditions x {replicates:,} replicates",
        "use fewer replicates, plans or conditions",
        "--replicates",
    )
    check_writable(out, force)
    comp = compare(plans, names, replicates, seed, outcome, posterior)
    tables = {
        "outcomes": outcomes_table(comp),
        "differences": differences_table(comp),
        "best": best_table(comp),
        "pairwise": pairwise_table(comp),
        "costs": costs_table(comp),
        "budget": budget_table(comp),
        "acceptability": acceptability_table(comp, grid),
    }
    findings = []
    if conditions_exp is not None:
        findings, sampled = plan_conditions(plans, conditions_exp, outcome)
        tables["discovery"] = findings_table(findings)
        tables["discovery_conditions"] = sampled.assign(**{f"difference: {f.plan}": f.difference for f in findings})
    title = "Comparing plans: " + ", ".join(p.name for p in plans)
    pinned = set().union(*(pinned_constants(posterior, p.params) for p in plans)) if posterior is not None else set()
    uncertainty = "Intervals and probabilities show " + uncertainty_note(posterior, pinned) + "."
    html = build_html(
        comp,
        tables,
        title,
        command,
        __version__,
        discovery=[f.sentence() for f in findings],
        uncertainty=uncertainty,
        posterior_file=None if posterior is None else Path(posterior.source),
    )
    with staged_folder(out, force=force) as stage:
        for name, frame in tables.items():
            frame.to_csv(stage / f"{name}.csv", index=False)
        (stage / "report.html").write_text(html)
    for line in summary_sentences(comp, tables["best"], tables["pairwise"], tables["costs"]):
        print("- " + line.replace("**", ""))
    return out
