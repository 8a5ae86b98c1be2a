"""Figures.  Plot functions return a matplotlib Figure; they never call ``show()``."""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import BoundaryNorm
from matplotlib.figure import Figure

from improvesim.sim.engine import SimulationResult

# Names of scenarios, plans, files and parameters are shown as written: a "$" in a name is a dollar sign,
# never the start of mathtext (a plan named "$\frac$" would otherwise fail when the figure is drawn).
matplotlib.rcParams["text.parse_math"] = False

#: Okabe-Ito colour-blind-safe palette.
OKABE_ITO = {
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
    "black": "#000000",
}

TRAJECTORIES = (
    ("engaged_share", "Engaged", OKABE_ITO["sky"], "-"),
    ("authentic_share", "Authentic (all six principles)", OKABE_ITO["green"], "-"),
    ("partial_share", "Partially authentic", OKABE_ITO["orange"], "--"),
    ("inauthentic_share", "Inauthentic", OKABE_ITO["purple"], ":"),
    ("institutionalized_share", "Institutionalized", OKABE_ITO["blue"], "-"),
    ("faded_share", "Faded", OKABE_ITO["vermillion"], "-."),
)


def trajectories(result: SimulationResult, title: str) -> Figure:
    """Shares of schools over time: replicate mean with a 90% band."""
    fig = Figure(figsize=(12, 6), dpi=110)
    ax = fig.subplots()
    T = result.district.shape[1]
    years = (np.arange(T) + 1) / 12.0
    for metric, label, colour, style in TRAJECTORIES:
        values = result.metric(metric)
        lo, hi = np.percentile(values, [5, 95], axis=0)
        ax.fill_between(years, lo, hi, color=colour, alpha=0.15, linewidth=0)
        ax.plot(years, values.mean(axis=0), color=colour, linestyle=style, linewidth=2.2, label=label)
    ax.set_xlim(0, years[-1])
    ax.set_ylim(0, 1)
    ax.set_xlabel("Years since the start", fontsize=12)
    ax.set_ylabel("Share of the district's schools", fontsize=12)
    ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
    ax.set_title(f"{title}: {len(result.seeds)} replicates, mean and 90% band", fontsize=13)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=11, frameon=False)
    fig.tight_layout()
    return fig


def _short(name: str) -> str:
    return name.replace("governance.", "gov.").replace("sensemaking.", "sense.")


def sobol_bars(table, outcome: str) -> Figure:
    """First-order and total Sobol' indices with 95% intervals, largest total first."""
    return _paired_bars(
        table,
        ("ST", "total (ST)"),
        ("S1", "first order (S1)"),
        "Share of the variance of the replicate mean",
        f"Sobol' indices: {outcome} (bars: 95% intervals)",
    )


def delta_bars(table, outcome: str) -> Figure:
    """Borgonovo's delta (moment-independent) beside the first-order S1, with 95% intervals, largest delta first."""
    return _paired_bars(
        table,
        ("delta", "Borgonovo's delta (moment-independent)"),
        ("S1", "first order (S1, share of the variance)"),
        "Index (0 to 1) for the replicate mean",
        f"Delta and first-order indices: {outcome} (bars: 95% intervals)",
    )


#: A bar chart of indices shows at most this many factors (the largest); the tables keep every factor.
MOST_BARS = 30


