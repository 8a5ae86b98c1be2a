"""The year of months (sim/month.py) gives the same bytes as the submodels' Python functions.

``Engine.run`` without an event log steps a year of months at a time through
:func:`improvesim.sim.month.run_months` (its loop run as Python, or compiled in one call with
``IMPROVESIM_COMPILED_MONTH=1``); ``Engine.step`` (the Mesa model, the event log, the workshop
page) calls the submodels' functions month by month.  All call the same kernels, so every
outcome and every state array must be the same bytes, scenario by scenario: the bundled
scenarios, plans that pull the rarer levers, shocks, a posterior's constants, a batch of runs
whose parameters differ; both ways of running the loop.
"""

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from improvesim.analysis.compare import load_plan
from improvesim.sim import month, rng
from improvesim.sim.bundled import resolve
from improvesim.sim.end_of_run import end_of_run_outcomes, yearly_series
from improvesim.sim.engine import Engine, SimulationResult, concatenate, simulate, simulate_batches
from improvesim.sim.jit import sum_last_axis
from improvesim.sim.month import _STATE_BUNDLES, LooseState, month_tables, state_bundles
from improvesim.sim.params import Params, Shock, defaults, load_scenario
from improvesim.sim.posterior import load_posterior, replicate_params
from improvesim.sim.schema import PARAMETERS, SHOCK_KINDS
from improvesim.sim.state import State

SEEDS = (1, 42, 2**40 + 7)
RESULT_ARRAYS = (
    "district",
    "first_institutionalized",
    "invited_month",
    "joined",
    "authentic_years",
    "final_authenticity",
)


def stepped(params, seeds, *, record_events=False) -> tuple[SimulationResult, State]:
    """The runs stepped month by month through the submodels' functions."""
    engine = Engine(params, seeds, record_schools=True, record_events=record_events)
    while not engine.done:
        engine.step()
    return engine.result(), engine.st


def fast(params, seeds, *, steps_first: int = 0, every_month: bool = True) -> tuple[SimulationResult, State]:
    """The runs through ``Engine.run`` (the compiled month), after ``steps_first`` months stepped;
    with per-school records, or (``every_month`` False) recording only the ends of years, as sweeps do."""
    engine = Engine(params, seeds, record_schools=every_month, record_every_month=every_month)
    for _ in range(steps_first):
        engine.step()
    return engine.run(), engine.st


def assert_same_bytes(a: tuple[SimulationResult, State], b: tuple[SimulationResult, State]) -> None:
    (ra, sa), (rb, sb) = a, b
    for name in RESULT_ARRAYS:
        x, y = getattr(ra, name), getattr(rb, name)
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), name
    assert sorted(ra.schools) == sorted(rb.schools)
    for name in ra.schools:
        assert ra.schools[name].tobytes() == rb.schools[name].tobytes(), f"schools[{name}]"
    for name in state_array_names():
        assert getattr(sa, name).tobytes() == getattr(sb, name).tobytes(), f"state.{name}"
    assert sa.month == sb.month


def state_array_names() -> list[str]:
    """Every state array the compiled month can touch."""
    names = set(LooseState._fields)
    for bundle in _STATE_BUNDLES:
        names |= set(bundle._fields)
    return sorted(names)


