"""District state for a batch of runs, held in district-wide arrays.

Staff are many and simple, so they are not Mesa agents: every quantity lives
in a district-wide array.  School quantities are (R, S): the run (R runs
computed together), then the school.  Staff quantities are seat-major,
(K, R, S), with K seats on each improvement team, and the six principles
are (6, R, S), so that team and principle aggregates are sums of a few
contiguous (R, S) slices.  Coaches are (R, C) arrays, district quantities
(R,) arrays.  Schools, coaches and the central
office are exposed as Mesa agents by :mod:`sim.agents`, which read these
arrays.

Seats on the team: 0 principal, 1 assistant principal, 2 improvement lead,
3.. teachers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from enum import IntEnum
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from improvesim.sim import rng
from improvesim.sim.jit import kernel
from improvesim.sim.params import Params
from improvesim.sim.schema import BY_NAME, MAX_SHOCKS, PARAMETERS, SHOCK_KINDS

PRINCIPAL, ASSISTANT_PRINCIPAL, LEAD = 0, 1, 2
FIRST_TEACHER = 3
#: Seats a groomed successor from the deep bench can step into, in order.
SUCCESSION_SEATS = (PRINCIPAL, LEAD)
#: Skill at or above which a staff member counts as developing (novice below, expert above 2/3).
SKILL_DEVELOPING = 1.0 / 3.0
#: The six principles of improvement science (Bryk et al. 2015; seed 003).
PRINCIPLES = (
    "problem_focused_user_centred",
    "attend_to_variability",
    "see_the_system",
    "embrace_measurement",
    "disciplined_inquiry",
    "organize_as_networks",
)
N_PRINCIPLES = len(PRINCIPLES)


class Engagement(IntEnum):
    """Where a school stands with the initiative."""

    NOT_INVITED = 0
    ENGAGED = 1
    PAUSED = 2
    OPTED_OUT = 3


#: ``Engagement`` values as plain ints, for arithmetic on arrays.
NOT_INVITED, ENGAGED, PAUSED, OPTED_OUT = (int(e) for e in Engagement)


class Authenticity(IntEnum):
    """Authenticity of implementation (seed 003), from the six principles."""

    INAUTHENTIC = 0  # no principle practised
    PARTIAL = 1  # some principles practised
    AUTHENTIC = 2  # all six practised


#: Names of the parameters that are numbers (every kind but "choice"), in schema order.
_NUMERIC_PARAMETERS = tuple(p.name for p in PARAMETERS if p.kind != "choice")


class ParamVectors(dict):
    """Per-run parameter values as arrays, for vectorized submodels.

    ``pv["turnover.teacher"]`` is a float array of shape (R, 1), which
    broadcasts against (R, S) school arrays; ``pv.col(name)`` is shape (R,),
    the form the compiled kernels take.
    """

    def __init__(self, params: Sequence[Params]):
        self.params = tuple(params)
        self.schools = int(self.params[0]["district.schools"])
        names = _NUMERIC_PARAMETERS
        # one (parameters, R) array built at once (a run's values taken in one call), each
        # parameter's row a view
        values_of = itemgetter(*names)
        table = np.ascontiguousarray(np.array([values_of(ps.values) for ps in self.params], dtype=np.float64).T)
        self._cols = dict(zip(names, table, strict=True))
        # the mapping itself: name -> (R, 1) values (a dict, so that look-ups cost no Python call)
        super().__init__({k: v[:, None] for k, v in self._cols.items()})
        self.required = np.array([ps["governance.participation"] == "required" for ps in params])[:, None]
        self.shock_start, self.shock_end, self.shock_severity, self.shock_kind = _shock_arrays(params)

        self._cache: dict[str, np.ndarray] = {}
        #: Coefficient bundles (sim.jit.coefficients) by bundle class.
        self.memo: dict[type, tuple] = {}

    # one object per batch of runs, usable as a memo key
    __hash__ = object.__hash__
    __eq__ = object.__eq__
    __ne__ = object.__ne__

    def cached(self, key: str, compute) -> np.ndarray:
        """A per-run constant derived from the parameters, computed once."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = compute(self)
            return value

    def col(self, name: str) -> np.ndarray:
        return self._cols[name]


def required_by_run(pv: ParamVectors) -> np.ndarray:
    """Whether participation is required (a mandate), (R,) bools."""
    return pv.required[:, 0]


