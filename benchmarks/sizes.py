"""Benchmark (issue: bad input, item 9): the size estimate against the memory a sweep really takes.

For each study below, a fresh process does what a sweep's own process does
with memory, without computing the model: it builds the design and the plan,
writes the store (plan.parquet), fills every chunk's outcomes part with
made-up rows, and writes the manifest.  It prints the estimate
(:func:`improvesim.experiments.design.estimate_size` with no local workers)
beside the process's measured peak resident memory (``ru_maxrss``).

    .venv/bin/python benchmarks/sizes.py            # about a minute
    .venv/bin/python benchmarks/sizes.py --full     # adds a real million-run sweep on 2 workers (minutes)

The estimate must not fall below the measured peak (then a study that does
not fit could be accepted), nor lie far above it (then a study that fits
would be refused).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STUDIES = {
    "grid 1000 x 1000 (1M runs)": """
design = "grid"
[parameters]
"turnover.teacher" = [{teacher}]
"time.integrated" = [{integrated}]
""",
    "sobol D = 10, N = 2^15 (720,896 runs)": """
design = "sobol"
samples = 32768
[parameters]
{ranges}
""",
    "lhs 20 factors x 250,000 samples x 4 replicates (1M runs)": """
design = "lhs"
samples = 250000
replicates = 4
[parameters]
{ranges20}
""",
}

FLOATS = [
    "turnover.teacher",
    "turnover.principal",
    "turnover.lead",
    "turnover.coach",
    "time.protected_hours",
    "time.integrated",
    "messaging.why_framing",
    "succession.deep_bench",
    "knowledge.management",
    "governance.top_down_support",
]


def experiment_text(body: str) -> str:
    from improvesim.sim.schema import BY_NAME, PARAMETERS

    def ranges(names):
        return "\n".join(f'"{n}" = {{ min = {BY_NAME[n].low}, max = {BY_NAME[n].high} }}' for n in names)

    floats20 = [p.name for p in PARAMETERS if p.kind == "float" and p.low is not None and p.high > p.low][:20]
    text = body.format(
        teacher=", ".join(f"{0.0005 * i:.4f}" for i in range(1000)),
        integrated=", ".join(f"{0.001 * i:.3f}" for i in range(1000)),
        ranges=ranges(FLOATS),
        ranges20=ranges(floats20),
    )
    return 'scenario = "baseline"\noutcomes = ["institutionalized_share", "cost_total"]\n' + text


def measure(path: str) -> None:
    """In this (fresh) process: the sweep's memory work for the experiment at ``path``; prints JSON."""
    import numpy as np
    import pandas as pd

    from improvesim.experiments.design import build_design, estimate_size
    from improvesim.experiments.plan import make_plan
    from improvesim.experiments.spec import load_experiment
    from improvesim.experiments.store import part_path, prepare, write_atomic, write_manifest

    exp = load_experiment(path)
    size = estimate_size(exp, workers=0)
    started = time.perf_counter()
    design = build_design(exp)
    plan = make_plan(exp, design)
    store = Path(path).with_suffix("")
    prepare(store, exp, design, plan, resume=False, force=True)
    for index in range(plan.chunks):
        ids = plan.chunk_rows(index)["run_id"].to_numpy()
        frame = pd.DataFrame({"run_id": ids, "status": "ok", "error": ""})
        for outcome in exp.outcomes:
            frame[outcome] = np.zeros(len(ids))
        write_atomic(part_path(store, "outcomes", index), lambda p, f=frame: f.to_parquet(p, index=False))
    write_manifest(store)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {"runs": size.runs, "estimate": size.peak_bytes, "peak": peak, "seconds": time.perf_counter() - started}
        )
    )


def full_sweep(folder: Path) -> None:
    """A real million-run sweep (2 schools, 1 year) on 2 worker processes, accepted and completed."""
    path = folder / "million.toml"
    path.write_text(
        'scenario = "baseline"\ndesign = "lhs"\nsamples = 100000\nreplicates = 10\n'
        'outcomes = ["institutionalized_share", "cost_total"]\n'
        '[set]\n"run.years" = 1\n"district.schools" = 2\n"rollout.initial_schools" = 2\n'
        '[parameters]\n"turnover.teacher" = { min = 0.05, max = 0.3 }\n"coaching.coaches" = { min = 0, max = 4 }\n'
    )
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "improvesim", "sweep", str(path), "--out", str(folder / "million"), "--workers", "2"],
        capture_output=True,
        text=True,
    )
    # run first, so that the largest child is this sweep or one of its workers
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    from improvesim.experiments.design import estimate_size
    from improvesim.experiments.spec import load_experiment

    estimate = estimate_size(load_experiment(path), workers=2).peak_bytes
    print(f"million-run sweep: exit {proc.returncode} in {time.perf_counter() - started:.0f} s; {proc.stdout.strip()}")
    print(
        f"  estimate {estimate / 2**20:,.0f} MB (all processes); largest process peak {children / 2**20:,.0f} MB; "
        f"{proc.stderr.strip().splitlines()[-1][-120:] if proc.stderr.strip() else ''}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run a real million-run sweep")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.full:
            full_sweep(folder)
        print(f"{'study':60s} {'runs':>10s} {'estimate':>10s} {'measured':>10s} {'ratio':>6s}")
        for i, (name, body) in enumerate(STUDIES.items()):
            path = folder / f"study{i}.toml"
            path.write_text(experiment_text(body))
            out = subprocess.run(
                [sys.executable, __file__, "--measure", str(path)], capture_output=True, text=True, check=True
            )
            row = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{name:60s} {row['runs']:>10,d} {row['estimate'] / 2**20:>8,.0f}MB {row['peak'] / 2**20:>8,.0f}MB "
                f"{row['estimate'] / row['peak']:>6.2f}"
            )


if __name__ == "__main__":
    main()