def scenario_cases() -> dict[str, list[Params]]:
    """Batches of three runs: bundled scenarios, plans with the new levers, shocks, a posterior."""
    cases = {name: [load_scenario(name)] * len(SEEDS) for name in ("baseline", "mandate", "high_churn")}
    cases["framework_full"] = [load_scenario("framework_full")] * len(SEEDS)
    cases["viano2024_case"] = [load_scenario("viano2024_case")] * len(SEEDS)
    for plan in ("capacity_gated_rollout", "stop_initiatives", "internal_pipeline", "external_coaches"):
        cases[f"plan_{plan}"] = [load_plan(resolve(f"plans/{plan}")).params] * len(SEEDS)
    full = load_scenario("framework_full")
    shocks = (Shock("pandemic", 7, 14, 0.9), Shock("hub_loss", 30, 12, 1.0), Shock("pandemic", 60, 6, 0.4))
    cases["shocked"] = [Params(values=full.values, shocks=shocks, name="shocked")] * len(SEEDS)
    at_once = full.with_overrides({"turnover.pandemic_delay": 0})  # exits rise as the pandemic starts
    cases["shocked_without_delay"] = [Params(values=at_once.values, shocks=shocks, name="shocked")] * len(SEEDS)
    base = load_scenario("baseline")
    cases["posterior_viano2024"] = replicate_params(base, SEEDS, load_posterior("viano2024"))
    cases["mixed_batch"] = [base, load_scenario("mandate"), load_plan(resolve("plans/deep_bench")).params]
    return cases


CASES = scenario_cases()


@pytest.fixture(params=["python", "compiled"])
def month_mode(request, monkeypatch):
    """The year's loop run as Python or compiled (``IMPROVESIM_COMPILED_MONTH``)."""
    monkeypatch.setattr(month, "COMPILED_MONTH", request.param == "compiled")
    return request.param


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_year_of_months_gives_the_bytes_of_the_submodels_functions(case, month_mode):
    params = CASES[case]
    assert_same_bytes(fast(params, SEEDS), stepped(params, SEEDS))


@pytest.mark.parametrize("case", ["baseline", "shocked", "posterior_viano2024"])
def test_with_or_without_the_event_log_the_same_bytes(case):
    """The event log (the Python functions' notes) changes nothing else."""
    params = CASES[case]
    assert_same_bytes(fast(params, SEEDS), stepped(params, SEEDS, record_events=True))


@pytest.mark.parametrize("steps_first", [1, 11, 12, 17])
def test_running_on_after_some_months_stepped_gives_the_same_bytes(steps_first, month_mode):
    params = CASES["framework_full"]
    assert_same_bytes(fast(params, SEEDS, steps_first=steps_first), stepped(params, SEEDS))


def test_a_run_alone_and_in_a_batch_give_the_same_bytes_on_the_year_of_months(month_mode):
    params = CASES["mixed_batch"]
    together = simulate(params, SEEDS)
    for r, (p, seed) in enumerate(zip(params, SEEDS, strict=True)):
        alone = simulate([p], [seed])
        assert alone.district.tobytes() == together.district[r : r + 1].tobytes()
        assert alone.first_institutionalized.tobytes() == together.first_institutionalized[r : r + 1].tobytes()


def test_the_year_of_months_refuses_a_batch_that_keeps_an_event_log():
    from improvesim.sim.month import month_tables, run_months

    engine = Engine([load_scenario("baseline")], [1], record_events=True)
    with pytest.raises(ValueError, match="event log"):
        run_months(0, 1, engine.st, None, month_tables(engine.pv, engine.st.team_size, engine._schedule), None)


@pytest.mark.parametrize("schools", [*range(0, 140), 255, 256, 257, 400, 1000, 4000, 4001])
def test_compiled_sums_over_schools_are_numpys(schools):
    """The bright spots' totals (network) are summed in compiled code in NumPy's pairwise order."""
    rng = np.random.default_rng(schools)
    x = rng.standard_normal((7, 3, schools)) * 10.0 ** rng.integers(-8, 8, (7, 3, schools))
    out = np.empty((7, 3))
    sum_last_axis(x, np.ones(3, dtype=np.bool_), out)
    assert out.tobytes() == x.sum(axis=-1).tobytes()
    out[:, 1] = -1.0  # a run left out keeps its column
    sum_last_axis(x, np.array([True, False, True]), out)
    assert (out[:, 1] == -1.0).all() and out[:, [0, 2]].tobytes() == x.sum(axis=-1)[:, [0, 2]].tobytes()


