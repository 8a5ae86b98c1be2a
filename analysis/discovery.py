"""Scenario discovery over a sweep store: in which region of the parameters does a condition hold?

A *parameter set* of a sweep is **of interest** when its outcome meets a
condition given by the user, e.g. ``institutionalized_share_y10`` below 0.1:

* by default when the **mean over its replicates** meets it;
* with ``share = S``, when **at least a share S of its replicates** meet it.

"Below" and "above" are strict (``<`` and ``>``).  PRIM (the Patient Rule
Induction Method, Friedman and Fisher 1999, as used for scenario discovery
by Bryant and Lempert 2010; EMA Workbench's implementation) then peels the
parameter space, one small slice at a time, towards a box where sets of
interest are dense, and pastes back what helps.  Each step of this
*peeling trajectory* is a box with

* **coverage**: the share of all sets of interest that lie in the box;
* **density**: the share of the sets in the box that are of interest;
* **mass**: the share of all sets that lie in the box.

The box reported is chosen by a rule fixed here, before any run
(:data:`SELECTION_RULE`, a template for the minimum coverage): among the steps with coverage at least
``min_coverage`` (default 0.5), the one with the highest density; ties go to
the higher coverage, then to the earlier step.  Step 0 (the whole space,
coverage 1) always qualifies, so a box is always chosen.

Each limit of the chosen box comes with its **quasi-p-value** (Bryant and
Lempert 2010): a one-sided binomial test of whether the box's density would
be reached by chance if that one limit were dropped.  A small value (below
0.05, say) means the limit matters; a large one means it could go.

**Feature scores** (extra trees, EMA Workbench's ``get_ex_feature_scores``)
rank the parameters by how well they separate sets of interest from the
others, whether or not they can be drawn as a box; they sum to 1.

Integer parameters are given to PRIM as numbers (EMA Workbench 3.0.0
fails on integer columns under pandas 3, its issue 448) and their limits
are reported as the integers inside the box.  Categorical parameters are
pandas categories; their box limit is the set of categories kept.

Coverage and density count parameter sets, so they describe the *space
sampled*: on a space-filling design (LHS, Sobol') they estimate shares of
the parameter space; on a grid or a Morris design, which put their points on
a few levels, they do not, and the reports say so.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from improvesim.analysis.sensitivity import CENSORED
from improvesim.analysis.store import Sweep, load_sweep
from improvesim.sim.end_of_run import OUTCOMES
from improvesim.sim.schema import BY_NAME

#: How the reported box is chosen (fixed before any run; see the module docstring).
SELECTION_RULE = (
    "among the peeling steps with coverage at least {min_coverage:g}, the one with the highest density "
    "(ties: the higher coverage, then the earlier step)"
)
DEFAULT_MIN_COVERAGE = 0.5
#: Designs whose points fill the space, so that shares of sets estimate shares of the space.
SPACE_FILLING = ("lhs", "sobol")
#: A limit whose quasi-p-value is at or above this is reported as not significant.
SIGNIFICANCE = 0.05
#: Trees of the extra-trees feature scoring.
TREES = 250

Direction = Literal["below", "above"]


class DiscoveryError(ValueError):
    """The store cannot be analysed as asked (exit status 2 on the command line)."""


@dataclass(frozen=True)
class Condition:
    """What makes a parameter set of interest.

    ``outcome`` is an end-of-run outcome kept by the store; ``direction``
    ``"below"`` means ``value < threshold``, ``"above"`` means ``value >
    threshold``; ``share`` is None (the replicate mean decides) or in
    (0, 1] (at least that share of replicates must meet it).

    Raises:
        DiscoveryError: ``share`` outside (0, 1], or a threshold that is not a finite number.
    """

    outcome: str
    direction: Direction
    threshold: float
    share: float | None = None

    def __post_init__(self):
        if self.direction not in ("below", "above"):
            raise DiscoveryError(f"direction: got {self.direction!r}; allowed: below or above")
        if not math.isfinite(self.threshold):
            raise DiscoveryError(f"--{self.direction}: got {self.threshold}; allowed: a finite number")
        if self.share is not None and not 0 < self.share <= 1:
            raise DiscoveryError(f"--share: got {self.share:g}; allowed: a share above 0 and at most 1")

    def met(self, values: np.ndarray) -> np.ndarray:
        """Whether each value meets the condition (strict inequality); same shape as ``values``."""
        values = np.asarray(values, dtype=float)
        return values < self.threshold if self.direction == "below" else values > self.threshold

    @property
    def as_given(self) -> str:
        """The condition as typed, e.g. ``institutionalized_share_y10 below 0.1``."""
        return f"{self.outcome} {self.direction} {self.threshold:g}"

    def sets_phrase(self) -> str:
        """What the sets of interest have, in words (after "parameter sets ...")."""
        if self.share is None:
            return f"have {self.as_given} on the mean of their replicates"
        return f"have {self.as_given} in at least {self.share:.0%} of their replicates"

    def set_phrase(self, replicates: int | None = None) -> str:
        """What one set of interest has, in words (after "a parameter set ..."), naming the replicates if given."""
        if replicates is None:
            runs = "its replicates"
        else:
            runs = "its one replicate" if replicates == 1 else f"its {replicates} replicates"
        if self.share is None:
            return f"has {self.as_given} on the mean of {runs}"
        return f"has {self.as_given} in at least {self.share:.0%} of {runs}"


@dataclass
class Discovery:
    """The result of :func:`discover`.

    ``x`` holds one row per parameter set analysed (one column per varied
    parameter) and ``of_interest`` a bool per row; ``trajectory`` one row per
    peeling (and pasting) step: step, coverage, density, mass, sets (in the
    box), sets_of_interest (in the box), restricted (parameters), eligible
    (coverage >= min_coverage) and chosen; ``box`` one row per parameter the
    chosen box restricts (see :func:`box_table`); ``feature_scores`` one row
    per parameter: parameter, score (0-1, summing to 1), largest first.
    """

    store: Path
    experiment: str
    design: str
    replicates: int
    condition: Condition
    min_coverage: float
    x: pd.DataFrame
    of_interest: np.ndarray
    trajectory: pd.DataFrame
    chosen: int
    box: pd.DataFrame
    feature_scores: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def sets(self) -> int:
        return len(self.x)

    @property
    def sets_of_interest(self) -> int:
        return int(self.of_interest.sum())

    @property
    def chosen_step(self) -> pd.Series:
        return self.trajectory.iloc[self.chosen]

    def summary(self) -> str:
        """The finding in plain words (see :func:`summary_sentence`)."""
        return summary_sentence(self)


# --- the whole analysis -------------------------------------------------------------------------


def discover(store: str | Path, condition: Condition, min_coverage: float = DEFAULT_MIN_COVERAGE) -> Discovery:
    """Scenario discovery on a sweep store (any design: grid, lhs, sobol, morris, list).

    Reads the store with :func:`load_sweep`, marks the parameter sets of
    interest, runs PRIM (one box), chooses the step by
    :data:`SELECTION_RULE` and scores the parameters.  Deterministic: the
    same store and arguments give the same result (the extra trees are
    seeded with the store's seed).

    Raises:
        DiscoveryError: not a sweep store; an outcome the store does not
            hold (the message lists those it does); ``min_coverage`` outside
            (0, 1]; no finished run; no parameter that varies; an outcome
            undefined in some runs (other than a time to an event); no set,
            or every set, of interest.
    """
    if not 0 < min_coverage <= 1:
        raise DiscoveryError(f"--min-coverage: got {min_coverage:g}; allowed: a share above 0 and at most 1")
    sweep = read_store(store)
    held = list(sweep.meta.get("outcomes", []))
    if condition.outcome not in held:
        raise DiscoveryError(
            f"{sweep.path}: unknown outcome {condition.outcome!r}; this store holds: {', '.join(held) or 'none'}"
        )
    x, kinds, notes = parameter_sets(sweep)
    values, outcome_notes = run_values(sweep, condition.outcome)
    notes += outcome_notes
    of_interest, analysed = mark_sets(values, condition, x.index)
    if len(analysed) < len(x):
        notes.append(f"{len(x) - len(analysed)} parameter set(s) have no successful run and are left out.")
    x = x.loc[analysed]
    _check_contrast(of_interest, condition, values, sweep.path)
    box = run_prim(x, of_interest)
    trajectory = trajectory_table(box, min_coverage)
    chosen = choose_step(trajectory, min_coverage)
    trajectory["chosen"] = trajectory.index == chosen
    design = str(sweep.meta.get("design", "?"))
    seed = int(sweep.meta.get("seed", 0))
    return Discovery(
        store=sweep.path,
        experiment=str(sweep.meta.get("experiment", sweep.path.name)),
        design=design,
        replicates=int(sweep.meta.get("replicates", 1)),
        condition=condition,
        min_coverage=min_coverage,
        x=x.reset_index(drop=True),
        of_interest=of_interest,
        trajectory=trajectory,
        chosen=chosen,
        box=box_table(box, chosen, kinds),
        feature_scores=feature_scores(x, of_interest, seed),
        notes=notes,
        warnings=design_warnings(design, len(x)),
    )


def read_store(store: str | Path) -> Sweep:
    """The sweep at ``store``; DiscoveryError when it is not a sweep store or holds no finished run."""
    path = check_store(store)
    try:
        sweep = load_sweep(path)
    except (OSError, ValueError) as exc:  # a damaged experiment.json or Parquet file
        raise DiscoveryError(f"{path} cannot be read as a sweep store: {exc}") from None
    if not len(sweep.outcomes):
        raise DiscoveryError(f"{path} holds no finished run yet; finish the sweep with improvesim sweep --resume")
    return sweep


def check_store(store: str | Path) -> Path:
    """``store`` as a Path; DiscoveryError when it is not a sweep store (no experiment.json and plan.parquet)."""
    path = Path(store)
    if not (path / "experiment.json").is_file() or not (path / "plan.parquet").is_file():
        raise DiscoveryError(f"{path} is not a sweep store (no experiment.json and plan.parquet); run improvesim sweep")
    return path


# --- the parameter sets and which are of interest ----------------------------------------------


def parameter_sets(sweep: Sweep) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """One row per parameter set (indexed by set), one column per varied parameter.

    Returns the table, each column's kind ("float", "int" or "choice", from
    the schema) and notes on parameters left out because they never vary.

    Raises:
        DiscoveryError: the store varies no parameter.
    """
    factors = [f for f in sweep.factors if f in sweep.plan.columns]
    if not factors:
        raise DiscoveryError(f"{sweep.path}: the sweep varies no parameter; there is nothing to discover")
    per_set = sweep.plan.groupby("set")[factors].first().sort_index()
    constant = [f for f in factors if per_set[f].nunique() < 2]
    varied = [f for f in factors if f not in constant]
    if not varied:
        raise DiscoveryError(
            f"{sweep.path}: no parameter takes more than one value in this sweep ({', '.join(constant)}); "
            "there is nothing to discover"
        )
    kinds = {name: _kind(name, per_set[name]) for name in varied}
    x = pd.DataFrame(
        {name: _column(per_set[name], kinds[name]) for name in varied},
        index=per_set.index,
    )
    notes = [f"Left out, as they take one value in every set: {', '.join(constant)}."] if constant else []
    return x, kinds, notes


def _kind(name: str, values: pd.Series) -> str:
    param = BY_NAME.get(name)
    if param is not None:
        return param.kind
    if pd.api.types.is_integer_dtype(values):
        return "int"
    return "float" if pd.api.types.is_numeric_dtype(values) else "choice"


def _column(values: pd.Series, kind: str) -> pd.Series:
    if kind == "choice":
        return values.astype(str).astype("category")
    return values.astype(np.float64)  # integers too: see the module docstring


def run_values(sweep: Sweep, outcome: str) -> tuple[pd.DataFrame, list[str]]:
    """The successful runs' ``set`` and ``value`` of ``outcome``, with notes.

    A time to an event (:data:`CENSORED`) that is undefined because the event
    did not happen within the run counts as infinitely late.

    Raises:
        DiscoveryError: the outcome is undefined (NaN) in some runs and is not a time to an event.
    """
    runs = sweep.outcomes
    ok = runs[runs["status"] == "ok"]
    notes = []
    failed = len(runs) - len(ok)
    if failed:
        notes.append(f"{failed} failed run(s) are left out (their errors are in manifest.parquet).")
    values = ok[outcome].astype(float)
    undefined = int(values.isna().sum())
    if undefined:
        if outcome not in CENSORED:
            raise DiscoveryError(
                f"{sweep.path}: {outcome} is undefined in {undefined} of {len(values)} runs "
                "(a horizon beyond the run's years?); choose an outcome defined in every run"
            )
        values = values.fillna(np.inf)
        notes.append(
            f"{undefined} run(s) never reached the event within their years; they count as later than any threshold."
        )
    return pd.DataFrame({"set": ok["set"].to_numpy(), "value": values.to_numpy()}), notes


def mark_sets(values: pd.DataFrame, condition: Condition, sets: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Which sets are of interest (bool per set) and the sets that have at least one successful run."""
    grouped = values.groupby("set")["value"]
    if condition.share is None:
        interest = pd.Series(condition.met(grouped.mean().to_numpy()), index=grouped.mean().index)
    else:
        share = values.assign(met=condition.met(values["value"].to_numpy())).groupby("set")["met"].mean()
        interest = share >= condition.share - 1e-12
    analysed = sets.intersection(interest.index)
    return interest.loc[analysed].to_numpy(dtype=bool), analysed


