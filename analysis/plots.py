"""Figures.  Plot functions return a matplotlib Figure; they never call ``show()``."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from sim.engine import SimulationResult

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
