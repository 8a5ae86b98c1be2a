"""The workshop guide's claims (``docs/workshop.md``), computed on the runs the page shows.

The page runs one district per seed (``DistrictModel(params, seed)``, the
engine's run of that seed).  Each exercise of the guide makes claims about
seed 1 (the seed the guide uses) that must also hold on most of seeds 1 to
10, and quotes averages over 200 seeded runs.  This module computes both.
Every count of "green", "orange", "grey"... schools is a count of tiles, by
the page's own rule (:mod:`improvesim.analysis.tiles`): a paused or opted-out
school is grey or black whatever its practice.  The averages are of the
chart's lines (district metrics), which count every invited school by its
practice, paused and opted-out schools included.
``tests/test_workshop_exercises.py`` checks the claims and
``scripts/workshop_numbers.py`` prints every number the guide quotes, so the
guide is regenerated from code, never edited by hand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from improvesim.analysis.tiles import ENGAGED_TILES, TILE_STATES, tile_codes, tile_counts
from improvesim.sim.engine import SimulationResult, run_replicates, simulate
from improvesim.sim.params import Params, load_scenario

#: The seeds the guide's claims are checked on (seed 1 first: the guide's own).
SEEDS = tuple(range(1, 11))
#: Runs behind the guide's averages ("over 200 seeded runs"), from seed 1.
AVERAGE_RUNS = 200
#: The last month of years 3, 5 and 10 (months count from 0).
YEAR_3, YEAR_5, YEAR_10 = 35, 59, 119
#: Events after which a school's story reads "a leader left with no one to step up" or "the new leader dropped it".
LEADER_LOSSES = frozenset({"principal_left", "lead_left", "new_leader_dropped_work"})


def seeded_runs(params: Params, seeds: Sequence[int] = SEEDS) -> SimulationResult:
    """One run per seed, with per-school records and event logs, as the page shows them."""
    return simulate([params] * len(seeds), list(seeds), record_schools=True, record_events=True)


def averaged_runs(params: Params) -> SimulationResult:
    """The :data:`AVERAGE_RUNS` replicates, from seed 1, behind the guide's averages."""
    return run_replicates(params, AVERAGE_RUNS, 1)


# --- scenarios of the exercises ----------------------------------------------------------------------


def baseline() -> Params:
    return load_scenario("baseline")


def deep_bench() -> Params:
    """Exercise 1: the baseline with the deep bench slider at 0.9."""
    return baseline().with_overrides({"succession.deep_bench": 0.9})


def grant_cliff() -> Params:
    return load_scenario("grant_cliff")


def coaches_kept() -> Params:
    """Exercise 2: the district keeps its coaches when the grant ends."""
    return load_scenario("plans/internal_pipeline")


def mandate() -> Params:
    """Exercise 3: participation required, school autonomy 0.1."""
    return baseline().with_overrides({"governance.participation": "required", "governance.school_autonomy": 0.1})


def middle_way() -> Params:
    """Exercise 3, step 4: optional participation with strong support, autonomy and why framing."""
    return baseline().with_overrides(
        {
            "governance.participation": "optional",
            "governance.top_down_support": 0.8,
            "governance.school_autonomy": 0.8,
            "messaging.why_framing": 0.9,
        }
    )


# --- what the claims count -----------------------------------------------------------------------------


#: What the exercises look for on a tile, as indices in :data:`~improvesim.analysis.tiles.TILE_STATES`.
GREEN, BLUE, GREY = (TILE_STATES.index(state) for state in ("authentic", "inauthentic", "paused"))


def tiles_shown(result: SimulationResult) -> np.ndarray:
    """(R, T, S): what each school's tile shows each month, as indices in
    :data:`~improvesim.analysis.tiles.TILE_STATES` (the page's rule)."""
    return tile_codes(result.schools["engagement"], result.schools["authenticity"])


def engaged_tiles(result: SimulationResult, month: int) -> np.ndarray:
    """Tiles (R,) of each run that show an engaged school (green, orange or sky blue) at ``month``."""
    return sum(tile_counts(result, month, state) for state in ENGAGED_TILES)


def holds(per_seed: Sequence[bool]) -> tuple[int, bool]:
    """How many seeds a claim holds on, and whether it holds on the first (seed 1)."""
    per_seed = np.asarray(per_seed, dtype=bool)
    return int(per_seed.sum()), bool(per_seed[0])


def lost_green_after_a_leader_left(result: SimulationResult, run: int, last: int = YEAR_5) -> set[int]:
    """Schools of ``run`` whose tile was green and, by month ``last``, was not (orange, sky blue,
    grey or black) after a leader left without a successor or a new leader dropped the work."""
    shown = tile_codes(result.schools["engagement"][run], result.schools["authenticity"][run])  # (T, S), this run
    found = set()
    for s in range(shown.shape[1]):
        green = np.flatnonzero(shown[: last + 1, s] == GREEN)
        if not green.size:
            continue
        lost = shown[green[0] + 1 : last + 1, s] != GREEN
        if not lost.any():
            continue
        month_lost = green[0] + 1 + int(np.flatnonzero(lost)[0])
        if any(e.school == s and e.kind in LEADER_LOSSES and e.month <= month_lost for e in result.events[run]):
            found.add(s)
    return found


