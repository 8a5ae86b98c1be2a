"""The first use on a new machine compiles the kernels on a pool (sim/precompile.py)."""

import json
import os
import signal
import subprocess
import sys
import textwrap

from conftest import ROOT

from improvesim.sim.precompile import compile_share, describe, load_signatures, numba_type, shares


def test_the_kernel_list_matches_what_a_first_run_compiles():
    """sim/kernel_signatures.json lists exactly the kernels (and argument types) of a first run."""
    check = subprocess.run(
        [sys.executable, ROOT / "scripts" / "update_kernel_signatures.py", "--check"], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_argument_types_survive_the_json_file():
    entries = load_signatures()
    assert len(entries) >= 20
    for entry in entries:
        assert [describe(numba_type(d)) for d in entry["args"]] == entry["args"]


def test_shares_hold_every_kernel_once_and_balance_the_seconds():
    entries = load_signatures()
    parts = shares(entries, 2)
    assert sorted(e["kernel"] + json.dumps(e["args"]) for p in parts for e in p) == sorted(
        e["kernel"] + json.dumps(e["args"]) for e in entries
    )
    loads = [sum(e["seconds"] for e in p) for p in parts]
    # longest first to the lighter share: the two differ by at most the longest kernel
    assert abs(loads[0] - loads[1]) <= max(e["seconds"] for e in entries)
    assert shares(entries[:1], 4) == [entries[:1]]


def test_a_stale_entry_is_skipped_not_raised():
    stale = [
        {"module": "improvesim.sim.rng", "kernel": "no_such_kernel", "args": []},
        {"module": "improvesim.nowhere", "kernel": "k", "args": []},
        {"module": "improvesim.sim.rng", "kernel": "_hashed_months", "args": [["scalar", "int64"]]},
    ]
    assert compile_share(stale) == 0


def test_after_the_pool_compiled_a_first_run_compiles_no_listed_kernel(tmp_path):
    """With an empty kernel cache: the pool compiles every listed kernel, and the run that
    follows loads them all from the cache (Numba's compile events show what it compiled)."""
    code = textwrap.dedent(
        """
        import json
        from numba.core import event
        from improvesim.experiments.sweep import compile_kernels
        from improvesim.sim.engine import simulate
        from improvesim.sim.params import defaults

        pooled = compile_kernels(2)
        with event.install_recorder("numba:compile") as recorder:
            simulate([defaults()] * 2, [1, 2])
        names = sorted({ev.data["dispatcher"].py_func.__name__ for _, ev in recorder.buffer if ev.is_start})
        print(json.dumps({"pooled": pooled, "compiled_here": names}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = json.loads(out.splitlines()[-1])
    listed = {e["kernel"] for e in load_signatures()}
    assert result["pooled"] == len(load_signatures())
    assert not listed & set(result["compiled_here"]), result


def test_any_batch_and_either_path_meets_the_listed_kernels_only():
    """One compiled version of each kernel serves every batch: one run or several, one school
    or forty, with or without per-school records, the year of months or the submodels stepped
    (the Mesa model's path), with or without a delay before a pandemic raises exits.  Before, a batch of one run met other array layouts (its draws'
    slices looked contiguous) and read-only tables on one path met writable ones on the other,
    so each compiled most kernels again (about 25 s on a new machine)."""
    code = textwrap.dedent(
        """
        import json
        from improvesim.sim.engine import Engine, simulate
        from improvesim.sim.params import defaults
        from improvesim.sim.precompile import compiled_kernels

        p = defaults()
        one = p.with_overrides({"district.schools": 1, "rollout.initial_schools": 1, "coaching.coaches": 1})
        for runs in (1, 2, 3):
            simulate([p] * runs, list(range(runs)))
            simulate([one] * runs, list(range(runs)), record_schools=True)
        engine = Engine([p] * 2, [1, 2])
        for _ in range(14):
            engine.step()
        no_delay = p.with_overrides({"turnover.pandemic_delay": 0})  # the calendar's own severities
        engine = Engine([no_delay] * 2, [1, 2])
        for _ in range(2):
            engine.step()
        print(json.dumps(compiled_kernels()))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    met = json.loads(out.splitlines()[-1])
    listed = [{k: v for k, v in e.items() if k != "seconds"} for e in load_signatures()]
    extra = [f"{e['module']}.{e['kernel']}" for e in met if e not in listed]
    assert not extra, f"compiled again for another batch or path: {extra}"


def test_a_damaged_list_is_read_as_no_kernels_or_skipped_entries(tmp_path):
    """A damaged kernel list (not JSON, not a list, an entry of the wrong shape or type)
    costs time, never a crash: the unreadable file lists nothing, a malformed entry is dropped."""
    good = load_signatures()[0]
    path = tmp_path / "kernel_signatures.json"
    for data in (b'[{"module": ', b'{"a": 1}', b'"text"', b"\xff\xfe"):
        path.write_bytes(data)
        assert load_signatures(path) == []
    damaged = [
        "not an entry",
        {k: v for k, v in good.items() if k != "module"},
        {**good, "seconds": "1.0"},
        {**good, "args": 5},
        {**good, "kernel": ["list"]},
    ]
    path.write_text(json.dumps([*damaged, good]))
    assert load_signatures(path) == [good]
    assert shares(load_signatures(path), 2) == [[good]]


def test_an_entry_with_unknown_argument_types_is_skipped_not_raised():
    good = load_signatures()[0]
    bad_args = [
        [["weird", "x"]],  # unknown kind
        [["array", "nosuchdtype", 3, "C", False]],  # unknown dtype
        [["array", "float64"]],  # too short
        [["tuple", 7]],  # items not a list
        [[]],  # empty description
        ["scalar"],  # a description not a list
    ]
    not_kernels = [{**good, "module": ""}, {**good, "module": "improvesim.sim.jit", "kernel": "np"}]
    assert compile_share([{**good, "args": args} for args in bad_args] + not_kernels) == 0


def _killed(entries):
    """A compile worker killed (by the out-of-memory killer, say) before it finishes its share."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_killed_compile_worker_costs_time_not_the_command(monkeypatch):
    """The first use's pool losing a worker is not an error: the kernels compile when first called."""
    from improvesim.experiments import sweep

    monkeypatch.setattr(sweep, "compile_share", _killed)
    assert sweep.compile_kernels(2) == 0
