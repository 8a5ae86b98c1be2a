"""What a school's tile shows on the workshop page: the one rule for the page and the guide.

A tile shows where the school stands with the initiative first: a school that
was never invited, opted out or paused shows that (white, black, grey),
whatever practice it last had; only an engaged school's tile shows its
practice (green authentic, orange partial, sky blue inauthentic).  The page
(``improvesim.app.tile_state``) colours each tile by :func:`tile_state_of`,
and the workshop guide's counts of "green", "orange", ... schools
(:mod:`improvesim.analysis.workshop`) count tiles with :func:`tile_counts`,
which applies the same function to the per-school records; so the guide
quotes what the room sees.

The chart's lines are not tiles: its authentic, partial and inauthentic
shares count every invited school by its practice, paused and opted-out
schools included (``improvesim.sim.outcomes``).
"""

from __future__ import annotations

import numpy as np

from improvesim.sim.state import Authenticity, Engagement

#: What a tile can show, in the order of the page's legend.
TILE_STATES = ("authentic", "partial", "inauthentic", "paused", "opted out", "not invited")
#: The tiles' colours in words, as the guide and the stories name them.
TILE_COLOUR_NAMES = {
    "authentic": "green",
    "partial": "orange",
    "inauthentic": "sky blue",
    "paused": "grey",
    "opted out": "black",
    "not invited": "white",
}
#: The tiles of engaged schools (the page's "engaged" count): those that show the school's practice.
ENGAGED_TILES = ("authentic", "partial", "inauthentic")

_BY_ENGAGEMENT = {
    Engagement.NOT_INVITED: "not invited",
    Engagement.OPTED_OUT: "opted out",
    Engagement.PAUSED: "paused",
}
_BY_AUTHENTICITY = {
    Authenticity.AUTHENTIC: "authentic",
    Authenticity.PARTIAL: "partial",
    Authenticity.INAUTHENTIC: "inauthentic",
}


def tile_state_of(engagement: int, authenticity: int) -> str:
    """What the tile of a school with this engagement and authenticity (their codes,
    :class:`~improvesim.sim.state.Engagement` and :class:`~improvesim.sim.state.Authenticity`)
    shows: one of :data:`TILE_STATES`.  Not invited, opted out or paused win over
    the practice; an engaged school shows its practice.  Raises ValueError for a
    code that is neither."""
    away = _BY_ENGAGEMENT.get(Engagement(int(engagement)))
    return away if away is not None else _BY_AUTHENTICITY[Authenticity(int(authenticity))]


#: :func:`tile_state_of` as a table: the index in :data:`TILE_STATES` by [engagement, authenticity] code.
_TILE_TABLE = np.array(
    [[TILE_STATES.index(tile_state_of(e, a)) for a in sorted(Authenticity)] for e in sorted(Engagement)], dtype=np.int8
)


def tile_codes(engagement: np.ndarray, authenticity: np.ndarray) -> np.ndarray:
    """:func:`tile_state_of` of every school at once: for engagement and authenticity
    codes of any one shape (e.g. per-school records (R, T, S)), the index in
    :data:`TILE_STATES` (int8) of what each tile shows, in the same shape."""
    return _TILE_TABLE[np.asarray(engagement, dtype=np.intp), np.asarray(authenticity, dtype=np.intp)]


def tile_counts(result, month: int, state: str) -> np.ndarray:
    """Tiles (R,) of each run that show ``state`` (one of :data:`TILE_STATES`) at ``month``.

    ``result`` has per-school records (a :class:`~improvesim.sim.engine.SimulationResult`
    run with ``record_schools=True``, or anything with such a ``schools`` mapping):
    ``schools["engagement"]`` and ``schools["authenticity"]`` (R, T, S).  ``month``
    counts from 0 (the first August).  Raises ValueError for an unknown ``state``."""
    if state not in TILE_STATES:
        raise ValueError(f"tile state {state!r}: allowed: {', '.join(TILE_STATES)}")
    shown = tile_codes(result.schools["engagement"][:, month, :], result.schools["authenticity"][:, month, :])
    return (shown == TILE_STATES.index(state)).sum(axis=1)