def stalls(result: SimulationResult, run: int, last: int = YEAR_5) -> int:
    """Leaders (principals and leads) of ``run`` who left by month ``last``: each a story of "left, and
    no one on the deep bench could step up" unless a successor did."""
    return sum(e.kind in ("principal_left", "lead_left") and e.month <= last for e in result.events[run])


def same_until_year_5(a: SimulationResult, b: SimulationResult) -> list[bool]:
    """Per run, whether two results' schools are identical (engagement and authenticity) up to year 5."""
    return [
        all(
            (a.schools[m][r, : YEAR_5 + 1] == b.schools[m][r, : YEAR_5 + 1]).all()
            for m in ("engagement", "authenticity")
        )
        for r in range(len(a.seeds))
    ]


def turned_after_year_5(result: SimulationResult) -> np.ndarray:
    """(R, S): schools whose tile was green at the end of year 5 and later turned sky blue or grey."""
    shown = tiles_shown(result)
    later = np.isin(shown[:, YEAR_5 + 1 :, :], (BLUE, GREY))
    return (shown[:, YEAR_5, :] == GREEN) & later.any(axis=1)


def share(result: SimulationResult, metric: str, month: int) -> float:
    """The replicate mean of district metric ``metric`` at ``month``, in percent."""
    return float(100 * result.metric(metric)[:, month].mean())


# --- the exercises -------------------------------------------------------------------------------------


def exercise_1() -> dict:
    """The lead leaves: schools losing their green after a leader left; fewer stalls with a deep bench."""
    base, bench = seeded_runs(baseline()), seeded_runs(deep_bench())
    runs = range(len(SEEDS))
    return {
        "seed_1_schools_lost_green": sorted(lost_green_after_a_leader_left(base, 0)),
        "story_holds": holds([len(lost_green_after_a_leader_left(base, r)) > 0 for r in runs]),
        "seed_1_stalls_base_bench": (stalls(base, 0), stalls(bench, 0)),
        "fewer_stalls_holds": holds([stalls(bench, r) < stalls(base, r) for r in runs]),
    }


def exercise_2() -> dict:
    """The grant cliff: identical until the grant ends, then fewer green tiles without the coaches."""
    cliff, kept = seeded_runs(grant_cliff()), seeded_runs(coaches_kept())
    fewer = tile_counts(cliff, YEAR_10, "authentic") < tile_counts(kept, YEAR_10, "authentic")
    turned = turned_after_year_5(cliff)
    avg_cliff, avg_kept = averaged_runs(grant_cliff()), averaged_runs(coaches_kept())
    return {
        "same_until_year_5_holds": holds(same_until_year_5(cliff, kept)),
        "seed_1_green_year_5": int(tile_counts(cliff, YEAR_5, "authentic")[0]),
        "seed_1_green_year_10_cliff_kept": (
            int(tile_counts(cliff, YEAR_10, "authentic")[0]),
            int(tile_counts(kept, YEAR_10, "authentic")[0]),
        ),
        "seed_1_schools_turned": np.flatnonzero(turned[0]).tolist(),
        "fewer_green_holds": holds(fewer),
        "turned_holds": holds(turned.any(axis=1)),
        "average_authentic_y5_y10_cliff": (
            share(avg_cliff, "authentic_share", YEAR_5),
            share(avg_cliff, "authentic_share", YEAR_10),
        ),
        "average_authentic_y10_kept": share(avg_kept, "authentic_share", YEAR_10),
        "average_engaged_y5_y10_cliff": (
            share(avg_cliff, "engaged_share", YEAR_5),
            share(avg_cliff, "engaged_share", YEAR_10),
        ),
        "average_engaged_y10_kept": share(avg_kept, "engaged_share", YEAR_10),
    }