def _check_contrast(of_interest: np.ndarray, condition: Condition, values: pd.DataFrame, store: Path) -> None:
    if of_interest.all() or not of_interest.any():
        means = values.groupby("set")["value"].mean()
        which = "every" if of_interest.all() else "no"
        raise DiscoveryError(
            f"{store}: {which} parameter set {condition.set_phrase()}, so there is "
            f"nothing to tell apart (the sets' mean {condition.outcome} ranges from {means.min():.3g} "
            f"to {means.max():.3g}); choose another threshold"
        )


# --- PRIM ---------------------------------------------------------------------------------------


def _ema():
    """EMA Workbench's analysis modules (imported on first use; its optional parallel back-ends warn)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench.analysis import feature_scoring, prim
        from ema_workbench.analysis.scenario_discovery_util import RuleInductionType
    return prim, feature_scoring, RuleInductionType


def run_prim(x: pd.DataFrame, of_interest: np.ndarray):
    """One PRIM box (EMA Workbench's ``Prim(...).find_box()``) with its peeling and pasting trajectory.

    ``x``: one row per set, numbers (integers as floats) and categories;
    ``of_interest``: bool per row.  PRIM's defaults: peel and paste 5% at a
    step, boxes of at least 5% of the sets, the lenient objective.
    """
    prim, _, _ = _ema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas deprecations inside EMA Workbench
        warnings.simplefilter("ignore", DeprecationWarning)
        finder = prim.Prim(x.reset_index(drop=True), of_interest.astype(int))
        return finder.find_box()


def trajectory_table(box, min_coverage: float) -> pd.DataFrame:
    """PRIM's trajectory as a tidy table (see :class:`Discovery`)."""
    pt = box.peeling_trajectory
    return pd.DataFrame(
        {
            "step": pt["id"].astype(int).to_numpy(),
            "coverage": pt["coverage"].astype(float).to_numpy(),
            "density": pt["density"].astype(float).to_numpy(),
            "mass": pt["mass"].astype(float).to_numpy(),
            "sets": pt["n"].astype(int).to_numpy(),
            "sets_of_interest": pt["k"].astype(int).to_numpy(),
            "restricted": pt["res_dim"].astype(int).to_numpy(),
            "eligible": (pt["coverage"].astype(float) >= min_coverage - 1e-12).to_numpy(),
        }
    )


def choose_step(trajectory: pd.DataFrame, min_coverage: float) -> int:
    """The row of ``trajectory`` chosen by :data:`SELECTION_RULE`."""
    eligible = trajectory[trajectory["coverage"] >= min_coverage - 1e-12]
    if eligible.empty:  # cannot happen: step 0 has coverage 1
        raise DiscoveryError("no peeling step reaches the minimum coverage")
    ranked = eligible.sort_values(["density", "coverage", "step"], ascending=[False, False, True], kind="stable")
    return int(ranked.index[0])


def box_table(box, step: int, kinds: dict[str, str]) -> pd.DataFrame:
    """The limits of box ``step`` on every parameter it restricts, with their quasi-p-values.

    Columns: parameter, kind, lower, upper (numbers; NaN for categories),
    categories (kept, "; "-joined, for a categorical parameter), the
    sweep's own range (sweep_lower, sweep_upper, or sweep_categories),
    lower_restricted and upper_restricted, and qp_lower, qp_upper (a
    categorical parameter's one quasi-p-value is in qp_lower); NaN where a
    side is not restricted.  Integer limits are the integers inside the box.
    """
    limits, initial, qps = box.box_lims[step], box.prim.box_init, box.p_values[step]
    rows = []
    for name in limits.columns:
        if name not in qps:
            continue  # not restricted
        qp = [np.nan if v is None or v < 0 else float(v) for v in qps[name]]
        kind = kinds[name]
        row = {"parameter": name, "kind": kind}
        if kind == "choice":
            row |= {
                "lower": np.nan,
                "upper": np.nan,
                "categories": "; ".join(sorted(limits.loc[0, name])),
                "sweep_lower": np.nan,
                "sweep_upper": np.nan,
                "sweep_categories": "; ".join(sorted(initial.loc[0, name])),
                "lower_restricted": True,
                "upper_restricted": True,
                "qp_lower": qp[0],
                "qp_upper": np.nan,
            }
        else:
            low, high = float(limits.loc[0, name]), float(limits.loc[1, name])
            init_low, init_high = float(initial.loc[0, name]), float(initial.loc[1, name])
            if kind == "int":
                low, high = float(math.ceil(low - 1e-9)), float(math.floor(high + 1e-9))
            row |= {
                "lower": low,
                "upper": high,
                "categories": "",
                "sweep_lower": init_low,
                "sweep_upper": init_high,
                "sweep_categories": "",
                "lower_restricted": low > init_low,
                "upper_restricted": high < init_high,
                "qp_lower": qp[0],
                "qp_upper": qp[1],
            }
        rows.append(row)
    columns = [
        "parameter",
        "kind",
        "lower",
        "upper",
        "categories",
        "sweep_lower",
        "sweep_upper",
        "sweep_categories",
        "lower_restricted",
        "upper_restricted",
        "qp_lower",
        "qp_upper",
    ]
    return pd.DataFrame(rows, columns=columns)


# --- feature scoring ----------------------------------------------------------------------------


def feature_scores(x: pd.DataFrame, of_interest: np.ndarray, seed: int) -> pd.DataFrame:
    """Extra-trees feature scores (EMA Workbench's ``get_ex_feature_scores``, classification).

    Returns columns parameter and score (0-1, summing to 1), largest first;
    ties in name order.  Seeded with ``seed``, so repeatable.
    """
    _, scoring, rule_induction = _ema()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # out-of-bag estimates on few sets warn
        scores, _ = scoring.get_ex_feature_scores(
            x.reset_index(drop=True),
            of_interest.astype(int),
            mode=rule_induction.CLASSIFICATION,
            nr_trees=TREES,
            max_features=max(1, round(x.shape[1] / 3)),
            random_state=seed % 2**32,
        )
    table = pd.DataFrame({"parameter": scores.index.astype(str), "score": scores.iloc[:, 0].astype(float).to_numpy()})
    return table.sort_values(["score", "parameter"], ascending=[False, True], kind="stable").reset_index(drop=True)


# --- words --------------------------------------------------------------------------------------


def design_warnings(design: str, sets: int) -> list[str]:
    """Cautions about reading coverage and density on this design and this many sets."""
    out = []
    if design in ("grid", "morris"):
        out.append(
            f"This is a {design} design: its parameter sets sit on a few levels and do not fill the space, so "
            "coverage and density count grid points, not shares of the parameter space, and a box's limits can "
            "only fall between levels. They mislead as estimates; use an lhs or sobol sweep for scenario discovery."
        )
    elif design not in SPACE_FILLING:
        out.append(
            f"This is a {design} design: coverage and density are shares of the sets listed, and estimate shares of "
            "the parameter space only as far as the list fills it evenly."
        )
    if sets < 100:
        out.append(f"Only {sets} parameter sets: the box's limits are coarse and its quasi-p-values weak.")
    return out


def parameter_meaning(name: str) -> str:
    """A parameter's meaning from the schema, as a short lower-case phrase (empty if unknown)."""
    param = BY_NAME.get(name)
    if param is None:
        return ""
    text = re.sub(r" \([^)]*\)", "", param.description).split(". ")[0].rstrip(".")
    for stop in (": ", "; "):
        text = text.split(stop)[0]
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


#: Units that read as scales rather than amounts: the number is shown without them.
_SCALE_UNITS = ("-", "0-1", "fraction", "probability", "probability per month")


def _amount(value: float, name: str, kind: str) -> str:
    number = str(int(value)) if kind == "int" else f"{value:.3g}"
    param = BY_NAME.get(name)
    unit = param.unit if param is not None else "-"
    return number if unit in _SCALE_UNITS else f"{number} {unit}"


def limit_phrase(row: pd.Series) -> str:
    """One restricted parameter in words, e.g. ``is at most 2.2 hours per team per month``."""
    if row["kind"] == "choice":
        kept = row["categories"].split("; ")
        return f'is "{kept[0]}"' if len(kept) == 1 else "is one of " + ", ".join(f'"{c}"' for c in kept)
    name, kind = row["parameter"], row["kind"]
    if row["lower_restricted"] and row["upper_restricted"]:
        if row["lower"] == row["upper"]:
            return f"is {_amount(row['lower'], name, kind)}"
        low = str(int(row["lower"])) if kind == "int" else f"{row['lower']:.3g}"
        return f"is from {low} to {_amount(row['upper'], name, kind)}"
    if row["upper_restricted"]:
        return f"is at most {_amount(row['upper'], name, kind)}"
    return f"is at least {_amount(row['lower'], name, kind)}"


def _parameter_clause(row: pd.Series) -> str:
    meaning = parameter_meaning(row["parameter"])
    label = f"{row['parameter']} ({meaning})" if meaning else row["parameter"]
    return f"{label} {limit_phrase(row)}"


def summary_sentence(d: Discovery) -> str:
    """The finding in plain words, restating the condition as given.

    E.g. "When turnover.teacher (annual share of teachers ...) is at least
    0.21 per year and time.protected_hours (...) is at most 2.2 hours per
    team per month, 83% of parameter sets have institutionalized_share_y10
    below 0.1 on the mean of their replicates; this region holds 71% of all
    such sets (and 12% of all parameter sets)."  Parameters whose every
    limit has a quasi-p-value of :data:`SIGNIFICANCE` or more follow in a
    separate clause, so the sentence still describes the whole box.
    """
    step = d.chosen_step
    what = d.condition.sets_phrase()
    if d.box.empty:
        return (
            f"No region stands out at a coverage of at least {d.min_coverage:.0%}: over the whole sweep, "
            f"{step['density']:.0%} of parameter sets {what}."
        )
    strong = [_parameter_clause(row) for _, row in d.box.iterrows() if not _is_weak(row)]
    weak = [_parameter_clause(row) for _, row in d.box.iterrows() if _is_weak(row)]
    if strong and weak:
        when = (
            f"{_join(strong)} (and, in limits that chance could explain, quasi-p {SIGNIFICANCE:g} or more: "
            f"{_join(weak)})"
        )
    elif strong:
        when = _join(strong)
    else:
        when = f"{_join(weak)} (limits that chance could explain: every quasi-p-value is {SIGNIFICANCE:g} or more)"
    return (
        f"When {when}, {step['density']:.0%} of parameter sets {what}; this region holds "
        f"{step['coverage']:.0%} of all such sets (and {step['mass']:.0%} of all parameter sets)."
    )


def _join(clauses: list[str]) -> str:
    return clauses[0] if len(clauses) == 1 else ", ".join(clauses[:-1]) + " and " + clauses[-1]


def _is_weak(row: pd.Series) -> bool:
    """Whether every restricted limit of this parameter has a quasi-p-value of :data:`SIGNIFICANCE` or more."""
    qps = [row["qp_lower"], row["qp_upper"]]
    known = [q for q in qps if not np.isnan(q)]
    return bool(known) and all(q >= SIGNIFICANCE for q in known)


def weak_limits(box: pd.DataFrame) -> list[str]:
    """Restricted limits whose quasi-p-value is at or above :data:`SIGNIFICANCE`, e.g. ``turnover.lead (upper)``."""
    out = []
    for _, row in box.iterrows():
        for side in ("lower", "upper"):
            qp = row[f"qp_{side}"]
            if not np.isnan(qp) and qp >= SIGNIFICANCE:
                out.append(row["parameter"] + ("" if row["kind"] == "choice" else f" ({side})"))
    return out


def outcome_meaning(outcome: str) -> str:
    return OUTCOMES.get(outcome, "")