# --- arbitrary parameter sets, shapes and shocks (Hypothesis) ------------------------------------

#: Parameters that set a batch's shape (drawn together, kept small so that every example is quick).
SHAPE = ("district.schools", "district.team_size", "run.years", "rollout.initial_schools", "rollout.cohort_size")
#: Every other parameter of the schema, each drawn anywhere in its range (ints up to 60 months or so).
FREE = [p for p in PARAMETERS if p.name not in SHAPE and p.name not in ("run.seed", "run.replicates")]


def any_value(p) -> hs.SearchStrategy:
    if p.kind == "choice":
        return hs.sampled_from(p.choices)
    if p.kind == "int":
        return hs.integers(int(p.low), int(min(p.high, 60)))
    return hs.one_of(hs.sampled_from([p.low, p.high]), hs.floats(p.low, p.high, allow_nan=False))


@hs.composite
def parameter_set(draw, schools: int, team_size: int, years: int) -> Params:
    """A valid parameter set of this shape: any of the other parameters set anywhere in its range,
    up to four shocks (starting in any month, running past the end or not)."""
    values = {
        "district.schools": schools,
        "district.team_size": team_size,
        "run.years": years,
        "rollout.initial_schools": draw(hs.integers(0, schools)),
        "rollout.cohort_size": draw(hs.integers(0, schools + 1)),
    }
    for p in FREE:
        if draw(hs.booleans()):
            values[p.name] = draw(any_value(p))
    months = 12 * years
    shock = hs.builds(
        Shock,
        hs.sampled_from(SHOCK_KINDS),
        hs.integers(0, months - 1),
        hs.integers(1, months + 2),
        hs.sampled_from([0.0, 1.0]) | hs.floats(0.0, 1.0),
    )
    shocks = tuple(draw(hs.lists(shock, max_size=4)))
    return Params(values=defaults().values, shocks=shocks, name="drawn").with_overrides(values)


@hs.composite
def batches(draw) -> tuple[list[Params], list[int], int]:
    """One to three different parameter sets of one shape, their seeds and the months stepped first."""
    schools, team_size, years = draw(hs.sampled_from([1, 2, 5])), draw(hs.integers(3, 12)), draw(hs.integers(1, 2))
    runs = draw(hs.integers(1, 3))
    params = [draw(parameter_set(schools, team_size, years)) for _ in range(runs)]
    seeds = draw(hs.lists(hs.integers(0, 2**63 - 1), min_size=runs, max_size=runs))
    return params, seeds, min(draw(hs.sampled_from([0, 0, 1, 12, 13])), 12 * years)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=batches())
def test_any_parameters_within_the_schema_give_the_same_bytes_either_way(case, month_mode):
    params, seeds, steps_first = case
    assert_same_bytes(fast(params, seeds, steps_first=steps_first), stepped(params, seeds))


def compiled_month_types(params: list[Params]) -> str:
    """The Numba types of what :func:`improvesim.sim.month.run_months` hands the compiled year."""
    engine = Engine(params, list(range(len(params))))
    coef, tables = month_tables(engine.pv, engine.st.team_size, engine._schedule)
    year = tuple(rng.year_draws(engine._streams.blocks(0, 12)))
    return str(numba.typeof((state_bundles(engine.st), year, coef, tables, engine.recorder.targets())))


def test_the_compiled_year_is_compiled_once_whatever_the_shape():
    """The compiled year's inputs have the same types (dtypes, dimensions, memory order) for any
    number of runs, schools, coaches and seats: a new memory order (the initial exit budgets' depended
    on R and S) compiles the whole year again, about 25 s on a new machine."""
    base = load_scenario("baseline").with_overrides({"run.years": 1})
    reference = compiled_month_types([base] * 3)
    for runs in (1, 2):
        for schools in (1, 2, 7):
            for coaches in (0, 1, 3):
                shape = {"district.schools": schools, "rollout.initial_schools": schools, "coaching.coaches": coaches}
                assert compiled_month_types([base.with_overrides(shape)] * runs) == reference, (runs, shape)


