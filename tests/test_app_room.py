"""The workshop page in a room (issue 20), checked without a browser: the chart's axes and
lines, the tiles' colours and the step counter.  The page in a browser: tests/test_app.py."""

from __future__ import annotations

import re

import numpy as np
import pytest

from improvesim.app import CHART_LINES, TILE_COLOURS, TILE_INK, WorkshopModel, chart_series, share_chart, tiles
from improvesim.app_chart import HEIGHT, WIDTH


@pytest.fixture(scope="module")
def side_by_side():
    model = WorkshopModel(compare_with="plans/deep_bench")
    for _ in range(15):
        model.step()
    return model


def test_the_chart_has_a_line_per_metric_for_each_plan_with_its_months(side_by_side):
    series = chart_series(side_by_side)
    assert set(series) == {"A", "B"}
    for plan, district in (("A", side_by_side.a), ("B", side_by_side.b)):
        collected = district.datacollector.get_model_vars_dataframe()
        for metric in CHART_LINES:
            assert list(series[plan][metric]) == list(collected[metric]), (plan, metric)
    chart = share_chart(side_by_side)
    svg = chart.svg(series)
    for plan in ("A", "B"):
        for metric in CHART_LINES:
            assert f'id="line-{plan}-{metric}"' in svg
            x, y = chart.lines[(plan, metric)].get_data()
            assert list(x) == list(range(1, 16))
            np.testing.assert_array_equal(y, 100 * np.asarray(series[plan][metric]))
    assert side_by_side.a.datacollector is not side_by_side.b.datacollector


def test_the_axes_run_over_the_whole_run_in_years_and_percent_from_the_start():
    model = WorkshopModel()
    chart = share_chart(model)
    svg = chart.svg(chart_series(model))  # before the first step: no lines, the same axes
    ax = chart.figure.axes[0]
    assert ax.get_xlim() == (0, model.a.engine.months) and ax.get_ylim() == (0, 100)
    assert _shown(ax.get_xticks(), ax.get_xticklabels(), ax.get_xlim()) == [
        str(year) for year in range(1, model.a.engine.months // 12 + 1)
    ]
    assert _shown(ax.get_yticks(), ax.get_yticklabels(), ax.get_ylim()) == ["0%", "25%", "50%", "75%", "100%"]
    assert ax.get_xlabel().startswith("Year") and "%" in ax.get_ylabel()
    assert re.search(rf'<svg[^>]* width="{WIDTH}px" height="{HEIGHT}px"', svg)
    assert all("_share" not in name for name, _ in CHART_LINES.values())


def _shown(ticks, labels, limits) -> list[str]:
    """The tick labels drawn within the axis's limits."""
    low, high = limits
    return [
        label.get_text() for tick, label in zip(ticks, labels, strict=True) if low <= tick <= high and label.get_text()
    ]


def test_the_chart_and_tiles_share_their_colours():
    for metric, state in (("authentic_share", "authentic"), ("partial_share", "partial")):
        assert CHART_LINES[metric][1] == TILE_COLOURS[state]
    assert CHART_LINES["inauthentic_share"][1] == TILE_COLOURS["inauthentic"]
    totals = {CHART_LINES["engaged_share"][1], CHART_LINES["institutionalized_share"][1]}
    assert not totals & set(TILE_COLOURS.values())  # a colour means one thing on the page


def test_tile_text_meets_wcag_aa_on_every_tile_colour():
    from coloraide import Color

    for state, colour in TILE_COLOURS.items():
        ink = TILE_INK.get(state, "#000000")
        assert Color(ink).contrast(colour, method="wcag21") >= 4.5, state


def test_tiles_show_number_star_and_coach(side_by_side):
    shown = tiles(side_by_side.a)
    assert [t["index"] for t in shown] == list(range(40))
    for tile, school in zip(shown, side_by_side.a.schools, strict=True):
        assert tile["number"] == f"{school.index}" + (" ★" if school.institutionalized else "")
        assert tile["coach"] == (f"C{school.coach}" if school.coach is not None else "–")
        assert tile["colour"] in TILE_COLOURS.values()