def exercise_3() -> dict:
    """Mandate or invitation: more engaged tiles, fewer green and more orange under the mandate."""
    base, forced = seeded_runs(baseline()), seeded_runs(mandate())
    by_tiles = {
        "engaged": lambda result: engaged_tiles(result, YEAR_3),
        "authentic": lambda result: tile_counts(result, YEAR_3, "authentic"),
        "orange": lambda result: tile_counts(result, YEAR_3, "partial"),
    }
    counted = {name: (tiles_of(forced), tiles_of(base)) for name, tiles_of in by_tiles.items()}
    seed_1 = {name: (int(f[0]), int(b[0])) for name, (f, b) in counted.items()}
    more_engaged = counted["engaged"][0] > counted["engaged"][1]
    fewer_authentic = counted["authentic"][0] < counted["authentic"][1]
    more_orange = counted["orange"][0] > counted["orange"][1]
    avg_base, avg_forced, avg_middle = averaged_runs(baseline()), averaged_runs(mandate()), averaged_runs(middle_way())
    return {
        "seed_1_year_3_mandate_base": seed_1,
        "more_engaged_holds": holds(more_engaged),
        "fewer_authentic_holds": holds(fewer_authentic),
        "more_orange_holds": holds(more_orange),
        "average_engaged_y3_mandate_base": shares(("engaged_share", YEAR_3), avg_forced, avg_base),
        "average_authentic_y3_mandate_base": shares(("authentic_share", YEAR_3), avg_forced, avg_base),
        "average_authentic_y10_mandate_base": shares(("authentic_share", YEAR_10), avg_forced, avg_base),
        "average_middle_y3_engaged_authentic": (
            share(avg_middle, "engaged_share", YEAR_3),
            share(avg_middle, "authentic_share", YEAR_3),
        ),
    }


def shares(metric_month: tuple[str, int], *results: SimulationResult) -> tuple[float, ...]:
    """:func:`share` of one district metric at one month, for each result in turn."""
    metric, month = metric_month
    return tuple(share(result, metric, month) for result in results)


# --- the guide's wording ---------------------------------------------------------------------------------


def _schools(numbers: Sequence[int]) -> str:
    """ "schools 2, 5 and 17" (or "school 2")."""
    items = [str(n) for n in numbers]
    if len(items) == 1:
        return f"school {items[0]}"
    return f"schools {', '.join(items[:-1])} and {items[-1]}"


def _pct(x: float) -> str:
    return f"{x:.0f}%"


def _seeds(held: tuple[int, bool]) -> str:
    """ "all of seeds 1 to 10" or "9 of seeds 1 to 10"."""
    n = held[0]
    return f"{'all' if n == len(SEEDS) else n} of seeds 1 to {len(SEEDS)}"


def guide_phrases(ex1: dict, ex2: dict, ex3: dict) -> list[str]:
    """The phrases of ``docs/workshop.md`` that quote numbers, as the results of
    :func:`exercise_1`, :func:`exercise_2` and :func:`exercise_3` word them: the
    guide must contain each (``tests/test_workshop_exercises.py``), and
    ``scripts/workshop_numbers.py`` prints them for a regenerated guide."""
    seed_1 = ex3["seed_1_year_3_mandate_base"]
    return [
        # exercise 1
        f"With seed 1, {_schools(ex1['seed_1_schools_lost_green'])}",
        f"appears by year 5 on {_seeds(ex1['story_holds'])}",
        f"fewer on {_seeds(ex1['fewer_stalls_holds'])}",
        "fall from {} to {} by year 5".format(*ex1["seed_1_stalls_base_bench"]),
        # exercise 2
        f"{ex2['seed_1_green_year_5']} schools are green at the end of year 5",
        "by year 10, {} are green without the coaches against {} with them".format(
            *ex2["seed_1_green_year_10_cliff_kept"]
        ),
        f"{_schools(ex2['seed_1_schools_turned'])} went from green to blue or grey",
        f"identical until the grant ends: same seed, same plan so far; on {_seeds(ex2['same_until_year_5_holds'])}",
        f"without the coaches on {_seeds(ex2['fewer_green_holds'])}",
        f"after year 5 on {_seeds(ex2['turned_holds'])}",
        "the chart's authentic line falls from {} at year 5 to {} at year 10 without the coaches".format(
            *map(_pct, ex2["average_authentic_y5_y10_cliff"])
        ),
        f"rises to {_pct(ex2['average_authentic_y10_kept'])} with them",
        "the engaged line falls from {} to {}".format(*map(_pct, ex2["average_engaged_y5_y10_cliff"])),
        f"against {_pct(ex2['average_engaged_y10_kept'])} with the coaches",
        # exercise 3
        "the mandate shows {} engaged tiles against {}".format(*seed_1["engaged"]),
        "{} green against {}".format(*("none" if n == 0 else n for n in seed_1["authentic"])),
        "{} orange against {}".format(*seed_1["orange"]),
        "each of the three holds on {}".format(
            _seeds(min(ex3[k] for k in ("more_engaged_holds", "fewer_authentic_holds", "more_orange_holds")))
        ),
        "({} against {} by year 3)".format(*map(_pct, ex3["average_engaged_y3_mandate_base"])),
        "({} against {})".format(*map(_pct, ex3["average_authentic_y3_mandate_base"])),
        "{} against {} authentic".format(*map(_pct, ex3["average_authentic_y10_mandate_base"])),
        "{} engaged and {} authentic by year 3".format(*map(_pct, ex3["average_middle_y3_engaged_authentic"])),
    ]
