"""The workshop page's chart: district shares of plan A (solid) and plan B (dashed) over the run.

Drawn with Matplotlib as an SVG whose text stays text (so the page's text rules
apply to it, and it stays sharp on a projector), at the pixel size of its box:
one SVG unit is one CSS pixel.  The x axis runs over the whole run in months,
ticked at each school year's first August and at every quarter; the y axis is
the share of the district's schools in %, from 0 to 100.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

#: The chart's size in CSS pixels (the page's box for it has this size).
WIDTH, HEIGHT = 456, 280
#: Margins in pixels: left (tick labels and y label), right, top, bottom (tick labels and x label).
MARGINS = (84, 14, 12, 62)
#: Font size of every label, in pixels.
FONT_PX = 18
MONTHS_PER_YEAR = 12
#: Line style by plan: plan A solid, plan B dashed.
PLAN_STYLES = {"A": "-", "B": (0, (5, 2.5))}
_RC = {"svg.fonttype": "none", "svg.hashsalt": "improvesim", "font.size": FONT_PX}
_SIZE = re.compile(r'<svg([^>]*?) width="[0-9.]+pt" height="[0-9.]+pt"')


class ShareChart:
    """The chart of one page's run: the axes are built once, and each step redraws only the lines.

    ``colours`` gives each metric's colour (the metrics drawn are its keys, in
    order); ``plans`` the plans shown ("A", or "A" and "B"); ``months`` the
    run's length in months (the x axis runs from 0 to it).
    """

    def __init__(self, colours: Mapping[str, str], plans: Sequence[str], months: int):
        with matplotlib.rc_context(_RC):
            self.figure = _axes_figure(months)
            ax = self.figure.axes[0]
            self.lines = {
                (plan, metric): ax.plot(
                    [],
                    [],
                    color=colour,
                    linestyle=PLAN_STYLES[plan],
                    linewidth=3,
                    gid=f"line-{plan}-{metric}",
                )[0]
                for plan in plans
                for metric, colour in colours.items()
            }

    def svg(self, series: Mapping[str, Mapping[str, Sequence[float]]]) -> str:
        """The chart as an SVG element (a string), WIDTH x HEIGHT pixels.

        ``series`` maps each plan to its district shares by metric, each a
        sequence of shares (0 to 1) for months 1, 2, ... of the run so far
        (empty before the first step; NaNs are gaps).  Each line is an SVG
        group with id ``line-<plan>-<metric>`` (e.g. ``line-B-authentic_share``).
        Raises KeyError for a plan or metric the chart was not built with.
        """
        for (plan, metric), line in self.lines.items():
            values = 100 * np.asarray(series[plan][metric], dtype=float)
            line.set_data(np.arange(1, values.size + 1), values)
        out = io.StringIO()
        with matplotlib.rc_context(_RC):
            self.figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        svg = out.getvalue()
        svg = svg[svg.index("<svg") :]
        return _SIZE.sub(rf'<svg\1 width="{WIDTH}px" height="{HEIGHT}px"', svg, count=1)


def _axes_figure(months: int) -> Figure:
    """A figure of WIDTH x HEIGHT pixels (72 dpi: a point is a pixel) with the empty, labelled axes."""
    left, right, top, bottom = MARGINS
    fig = Figure(figsize=(WIDTH / 72, HEIGHT / 72), dpi=72)
    fig.patch.set_alpha(0)
    ax = fig.add_axes((left / WIDTH, bottom / HEIGHT, (WIDTH - left - right) / WIDTH, (HEIGHT - top - bottom) / HEIGHT))
    ax.set_xlim(0, months)
    ax.set_ylim(0, 100)
    ax.xaxis.set_major_locator(MultipleLocator(MONTHS_PER_YEAR * _year_step(months)))
    ax.xaxis.set_minor_locator(MultipleLocator(3))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: f"{int(x) // MONTHS_PER_YEAR + 1}" if 0 <= x < months else "")
    )
    ax.yaxis.set_major_locator(MultipleLocator(25))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:.0f}%"))
    ax.set_xlabel("Year (ticks: August; small: quarters)", labelpad=2)
    ax.set_ylabel("Schools (%)", labelpad=2)
    ax.grid(axis="y", color="#d0d0d0", linewidth=1)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig


def _year_step(months: int) -> int:
    """Years between labelled ticks: every year up to 12 years, then fewer (the labels must not touch)."""
    years = max(months // MONTHS_PER_YEAR, 1)
    return 1 if years <= 12 else -(-years // 12)