#: Coach models (``coaching.model``) as the arrays hold them: their place in the schema's choices.
HIRED, EXTERNAL, INTERNAL = (BY_NAME["coaching.model"].choices.index(m) for m in ("hired", "external", "internal"))


def coach_model_by_run(pv: ParamVectors) -> np.ndarray:
    """Each run's coach model (R,) as :data:`HIRED`, :data:`EXTERNAL` or :data:`INTERNAL`."""
    return pv.cached(
        "coach_model",
        lambda pv: np.array([BY_NAME["coaching.model"].choices.index(p["coaching.model"]) for p in pv.params]),
    )


def _by_coach_model(pv: ParamVectors, hired: np.ndarray, external: np.ndarray, internal: np.ndarray) -> np.ndarray:
    """(R,) ``hired``, ``external`` or ``internal`` (each (R,)) by each run's coach model: the hired
    value itself, not a copy computed again, in runs of hired coaches."""
    model = coach_model_by_run(pv)
    return np.where(model == EXTERNAL, external, np.where(model == INTERNAL, internal, hired))


def hire_skill(pv: ParamVectors) -> np.ndarray:
    """Mean skill (R,), 0-1 before the draw's spread, of a coach hired under each run's coach model:
    ``coaching.skill``, times ``coaching.external_skill`` for external and ``coaching.internal_skill``
    for internal coaches."""
    skill = pv.col("coaching.skill")
    return _by_coach_model(
        pv, skill, skill * pv.col("coaching.external_skill"), skill * pv.col("coaching.internal_skill")
    )


def understanding_per_visit(pv: ParamVectors) -> np.ndarray:
    """Understanding (R,), share of the gap, one fully effective visit gives under each run's coach
    model: ``coaching.understanding_per_visit``, times ``coaching.internal_understanding`` for internal
    coaches."""
    base = pv.col("coaching.understanding_per_visit")
    return _by_coach_model(pv, base, base, base * pv.col("coaching.internal_understanding"))


def skill_kept(pv: ParamVectors) -> np.ndarray:
    """Share (R,), 0-1, of what a departing coach had learned beyond a new hire's skill that the next
    coach in the post starts with: ``coaching.internal_skill_kept`` for internal coaches, 0 otherwise."""
    none = np.zeros(len(pv.params))
    return _by_coach_model(pv, none, none, pv.col("coaching.internal_skill_kept"))


def internal_learning(pv: ParamVectors) -> np.ndarray:
    """Share (R,), 0-1, of the gap to ``coaching.skill`` a coach in post closes a month:
    ``coaching.internal_learning`` for internal coaches, 0 otherwise (hired and external coaches
    come with their craft)."""
    none = np.zeros(len(pv.params))
    return _by_coach_model(pv, none, none, pv.col("coaching.internal_learning"))


def _shock_arrays(params: Sequence[Params]):
    n = max([len(p.shocks) for p in params] + [1])
    n = min(n, MAX_SHOCKS)
    start = np.zeros((len(params), n), dtype=np.int64)
    end = np.zeros_like(start)
    severity = np.zeros((len(params), n))
    kind = np.zeros_like(start)
    for r, p in enumerate(params):
        for i, s in enumerate(p.shocks):
            start[r, i], end[r, i] = s.start_month, s.start_month + s.months
            severity[r, i] = s.severity
            kind[r, i] = SHOCK_KINDS.index(s.kind)
    return start, end, severity, kind