def _paired_bars(table, main: tuple[str, str], second: tuple[str, str], xlabel: str, title: str) -> Figure:
    """Two indices per factor as horizontal bars with error bars (``COLUMN_conf``), sorted by the first;
    with more than :data:`MOST_BARS` factors only the largest by the first index, and the title says so."""
    t = table.sort_values(main[0], ascending=True)
    if len(t) > MOST_BARS:
        title += f"\nthe {MOST_BARS} largest of {len(t)} factors (all in the table)"
        t = t.tail(MOST_BARS)
    fig = Figure(figsize=(9, 0.35 * len(t) + 1.8), dpi=110)
    ax = fig.subplots()
    y = np.arange(len(t))
    for offset, (column, label), color in ((0.2, main, "blue"), (-0.2, second, "orange")):
        ax.barh(y + offset, t[column], 0.4, xerr=t[f"{column}_conf"], color=OKABE_ITO[color], label=label, capsize=2)
    ax.set_yticks(y, [_short(f) for f in t["factor"]], fontsize=10)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(xlabel, fontsize=11)
    ax.set_title(title, fontsize=12)
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def s2_heatmap(s2, outcome: str) -> Figure:
    """Second-order Sobol' indices (interactions of pairs)."""
    values = s2.to_numpy(dtype=float)
    fig = Figure(figsize=(0.45 * len(s2) + 3.5, 0.45 * len(s2) + 2.5), dpi=110)
    ax = fig.subplots()
    limit = max(np.nanmax(np.abs(values)), 1e-6)
    image = ax.imshow(values, cmap="cividis", vmin=0, vmax=limit)
    labels = [_short(n) for n in s2.index]
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    fig.colorbar(image, ax=ax, label="S2")
    ax.set_title(f"Second-order indices: {outcome}", fontsize=11)
    fig.tight_layout()
    return fig


