"""The vectorized engine: R runs of one district shape stepped together.

:class:`Engine` holds the state of a batch of runs (replicates and/or
parameter sets sharing the number of schools, team size and years) and
advances it one month at a time, calling the submodels in the order of the
ODD.  :func:`simulate` runs a batch to the end and returns its outcomes.
The Mesa model (:mod:`sim.model`) is an engine of one run with agents on top.

Random numbers are drawn a year at a time per named stream
(:mod:`sim.rng`); a run's numbers depend only on its own seed, so a run
gives the same bytes alone or in any batch.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from improvesim.sim import rng
from improvesim.sim.events import Event
from improvesim.sim.month import month_tables, run_months
from improvesim.sim.outcomes import DISTRICT_METRICS, Recorder, planned_visits, time_to_first_institutionalization
from improvesim.sim.params import Params
from improvesim.sim.posterior import replicate_params
from improvesim.sim.state import ParamVectors, State, initial_state
from improvesim.sim.structure import MONTHS_PER_YEAR
from improvesim.sim.submodels.calendar import calendar_and_shocks, convening_months
from improvesim.sim.submodels.central_office import central_office, costs
from improvesim.sim.submodels.coaching import coaching
from improvesim.sim.submodels.improvement import improvement_work
from improvesim.sim.submodels.institutionalization import classify_authenticity, embed, grow_bench, institutionalize
from improvesim.sim.submodels.network import network
from improvesim.sim.submodels.sensemaking import sensemaking
from improvesim.sim.submodels.time_use import stress, time_ratio
from improvesim.sim.submodels.turnover import central_office_turnover, coach_turnover, staff_turnover


def batch_shape(params: Params) -> tuple[int, int, int]:
    """Runs can share a batch when these agree: (schools, team size, months)."""
    return (int(params["district.schools"]), int(params["district.team_size"]), params.months)


class Engine:
    """State and stepping of a batch of runs that share one district shape.

    Args:
        params: one validated parameter set per run.
        seeds: one seed per run (non-negative integers below 2**63).
        record_schools: keep per-school monthly metrics.
        record_events: keep each run's event log (see :mod:`sim.events`).
        record_every_month: record the district metrics of every month (the
            default), or only at the end of each year (what end-of-run outcomes and
            yearly series read: a sweep's; the other months' metrics are NaN).  The
            months recorded hold the same bytes either way.

    Raises:
        ValueError: not one seed per parameter set, no run, runs of different
            shapes, or per-school records or an event log asked for without
            recording every month.
    """

    def __init__(
        self,
        params: Sequence[Params],
        seeds: Sequence[int],
        *,
        record_schools: bool = False,
        record_events: bool = False,
        record_every_month: bool = True,
    ):
        if (record_schools or record_events) and not record_every_month:
            raise ValueError("per-school records and event logs need every month recorded (record_every_month=True)")
        if len(params) != len(seeds) or not params:
            raise ValueError("give one seed per parameter set, and at least one run")
        shapes = {batch_shape(p) for p in params}
        if len(shapes) > 1:
            raise ValueError(f"runs in one batch must share schools, team size and years; got {sorted(shapes)}")
        self.params = tuple(params)
        self.seeds = tuple(int(s) for s in seeds)
        self.pv = ParamVectors(self.params)
        self.st: State = initial_state(self.pv, self.seeds)
        self.st.events = [[] for _ in self.seeds] if record_events else None
        self.months = self.params[0].months
        self.month = 0
        self._schedule = convening_months(self.pv.col("knowledge.convenings_per_year"))
        # each draw kept contiguous (see rng.StreamSet), cheaper to compute with than a strided slice
        self._streams = rng.StreamSet(
            self.st.keys,
            rng.draw_shapes(self.st.schools, self.st.team_size, self.st.coach_position.shape[1]),
            draws_first=rng.several_draws(),
        )
        self._year_first = -1
        self._year_draws: list[rng.MonthDraws] = []
        self.record_schools = record_schools
        self.recorder = Recorder(self.st.runs, self.months, self.st.schools, every_month=record_every_month)

    @property
    def done(self) -> bool:
        return self.month >= self.months

    def _month_draws(self) -> rng.MonthDraws:
        """This month's named draws (see :data:`sim.rng.DRAWS`), drawn a year at a time."""
        first = self.month - self.month % MONTHS_PER_YEAR
        if first != self._year_first:
            self._year_draws = rng.named_draws(self._streams.blocks(first, MONTHS_PER_YEAR))
            self._year_first = first
        return self._year_draws[self.month - first]

    def step(self) -> None:
        """Advance every run by one month."""
        if self.done:
            raise RuntimeError("the run has reached its last month")
        st, pv, t = self.st, self.pv, self.month
        st.month = t
        draws = self._month_draws()
        cal = calendar_and_shocks(st, pv, t)
        staff_turnover(st, pv, cal, draws)
        coach_turnover(st, pv, cal, draws)
        central_office_turnover(st, pv, cal, draws)
        central_office(st, pv, cal, draws, self._schedule)
        coaching(st, pv, cal, draws)
        ratio = time_ratio(pv, cal, st.local_knowledge)
        sensemaking(st, pv, cal, stress(st, pv, cal, ratio), draws)
        busy = improvement_work(st, pv, cal, ratio, draws)
        grow_bench(st, pv, cal, busy, draws)
        network(st, pv)
        embed(st, pv, cal, busy)
        institutionalize(st, pv, cal, draws)
        practised = classify_authenticity(st, pv, t)
        costs(st, pv, cal)
        self._observe(cal.summer, practised)
        self.month += 1

    def _observe(self, summer: bool, practised: np.ndarray | None = None) -> None:
        st = self.st
        planned = planned_visits(st.engagement, self.pv.col("coaching.visits_per_month"), summer)
        self.recorder.record(self.month, st, self.pv["improvement.practice_threshold"], planned, practised)

    def run(self) -> SimulationResult:
        """Step to the last month and return the outcomes.

        Without an event log, a year of months at a time (:mod:`sim.month`: the
        same kernels as :meth:`step` without the submodels' Python functions, the
        same bytes)."""
        if self.st.events is None:
            batch = month_tables(self.pv, self.st.team_size, self._schedule)
            while not self.done:
                first = self.month - self.month % MONTHS_PER_YEAR
                stop = min(first + MONTHS_PER_YEAR, self.months)
                year = rng.year_draws(self._streams.blocks(first, MONTHS_PER_YEAR))
                run_months(self.month, stop, self.st, year, batch, self.recorder)
                self.month = stop
        while not self.done:
            self.step()
        return self.result()

    def result(self) -> SimulationResult:
        """Outcomes of the months simulated so far."""
        T = self.month
        schools = {k: v[:, :T] for k, v in self.recorder.schools.items()}
        return SimulationResult(
            params=self.params,
            seeds=self.seeds,
            district=self.recorder.district()[:, :T],
            schools=schools if self.record_schools else None,
            first_institutionalized=self.st.first_institutionalized.copy(),
            invited_month=self.st.invited_month.copy(),
            joined=self.st.joined.copy(),
            authentic_years=self.st.authentic_years.copy(),
            final_authenticity=self.st.authenticity.copy(),
            events=self.st.events,
        )


