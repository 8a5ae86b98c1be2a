"""Rewrite the golden baseline (tests/golden/*.json) from the current model.

Run this only when a change is meant to change model output, and say so in
CHANGELOG.md under "Changes to model output".

    .venv/bin/python scripts/update_golden.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from improvesim.sim.engine import run_replicates  # noqa: E402
from improvesim.sim.outcomes import HEADLINE  # noqa: E402
from improvesim.sim.params import load_scenario  # noqa: E402

GOLDEN = ROOT / "tests" / "golden"
#: Scenario, replicates and seed of each golden file.
CASES = {
    "baseline": ("scenarios/baseline.toml", 4, 1),
    "framework_full": ("scenarios/framework_full.toml", 4, 1),
    # a pandemic, turnover and the deep bench over three years: the pandemic's path through turnover
    "viano2024_case": ("scenarios/viano2024_case.toml", 8, 1),
}


def golden(scenario: str, replicates: int, seed: int) -> dict:
    """Yearly values of the headline metrics for each replicate, rounded to 12 digits."""
    result = run_replicates(load_scenario(ROOT / scenario), replicates, seed)
    months = result.district.shape[1]
    year_ends = list(range(11, months, 12))
    return {
        "scenario": scenario,
        "replicates": replicates,
        "seed": seed,
        "seeds": list(result.seeds),
        "yearly": {
            name: [[round(float(v), 12) for v in result.metric(name)[r, year_ends]] for r in range(replicates)]
            for name in (*HEADLINE, "mean_commitment", "mean_embeddedness", "cost_total", "deep_bench")
        },
    }


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name, case in CASES.items():
        path = GOLDEN / f"{name}.json"
        path.write_text(json.dumps(golden(*case), indent=1) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