def morris_scatter(table, outcome: str) -> Figure:
    """Morris mu_star (importance) against sigma (non-linearity and interactions)."""
    fig = Figure(figsize=(9, 6.5), dpi=110)
    ax = fig.subplots()
    ax.errorbar(
        table["mu_star"],
        table["sigma"],
        xerr=table["mu_star_conf"],
        fmt="o",
        color=OKABE_ITO["blue"],
        ecolor=OKABE_ITO["sky"],
        capsize=2,
    )
    for _, row in table.iterrows():
        ax.annotate(
            _short(row["factor"]), (row["mu_star"], row["sigma"]), fontsize=8, xytext=(4, 3), textcoords="offset points"
        )
    top = max(table["mu_star"].max(), table["sigma"].max()) * 1.1 or 1.0
    ax.plot([0, top], [0, top], linestyle="--", color="grey", linewidth=0.8, label="sigma = mu*")
    ax.set_xlabel("mu* (mean absolute elementary effect)", fontsize=11)
    ax.set_ylabel("sigma (spread of elementary effects)", fontsize=11)
    ax.set_title(f"Morris screening: {outcome}", fontsize=12)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def convergence_lines(conv, outcome: str, index: str, top: int = 6) -> Figure:
    """An index recomputed at a quarter, half and all of the samples, for the top factors."""
    full = conv[conv["samples"] == "full"].nlargest(top, index)["factor"]
    fig = Figure(figsize=(8, 5), dpi=110)
    ax = fig.subplots()
    palette = list(OKABE_ITO.values())
    for i, factor in enumerate(full):
        rows = conv[conv["factor"] == factor]
        ax.errorbar(
            rows["base_samples"],
            rows[index],
            yerr=rows.get(f"{index}_conf"),
            marker="o",
            capsize=2,
            color=palette[i % len(palette)],
            label=_short(factor),
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("base samples (Sobol' N) or trajectories", fontsize=11)
    ax.set_ylabel(index, fontsize=11)
    ax.set_title(f"Convergence of {index}: {outcome}", fontsize=12)
    ax.legend(frameon=False, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


#: Plan colours: the Okabe-Ito palette, then grey and wine (Paul Tol), so ten plans stay distinct.
PLAN_COLOURS = [OKABE_ITO[k] for k in ("black", "orange", "sky", "green", "vermillion", "blue", "purple", "yellow")] + [
    "#999999",
    "#882255",
]
PLAN_STYLES = ["-", "--", "-.", ":", "-", "--", "-.", ":", "--", "-."]


def plan_trajectories(comp, condition: str) -> Figure:
    """Institutionalized, at least partially authentic and engaged schools per plan over time, mean and
    90% band (``comp``: an :class:`improvesim.analysis.compare.Comparison`)."""
    titles = {
        "institutionalized": "Institutionalized",
        "at_least_partial": "At least partially authentic",
        "engaged": "Engaged",
    }
    fig = Figure(figsize=(13, 4.6), dpi=110)
    axes = fig.subplots(1, 3, sharey=True)
    for ax, (metric, title) in zip(axes, titles.items(), strict=True):
        for i, plan in enumerate(comp.plans):
            values = comp.trajectories[(condition, plan.name)][metric]
            years = (np.arange(values.shape[1]) + 1) / 12.0
            lo, hi = np.percentile(values, [5, 95], axis=0)
            colour = PLAN_COLOURS[i % len(PLAN_COLOURS)]
            ax.fill_between(years, lo, hi, color=colour, alpha=0.12, linewidth=0)
            ax.plot(
                years,
                values.mean(axis=0),
                color=colour,
                linestyle=PLAN_STYLES[i % len(PLAN_STYLES)],
                linewidth=2,
                label=plan.name,
            )
        ax.set_title(title, fontsize=13)
        ax.set_xlabel("Years", fontsize=11)
        ax.set_xlim(0, years[-1])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"Schools (of {comp.schools})", fontsize=11)
    axes[0].set_ylim(0, comp.schools)
    fig.legend(
        *axes[0].get_legend_handles_labels(),
        loc="lower center",
        ncol=min(len(comp.plans), 4),
        frameon=False,
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def plan_differences(differences, reference: str, year: int, outcome_label: str) -> Figure:
    """Paired difference from the reference plan on the decision outcome at ``year``, by condition,
    with 90% intervals (``differences``: :func:`improvesim.analysis.compare.differences_table`)."""
    d = differences[differences["year"] == year]
    plans = list(dict.fromkeys(d["plan"]))
    conditions = list(dict.fromkeys(d["condition"]))
    fig = Figure(figsize=(10, 0.6 * len(plans) + 1.8), dpi=110)
    ax = fig.subplots()
    height = 0.8 / max(len(conditions), 1)
    colours = [OKABE_ITO[k] for k in ("sky", "black", "vermillion", "green", "purple")]
    for j, condition in enumerate(conditions):
        rows = d[d["condition"] == condition].set_index("plan").loc[plans]
        y = np.arange(len(plans)) + (j - (len(conditions) - 1) / 2) * height
        ax.errorbar(
            rows["difference"],
            y,
            xerr=[rows["difference"] - rows["p05"], rows["p95"] - rows["difference"]],
            fmt="o",
            color=colours[j % len(colours)],
            capsize=3,
            label=condition,
        )
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_yticks(np.arange(len(plans)), plans, fontsize=11)
    ax.invert_yaxis()
    ax.set_xlabel(f"{outcome_label} by year {year}, minus {reference} (90% interval)", fontsize=11)
    ax.legend(title="condition", frameon=False, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def cost_effect(costs, outcomes, condition: str, outcome: str, year: int, outcome_label: str) -> Figure:
    """Cash cost over the horizon against the decision outcome at ``year``, one point per plan with
    90% intervals on both axes (``costs``/``outcomes``: tables of :mod:`improvesim.analysis.compare`)."""
    c = costs[costs["condition"] == condition].set_index("plan")
    o = outcomes[(outcomes.condition == condition) & (outcomes.outcome == outcome) & (outcomes.year == year)]
    o = o.set_index("plan").loc[c.index]
    fig = Figure(figsize=(9, 5.5), dpi=110)
    ax = fig.subplots()
    for i, plan in enumerate(c.index):
        x, y = c.loc[plan, "total_cost"] / 1e6, o.loc[plan, "mean"]
        ax.errorbar(
            x,
            y,
            xerr=[[x - c.loc[plan, "total_cost_p05"] / 1e6], [c.loc[plan, "total_cost_p95"] / 1e6 - x]],
            yerr=[[y - o.loc[plan, "p05"]], [o.loc[plan, "p95"] - y]],
            fmt="o",
            markersize=9,
            color=PLAN_COLOURS[i % len(PLAN_COLOURS)],
            capsize=3,
            zorder=3,
        )
        ax.annotate(plan, (x, y), fontsize=10, xytext=(6, 4), textcoords="offset points")
    ax.set_xlabel("Cash cost over the horizon (million dollars)", fontsize=11)
    ax.set_ylabel(f"{outcome_label} at year {year}", fontsize=11)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def acceptability_curve(curve, condition: str, outcome_label: str) -> Figure:
    """The cost-effectiveness acceptability curve: probability that each plan is the best buy against
    the willingness to pay per additional school (``curve``:
    :func:`improvesim.analysis.compare.acceptability_table`)."""
    c = curve[curve["condition"] == condition]
    scale, unit = (1e6, "million") if c["wtp"].max() > 2e6 else (1e3, "thousand")
    fig = Figure(figsize=(10, 5.5), dpi=110)
    ax = fig.subplots()
    for i, plan in enumerate(dict.fromkeys(c["plan"])):
        rows = c[c["plan"] == plan]
        ax.plot(
            rows["wtp"] / scale,
            rows["probability_best_buy"],
            color=PLAN_COLOURS[i % len(PLAN_COLOURS)],
            linestyle=PLAN_STYLES[i % len(PLAN_STYLES)],
            linewidth=2,
            label=plan,
        )
    ax.set_xlabel(f"Willingness to pay per school ({outcome_label.lower()}), {unit} dollars", fontsize=11)
    ax.set_ylabel("Probability the plan is the best buy", fontsize=11)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0, c["wtp"].max() / scale)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=10)
    fig.tight_layout()
    return fig


def frontier_plot(table, title: str) -> Figure:
    """Every parameter set's cost and institutionalized schools; the sets left on the frontier (none
    beaten by a set costing no more, :mod:`improvesim.analysis.frontier`) highlighted."""
    fig = Figure(figsize=(10, 6.5), dpi=110)
    ax = fig.subplots()
    off = table[~table["on_frontier"]]
    on = table[table["on_frontier"]].sort_values("cost_total")
    ax.scatter(
        off["cost_total"] / 1e6,
        off["institutionalized_schools"],
        s=18,
        color=OKABE_ITO["sky"],
        alpha=0.6,
        label="dropped: beaten by a plan costing no more",
    )
    ax.errorbar(
        on["cost_total"] / 1e6,
        on["institutionalized_schools"],
        yerr=[
            on["institutionalized_schools"] - on["institutionalized_p05"],
            on["institutionalized_p95"] - on["institutionalized_schools"],
        ],
        fmt="o",
        color=OKABE_ITO["vermillion"],
        capsize=3,
        label="remaining plans (90% intervals)",
    )
    ax.set_xlabel("Total cost over the horizon (million dollars)", fontsize=12)
    ax.set_ylabel("Institutionalized schools at the horizon", fontsize=12)
    ax.set_title(title, fontsize=13)
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def pair_plot(particles, priors, point=None) -> Figure:
    """The joint posterior in pairs: weighted 2-D histograms below the diagonal, weighted marginal
    histograms on it, each over its prior range (a flat marginal is the prior).

    ``particles`` has a column per constant and ``weight``; ``priors`` is a
    sequence of (name, low, high); ``point`` ({name: value}, optional) is
    marked in orange (the kernel-density mode).
    """
    n = len(priors)
    fig = Figure(figsize=(1.9 * n + 0.6, 1.9 * n + 0.6), dpi=100)
    axes = np.atleast_2d(fig.subplots(n, n, squeeze=False))
    w = particles["weight"].to_numpy(dtype=float)
    for i, (yi, ylo, yhi) in enumerate(priors):
        for j, (xj, xlo, xhi) in enumerate(priors):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(particles[xj], bins=20, range=(xlo, xhi), weights=w, color=OKABE_ITO["blue"])
                ax.set_yticks([])
            else:
                ax.hist2d(
                    particles[xj], particles[yi], bins=15, range=((xlo, xhi), (ylo, yhi)), weights=w, cmap="Blues"
                )
            if point is not None:
                ax.axvline(point[xj], color=OKABE_ITO["orange"], linewidth=1)
                if i != j:
                    ax.axhline(point[yi], color=OKABE_ITO["orange"], linewidth=1)
            ax.tick_params(labelsize=6)
            if i == n - 1:
                ax.set_xlabel(_short(xj), fontsize=7)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(_short(yi), fontsize=7)
            elif j > 0:
                ax.set_yticklabels([])
    fig.suptitle("Posterior of the calibrated constants (weighted particles; orange: the joint KDE mode)", fontsize=10)
    fig.tight_layout()
    return fig


#: The survival figure's panels: event, what the curve shows, colour.
SURVIVAL_PANELS = (
    ("institutionalized", "Share of invited schools not yet institutionalized", OKABE_ITO["blue"]),
    ("faded", "Share of once-authentic schools not yet faded", OKABE_ITO["vermillion"]),
)


def survival_curves(frame, title: str, confidence: float = 0.9) -> Figure:
    """Kaplan-Meier curves with pointwise intervals, one panel per event (a :func:`survival_frame`)."""
    from improvesim.analysis.survival import EVENTS, kaplan_meier

    fig = Figure(figsize=(12, 5), dpi=110)
    axes = fig.subplots(1, len(SURVIVAL_PANELS), sharey=True)
    for ax, (event, label, colour) in zip(axes, SURVIVAL_PANELS, strict=True):
        km = kaplan_meier(frame, event, confidence)
        at_risk = int((frame["event"] == event).sum())
        if km.empty:
            ax.text(0.5, 0.5, "no school at risk", ha="center", va="center", transform=ax.transAxes, fontsize=12)
        else:
            ax.fill_between(km["months"], km["low"], km["high"], step="post", color=colour, alpha=0.2, linewidth=0)
            ax.step(km["months"], km["survival"], where="post", color=colour, linewidth=2.2)
        ax.set_title(f"{label}\n({at_risk:,} schools at risk)", fontsize=11)
        ax.set_xlabel(EVENTS[event].capitalize(), fontsize=11)
        ax.set_ylim(0, 1.02)
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0%}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Kaplan-Meier estimate", fontsize=11)
    fig.suptitle(f"{title}: time to events, {confidence:.0%} pointwise intervals (schools pooled)", fontsize=13)
    fig.tight_layout()
    return fig


