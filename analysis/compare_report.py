"""The plan-comparison report: one self-contained HTML page (figures embedded) from a Jinja2 template.

Numbers are rounded honestly: money to two significant figures ("$760,000",
"$1.1 million"), schools to one decimal, probabilities to whole percent;
bounds carry no "+" sign; a table row whose every cell is zero with a zero
interval is left out, and so is a table left with no rows.
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from improvesim.analysis import plots
from improvesim.analysis.budget import CASH_ITEMS
from improvesim.analysis.compare import CONDITIONS, OUTCOMES, Comparison
from improvesim.sim.schema import BY_NAME, SOURCES

#: Unit costs shown in the report's budget section, in order.
UNIT_COSTS = (
    "costs.coach_wage",
    "costs.benefits_rate",
    "costs.coach_training",
    "costs.external_coach_daily",
    "costs.coach_days",
    "costs.substitute_daily",
    "costs.substitute_day_hours",
    "costs.lead_stipend",
    "costs.data_system",
    "costs.convening",
    "costs.attendees_per_school",
    "costs.convening_attendee",
    "costs.hub_salary",
    "costs.successor_stipend",
    "costs.staff_hourly",
)


def money(x: float) -> str:
    """Dollars to two significant figures: "$760,000", "$1.1 million", "$12 million", "-$45,000", "$0"."""
    if not math.isfinite(x):
        return "no upper limit" if x > 0 else "—"
    if round(x) == 0:
        return "$0"
    sign, x = ("-" if x < 0 else ""), abs(x)
    rounded = round(x, 1 - math.floor(math.log10(x)))
    if rounded >= 1e6:
        m = rounded / 1e6
        return f"{sign}${m:.1f} million" if m < 10 else f"{sign}${m:,.0f} million"
    return f"{sign}${rounded:,.0f}"


def number(x: float, digits: int = 1) -> str:
    """One decimal, no "+" sign, never "-0.0"."""
    text = f"{x:.{digits}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def percent(p: float) -> str:
    """A probability as a whole percent, "<1%" and ">99%" where rounding would say 0 or 100 wrongly."""
    if 0 < p < 0.005:
        return "<1%"
    if 0.995 <= p < 1:
        return ">99%"
    return f"{p:.0%}"


def cell(mean: float, lo: float, hi: float) -> str:
    """A mean with its 90% interval: "12.3 (6.0 to 19.0)"."""
    return f"{number(mean)} ({number(lo)} to {number(hi)})"


def all_zero(*values: float) -> bool:
    return all(abs(v) < 0.05 for v in values)


@dataclass
class Table:
    """A table for the template: header (list of str) and rows (lists of str)."""

    header: list[str]
    rows: list[list[str]]
    caption: str = ""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def file_digest(path: Path | None) -> str:
    """SHA-256 of a plan file's bytes (hex), or "" when it has no file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path and Path(path).is_file() else ""


def outcome_tables(comp: Comparison, outcomes: pd.DataFrame, condition: str) -> list[Table]:
    """One table per outcome: plans by year, mean (90% interval); all-zero rows and tables left out."""
    tables = []
    for outcome, (label, _, _) in OUTCOMES.items():
        rows = []
        for plan in comp.plans:
            sel = outcomes[
                (outcomes.condition == condition) & (outcomes.plan == plan.name) & (outcomes.outcome == outcome)
            ]
            sel = sel.set_index("year").loc[comp.years_shown]
            if all_zero(*sel["mean"], *sel["p05"], *sel["p95"]):
                continue
            rows.append([plan.name, *(cell(r["mean"], r["p05"], r["p95"]) for _, r in sel.iterrows())])
        if rows:
            tables.append(Table(["plan", *(f"year {y}" for y in comp.years_shown)], rows, label))
    return tables


def best_table(comp: Comparison, best: pd.DataFrame) -> Table:
    header = ["plan", *(CONDITIONS[c]["label"] for c in comp.conditions)]
    rows = [
        [
            p.name,
            *(
                percent(best[(best.condition == c) & (best.plan == p.name)]["probability_best"].iloc[0])
                for c in comp.conditions
            ),
        ]
        for p in comp.plans
    ]
    return Table(header, rows)


def pairwise_matrix(comp: Comparison, pairwise: pd.DataFrame, condition: str) -> Table:
    """Row plan A, column plan B: the probability A beats B (ties in brackets where any)."""
    sel = pairwise[pairwise.condition == condition].set_index(["plan", "other"])
    rows = []
    for a in comp.plans:
        row = [a.name]
        for b in comp.plans:
            if a is b:
                row.append("—")
                continue
            r = sel.loc[(a.name, b.name)]
            text = percent(r["probability_beats"])
            if r["probability_tie"] > 0:
                text += f" (tie {percent(r['probability_tie'])})"
            row.append(text)
        rows.append(row)
    return Table(["plan … beats →", *(p.name for p in comp.plans)], rows)