def test_batches_in_two_threads_give_the_bytes_of_one_thread(month_mode):
    params = [
        load_scenario(name).with_overrides({"run.years": 2}) for name in ("baseline", "mandate", "framework_full")
    ]
    params, seeds = params * 2, list(range(30, 36))
    one = concatenate(list(simulate_batches(params, seeds, batch=2, workers=1, record_schools=True)))
    two = concatenate(list(simulate_batches(params, seeds, batch=2, workers=2, record_schools=True)))
    for name in RESULT_ARRAYS:
        assert getattr(one, name).tobytes() == getattr(two, name).tobytes(), name
    for name in one.schools:
        assert one.schools[name].tobytes() == two.schools[name].tobytes(), f"schools[{name}]"


def test_running_a_finished_engine_again_and_the_outcomes_midway(month_mode):
    params = CASES["baseline"]
    engine = Engine(params, SEEDS)
    for _ in range(30):
        engine.step()
    midway = engine.result()
    first, again = engine.run(), engine.run()
    assert midway.district.shape[1] == 30 and midway.district.tobytes() == first.district[:, :30].tobytes()
    for name in RESULT_ARRAYS:
        assert getattr(first, name).tobytes() == getattr(again, name).tobytes(), name


def assert_year_ends_are_every_months(a: tuple[SimulationResult, State], b: tuple[SimulationResult, State]) -> None:
    """``a`` recorded only the ends of years, ``b`` every month: the same bytes in the months
    recorded, NaN in the others, the same end-of-run outcomes, yearly series and state."""
    (ra, sa), (rb, sb) = a, b
    months = rb.district.shape[1]
    ends = np.arange(11, months, 12)
    assert ra.district.shape == rb.district.shape
    assert ra.district[:, ends].tobytes() == rb.district[:, ends].tobytes()
    assert np.isnan(np.delete(ra.district, ends, axis=1)).all()
    for name in RESULT_ARRAYS[1:]:
        assert getattr(ra, name).tobytes() == getattr(rb, name).tobytes(), name
    oa, ob = end_of_run_outcomes(ra), end_of_run_outcomes(rb)
    assert sorted(oa) == sorted(ob)
    for name in oa:
        assert oa[name].tobytes() == ob[name].tobytes(), name
    assert yearly_series(ra).tobytes() == yearly_series(rb).tobytes()
    for name in state_array_names():
        assert getattr(sa, name).tobytes() == getattr(sb, name).tobytes(), f"state.{name}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_recording_only_the_ends_of_years_gives_the_outcomes_of_every_month(case, month_mode):
    params = CASES[case]
    assert_year_ends_are_every_months(fast(params, SEEDS, every_month=False), fast(params, SEEDS))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=batches())
def test_any_parameters_recorded_at_the_ends_of_years_give_the_outcomes_of_every_month(case):
    params, seeds, steps_first = case
    assert_year_ends_are_every_months(
        fast(params, seeds, steps_first=steps_first, every_month=False), fast(params, seeds)
    )


@pytest.mark.parametrize("what", ["record_schools", "record_events"])
def test_per_school_records_and_event_logs_need_every_month(what):
    with pytest.raises(ValueError, match="every month"):
        Engine(CASES["baseline"], SEEDS, record_every_month=False, **{what: True})


def test_a_month_not_recorded_cannot_be_read_midway():
    engine = Engine(CASES["baseline"], SEEDS, record_every_month=False)
    for _ in range(12):
        engine.step()
    assert engine.recorder.district_month(11).shape == (len(SEEDS), len(engine.result().district[0, 0]))
    with pytest.raises(ValueError, match="not recorded"):
        engine.recorder.district_month(10)
