"""Where does each plan lose its advantage?  Scenario discovery on paired plan differences.

The conditions a district does not control (the experiment's factors whose
schema role is "uncertainty"; the plans set the levers) are sampled by the
experiment's design.  At every sampled condition each plan runs the
experiment's replicates on the same seeds as the reference (common random
numbers; an uncertainty a plan sets itself keeps the plan's value), and the paired mean difference of the decision outcome at the
horizon (plan minus reference) is taken.  A condition is *of interest* for a
plan when that difference is not above zero: there the plan has lost its
advantage.  PRIM (:func:`improvesim.analysis.discovery.run_prim`, with the
step chosen by the same rule as ``improvesim discover``) then finds the box
of conditions where that happens most densely.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from improvesim.analysis.compare import OUTCOMES, Plan, outcome_values, simulate_in_batches
from improvesim.analysis.discovery import (
    DEFAULT_MIN_COVERAGE,
    _column,
    _is_weak,
    _parameter_clause,
    box_table,
    choose_step,
    run_prim,
    trajectory_table,
)
from improvesim.experiments.design import build_design
from improvesim.experiments.spec import Experiment
from improvesim.sim.params import ParameterError
from improvesim.sim.rng import derive_seeds
from improvesim.sim.schema import BY_NAME


@dataclass(frozen=True)
class PlanConditions:
    """Where one plan loses its advantage over the reference: ``difference`` (N,) paired mean differences
    at the N sampled conditions, ``lost`` (N,) where it is not above zero, and, when some but not all
    conditions are lost, the PRIM ``box`` (:func:`box_table`) with its ``coverage`` and ``density``."""

    plan: str
    reference: str
    difference: np.ndarray
    lost: np.ndarray
    box: pd.DataFrame | None = None
    coverage: float = float("nan")
    density: float = float("nan")

    def sentence(self) -> str:
        """The finding in plain words; limits whose quasi-p-values are all 0.05 or more are left out."""
        n, k = len(self.lost), int(self.lost.sum())
        if k == 0:
            return f"{self.plan} keeps an advantage over {self.reference} in all {n} sampled conditions."
        if k == n:
            return f"{self.plan} has no advantage over {self.reference} in any of the {n} sampled conditions."
        strong = [_parameter_clause(row) for _, row in self.box.iterrows() if not _is_weak(row)]
        weak = len(self.box) - len(strong)
        text = f"{self.plan} has no advantage over {self.reference} in {k} of {n} sampled conditions"
        if strong:
            text += (
                f"; {self.coverage:.0%} of them lie in a region where {' and '.join(strong)}"
                + (f" (with weaker limits on {weak} other condition{'s' if weak > 1 else ''})" if weak else "")
                + f", and there {self.density:.0%} of the conditions are lost"
            )
        else:
            text += "; no region of the conditions stands out (every limit PRIM found is weak, quasi-p 0.05 or more)"
        return text + "."


def uncertainties(exp: Experiment) -> Experiment:
    """``exp`` with only its factors whose schema role is "uncertainty"; raises ParameterError if none."""
    kept = tuple(f for f in exp.factors if BY_NAME[f.name].role == "uncertainty")
    if not kept:
        raise ParameterError(
            "no parameter of role uncertainty to vary; allowed: an experiment over conditions the district does "
            "not control (improvesim params lists each parameter's role)",
            str(exp.path),
            "[parameters]",
        )
    return replace(exp, factors=kept)


def _effects(plan: Plan, reference: Plan, design, replicates: int, seed: int, outcome: str) -> np.ndarray:
    """(N, R) the decision outcome at the horizon of ``plan`` at each of the design's N conditions; an
    uncertainty the plan itself sets (its value differs from the reference's) keeps the plan's value."""
    seeds = derive_seeds(seed, replicates)
    own = {k for k in design.values.columns if plan.params[k] != reference.params[k]}
    conditions = [{k: v for k, v in design.overrides(i).items() if k not in own} for i in range(design.sets)]
    params = [plan.params.with_overrides(c) for c in conditions for _ in range(replicates)]
    result = simulate_in_batches(params, seeds * design.sets)
    values = outcome_values(result, outcome, int(plan.params["district.schools"]))
    return values[:, -1].reshape(design.sets, replicates)


def plan_conditions(
    plans: list[Plan], exp: Experiment, outcome: str = "institutionalized", min_coverage: float = DEFAULT_MIN_COVERAGE
) -> tuple[list[PlanConditions], pd.DataFrame]:
    """For every plan but the first (the reference): where it loses its advantage, over the uncertainties
    of ``exp`` (its design, samples, replicates and seed).  Returns the findings and the sampled
    conditions (N rows, one column per uncertainty).  Raises ParameterError when ``exp`` varies no
    uncertainty."""
    if outcome not in OUTCOMES:
        raise ParameterError(f"got {outcome!r}; allowed: {', '.join(OUTCOMES)}", "--outcome")
    exp = uncertainties(exp)
    design = build_design(exp)
    x = pd.DataFrame({name: _column(design.values[name], BY_NAME[name].kind) for name in design.values.columns})
    reference = _effects(plans[0], plans[0], design, exp.replicates, exp.seed, outcome)
    findings = []
    for plan in plans[1:]:
        effects = _effects(plan, plans[0], design, exp.replicates, exp.seed, outcome)
        difference = (effects - reference).mean(axis=1)
        lost = difference <= 0
        if lost.all() or not lost.any():
            findings.append(PlanConditions(plan.name, plans[0].name, difference, lost))
            continue
        box = run_prim(x, lost)
        trajectory = trajectory_table(box, min_coverage)
        step = choose_step(trajectory, min_coverage)
        kinds = {name: BY_NAME[name].kind for name in x.columns}
        findings.append(
            PlanConditions(
                plan.name,
                plans[0].name,
                difference,
                lost,
                box_table(box, step, kinds),
                float(trajectory.loc[step, "coverage"]),
                float(trajectory.loc[step, "density"]),
            )
        )
    return findings, design.values


def findings_table(findings: list[PlanConditions]) -> pd.DataFrame:
    """One row per plan and restricted parameter of its box (or one row per plan without a box)."""
    rows = []
    for f in findings:
        head = {"plan": f.plan, "reference": f.reference, "conditions": len(f.lost), "lost": int(f.lost.sum())}
        head |= {"coverage": f.coverage, "density": f.density}
        if f.box is None or f.box.empty:
            rows.append(head | {"parameter": ""})
            continue
        for _, row in f.box.iterrows():
            rows.append(head | row[["parameter", "lower", "upper", "qp_lower", "qp_upper"]].to_dict())
    return pd.DataFrame(rows)
