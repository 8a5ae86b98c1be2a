"""Rewrite (or check) sim/kernel_signatures.json: the kernels a first run compiles.

The list lets the first use on a new machine compile the model's kernels on
every core (:mod:`improvesim.sim.precompile`).  Its entries are what a first
``improvesim run baseline`` compiles, each with its argument types and the
seconds it took to compile (measured in a process with an empty kernel
cache; they only balance the shares).  Rewrite it after changing a kernel's
arguments; ``tests/test_precompile.py`` runs ``--check``.

    .venv/bin/python scripts/update_kernel_signatures.py           # rewrite (about a minute)
    .venv/bin/python scripts/update_kernel_signatures.py --check   # exit 1 if a first run meets a kernel it lacks
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def first_run_kernels(timed: bool) -> list[dict]:
    """The kernels ``improvesim run baseline`` compiles or loads in this process; with ``timed``,
    each with the seconds its compilation took (meaningful with an empty kernel cache)."""
    from numba.core import event

    from improvesim.cli import main
    from improvesim.experiments import sweep
    from improvesim.sim.precompile import compiled_kernels

    seconds: dict[tuple[str, str], float] = {}

    class CompileTimes(event.Listener):
        def on_start(self, ev):
            ev.data["started"] = time.perf_counter()

        def on_end(self, ev):
            dispatcher = ev.data["dispatcher"]
            key = (dispatcher.py_func.__module__, dispatcher.py_func.__name__)
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - ev.data["started"]

    sweep.compile_kernels = lambda processes: 0  # compile here, one kernel after another, as timed
    listener = CompileTimes()
    if timed:
        event.register("numba:compile", listener)
    with tempfile.TemporaryDirectory() as tmp:
        status = main(["run", "baseline", "--out", str(Path(tmp) / "run"), "--replicates", "2", "--workers", "1"])
    if status != 0:
        raise SystemExit(f"improvesim run baseline failed with status {status}")
    entries = compiled_kernels()
    if timed:
        event.unregister("numba:compile", listener)
        for entry in entries:
            entry["seconds"] = round(seconds.get((entry["module"], entry["kernel"]), 0.0), 2)
    return entries


def _in_subprocess(flag: str, env: dict) -> list[dict]:
    out = subprocess.run([sys.executable, __file__, flag], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def main() -> int:
    from improvesim.sim.precompile import SIGNATURES, load_signatures

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a first run meets a kernel it lacks")
    parser.add_argument("--emit", choices=["timed", "untimed"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.emit:  # the child process: print the entries as the last line
        print(json.dumps(first_run_kernels(args.emit == "timed")))
        return 0
    if args.check:
        # a kernel another kernel calls gets a version of its own only when compiled, not when
        # loaded from the cache, so a run may meet fewer kernels than the list holds, never others
        met = _in_subprocess("--emit=untimed", dict(os.environ))
        listed = [{k: v for k, v in e.items() if k != "seconds"} for e in load_signatures()]
        missing = [f"{e['module']}.{e['kernel']}" for e in met if e not in listed]
        if missing:
            print(
                f"{SIGNATURES.name} is out of date (missing: {missing}); run scripts/update_kernel_signatures.py",
                file=sys.stderr,
            )
            return 1
        print(f"{SIGNATURES.name}: {len(listed)} kernels; a first run meets no other")
        return 0
    with tempfile.TemporaryDirectory() as cache:
        entries = _in_subprocess("--emit=timed", {**os.environ, "NUMBA_CACHE_DIR": cache})
    SIGNATURES.write_text(json.dumps(entries, indent=1) + "\n")
    total = sum(e["seconds"] for e in entries)
    print(f"wrote {SIGNATURES}: {len(entries)} kernels, {total:.1f} s of compiling measured")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
