"""The sweep's own process CPU (getrusage) on a Dask cluster: results sent back against --shared-store.

    .venv/bin/python benchmarks/dask_client_cpu.py [--runs 20480] [--repeats 3]

A cluster of 2 one-thread workers is hosted by another process and reached by its address
(``--scheduler``), so the sweep's process is the client alone; sweeps with the results sent back
and with the workers writing their parts (``shared_store=True``) alternate, because this host's
speed drifts within minutes.  (On ``--dask-local`` the sweep's process also hosts the scheduler and
the nannies, whose periodic work costs it CPU in proportion to the wall time: docs/scale.md.)
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

HOST = """
from improvesim.experiments.sweep import local_cluster
if __name__ == "__main__":
    cluster = local_cluster(2)
    print(cluster.scheduler_address, flush=True)
    input()  # until this benchmark closes the pipe
    cluster.close()
"""


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    return own.ru_utime + own.ru_stime


def main() -> None:
    from targets import sweep_experiment

    from improvesim.experiments.spec import load_experiment
    from improvesim.experiments.sweep import run_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20480)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "host.py").write_text(HOST)
        host = subprocess.Popen(
            [sys.executable, str(tmp / "host.py")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        try:
            address = host.stdout.readline().strip()
            exp = load_experiment(sweep_experiment(args.runs, tmp))
            print(f"{'results':12s} {'runs':>7s} {'client CPU s':>13s} {'wall s':>8s}")
            for repeat in range(args.repeats):
                for shared in (False, True):
                    before, start = cpu(), time.perf_counter()
                    store = tmp / f"s{repeat}{shared}"
                    summary = run_sweep(exp, store, scheduler=address, shared_store=shared, progress=False)
                    assert summary.ok == args.runs, summary
                    what = "written" if shared else "sent back"
                    print(f"{what:12s} {args.runs:7d} {cpu() - before:13.2f} {time.perf_counter() - start:8.1f}")
        finally:
            host.communicate("\n", timeout=60)


if __name__ == "__main__":
    main()