@dataclass
class SimulationResult:
    """Outcomes of a batch of R runs over T months.

    ``district[r, t, j]`` is district metric ``DISTRICT_METRICS[j]`` of run r
    at the end of month t (NaN in a month not recorded: see the engine's
    ``record_every_month``); ``schools[name][r, t, s]`` the per-school metric
    (when recorded).
    """

    params: tuple[Params, ...]
    seeds: tuple[int, ...]
    district: np.ndarray
    schools: dict[str, np.ndarray] | None
    first_institutionalized: np.ndarray  # (R, S) month, -1 if never
    invited_month: np.ndarray  # (R, S) month, -1 if never
    joined: np.ndarray  # (R, S) the school accepted its invitation (participating)
    authentic_years: np.ndarray  # (R, S) school years that ended with authentic practice
    final_authenticity: np.ndarray  # (R, S) authenticity (sim.state.Authenticity) in the last month
    events: list[list[Event]] | None = field(default=None)

    def metric(self, name: str) -> np.ndarray:
        """District metric ``name`` as an (R, T) array."""
        return self.district[:, :, DISTRICT_METRICS.index(name)]

    @property
    def time_to_first_institutionalization(self) -> np.ndarray:
        """Months (R,) to the first institutionalized school, NaN if none."""
        return time_to_first_institutionalization(self.first_institutionalized)


def simulate(
    params: Sequence[Params],
    seeds: Sequence[int],
    *,
    record_schools: bool = False,
    record_events: bool = False,
    record_every_month: bool = True,
) -> SimulationResult:
    """Run a batch of runs (sharing schools, team size and years) in one vectorized call
    (the arguments are :class:`Engine`'s)."""
    return Engine(
        params,
        seeds,
        record_schools=record_schools,
        record_events=record_events,
        record_every_month=record_every_month,
    ).run()