@dataclass
class State:
    """All mutable state of R runs of S schools, K team seats and C coach positions."""

    keys: np.ndarray  # (R,) uint64 run keys for the random streams
    month: int
    # schools (R, S)
    engagement: np.ndarray
    invited_month: np.ndarray
    joined: np.ndarray  # accepted the invitation (participating schools)
    demand_mult: np.ndarray
    understanding: np.ndarray
    embeddedness: np.ndarray
    institutionalized: np.ndarray
    first_institutionalized: np.ndarray
    ever_authentic: np.ndarray
    months_not_authentic: np.ndarray
    authentic_years: np.ndarray  # school years that ended with authentic practice
    fatigue: np.ndarray
    stall: np.ndarray
    cycle_progress: np.ndarray
    in_cycle: np.ndarray
    cycles_done: np.ndarray
    cycles_succeeded: np.ndarray
    results: np.ndarray
    local_knowledge: np.ndarray
    bench: np.ndarray
    unsettled_months: np.ndarray  # months left of raised teacher exits after the principal left
    visits: np.ndarray
    coach_of: np.ndarray
    spell: np.ndarray
    max_spell: np.ndarray
    authenticity: np.ndarray
    effort: np.ndarray  # share of full-pace improvement work done this month, 0-1
    tools: np.ndarray  # tool use, 0-1
    practised_bits: np.ndarray  # bit i set while principle i is practised (as of the last classification)
    equity_belief: np.ndarray  # the leaders' belief that improvement advances equity, 0-1
    own_time_weight: np.ndarray  # equity_belief ** improvement.own_time_concentration (set with it: own_time_weights)
    # principles (6, R, S)
    principles: np.ndarray
    # staff (K, R, S)
    skill: np.ndarray
    commitment: np.ndarray
    tenure: np.ndarray
    exit_budget: np.ndarray  # cumulative exit hazard left before the seat's holder leaves (exit clocks, sim.rng)
    # coaches (R, C)
    coach_position: np.ndarray  # the position exists (funded)
    coach_grant: np.ndarray  # funded by the grant
    coach_filled: np.ndarray
    coach_skill: np.ndarray
    coach_vacancy: np.ndarray  # months until a vacant position is filled
    # runs (R, K)
    weights: np.ndarray  # weight of each seat in team means (team_weights)
    exit_clock_key: np.ndarray  # (R, 2) key halves of stream staff_clock (sim.rng.stream_keys)
    # district (R,)
    priority: np.ndarray
    leader_changes: np.ndarray
    initiative_months: np.ndarray
    message: np.ndarray
    knowledge_base: np.ndarray
    hub_capacity: np.ndarray
    shock: np.ndarray  # pandemic severity this month
    convening: np.ndarray  # a convening was held this month
    cost_month: np.ndarray
    cost_total: np.ndarray
    events: list | None = None  # per-run event lists, when recording (see sim.events)
    #: Results derived from the state that submodels may reuse while their inputs are unchanged.
    memo: dict = field(default_factory=dict)
    #: Tuples of this state's arrays handed to kernels, by bundle (sim.jit.pick); forgotten
    #: whenever an array is set (arrays are otherwise only updated in place).
    bundles: dict = field(default_factory=dict)

    def __setattr__(self, name, value):
        if isinstance(value, np.ndarray) and "bundles" in self.__dict__:
            self.bundles.clear()
        object.__setattr__(self, name, value)

    @property
    def runs(self) -> int:
        return self.engagement.shape[0]

    @property
    def schools(self) -> int:
        return self.engagement.shape[1]

    @property
    def team_size(self) -> int:
        return self.skill.shape[0]

    def copy(self) -> State:
        """A deep copy (arrays copied)."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v.copy() if isinstance(v, np.ndarray) else v
        kw["memo"] = {}
        kw["bundles"] = {}
        return State(**kw)


def team_weights(team_size: int, leader_weight: float = BY_NAME["district.leader_weight"].default) -> np.ndarray:
    """Weight (K,) of each seat in team means, adding to 1: the principal and the
    improvement lead count ``leader_weight`` times as much as the other seats."""
    w = np.ones(team_size)
    w[PRINCIPAL] = leader_weight
    w[LEAD] = leader_weight
    w /= w.sum()
    return w


def team_mean(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted team mean (R, S) of a seat-major staff array (K, R, S), with the
    runs' seat ``weights`` (R, K) (``State.weights``).

    A reduction over the leading (seat) axis adds seats in order, never a
    BLAS call, so the result for a run does not depend on its batch.
    """
    return np.add.reduce(x * weights.T[:, :, None], axis=0)


class EngagementMasks(NamedTuple):
    """(R, S) masks of where schools stand, derived from ``State.engagement``."""

    engaged: np.ndarray
    paused: np.ndarray
    participating: np.ndarray  # engaged or paused
    invited: np.ndarray  # anything but not invited
    away: np.ndarray  # paused or opted out
    n_participating: np.ndarray  # (R,) participating schools


def engagement_masks(st: State) -> EngagementMasks:
    """Masks of the schools' engagement (read-only), recomputed only when engagement changes."""
    stamp = st.engagement.tobytes()
    hit = st.memo.get("engagement_masks")
    if hit is not None and hit[0] == stamp:
        return hit[1]
    masks = _engagement_masks(st.engagement)
    st.memo["engagement_masks"] = (stamp, masks)
    return masks


