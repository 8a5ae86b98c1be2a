"""Shared fixtures: a non-interactive matplotlib backend, small hand-made states."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from improvesim.sim.params import defaults  # noqa: E402
from improvesim.sim.rng import DRAWS, MonthDraws  # noqa: E402
from improvesim.sim.state import ParamVectors, blank_state, exit_budget  # noqa: E402

# A suite started as a background job (``make test &``, nohup) inherits Ctrl-C ignored, and so do the
# commands it starts; the Ctrl-C tests send SIGINT to this process and to those commands as a terminal
# does, so the session takes Python's own handler, as in a foreground run.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
#: Every file `improvesim run` writes (the marker lets a later --force replace the folder).
RUN_FILES = [
    ".improvesim",
    "district.parquet",
    "schools.parquet",
    "summary.json",
    "survival.parquet",
    "survival.png",
    "trajectories.png",
]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def improvesim(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    """Run the command line as a user would, in a fresh process; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "improvesim", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory) -> Path:
    """Where browser tests keep their screenshots: the folder named by IMPROVESIM_TEST_ARTIFACTS
    (made if missing; CI keeps it), else a folder under pytest's temporary directory."""
    named = os.environ.get("IMPROVESIM_TEST_ARTIFACTS")
    folder = Path(named) if named else tmp_path_factory.mktemp("artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def params():
    return defaults()


def small(overrides=None, runs=1, schools=4, team=6, coaches=2):
    """A ParamVectors and a blank State with every school engaged, for rule tests."""
    p = defaults().with_overrides(
        {
            "district.schools": schools,
            "rollout.initial_schools": schools,
            "district.team_size": team,
            "coaching.coaches": coaches,
            **(overrides or {}),
        }
    )
    pv = ParamVectors([p] * runs)
    st = blank_state(runs, schools, team, coaches)
    st.engagement[:] = 1
    st.joined[:] = True
    st.invited_month[:] = 0
    st.coach_position[:] = True
    st.coach_filled[:] = True
    st.coach_skill[:] = 0.6
    st.hub_capacity[:] = 1.0
    st.priority[:] = 0.8
    return pv, st


def draws(st, fill=0.5, staff_exit=None, **named):
    """This month's named draws (sim.rng.DRAWS) for a hand-made state: each ``fill``
    (a uniform), unless given by name (a number or an array of the draw's shape).

    Staff exits run on exit clocks (sim.rng), not on a draw a month: ``staff_exit``
    (a number or a (K, R, S) array), when given, sets every seat's exit budget to
    the one (sim.state.exit_budget) that leaves exactly when that uniform is below
    the seat's hazard this month, as a Bernoulli draw would."""
    if staff_exit is not None:
        st.exit_budget[:] = exit_budget(np.broadcast_to(staff_exit, st.skill.shape))
    runs, schools = st.engagement.shape
    shape = {
        "school": (runs, schools),
        "seat": (st.team_size, runs, schools),
        "coach": st.coach_position.shape,
        "district": (runs,),
    }
    values = {}
    for per, names in DRAWS.values():
        for name in names:
            values[name] = np.broadcast_to(np.asarray(named.pop(name, fill), dtype=float), shape[per]).copy()
    if named:
        raise KeyError(f"no such draws: {sorted(named)}")
    return MonthDraws(**values)