#: Runs computed together in one vectorized call by :func:`run_replicates`.
DEFAULT_BATCH = 256


def run_replicates(
    params: Params,
    replicates: int | None = None,
    seed: int | None = None,
    *,
    record_schools: bool = False,
    batch: int = DEFAULT_BATCH,
    posterior=None,
    pinned=(),
    record_every_month: bool = True,
) -> SimulationResult:
    """Run a scenario's replicates, seeds derived from one seed.

    With ``posterior`` (:class:`improvesim.sim.posterior.Posterior`), each
    replicate draws its constants from it, except those in ``pinned``
    (:func:`improvesim.sim.posterior.replicate_params`).

    ``replicates`` and ``seed`` default to the scenario's ``run.replicates``
    and ``run.seed``.  Replicate i's seed depends only on the seed and i
    (:func:`sim.rng.derive_seeds`), and its outcomes do not depend on
    ``batch``.  ``record_every_month=False`` records only the ends of years
    (:class:`Engine`): the same bytes there, NaN district metrics elsewhere.
    """
    replicates = int(params["run.replicates"]) if replicates is None else replicates
    seed = int(params["run.seed"]) if seed is None else seed
    seeds = rng.derive_seeds(seed, replicates)
    parts = [
        simulate(
            replicate_params(params, chunk, posterior, pinned),
            chunk,
            record_schools=record_schools,
            record_every_month=record_every_month,
        )
        for chunk in (seeds[i : i + batch] for i in range(0, replicates, batch))
    ]
    return concatenate(parts)


def simulate_batches(
    params: Sequence[Params],
    seeds: Sequence[int],
    *,
    batch: int = DEFAULT_BATCH,
    workers: int = 1,
    record_schools: bool = False,
) -> Iterator[SimulationResult]:
    """The runs of ``params`` (one per seed) with ``seeds``, batch by batch in order (at most
    ``batch`` runs each), computed ``workers`` batches at a time in threads of
    this process: the compiled kernels release the GIL, so the threads share
    the cores without starting processes or loading kernels again.  At most
    ``workers`` + 1 finished or running batches are held at once.  A run's
    outcomes do not depend on ``batch`` or ``workers`` (same bytes).

    Raises:
        ValueError: ``batch`` or ``workers`` below 1, or not one parameter set per seed.
    """
    if batch < 1 or workers < 1:
        raise ValueError(f"batch and workers must be at least 1; got batch={batch}, workers={workers}")
    if len(params) != len(seeds):
        raise ValueError(f"give one parameter set per seed; got {len(params)} sets for {len(seeds)} seeds")
    chunks = [(list(params[i : i + batch]), list(seeds[i : i + batch])) for i in range(0, len(seeds), batch)]
    if workers == 1 or len(chunks) == 1:
        for runs, chunk in chunks:
            yield simulate(runs, chunk, record_schools=record_schools)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="improvesim-batch")
    pending: deque = deque()
    try:
        for runs, chunk in chunks:
            pending.append(pool.submit(simulate, runs, chunk, record_schools=record_schools))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def parallel_batch(replicates: int, workers: int, batch: int = DEFAULT_BATCH) -> int:
    """The batch size that gives each of ``workers`` threads work: ``batch``,
    or fewer runs when ``replicates`` would otherwise fill fewer batches than
    there are workers (at least 1)."""
    return max(1, min(batch, -(-replicates // max(workers, 1))))


def concatenate(parts: Sequence[SimulationResult]) -> SimulationResult:
    """One result from several batches, runs in order."""
    if len(parts) == 1:
        return parts[0]
    schools = None
    if parts[0].schools is not None:
        schools = {k: np.concatenate([p.schools[k] for p in parts]) for k in parts[0].schools}
    return SimulationResult(
        params=tuple(p for part in parts for p in part.params),
        seeds=tuple(s for part in parts for s in part.seeds),
        district=np.concatenate([p.district for p in parts]),
        schools=schools,
        first_institutionalized=np.concatenate([p.first_institutionalized for p in parts]),
        invited_month=np.concatenate([p.invited_month for p in parts]),
        joined=np.concatenate([p.joined for p in parts]),
        authentic_years=np.concatenate([p.authentic_years for p in parts]),
        final_authenticity=np.concatenate([p.final_authenticity for p in parts]),
        events=None if parts[0].events is None else [e for p in parts for e in p.events],
    )