def _engagement_masks(engagement: np.ndarray) -> EngagementMasks:
    # (plain ints: NumPy compares arrays with an IntEnum member through a slow path)
    engaged = engagement == ENGAGED
    paused = engagement == PAUSED
    participating = engaged | paused
    masks = EngagementMasks(
        engaged,
        paused,
        participating,
        engagement != NOT_INVITED,
        paused | (engagement == OPTED_OUT),
        participating.sum(axis=1),
    )
    for m in masks:
        m.setflags(write=False)
    return masks


def frozen(x: np.ndarray) -> np.ndarray:
    """``x``, made read-only (a value others may share)."""
    x.setflags(write=False)
    return x


def anything(x: np.ndarray) -> bool:
    """Whether any element of ``x`` is non-zero: ``x.any()``, but cheaper on
    small arrays (``any`` goes through Python, and is slow on numbers)."""
    return _count_nonzero(x) != 0


try:  # the C function behind np.count_nonzero(x), without its Python wrapper
    from numpy._core.multiarray import count_nonzero as _count_nonzero
except ImportError:  # pragma: no cover - NumPy moved it
    _count_nonzero = np.count_nonzero


def clip01(x: np.ndarray) -> np.ndarray:
    """Clip to [0, 1] in place (cheaper than np.clip on small arrays)."""
    np.maximum(x, 0.0, out=x)
    return np.minimum(x, 1.0, out=x)


def exit_budget(u: np.ndarray | float) -> np.ndarray:
    """The Exp(1) budget of cumulative exit hazard, -ln(1 - u), of a uniform
    ``u`` in [0, 1): a seat whose budget is below this month's cumulative
    hazard -ln(1 - p) leaves, which happens exactly when u < p (u = 1 gives an
    infinite budget: never leaves)."""
    with np.errstate(divide="ignore"):
        return -np.log1p(-np.asarray(u, dtype=float))


def initial_exit_budgets(keys: np.ndarray, schools: int, team_size: int) -> np.ndarray:
    """(K, R, S) exit budgets of the staff in post at the start: stream
    ``staff_clock``, month 0, index (school, seat, :data:`sim.rng.CLOCK_START`).

    C-ordered, like every other state array: the memory order of the seat-major view
    would otherwise depend on R and S, and a compiled kernel that takes the array (the
    compiled year of months above all, :mod:`sim.month`) would be compiled again for
    each memory order it meets."""
    u = rng.uniform(keys, "staff_clock", 0, (schools, team_size, rng.CLOCK_START + 1))[..., rng.CLOCK_START]
    return np.ascontiguousarray(exit_budget(np.moveaxis(u, -1, 0)))


def blank_state(runs: int, schools: int, team_size: int, coaches: int, seeds=None) -> State:
    """A state of the given shape with every school uninvited and all stocks at zero.

    Tests build hand-made situations from this; :func:`initial_state` fills it
    from parameters.
    """
    R, S, K, C = runs, schools, team_size, coaches
    z = lambda *shape: np.zeros(shape)  # noqa: E731
    zi = lambda *shape: np.zeros(shape, dtype=np.int64)  # noqa: E731
    zb = lambda *shape: np.zeros(shape, dtype=bool)  # noqa: E731
    seeds = list(range(R)) if seeds is None else seeds
    keys = rng.run_keys(seeds)
    return State(
        keys=keys,
        month=0,
        engagement=np.zeros((R, S), dtype=np.int8),
        invited_month=np.full((R, S), -1, dtype=np.int64),
        joined=zb(R, S),
        demand_mult=np.ones((R, S)),
        understanding=z(R, S),
        embeddedness=z(R, S),
        institutionalized=zb(R, S),
        first_institutionalized=np.full((R, S), -1, dtype=np.int64),
        ever_authentic=zb(R, S),
        months_not_authentic=zi(R, S),
        authentic_years=zi(R, S),
        fatigue=z(R, S),
        stall=zi(R, S),
        cycle_progress=z(R, S),
        in_cycle=zb(R, S),
        cycles_done=zi(R, S),
        cycles_succeeded=zi(R, S),
        results=z(R, S),
        local_knowledge=z(R, S),
        bench=zi(R, S),
        unsettled_months=zi(R, S),
        visits=z(R, S),
        coach_of=np.full((R, S), -1, dtype=np.int64),
        spell=zi(R, S),
        max_spell=zi(R, S),
        authenticity=np.zeros((R, S), dtype=np.int8),
        effort=z(R, S),
        tools=z(R, S),
        practised_bits=zi(R, S),
        equity_belief=z(R, S),
        own_time_weight=z(R, S),
        principles=z(N_PRINCIPLES, R, S),
        skill=z(K, R, S),
        commitment=z(K, R, S),
        tenure=zi(K, R, S),
        exit_budget=initial_exit_budgets(keys, S, K),
        coach_position=zb(R, C),
        coach_grant=zb(R, C),
        coach_filled=zb(R, C),
        coach_skill=z(R, C),
        coach_vacancy=zi(R, C),
        weights=np.tile(team_weights(K), (R, 1)),
        exit_clock_key=rng.stream_keys(keys, "staff_clock"),
        priority=z(R),
        leader_changes=zi(R),
        initiative_months=zi(R),
        message=z(R),
        knowledge_base=z(R),
        hub_capacity=z(R),
        shock=z(R),
        convening=zb(R),
        cost_month=z(R),
        cost_total=z(R),
    )