def verdict_text(row) -> str:
    """Cost per additional school in words."""
    verdict = row["verdict"]
    if verdict == "gain":
        return (
            f"{money(row['cost_per_additional_school'])} ({money(row['cost_per_school_p05'])} to "
            f"{money(row['cost_per_school_p95'])})"
        )
    if verdict == "uncertain gain":
        return (
            f"{money(row['cost_per_additional_school'])}, at least {money(row['cost_per_school_p05'])}, no upper "
            "limit: the gain cannot be told from zero"
        )
    return {
        "dominant": "more schools for less money",
        "dominated": "dominated: costs more, no more schools",
        "no gain": "no gain",
        "no difference": "no difference",
    }[verdict]


def cost_summary(comp: Comparison, costs: pd.DataFrame, condition: str) -> Table:
    rows = []
    for _, r in costs[costs.condition == condition].iterrows():
        reference = r["plan"] == comp.reference
        rows.append(
            [
                r["plan"],
                f"{money(r['total_cost'])} ({money(r['total_cost_p05'])} to {money(r['total_cost_p95'])})",
                money(r["grant_funded"]),
                money(r["district_funded"]),
                money(r["integrated_time_value"]),
                "—" if reference else money(r["extra_cost"]),
                "—" if reference else number(r["extra_schools"]),
                "the reference" if reference else verdict_text(r),
            ]
        )
    header = [
        "plan",
        f"cash over {comp.years} years (90% interval)",
        "grant pays",
        "district pays",
        "integrated time (not cash)",
        "extra cash",
        "extra schools",
        "cost per additional school (90% interval)",
    ]
    return Table(header, rows)


def items_table(comp: Comparison, budget: pd.DataFrame, condition: str) -> Table:
    """Cash items over the horizon, plans as columns; all-zero items left out."""
    sel = budget[budget.condition == condition].groupby(["plan", "line"])["dollars"].sum()
    rows = []
    for key, label in CASH_ITEMS.items():
        values = [sel[(p.name, key)] for p in comp.plans]
        if all(round(v) == 0 for v in values):
            continue
        rows.append([label, *map(money, values)])
    rows.append(["Total cash", *(money(sel[(p.name, "total_cash")]) for p in comp.plans)])
    return Table(["item", *(p.name for p in comp.plans)], rows)


def yearly_table(comp: Comparison, budget: pd.DataFrame, condition: str) -> Table:
    """The district's own budget year by year, plans as columns: where the grant cliff shows."""
    sel = budget[(budget.condition == condition)].set_index(["plan", "line", "year"])["dollars"]
    rows = [
        [f"year {y}", *(money(sel[(p.name, "district_funded", y)]) for p in comp.plans)]
        for y in range(1, comp.years + 1)
    ]
    return Table(["district pays", *(p.name for p in comp.plans)], rows)


def grant_years_table(comp: Comparison, budget: pd.DataFrame, condition: str) -> Table | None:
    sel = budget[(budget.condition == condition)].set_index(["plan", "line", "year"])["dollars"]
    rows = [
        [f"year {y}", *(money(sel[(p.name, "grant_funded", y)]) for p in comp.plans)]
        for y in range(1, comp.years + 1)
        if any(round(sel[(p.name, "grant_funded", y)]) != 0 for p in comp.plans)
    ]
    return Table(["grant pays", *(p.name for p in comp.plans)], rows) if rows else None


def unit_cost_table(comp: Comparison) -> Table:
    params = comp.plans[0].params
    rows = []
    for name in UNIT_COSTS:
        p = BY_NAME[name]
        value = params[name]
        shown = f"${value:,.0f}" if p.unit.startswith("$") else f"{value:g}"
        source = "assumption" if p.source == "assumption" else SOURCES[p.source]
        rows.append([p.description, shown, p.unit, source])
    return Table(["what", "value", "unit", "source"], rows)


