"""The frontier drops a plan only when a plan costing no more beats it in 95% of paired replicates."""

import numpy as np
import pandas as pd
import pytest
from conftest import improvesim

from improvesim.analysis.frontier import beaten_by, frontier

R = 20


def sweep(sets: dict[int, tuple[float, np.ndarray]], failed=()) -> pd.DataFrame:
    """Outcomes of a hand-made sweep: set -> (cost, effect per replicate (R,) in schools of 10)."""
    rows = []
    for s, (cost, effect) in sets.items():
        for r in range(R):
            status = "failed" if (s, r) in failed else "ok"
            rows.append(
                {"set": s, "replicate": r, "status": status, "lever": s, "cost_total": cost}
                | {"institutionalized_share": effect[r] / 10}
            )
    return pd.DataFrame(rows)


def test_a_plan_is_dropped_only_by_one_that_costs_no_more_and_beats_it_95_percent():
    r = np.arange(R, dtype=float)
    outcomes = sweep(
        {
            0: (100.0, r),  # beaten by 1 (same cost, one school more in every replicate)
            1: (100.0, r + 1),
            2: (200.0, r + 0.5),  # beaten by 1 (cheaper, more in every replicate)
            3: (50.0, r + np.where(r % 2 == 0, 2.0, 0.0)),  # beats 1 in half the replicates only: stays
            4: (100.0, r + 1 + np.where(r == 0, -1.0, 0.0)),  # ties 1 in 19 of 20, fewer in one: stays
        }
    )
    table = frontier(outcomes, ["lever"], 10).set_index("set")
    assert table["on_frontier"].to_dict() == {0: False, 1: True, 2: False, 3: True, 4: True}
    assert table.loc[0, "beaten_by_set"] in (1, 4) and table.loc[0, "probability_beaten"] >= 0.95
    assert table.loc[2, "beaten_by_set"] == 1 and table.loc[2, "probability_beaten"] == 1.0
    assert table.loc[2, "beaten_by"] == "lever=1"
    # the cheapest plan has nothing costing no more: no probability at all
    assert np.isnan(table.loc[3, "probability_beaten"])


def test_a_small_mean_difference_is_not_enough():
    rng = np.random.default_rng(1)
    base = rng.integers(0, 10, R).astype(float)
    noise = rng.integers(-1, 2, R).astype(float)  # differs by a school up or down, or not at all
    table = frontier(sweep({0: (100.0, base), 1: (90.0, base + noise + 0.1 * (noise == 0))}), ["lever"], 10)
    assert table["on_frontier"].all()


def test_missing_runs_are_left_out_of_the_pairs():
    r = np.arange(R, dtype=float)
    outcomes = sweep({0: (100.0, r), 1: (100.0, r + 1)}, failed={(1, 3), (0, 7)})
    q, prob = beaten_by(
        outcomes.pivot(index="set", columns="replicate", values="cost_total").to_numpy(),
        outcomes.pivot(index="set", columns="replicate", values="institutionalized_share").to_numpy(),
    )
    assert q.tolist() == [1, -1] and prob[0] == pytest.approx(1.0)
    table = frontier(outcomes, ["lever"], 10).set_index("set")
    assert not table.loc[0, "on_frontier"] and table.loc[0, "probability_beaten"] == pytest.approx(1.0)


EXPERIMENT = """
scenario = "viano2024_case"
design = "grid"
replicates = 4
seed = 2
outcomes = ["institutionalized_share", "cost_total"]
{crn}
[parameters]
"time.integrated" = [0.3, 0.9]
"""


def test_the_command_names_the_plan_that_beats_each_dropped_one(tmp_path):
    (tmp_path / "exp.toml").write_text(EXPERIMENT.format(crn=""))
    proc = improvesim("frontier", str(tmp_path / "exp.toml"), "--out", str(tmp_path / "store"), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "plans remain" in proc.stdout
    table = pd.read_csv(tmp_path / "store" / "frontier" / "frontier.csv")
    assert {"on_frontier", "beaten_by", "probability_beaten"} <= set(table.columns) and len(table) == 2
    for _, row in table[~table["on_frontier"]].iterrows():
        assert row["probability_beaten"] >= 0.95 and f"in {row['probability_beaten']:.0%} of replicates" in proc.stdout


def test_the_command_refuses_unpaired_replicates(tmp_path):
    (tmp_path / "exp.toml").write_text(EXPERIMENT.format(crn="common_random_numbers = false"))
    proc = improvesim("frontier", str(tmp_path / "exp.toml"), "--out", str(tmp_path / "store"))
    assert proc.returncode == 2 and "common_random_numbers: got false; allowed: true" in proc.stderr
    assert "Traceback" not in proc.stderr