def initial_state(pv: ParamVectors, seeds: Sequence[int]) -> State:
    """The district at month 0: staff drawn around the initial skill and commitment,
    coach positions filled, school demands drawn, nobody invited yet (the
    central office invites the first cohort in the first month)."""
    params = pv.params
    S = int(params[0]["district.schools"])
    K = int(params[0]["district.team_size"])
    C = max(int(p["coaching.coaches"]) for p in params)
    R = len(params)
    st = blank_state(R, S, K, max(C, 1), seeds)
    u = rng.uniform(st.keys, "init", 0, (max(S, C, 1), 4, K))
    # skill and commitment spread uniformly +-50% around their means, kept in [0, 1]
    seat_major = lambda a: np.moveaxis(a, -1, 0)  # (R, S, K) -> (K, R, S)  # noqa: E731
    st.skill[:] = clip01(pv["district.initial_skill"] * (0.5 + seat_major(u[:, :S, 0, :])))
    st.commitment[:] = clip01(pv["district.initial_commitment"] * (0.5 + seat_major(u[:, :S, 1, :])))
    spread = pv["district.demand_spread"]
    st.demand_mult[:] = 1.0 - spread + 2.0 * spread * u[:, :S, 2, 0]
    n_coaches = pv.col("coaching.coaches")[:, None]
    seat = np.arange(st.coach_position.shape[1])[None, :]
    st.coach_position[:] = seat < n_coaches
    st.coach_filled[:] = st.coach_position
    # grant-funded positions are the first round(grant_share * coaches) seats
    st.coach_grant[:] = seat < np.round(pv.col("coaching.grant_share")[:, None] * n_coaches)
    st.coach_grant &= st.coach_position
    # coaches in post at the start are drawn as new coaches are (sim.submodels.turnover)
    spread = pv["coaching.new_coach_spread"] * u[:, : st.coach_position.shape[1], 3, 0]
    st.coach_skill[:] = clip01(hire_skill(pv)[:, None] * (pv["coaching.new_coach_low"] + spread))
    st.priority[:] = pv.col("governance.priority")
    st.weights[:] = [team_weights(K, w) for w in pv.col("district.leader_weight")]
    st.tenure[:] = 24
    # schools start different: the leaders' belief that improvement advances equity (seed 003)
    st.equity_belief[:] = rng.uniform(st.keys, "school_start", 0, (S,))
    own_time_weights(st.equity_belief, pv.col("improvement.own_time_concentration"), st.own_time_weight)
    return st


@kernel
def own_time_weights(belief, concentration, out):
    """Write ``belief ** concentration`` into ``out`` (R, S): each school's leaders' equity belief
    (R, S), 0-1, raised to its run's ``improvement.own_time_concentration`` (R,), k >= 0 (exactly
    the belief where k is 1).  What a school's own time follows
    (:func:`sim.submodels.improvement.own_time_factor_at`); the belief and k are fixed for a run,
    so the power is taken once, at set-up, not every school month (it was a sixth of a batch
    where k is not 1).  Whoever sets ``equity_belief`` sets this with it."""
    R, S = belief.shape
    for r in range(R):
        k = concentration[r]
        for s in range(S):
            out[r, s] = belief[r, s] if k == 1.0 else belief[r, s] ** k
