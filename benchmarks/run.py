"""Benchmarks of the district model (issue: the district model).

Prints, at 40 and at 400 schools over 10 years:
- milliseconds per single run (one ``simulate`` call of one run, best of
  several repeats, the way a user runs one scenario replicate);
- runs per second in batch mode on one core (many runs in one vectorized
  call);
- for comparison, milliseconds per run through the Mesa model (with its
  DataCollector and event log on, as the workshop page uses it).

    .venv/bin/python benchmarks/run.py [--quick]

Targets (issue 2): <= 20 ms per single run at 40 schools, <= 60 ms at 400;
>= 300 runs per second per core batched at 40 schools.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# one core: keep BLAS and friends single-threaded (the model itself never uses BLAS)
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from improvesim.sim.engine import simulate  # noqa: E402
from improvesim.sim.model import DistrictModel  # noqa: E402
from improvesim.sim.params import defaults  # noqa: E402


def district(schools: int):
    return defaults().with_overrides(
        {"district.schools": schools, "rollout.initial_schools": schools, "coaching.coaches": max(1, schools // 10)}
    )


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (for a smoke check)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    print(
        f"{'schools':>8s} {'single run (ms)':>16s} {'Mesa model (ms)':>16s} {'batch size':>11s} {'batched runs/s':>15s}"
    )
    for schools, batch in ((40, 256), (400, 32)):
        params = district(schools)
        simulate([params], [0])  # warm caches
        single = best_of(repeats, lambda p=params: simulate([p], [1]))
        mesa = best_of(max(1, repeats // 2), lambda p=params: DistrictModel(p, seed=1).run())
        batch_time = best_of(max(1, repeats // 3), lambda p=params, b=batch: simulate([p] * b, list(range(b))))
        print(f"{schools:8d} {single * 1e3:16.1f} {mesa * 1e3:16.1f} {batch:11d} {batch / batch_time:15.0f}")


if __name__ == "__main__":
    main()
