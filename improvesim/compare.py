"""``improvesim compare``: compare plans for a school board, and ``improvesim frontier``.

    improvesim compare PLAN... [--base SCENARIO] [--replicates R] [--seed N] [--conditions low,typical,high] [--out DIR] [--force]

writes into DIR (default ``results/compare/``), whole or not at all:

    report.html        self-contained (figures embedded), readable offline, printable
    outcomes.csv       institutionalized, authentic and engaged schools at years 3, 5, 10 per plan and condition
    differences.csv    extra institutionalized schools against the first plan, paired on common seeds
    costs.csv          total cost, extra cost and cost per additional institutionalized school
    winners.csv        which plan wins under each condition
"""

from __future__ import annotations

from pathlib import Path

from improvesim.analysis.compare import (
    CONDITIONS,
    TRAJECTORY_METRICS,
    Plan,
    compare,
    costs_table,
    differences_table,
    load_plan,
    outcomes_table,
    summary_sentences,
    winners,
)
from improvesim.analysis.compare_report import build_html
from improvesim.experiments.design import (
    BASE_BYTES,
    BATCH_SCHOOL_BYTES,
    BATCH_SCHOOL_MONTH_BYTES,
    check_memory,
)
from improvesim.experiments.output import check_writable, staged_folder
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
    posterior: Posterior | None = None,
) -> Path:
    if len(plan_paths) < 2:
        raise ParameterError("give at least two plan files; the first is the reference", "compare")
    most = BY_NAME["run.replicates"].high
    if not 2 <= replicates <= most:
        raise ParameterError(f"got {replicates}; allowed: at least 2 and at most {most:,} replicates", "--replicates")
    names = parse_conditions(conditions)
    base_params = load_scenario(base) if base else None
    plans = [load_plan(p, base_params) for p in plan_paths]
    if len({p.name for p in plans}) < len(plans):
        raise ParameterError('two plans have the same name; give each plan file its own name = "..."', "compare")
    check_memory(
        memory_needed(plans, names, replicates),
        f"{len(plans)} plans x {len(names)} conditions x {replicates:,} replicates",
        "use fewer replicates, plans or conditions",
        "--replicates",
    )
    check_writable(out, force)
    comp = compare(plans, names, replicates, seed, posterior)
    outcomes, differences, costs = outcomes_table(comp), differences_table(comp), costs_table(comp)
    summary = summary_sentences(comp, differences, costs)
    pinned = set().union(*(pinned_constants(posterior, p.params) for p in plans)) if posterior is not None else set()
    summary.append("Intervals show " + uncertainty_note(posterior, pinned) + ".")
    with staged_folder(out, force=force) as stage:
        outcomes.to_csv(stage / "outcomes.csv", index=False)
        differences.to_csv(stage / "differences.csv", index=False)
        costs.to_csv(stage / "costs.csv", index=False)
        winners(comp, int(costs["year"].max())).to_csv(stage / "winners.csv", index=False)
        title = "Comparing plans: " + ", ".join(p.name for p in plans)
        (stage / "report.html").write_text(build_html(comp, outcomes, differences, costs, summary, title))
    for line in summary:
        print("- " + line.replace("**", ""))
    return out
