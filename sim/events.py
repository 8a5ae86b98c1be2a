"""The event log: what mattered in each school's life, month by month.

Recording is off in batch runs (``State.events is None``) and costs nothing
there; a single run or the Mesa model can switch it on to tell a school's
story (``improvesim explain``, the workshop page).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from improvesim.sim.state import anything

#: Event kinds and the sentence each one stands for.
EVENT_TEXT: dict[str, str] = {
    "invited": "was invited to join the improvement network",
    "declined": "declined the invitation (participation was optional)",
    "principal_left": "lost its principal and no one on the deep bench could step up; the work stalled",
    "lead_left": "lost its improvement lead and no one on the deep bench could step up; the work stalled",
    "successor_stepped_up": "lost a leader, but a successor from the deep bench stepped up",
    "new_leader_dropped_work": "got a new principal or lead who did not continue the work; the team's commitment fell",
    "bench_grew": "groomed a successor for the deep bench",
    "coach_left": "lost its coach; visits stop until the position is filled",
    "grant_ended": "lost coaching when the grant ended and the position was not kept",
    "cycle_succeeded": "finished a PDSA cycle that succeeded; commitment rose",
    "cycle_failed": "finished a PDSA cycle that did not succeed",
    "paused": "paused its improvement work under pressure",
    "resumed": "resumed its improvement work",
    "opted_out": "opted out of the initiative",
    "disengaged_6_months": "has gone six months without engagement",
    "became_authentic": "practised all six principles: authentic implementation",
    "faded": "fell back from authentic practice for six months: the work faded",
    "institutionalized": "made improvement part of how the school works: institutionalized",
    "institutionalization_lost": "lost its institutionalized routines while its leadership stalled or a competing initiative took the time",
    "new_central_office_leader": "saw a new central-office leader arrive",
    "competing_initiative": "saw a new central-office leader bring a competing initiative that took the improvement time",
    "run_charts_lapsed": "stopped practising measurement: the run charts lapsed",
    "inquiry_lapsed": "stopped running PDSA cycles with discipline: inquiry lapsed",
}


@dataclass(frozen=True)
class Event:
    """One thing that happened: month, school (-1 for the whole district), kind."""

    month: int
    school: int
    kind: str

    @property
    def text(self) -> str:
        return EVENT_TEXT[self.kind]


def event_marks(events: list | None, kinds: int, shape: tuple[int, ...]) -> np.ndarray:
    """(kinds, *shape) all-false masks a compiled kernel marks events in when
    ``events`` is recorded; otherwise an empty array with as many dimensions
    (``marks.shape[1] == 0``), and the kernel marks none."""
    if events is None:
        return _NOT_RECORDED[len(shape)]
    return np.zeros((kinds, *shape), dtype=bool)


#: Empty event masks by the number of dimensions of a mask (nothing can be written into them).
_NOT_RECORDED = {ndim: np.zeros((0,) * (ndim + 1), dtype=bool) for ndim in (1, 2)}


def note(events: list | None, month: int, kind: str, mask: np.ndarray) -> None:
    """Record ``kind`` for every (run, school) where ``mask`` (R, S) is true.

    ``events`` is a list with one list of :class:`Event` per run, or None
    (recording off).  A district-wide event passes a (R,) mask.
    """
    if events is None or not anything(mask):
        return
    if mask.ndim == 1:
        for r in np.flatnonzero(mask):
            events[r].append(Event(month, -1, kind))
        return
    for r, s in zip(*np.nonzero(mask), strict=True):
        events[r].append(Event(month, int(s), kind))
