"""The story of one school: its events and states, month by month, in words."""

from __future__ import annotations

from improvesim.analysis.tiles import TILE_COLOUR_NAMES, tile_state_of
from improvesim.sim.events import EVENT_TEXT, Event
from improvesim.sim.state import Authenticity, Engagement

MONTHS = (
    "August",
    "September",
    "October",
    "November",
    "December",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
)


def when(month: int) -> str:
    """'Year 2, March' for a month index (0 = the first August)."""
    return f"Year {month // 12 + 1}, {MONTHS[month % 12]}"


def district_events(events: list[Event]) -> list[Event]:
    return [e for e in events if e.school == -1]


def school_events(events: list[Event], school: int) -> list[Event]:
    return [e for e in events if e.school == school]


def year_end_line(records: dict, school: int, month: int) -> str:
    """One line on where the school stands at a month, from the recorded states: its engagement
    and the colour its tile shows on the workshop page (:func:`~improvesim.analysis.tiles.tile_state_of`:
    a paused school's tile is grey whatever its practice), then its practice and team."""
    codes = int(records["engagement"][month, school]), int(records["authenticity"][month, school])
    engagement = Engagement(codes[0]).name.lower().replace("_", " ")
    authenticity = Authenticity(codes[1]).name.lower()
    tile = TILE_COLOUR_NAMES[tile_state_of(*codes)]
    practised = int(records["principles_practised"][month, school])
    embedded = float(records["embeddedness"][month, school])
    commitment = float(records["commitment"][month, school])
    extra = ", institutionalized" if records["institutionalized"][month, school] else ""
    return (
        f"{engagement} ({tile} tile); {authenticity} ({practised} of 6 principles practised); team commitment {commitment:.2f}; "
        f"routines embedded {embedded:.2f}{extra}"
    )


def school_story(events: list[Event], records: dict, school: int, *, max_events: int | None = None) -> list[str]:
    """The school's story: what happened, month by month, with where it stood at each year's end.

    ``records`` holds one run's per-school monthly metrics, each (T, S).
    """
    months = records["engagement"].shape[0]
    mine = school_events(events, school)
    office = district_events(events)
    lines = []
    by_month: dict[int, list[str]] = {}
    for e in mine:
        by_month.setdefault(e.month, []).append(f"the school {EVENT_TEXT[e.kind]}")
    for e in office:
        by_month.setdefault(e.month, []).append(f"the district {EVENT_TEXT[e.kind]}")
    shown = 0
    for month in range(months):
        for text in by_month.get(month, []):
            if max_events is None or shown < max_events:
                lines.append(f"{when(month)}: {text}.")
                shown += 1
        if month % 12 == 11:
            lines.append(f"-- End of year {month // 12 + 1}: {year_end_line(records, school, month)}.")
    return lines