def summary_sentences(comp: Comparison, best: pd.DataFrame, pairwise: pd.DataFrame, costs: pd.DataFrame) -> list[str]:
    """Plain-language findings for the top of the report (``**bold**`` marks plan names)."""
    typical = "typical" if "typical" in comp.conditions else comp.conditions[0]
    label = OUTCOMES[comp.outcome][0].lower()
    b = best[best.condition == typical].set_index("plan")["probability_best"]
    leader = b.idxmax()
    others = b.drop(leader).sort_values(ascending=False)
    ahead = [f"{n} {percent(v)}" for n, v in others.items() if v > 0]
    never = [str(n) for n, v in others.items() if v <= 0]
    if not ahead:
        tail = "no other plan ever is"
    else:
        rest = f"; {never[0]} never" if len(never) == 1 else "; the other plans never" if never else ""
        tail = "next: " + ", ".join(ahead) + rest
    lines = [
        f"Under {CONDITIONS[typical]['label']}, **{leader}** has the most {label} at year {comp.years} in "
        f"{percent(b[leader])} of the paired replicates" + (f" ({tail})." if len(others) else ".")
    ]
    pw = pairwise[pairwise.condition == typical].set_index(["plan", "other"])
    c = costs[costs.condition == typical].set_index("plan")
    for plan in comp.plans[1:]:
        r = pw.loc[(plan.name, comp.reference)]
        back = pw.loc[(comp.reference, plan.name)]["probability_beats"]
        row = c.loc[plan.name]
        if r["probability_tie"] == 1:
            text = f"**{plan.name}** has as many {label} as {comp.reference} at year {comp.years} in every replicate"
        elif float(number(r["mean_difference"])) == 0:
            text = (
                f"**{plan.name}** has as many {label} as {comp.reference} at year {comp.years} on average (to one "
                f"decimal; more in {percent(r['probability_beats'])} of replicates, fewer in {percent(back)})"
            )
        else:
            text = (
                f"**{plan.name}** has {number(abs(r['mean_difference']))} "
                f"{'more' if r['mean_difference'] >= 0 else 'fewer'} {label} than {comp.reference} at year "
                f"{comp.years} on average (more in {percent(r['probability_beats'])} of replicates, fewer in "
                f"{percent(back)})"
            )
        if round(row["extra_cost"]) == 0:
            text += f"; over {comp.years} years it costs the same in cash"
        else:
            text += (
                f"; over {comp.years} years it costs {money(abs(row['extra_cost']))} "
                f"{'more' if row['extra_cost'] > 0 else 'less'} in cash"
            )
        if row["verdict"] not in ("no difference",):
            text += "; cost per additional school: " + verdict_text(row)
        others = [
            f"{percent(best[(best.condition == cond) & (best.plan == plan.name)]['probability_best'].iloc[0])} "
            f"when {CONDITIONS[cond]['when']}"
            for cond in comp.conditions
            if cond != typical
        ]
        if others:
            text += "; chance it is the best plan: " + ", ".join(others)
        lines.append(text + ".")
    return lines


def build_html(
    comp: Comparison,
    tables: dict[str, pd.DataFrame],
    title: str,
    command: str,
    version: str,
    when: datetime | None = None,
    discovery: list[str] | None = None,
    uncertainty: str = "",
    posterior_file: Path | None = None,
) -> str:
    """The report as one HTML page; ``tables`` holds outcomes, differences, best, pairwise, costs, budget
    and acceptability (the frames of :mod:`improvesim.analysis.compare`); ``command`` is the exact
    command line that made it, ``version`` improvesim's version; ``discovery`` the sentences of
    :mod:`improvesim.analysis.plan_discovery`, if it was run; ``uncertainty`` says what the intervals
    and probabilities include (replicate noise only, or posterior draws too); ``posterior_file`` is the
    posterior the replicates drew from (``--posterior``), named with its digest and read as a warning."""
    typical = "typical" if "typical" in comp.conditions else comp.conditions[0]
    label = OUTCOMES[comp.outcome][0]
    figures = {
        "trajectories": _png(plots.plan_trajectories(comp, typical)),
        "differences": _png(plots.plan_differences(tables["differences"], comp.reference, comp.years, label)),
        "cost": _png(plots.cost_effect(tables["costs"], tables["outcomes"], typical, comp.outcome, comp.years, label)),
        "acceptability": _png(plots.acceptability_curve(tables["acceptability"], typical, label)),
    }
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("improvesim.analysis", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    summary = summary_sentences(comp, tables["best"], tables["pairwise"], tables["costs"])
    return env.get_template("compare_report.html.j2").render(
        title=title,
        comp=comp,
        condition_label=CONDITIONS[typical]["label"],
        outcome_label=label,
        summary=[s.split("**") for s in summary],
        plans=[
            {
                "name": p.name,
                "description": p.description,
                "file": p.path.name if p.path else "",
                "sha256": file_digest(p.path),
            }
            for p in comp.plans
        ],
        posterior_digest=(
            {"name": "posterior (--posterior)", "file": posterior_file.name, "sha256": file_digest(posterior_file)}
            if posterior_file is not None
            else None
        ),
        with_posterior=posterior_file is not None,
        provenance={
            "version": version,
            "seed": comp.seed,
            "date": (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command,
        },
        figures=figures,
        outcome_tables=outcome_tables(comp, tables["outcomes"], typical),
        best=best_table(comp, tables["best"]),
        pairwise=pairwise_matrix(comp, tables["pairwise"], typical),
        costs=cost_summary(comp, tables["costs"], typical),
        items=items_table(comp, tables["budget"], typical),
        district_years=yearly_table(comp, tables["budget"], typical),
        grant_years=grant_years_table(comp, tables["budget"], typical),
        unit_costs=unit_cost_table(comp),
        wtp_top=money(float(np.max(tables["acceptability"]["wtp"]))),
        discovery=discovery or [],
        uncertainty=uncertainty,
    )
