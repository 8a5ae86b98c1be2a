"""The compiled-kernel cache is named by the model's sources, so an edit anywhere in sim/ recompiles."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from improvesim.sim import jit
from improvesim.sim.state import team_mean, team_weights


def test_cache_folder_follows_every_source_file(tmp_path, monkeypatch):
    copy = tmp_path / "sim"
    shutil.copytree(Path(jit.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(jit, "_SIM", copy)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = jit._cache_dir()
    assert before.parent == tmp_path / "cache" / "improvesim" / "numba"
    assert jit._cache_dir() == before  # same sources, same folder
    # a kernel that another file calls changes: the folder changes with it
    with (copy / "submodels" / "sensemaking.py").open("a") as f:
        f.write("\n# edited\n")
    assert jit._cache_dir() != before


def test_team_mean_kernel_adds_seats_as_numpy_does():
    rng = np.random.default_rng(3)
    x = rng.random((9, 2, 5))
    weights = rng.random((2, 9))  # a run's own seat weights
    expected = np.add.reduce(x * weights.T[:, :, None], axis=0)
    got = np.array([[jit.team_mean_at(x, weights, r, s) for s in range(5)] for r in range(2)])
    assert got.tobytes() == expected.tobytes()
    rows = np.empty((2, 5))  # a run's row at once: the same sums
    for r in range(2):
        jit.team_means_of_run(x, weights, r, rows[r])
    assert rows.tobytes() == expected.tobytes()


def test_team_mean_kernel_matches_the_state_helper():
    x = np.random.default_rng(4).random((6, 2, 3))
    weights = np.array([team_weights(6), team_weights(6, leader_weight=3.0)])
    got = [[jit.team_mean_at(x, weights, r, s) for s in range(3)] for r in range(2)]
    assert np.array_equal(np.array(got), team_mean(x, weights))


def test_leaders_weigh_as_the_parameter_says():
    w = team_weights(6, leader_weight=3.0)
    assert w.sum() == pytest.approx(1.0) and w[0] == w[2] == pytest.approx(3 * w[1])


@pytest.mark.parametrize("schools", [1, 7, 8, 9, 15, 16, 17, 40, 127, 128, 129, 200, 1000, 4001])
def test_sum_last_axis_adds_as_numpy_does(schools):
    """The network's totals (``sum_last_axis``) are NumPy's pairwise sums to the bit, for rows
    shorter than a block of eight, within one block and split into halves."""
    x = np.random.default_rng(schools).standard_normal((3, 4, schools)) * 10.0 ** np.arange(-3, 1)[:, None]
    runs = np.array([True, True, False, True])
    out = np.full((3, 4), -1.0)
    jit.sum_last_axis(x, runs, out)
    expected = x.sum(axis=-1)
    assert out[:, runs].tobytes() == expected[:, runs].tobytes()
    assert (out[:, ~runs] == -1.0).all()  # runs not marked are left as they were
