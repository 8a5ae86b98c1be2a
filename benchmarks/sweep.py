"""Benchmark (issue: experiments): `improvesim sweep` against `mesa.batch_run`.

Both run the same grid of the same model (the baseline district, 40 schools,
10 years; teacher turnover x coaches, 36 parameter sets) on 2 worker
processes, and the script prints runs per second side by side, wall-clock
time including worker start-up.

    .venv/bin/python benchmarks/sweep.py [--replicates-sweep 100] [--replicates-batch-run 5]

Targets: at least 500 runs per second on 2 cores, and at least 10 times
`mesa.batch_run`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mesa  # noqa: E402

from improvesim.experiments.spec import load_experiment  # noqa: E402
from improvesim.experiments.sweep import run_sweep  # noqa: E402
from improvesim.sim.model import DistrictModel  # noqa: E402
from improvesim.sim.params import defaults  # noqa: E402
from improvesim.sim.rng import derive_seeds  # noqa: E402

TEACHER = [0.08, 0.12, 0.16, 0.20, 0.24, 0.30]
COACHES = [0, 2, 4, 6, 8, 12]


class BatchRunDistrict(DistrictModel):
    """The district model with the two grid parameters as keyword arguments, as batch_run needs."""

    def __init__(self, turnover_teacher: float = 0.16, coaches: int = 4, seed: int | None = None):
        params = defaults().with_overrides({"turnover.teacher": turnover_teacher, "coaching.coaches": coaches})
        super().__init__(params, seed=0 if seed is None else seed, record_events=False)


def time_batch_run(replicates: int) -> tuple[int, float]:
    seeds = derive_seeds(1, replicates)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = mesa.batch_run(
            BatchRunDistrict,
            {"turnover_teacher": TEACHER, "coaches": COACHES},
            number_processes=2,
            rng=seeds,
            max_steps=120,
            data_collection_period=-1,
            display_progress=False,
        )
    return len(results), time.perf_counter() - start


def time_sweep(replicates: int) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.toml"
        path.write_text(
            f'scenario = "{(ROOT / "scenarios/baseline.toml").as_posix()}"\ndesign = "grid"\n'
            f"replicates = {replicates}\nseed = 1\n[parameters]\n"
            f'"turnover.teacher" = {TEACHER}\n"coaching.coaches" = {COACHES}\n'
        )
        exp = load_experiment(path)
        start = time.perf_counter()
        summary = run_sweep(exp, Path(tmp) / "store", workers=2, progress=False)
        return summary.ok, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates-sweep", type=int, default=100)
    parser.add_argument("--replicates-batch-run", type=int, default=5)
    args = parser.parse_args()
    sweep_runs, sweep_time = time_sweep(args.replicates_sweep)
    batch_runs, batch_time = time_batch_run(args.replicates_batch_run)
    sweep_rate, batch_rate = sweep_runs / sweep_time, batch_runs / batch_time
    print(f"{'engine (2 workers)':28s} {'runs':>7s} {'seconds':>8s} {'runs/s':>8s}")
    print(f"{'improvesim sweep':28s} {sweep_runs:7d} {sweep_time:8.1f} {sweep_rate:8.0f}")
    print(f"{'mesa.batch_run':28s} {batch_runs:7d} {batch_time:8.1f} {batch_rate:8.1f}")
    print(f"speed-up: {sweep_rate / batch_rate:.0f}x")


if __name__ == "__main__":
    main()