def discovery_tradeoff(trajectory, chosen: int, min_coverage: float, title: str) -> Figure:
    """PRIM's peeling trajectory: density against coverage, one point per step, the chosen step marked.

    ``trajectory`` as :class:`improvesim.analysis.discovery.Discovery` holds it
    (coverage, density, restricted per step); ``chosen`` is its row.
    """
    fig = Figure(figsize=(8, 6), dpi=110)
    ax = fig.subplots()
    ax.plot(trajectory["coverage"], trajectory["density"], color="grey", linewidth=0.8, zorder=1)
    most = int(trajectory["restricted"].max())
    norm = BoundaryNorm(np.arange(-0.5, most + 1.5), 256)
    points = ax.scatter(
        trajectory["coverage"],
        trajectory["density"],
        c=trajectory["restricted"],
        cmap="viridis",
        norm=norm,
        s=28,
        zorder=2,
    )
    fig.colorbar(points, ax=ax, ticks=range(most + 1), label="parameters restricted")
    pick = trajectory.iloc[chosen]
    ax.scatter(
        [pick["coverage"]],
        [pick["density"]],
        s=220,
        facecolors="none",
        edgecolors=OKABE_ITO["vermillion"],
        linewidths=2.2,
        zorder=3,
        label=f"chosen: step {int(pick['step'])} (coverage {pick['coverage']:.2f}, density {pick['density']:.2f})",
    )
    ax.axvline(min_coverage, color=OKABE_ITO["vermillion"], linestyle="--", linewidth=1, label="minimum coverage")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("Coverage: share of all sets of interest inside the box", fontsize=11)
    ax.set_ylabel("Density: share of the box's sets that are of interest", fontsize=11)
    ax.set_title(title, fontsize=12)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", frameon=False, fontsize=9)
    fig.tight_layout()
    return fig
