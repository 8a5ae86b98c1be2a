"""A fingerprint of the model's output, to check that a speed-up changes no bit.

Runs every bundled scenario (``scenarios/*.toml``) and plan
(``scenarios/plans/*.toml``), plus shocked and large-district variants, as a
batch of four seeds and as each seed alone, with per-school records and the
event log on, then the Mesa model for 24 steps; prints one SHA-256 over
every district and per-school array, the first-institutionalized and
invited months, the event lists and the Mesa DataCollector frames.

    .venv/bin/python benchmarks/fingerprint.py [--verbose]

Run it before and after a change: the digest must not change.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from improvesim.analysis.compare import load_plan  # noqa: E402
from improvesim.sim.engine import SimulationResult, simulate  # noqa: E402
from improvesim.sim.model import DistrictModel  # noqa: E402
from improvesim.sim.params import Params, Shock, load_scenario  # noqa: E402

SEEDS = (1, 42, 2**40 + 7, 123456789)
MESA_STEPS = 24


def cases() -> dict[str, Params]:
    """Every bundled scenario and plan, plus variants that reach the rarer code paths."""
    out = {path.stem: load_scenario(path) for path in sorted((ROOT / "scenarios").glob("*.toml"))}
    for path in sorted((ROOT / "scenarios" / "plans").glob("*.toml")):
        out[f"plan_{path.stem}"] = load_plan(path).params
    full = out["framework_full"]
    shocks = (Shock("pandemic", 7, 14, 0.9), Shock("hub_loss", 30, 12, 1.0), Shock("pandemic", 60, 6, 0.4))
    out["shocked"] = Params(values=full.values, shocks=shocks, name="shocked")
    out["large"] = out["baseline"].with_overrides(
        {"district.schools": 400, "rollout.initial_schools": 400, "coaching.coaches": 40}
    )
    return out


def feed_result(h, result: SimulationResult) -> None:
    h.update(np.ascontiguousarray(result.district).tobytes())
    for name in sorted(result.schools or {}):
        h.update(name.encode())
        h.update(np.ascontiguousarray(result.schools[name]).tobytes())
    h.update(result.first_institutionalized.tobytes())
    h.update(result.invited_month.tobytes())
    for run in result.events or []:
        h.update(repr([(e.month, e.school, e.kind) for e in run]).encode())


def fingerprint(verbose: bool = False) -> str:
    total = hashlib.sha256()
    for name, params in cases().items():
        h = hashlib.sha256()
        feed_result(h, simulate([params] * len(SEEDS), SEEDS, record_schools=True, record_events=True))
        for seed in SEEDS:
            feed_result(h, simulate([params], [seed], record_schools=True, record_events=True))
        feed_result(h, simulate([params] * 2, SEEDS[:2]))  # recording off
        if verbose:
            print(f"{name:28s} {h.hexdigest()}")
        total.update(h.digest())
    model = DistrictModel(load_scenario(ROOT / "scenarios" / "baseline.toml"), seed=17)
    for _ in range(MESA_STEPS):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    h = hashlib.sha256(frame.to_numpy(dtype=np.float64).tobytes() + repr(list(frame.columns)).encode())
    h.update(repr([(e.month, e.school, e.kind) for e in model.events]).encode())
    if verbose:
        print(f"{'mesa':28s} {h.hexdigest()}")
    total.update(h.digest())
    return total.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", action="store_true", help="a digest per case as well")
    args = parser.parse_args()
    print(fingerprint(args.verbose))


if __name__ == "__main__":
    main()
