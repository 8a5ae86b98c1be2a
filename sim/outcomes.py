"""Outcomes: what is observed each month, per school and per district.

Definitions (the ODD repeats them):

* A school is *participating* once it has accepted an invitation
  (``joined``), whatever it does afterwards.
* Engagement shares are over all schools of the district: engaged, paused,
  opted out (including invitations declined), not invited; they add to one.
* Authenticity shares are over all schools: authentic, partial, inauthentic
  among invited schools, plus the not-invited share; they add to one.
* ``institutionalized_share``: schools in the institutionalized state
  (entered through the institutionalization hazard, see
  :mod:`sim.submodels.institutionalization`), over all schools;
  ``ever_institutionalized_share``: schools that ever got there.
* ``problem_focused_share``, ``variability_share``, ``system_share``,
  ``measurement_share``, ``inquiry_share``, ``networks_share``: schools
  practising that principle (at or above the practice threshold), and
  ``tool_use_share`` schools using the tools, over all schools.
* ``faded_share``: schools that were once authentic and have not been
  authentic for the last six months or more, over all schools.
* ``share_with_6mo_disengagement``: participating schools that have had a
  spell of six or more school months in a row paused or opted out, over
  participating schools (0 when none participate).
* ``deep_bench``: groomed successors per school; ``knowledge_base``: the
  hub's documented knowledge, 0-1; costs in dollars.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from improvesim.sim.jit import kernel, pick, step, team_mean_at
from improvesim.sim.state import ENGAGED, PAUSED, Authenticity, Engagement, State
from improvesim.sim.structure import LONG_SPELL, MONTHS_PER_YEAR

#: District metrics of the schools practising each principle, in the order of ``sim.state.PRINCIPLES``.
PRINCIPLE_SHARES: tuple[str, ...] = (
    "problem_focused_share",
    "variability_share",
    "system_share",
    "measurement_share",
    "inquiry_share",
    "networks_share",
)

#: District metrics recorded every month, in column order.
DISTRICT_METRICS: tuple[str, ...] = (
    "invited_share",
    "engaged_share",
    "paused_share",
    "opted_out_share",
    "not_invited_share",
    "authentic_share",
    "partial_share",
    "inauthentic_share",
    "institutionalized_share",
    "ever_institutionalized_share",
    "faded_share",
    "share_with_6mo_disengagement",
    *PRINCIPLE_SHARES,
    "tool_use_share",
    "mean_commitment",
    "mean_skill",
    "mean_embeddedness",
    "deep_bench",
    "knowledge_base",
    "message",
    "priority",
    "coaches_in_post",
    "visits_planned",
    "visits_delivered",
    "convening",
    "cycles_done",
    "cycles_succeeded",
    "leader_changes",
    "pandemic",
    "cost_month",
    "cost_total",
)

#: The headline shares reported in summaries (``summary.json``).
HEADLINE: tuple[str, ...] = (
    "institutionalized_share",
    "ever_institutionalized_share",
    "authentic_share",
    "partial_share",
    "inauthentic_share",
    "engaged_share",
    "faded_share",
    "share_with_6mo_disengagement",
)

#: Per-school metrics recorded every month, with their storage types.
SCHOOL_METRICS: dict[str, type] = {
    "engagement": np.int8,
    "authenticity": np.int8,
    "principles_practised": np.int8,
    "principle_bits": np.int8,
    "tool_use": np.bool_,
    "commitment": np.float32,
    "skill": np.float32,
    "embeddedness": np.float32,
    "institutionalized": np.bool_,
    "ever_institutionalized": np.bool_,
    "faded": np.bool_,
    "long_spell": np.bool_,
    "joined": np.bool_,
    "visits": np.float32,
    "bench": np.int8,
    "stalled": np.bool_,
}

#: Per-school records, one (R, T, S) array for each of :data:`SCHOOL_METRICS`, by name.
SchoolRecords = NamedTuple("SchoolRecords", [(name, np.ndarray) for name in SCHOOL_METRICS])  # noqa: UP014


class RecordedState(NamedTuple):
    """The state arrays the per-school records are read from."""

    engagement: np.ndarray
    authenticity: np.ndarray
    commitment: np.ndarray  # (K, R, S)
    skill: np.ndarray  # (K, R, S)
    embeddedness: np.ndarray
    institutionalized: np.ndarray
    first_institutionalized: np.ndarray
    practised_bits: np.ndarray  # (R, S) bit i set while principle i is practised (sim.submodels.institutionalization)
    tools: np.ndarray
    ever_authentic: np.ndarray
    months_not_authentic: np.ndarray
    joined: np.ndarray
    max_spell: np.ndarray
    visits: np.ndarray
    bench: np.ndarray
    stall: np.ndarray
    weights: np.ndarray  # (R, K) seat weights


class DistrictStocks(NamedTuple):
    """District quantities recorded every month as they are, (R,) each, in
    column order (each also named in :data:`DISTRICT_METRICS`)."""

    knowledge_base: np.ndarray
    message: np.ndarray
    priority: np.ndarray
    coaches_in_post: np.ndarray
    visits_planned: np.ndarray
    convening: np.ndarray
    cycles_done: np.ndarray
    cycles_succeeded: np.ndarray
    leader_changes: np.ndarray
    pandemic: np.ndarray
    cost_month: np.ndarray
    cost_total: np.ndarray


_DISTRICT_STOCKS = DistrictStocks._fields
#: Rows of the district stocks in the recorder, in the order of :class:`DistrictStocks`.
(
    _KNOWLEDGE_BASE,
    _MESSAGE,
    _PRIORITY,
    _COACHES_IN_POST,
    _VISITS_PLANNED,
    _CONVENING,
    _CYCLES_DONE,
    _CYCLES_SUCCEEDED,
    _LEADER_CHANGES,
    _PANDEMIC,
    _COST_MONTH,
    _COST_TOTAL,
) = range(len(_DISTRICT_STOCKS))


class DistrictState(NamedTuple):
    """The state arrays the district stocks are read from."""

    knowledge_base: np.ndarray  # (R,)
    message: np.ndarray  # (R,)
    priority: np.ndarray  # (R,)
    coach_position: np.ndarray  # (R, C)
    coach_filled: np.ndarray  # (R, C)
    convening: np.ndarray  # (R,)
    cycles_done: np.ndarray  # (R, S)
    cycles_succeeded: np.ndarray  # (R, S)
    leader_changes: np.ndarray  # (R,)
    shock: np.ndarray  # (R,) pandemic severity
    cost_month: np.ndarray  # (R,)
    cost_total: np.ndarray  # (R,)


def practised_count(st: State, practice_threshold: np.ndarray) -> np.ndarray:
    """Principles practised (R, S): at or above ``practice_threshold`` (R, 1)."""
    return (st.principles >= practice_threshold).sum(axis=0)


@step
def _record_schools(month, state, practised, threshold, targets):
    """Write this month's per-school metrics into ``targets``
    (:class:`SchoolRecords`, each month-major (T, R, S), so that a month's records
    are contiguous) at ``month``, from the state
    arrays (:class:`RecordedState`; ``principle_bits`` as this month's
    classification of authenticity left them), the number of principles
    ``practised`` (R, S) and the practice ``threshold`` (R,) for tool use."""
    st = RecordedState(*state)
    t = SchoolRecords(*targets)
    R, S = st.engagement.shape
    for r in range(R):
        for s in range(S):
            t.principle_bits[month, r, s] = st.practised_bits[r, s]
            t.tool_use[month, r, s] = st.tools[r, s] >= threshold[r]
            t.ever_institutionalized[month, r, s] = st.first_institutionalized[r, s] >= 0
            t.engagement[month, r, s] = st.engagement[r, s]
            t.authenticity[month, r, s] = st.authenticity[r, s]
            t.principles_practised[month, r, s] = practised[r, s]
            t.commitment[month, r, s] = team_mean_at(st.commitment, st.weights, r, s)
            t.skill[month, r, s] = team_mean_at(st.skill, st.weights, r, s)
            t.embeddedness[month, r, s] = st.embeddedness[r, s]
            t.institutionalized[month, r, s] = st.institutionalized[r, s]
            # faded: reached authentic practice, then not authentic for six months or more
            t.faded[month, r, s] = st.ever_authentic[r, s] and st.months_not_authentic[r, s] >= LONG_SPELL
            t.long_spell[month, r, s] = st.joined[r, s] and st.max_spell[r, s] >= LONG_SPELL
            t.joined[month, r, s] = st.joined[r, s]
            t.visits[month, r, s] = st.visits[r, s]
            t.bench[month, r, s] = st.bench[r, s]
            t.stalled[month, r, s] = st.stall[r, s] > 0


@kernel
def planned_visits(engagement, visits_per_month, summer):
    """Coaching visits (R,) planned this month: none in ``summer``, otherwise the participating
    (engaged or paused) schools of ``engagement`` (R, S) times ``visits_per_month`` (R,)."""
    R, S = engagement.shape
    planned = np.zeros(R)
    if summer:
        return planned
    for r in range(R):
        participating = 0
        for s in range(S):
            participating += engagement[r, s] == ENGAGED or engagement[r, s] == PAUSED
        planned[r] = participating * visits_per_month[r]
    return planned


@kernel
def record_month(slot, state, practised, threshold, planned_visits, targets):
    """Keep this month of the state at ``slot`` of the records: ``state`` is the pair of bundles
    (:class:`RecordedState`, :class:`DistrictState`), ``targets`` the records and stocks
    :meth:`Recorder.targets` gives; see :func:`_record_schools` (``practised``
    (R, S), ``threshold`` (R,)) and :func:`_record_district` (``planned_visits`` (R,))."""
    school_state, district_state = state
    school_records, stocks = targets
    _record_schools(slot, school_state, practised, threshold, school_records)
    _record_district(slot, district_state, planned_visits, stocks)


@step
def _record_district(month, state, planned_visits, stocks):
    """Write this month's district stocks (:class:`DistrictStocks`, from the
    state arrays :class:`DistrictState` and the ``planned_visits`` (R,)) into
    ``stocks`` (T, len(DistrictStocks), R) at ``month``: coaches in post and
    cycles counted over positions and schools, the rest as they are."""
    st = DistrictState(*state)
    R, C = st.coach_position.shape
    S = st.cycles_done.shape[1]
    for r in range(R):
        in_post = 0
        for k in range(C):
            in_post += st.coach_position[r, k] and st.coach_filled[r, k]
        done = 0
        succeeded = 0
        for s in range(S):
            done += st.cycles_done[r, s]
            succeeded += st.cycles_succeeded[r, s]
        stocks[month, _KNOWLEDGE_BASE, r] = st.knowledge_base[r]
        stocks[month, _MESSAGE, r] = st.message[r]
        stocks[month, _PRIORITY, r] = st.priority[r]
        stocks[month, _COACHES_IN_POST, r] = in_post
        stocks[month, _VISITS_PLANNED, r] = planned_visits[r]
        stocks[month, _CONVENING, r] = st.convening[r]
        stocks[month, _CYCLES_DONE, r] = done
        stocks[month, _CYCLES_SUCCEEDED, r] = succeeded
        stocks[month, _LEADER_CHANGES, r] = st.leader_changes[r]
        stocks[month, _PANDEMIC, r] = st.shock[r]
        stocks[month, _COST_MONTH, r] = st.cost_month[r]
        stocks[month, _COST_TOTAL, r] = st.cost_total[r]


class Recorder:
    """Month-by-month records of R runs over T months of S schools.

    Per-school metrics are stored compactly (int8, bool, float32), month-major
    (a month's records are contiguous; ``schools[name]`` is the (R, T', S)
    view over the T' recorded months), and the district metrics are computed
    from them once, at the end.

    Args:
        runs, months, schools: R, T and S.
        every_month: record every month (the default), or only the end of each
            year (months 11, 23, ..., T - 1: what a sweep's end-of-run outcomes
            and yearly series read).  A month recorded either way holds the same
            bytes; the district metrics of the months not recorded are NaN.
    """

    def __init__(self, runs: int, months: int, schools: int, *, every_month: bool = True):
        self.months = months
        #: The months recorded, in order, and each month's slot among them (-1: not recorded).
        self.recorded = np.arange(months) if every_month else np.arange(MONTHS_PER_YEAR - 1, months, MONTHS_PER_YEAR)
        self.slot_of_month = np.full(months, -1, dtype=np.int64)
        self.slot_of_month[self.recorded] = np.arange(len(self.recorded))
        slots = len(self.recorded)
        # month-major (T', R, S), so that a month's records are written contiguously;
        # ``schools`` holds the (R, T', S) views
        self._by_month = {name: np.zeros((slots, runs, schools), dtype=t) for name, t in SCHOOL_METRICS.items()}
        self.schools = {name: a.transpose(1, 0, 2) for name, a in self._by_month.items()}
        # month-major, so that a month's stocks are stored in one assignment;
        # ``stocks`` is the (R, T', k) view
        self._stocks_by_month = np.full((slots, len(_DISTRICT_STOCKS), runs), np.nan)
        self.stocks = self._stocks_by_month.transpose(2, 0, 1)
        self._school_arrays = tuple(SchoolRecords(**self._by_month))
        self._cached_month = -1
        self._cached = None

    @property
    def every_month(self) -> bool:
        return len(self.recorded) == self.months

    def record(self, month: int, st: State, practice_threshold: np.ndarray, planned_visits, practised=None) -> None:
        """Keep month ``month`` of the state, if it is recorded; ``practised`` is
        the number of principles practised (R, S), when already counted."""
        slot = int(self.slot_of_month[month])
        if slot < 0:
            return
        if practised is None:
            practised = practised_count(st, practice_threshold)
        school_records, stocks, _ = self.targets()
        record_month(
            slot,
            (pick(RecordedState, st), pick(DistrictState, st)),
            practised,
            practice_threshold[:, 0],
            planned_visits,
            (school_records, stocks),
        )

    def targets(self) -> tuple[tuple, np.ndarray, np.ndarray]:
        """What :func:`record_month` writes into, and where: the per-school
        records (a :class:`SchoolRecords` tuple of month-major (T', R, S)
        arrays), the district stocks (T', len(DistrictStocks), R) and each
        month's slot in them (T,), -1 for a month not recorded.  Forgets the
        cached month (:meth:`district_month`), since the records are about to change."""
        self._cached_month = -1
        return self._school_arrays, self._stocks_by_month, self.slot_of_month

    def district(self) -> np.ndarray:
        """(R, T, len(DISTRICT_METRICS)) district metrics (NaN in the months not recorded)."""
        metrics = district_metrics(self.schools, self.stocks)
        if self.every_month:
            return metrics
        out = np.full((metrics.shape[0], self.months, metrics.shape[2]), np.nan)
        out[:, self.recorded] = metrics
        return out

    def district_month(self, month: int) -> np.ndarray:
        """(R, len(DISTRICT_METRICS)) district metrics of one month (cached).

        Raises:
            ValueError: the month is not recorded.
        """
        slot = int(self.slot_of_month[month])
        if slot < 0:
            raise ValueError(f"month {month} is not recorded (only the end of each year is)")
        if self._cached_month != month:
            window = {k: v[:, slot : slot + 1] for k, v in self.schools.items()}
            self._cached = district_metrics(window, self.stocks[:, slot : slot + 1])[:, 0]
            self._cached_month = month
        return self._cached


#: Columns of :data:`DISTRICT_METRICS` that count schools (:func:`_school_counts`);
#: the principles' shares follow one another from the first, in the order of PRINCIPLE_SHARES.
(
    _INVITED,
    _ENGAGED,
    _PAUSED,
    _OPTED_OUT,
    _NOT_INVITED,
    _AUTHENTIC,
    _PARTIAL,
    _INAUTHENTIC,
    _INSTITUTIONALIZED,
    _EVER_INSTITUTIONALIZED,
    _FADED,
    _SIX_MONTHS_AWAY,
    _TOOL_USE,
    _DEEP_BENCH,
    _FIRST_PRINCIPLE,
) = (
    DISTRICT_METRICS.index(name)
    for name in (
        "invited_share",
        "engaged_share",
        "paused_share",
        "opted_out_share",
        "not_invited_share",
        "authentic_share",
        "partial_share",
        "inauthentic_share",
        "institutionalized_share",
        "ever_institutionalized_share",
        "faded_share",
        "share_with_6mo_disengagement",
        "tool_use_share",
        "deep_bench",
        PRINCIPLE_SHARES[0],
    )
)
_PRINCIPLE_COUNT = len(PRINCIPLE_SHARES)
#: Team means and sums of the float records, computed with NumPy (its pairwise summation), in column order.
_FLOAT_METRICS = {"mean_commitment": "commitment", "mean_skill": "skill", "mean_embeddedness": "embeddedness"}
#: The codes of :class:`Engagement` and :class:`Authenticity` as compiled code compares them.
_NOT_INVITED_CODE, _ENGAGED_CODE, _PAUSED_CODE, _OPTED_OUT_CODE = (
    int(e) for e in (Engagement.NOT_INVITED, Engagement.ENGAGED, Engagement.PAUSED, Engagement.OPTED_OUT)
)
_AUTHENTIC_CODE, _PARTIAL_CODE, _INAUTHENTIC_CODE = (
    int(a) for a in (Authenticity.AUTHENTIC, Authenticity.PARTIAL, Authenticity.INAUTHENTIC)
)


@kernel
def _school_counts(records, out):
    """Write the district metrics that count schools into ``out`` (R, T,
    len(DISTRICT_METRICS)), from the per-school records (:class:`SchoolRecords`,
    each month-major and C-contiguous, (T, R, S), so one array type for any batch), in one pass over them: each share is the count of
    schools over S (engagement and authenticity over all schools, the
    authenticity shares among invited schools), the six-month share over the
    schools that joined (0 when none did), the deep bench successors per school."""
    t = SchoolRecords(*records)
    T, R, S = t.engagement.shape
    for m in range(T):
        for r in range(R):
            invited = engaged = paused = opted_out = 0
            authentic = partial = inauthentic = 0
            institutionalized = ever = faded = tools = joined = away = bench = 0
            for s in range(S):
                e = t.engagement[m, r, s]
                a = t.authenticity[m, r, s]
                if e != _NOT_INVITED_CODE:
                    invited += 1
                    authentic += a == _AUTHENTIC_CODE
                    partial += a == _PARTIAL_CODE
                    inauthentic += a == _INAUTHENTIC_CODE
                engaged += e == _ENGAGED_CODE
                paused += e == _PAUSED_CODE
                opted_out += e == _OPTED_OUT_CODE
                institutionalized += t.institutionalized[m, r, s]
                ever += t.ever_institutionalized[m, r, s]
                faded += t.faded[m, r, s]
                tools += t.tool_use[m, r, s]
                joined += t.joined[m, r, s]
                away += t.long_spell[m, r, s]
                bench += t.bench[m, r, s]
            row = out[r, m]
            row[_INVITED] = invited / S
            row[_ENGAGED] = engaged / S
            row[_PAUSED] = paused / S
            row[_OPTED_OUT] = opted_out / S
            row[_NOT_INVITED] = (S - invited) / S
            row[_AUTHENTIC] = authentic / S
            row[_PARTIAL] = partial / S
            row[_INAUTHENTIC] = inauthentic / S
            row[_INSTITUTIONALIZED] = institutionalized / S
            row[_EVER_INSTITUTIONALIZED] = ever / S
            row[_FADED] = faded / S
            row[_SIX_MONTHS_AWAY] = away / max(joined, 1) if joined > 0 else 0.0
            row[_TOOL_USE] = tools / S
            row[_DEEP_BENCH] = bench / S
            for i in range(_PRINCIPLE_COUNT):
                practising = 0
                for s in range(S):
                    practising += (t.principle_bits[m, r, s] >> i) & 1
                row[_FIRST_PRINCIPLE + i] = practising / S


def district_metrics(schools: dict[str, np.ndarray], stocks: np.ndarray) -> np.ndarray:
    """District metrics (R, T, M) from per-school records (R, T, S) and stocks (R, T, k):
    the counts of schools in one compiled pass (:func:`_school_counts`), the
    team means and visits with NumPy, the stocks as they are."""
    R, T, _ = schools["engagement"].shape
    out = np.empty((R, T, len(DISTRICT_METRICS)))
    _school_counts(tuple(np.ascontiguousarray(schools[name].transpose(1, 0, 2)) for name in SCHOOL_METRICS), out)
    for metric, record in _FLOAT_METRICS.items():
        out[:, :, DISTRICT_METRICS.index(metric)] = schools[record].astype(np.float64).mean(axis=-1)
    out[:, :, DISTRICT_METRICS.index("visits_delivered")] = schools["visits"].astype(np.float64).sum(axis=-1)
    for j, name in enumerate(_DISTRICT_STOCKS):
        out[:, :, DISTRICT_METRICS.index(name)] = stocks[:, :, j]
    return out


def time_to_first_institutionalization(first_month: np.ndarray) -> np.ndarray:
    """Months (R,) from the start to the first school institutionalized; NaN if none was."""
    hit = first_month >= 0
    earliest = np.where(hit, first_month, np.iinfo(np.int64).max).min(axis=1)
    return np.where(hit.any(axis=1), earliest + 1.0, np.nan)
