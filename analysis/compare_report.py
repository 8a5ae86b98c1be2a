"""The plan-comparison report: one self-contained HTML page (figures embedded)."""

from __future__ import annotations

import base64
import html
import io
import re

import pandas as pd

from improvesim.analysis import plots
from improvesim.analysis.compare import CONDITIONS, Comparison, winners

STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.9em; margin-bottom: 0.2em; } h3 { font-size: 1.1em; margin-bottom: 0.2em; } h2 { font-size: 1.4em; margin-top: 1.6em; border-bottom: 2px solid #0072B2; }
.summary { background: #f2f7fb; border-left: 6px solid #0072B2; padding: 0.8em 1.2em; font-size: 1.08em; }
.summary li { margin: 0.4em 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.95em; }
th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; text-align: right; }
th { background: #eef2f5; } td:first-child, th:first-child, td:nth-child(2), th:nth-child(2) { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; } figcaption { color: #444; font-size: 0.95em; }
.note { color: #444; font-size: 0.95em; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-after: avoid; } figure { page-break-inside: avoid; } }
"""


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode()


def _figure(fig, caption: str, alt: str) -> str:
    return (
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{_png(fig)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def _table(frame: pd.DataFrame, money: tuple[str, ...] = (), digits: int = 1) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = []
    for _, row in frame.iterrows():
        cells = []
        for col, value in row.items():
            if isinstance(value, float):
                text = "—" if pd.isna(value) else (f"${value:,.0f}" if col in money else f"{value:,.{digits}f}")
            else:
                text = html.escape(str(value))
            cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _bold(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def build_html(
    comp: Comparison,
    outcomes: pd.DataFrame,
    differences: pd.DataFrame,
    costs: pd.DataFrame,
    summary: list[str],
    title: str,
) -> str:
    final = int(costs["year"].max())
    typical = "typical" if "typical" in comp.conditions else comp.conditions[0]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>{comp.schools} schools, {comp.years} years, {comp.replicates} simulated replicates of each plan "
        f"under each condition, on the same random seeds for every plan (common random numbers), so that differences "
        f"between plans are not differences of luck. Intervals are 90%: 9 in 10 replicates fall inside.</p>",
        "<h2>In short</h2><div class='summary'><ul>",
        *[f"<li>{_bold(line)}</li>" for line in summary],
        "</ul></div>",
        "<h2>The plans</h2>",
        _table(
            pd.DataFrame({"plan": [p.name for p in comp.plans], "what it does": [p.description for p in comp.plans]})
        ),
        f"<p class='note'>The first plan, <strong>{html.escape(comp.reference)}</strong>, is the reference every other "
        "plan is compared with.</p>",
        "<h2>How the district changes over time</h2>",
        _figure(
            plots.plan_trajectories(comp, typical),
            "Schools institutionalized (improvement embedded in their routines, and not lost since), authentic "
            "(practising all six principles of improvement science) and engaged, under "
            f"{CONDITIONS[typical]['label']}. "
            "Lines: mean over replicates; bands: 90% intervals.",
            "trajectories per plan",
        ),
        "<h2>Schools by year</h2>",
        "<p class='note'>Mean over replicates, with the 90% interval in brackets, under "
        f"{CONDITIONS[typical]['label']}.</p>",
    ]
    order = [p.name for p in comp.plans]
    for outcome, label in (
        ("institutionalized_schools", "Institutionalized schools"),
        ("authentic_schools", "Authentic schools"),
        ("engaged_schools", "Engaged schools"),
    ):
        rows = outcomes[(outcomes.condition == typical) & (outcomes.outcome == outcome)].copy()
        rows["cell"] = rows.apply(lambda r: f"{r['mean']:.1f} ({r.p05:.0f} to {r.p95:.0f})", axis=1)
        pivot = rows.pivot(index="plan", columns="year", values="cell").loc[order]
        pivot.columns = [f"year {y}" for y in pivot.columns]
        parts += [f"<h3>{label}</h3>", _table(pivot.reset_index())]
    parts += [
        "<h2>Difference from the reference plan</h2>",
        "<p class='note'>Extra institutionalized schools compared with the reference, computed replicate by replicate "
        "on the same seeds.</p>",
        _figure(
            plots.plan_differences(differences, comp.reference, final),
            f"Extra institutionalized schools by year {final}, per condition (90% intervals).",
            "differences",
        ),
    ]
    d = differences.copy()
    d["cell"] = d.apply(lambda r: f"{r.extra_institutionalized_schools:+.1f} ({r.p05:+.0f} to {r.p95:+.0f})", axis=1)
    for year in sorted(set(d["year"])):
        pivot = d[d.year == year].pivot(index="plan", columns="condition", values="cell")
        pivot = pivot.loc[[p.name for p in comp.plans[1:]], comp.conditions]
        pivot.columns = [CONDITIONS[c]["label"] for c in pivot.columns]
        parts += [
            f"<h3>Extra institutionalized schools by year {year} (90% interval)</h3>",
            _table(pivot.reset_index()),
        ]

    parts += [
        "<h2>Cost</h2>",
        "<p class='note'>Costs over the whole horizon in US dollars, from the scenario's [costs]: coach salaries and "
        "benefits, team members' protected time, convenings and hub staff. Cost per additional institutionalized "
        "school is the extra cost over the reference divided by the extra schools institutionalized at the horizon "
        "(shown only when the plan adds schools).</p>",
        _figure(
            plots.cost_effect(costs, typical),
            f"Total cost and extra institutionalized schools at year {final}.",
            "cost",
        ),
        _table(
            costs[costs.condition == typical][
                ["plan", "total_cost", "extra_cost", "extra_institutionalized_schools", "cost_per_additional_school"]
            ].rename(
                columns={
                    "total_cost": "total cost",
                    "extra_cost": "extra cost",
                    "extra_institutionalized_schools": "extra schools",
                    "cost_per_additional_school": "cost per extra school",
                }
            ),
            money=("total cost", "extra cost", "cost per extra school"),
        ),
        "<h2>Robustness: which plan wins under each condition</h2>",
        _table(
            winners(comp, final)
            .rename(columns={"institutionalized_schools": "schools institutionalized"})
            .assign(condition=lambda f: f["condition"].map(lambda c: CONDITIONS[c]["label"]))
        ),
        "<h2>What this is, and what it is not</h2>",
        "<p class='note'>These are simulations of a model of how districts adopt continuous improvement (improvesim; "
        "the model and its evidence are described in docs/ODD.md). They compare plans under the model's assumptions, "
        "which rest on published turnover rates and case studies but are not fitted to your district. Use the "
        "differences between plans, and whether they hold across conditions, more than the absolute numbers.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
