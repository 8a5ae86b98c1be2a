"""The sweep engine: designs, exactness across engines, resume, failures, bad files."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, improvesim

from improvesim.analysis.store import load_sweep
from improvesim.experiments import sweep as sweep_module
from improvesim.experiments.design import build_design
from improvesim.experiments.spec import load_experiment
from improvesim.experiments.sweep import run_sweep
from improvesim.sim.params import ParameterError

BASELINE = (ROOT / "scenarios" / "baseline.toml").as_posix()


def experiment(tmp_path, body, name="exp"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f'scenario = "{BASELINE}"\n' + body)
    return path


SMALL = """
design = "grid"
replicates = 3
seed = 4
chunk = 5
outcomes = ["institutionalized_share", "authentic_share", "time_to_first_institutionalization"]
[set]
"run.years" = 4
[parameters]
"turnover.teacher" = [0.1, 0.3]
"coaching.coaches" = [1, 4, 8]
"governance.participation" = ["optional", "required"]
"""


def runs_in_parts(store):
    return sum(len(pd.read_parquet(part)) for part in (store / "parts").glob("outcomes-*.parquet"))


def parts_bytes(store):
    return {p.name: p.read_bytes() for p in sorted((store / "parts").glob("*.parquet"))}


# --- designs --------------------------------------------------------------------

RANGES = """
[parameters]
"turnover.teacher" = { min = 0.05, max = 0.35 }
"coaching.coaches" = { min = 0, max = 6 }
"governance.participation" = { choices = ["optional", "required"] }
"""


@pytest.mark.parametrize(
    "design,extra,expected_sets",
    [
        ("lhs", "samples = 20\n", 20),
        ("sobol", "samples = 8\n", 8 * (2 * 3 + 2)),
        ("sobol", "samples = 8\nsecond_order = false\n", 8 * (3 + 2)),
        ("morris", "samples = 5\n", 5 * (3 + 1)),
    ],
)
def test_sampled_designs_have_the_documented_size_and_stay_in_bounds(tmp_path, design, extra, expected_sets):
    exp = load_experiment(experiment(tmp_path, f'design = "{design}"\nreplicates = 2\n' + extra + RANGES))
    d = build_design(exp)
    assert d.sets == expected_sets
    v = d.values
    assert v["turnover.teacher"].between(0.05, 0.35).all()
    coaches = v["coaching.coaches"]
    assert coaches.map(lambda x: isinstance(x, int)).all() and coaches.between(0, 6).all()
    assert set(v["governance.participation"]) <= {"optional", "required"}
    if design == "lhs":  # Latin hypercube: every integer level appears
        assert set(coaches) == set(range(7))


def test_the_plan_table_is_built_without_a_data_frame_and_written_as_before(tmp_path):
    """Plan.arrow (plan.parquet and the manifest) is the table of every run as pandas would convert it,
    metadata included, and chunk_rows its slices; plan.parquet is written byte for byte as from the frame."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from improvesim.experiments.plan import make_plan
    from improvesim.experiments.store import _create, _meta

    body = 'design = "sobol"\nsamples = 8\nreplicates = 3\nchunk = 7\ncommon_random_numbers = false\n' + RANGES
    exp = load_experiment(experiment(tmp_path, body))
    design = build_design(exp)
    plan = make_plan(exp, design)
    frame = plan.rows(0, plan.runs)
    assert list(frame.columns) == ["run_id", "set", "replicate", "seed", *design.values.columns]
    assert (frame["run_id"] == frame["set"] * 3 + frame["replicate"]).all() and plan.runs == design.sets * 3
    assert plan.arrow().equals(pa.Table.from_pandas(frame, preserve_index=False), check_metadata=True)
    pd.testing.assert_frame_equal(pd.concat([plan.chunk_rows(i) for i in range(plan.chunks)]), frame, check_exact=True)
    _create(tmp_path / "store", exp, design, plan, _meta(exp, design, plan))
    frame.to_parquet(tmp_path / "frame.parquet", index=False)
    assert (tmp_path / "store" / "plan.parquet").read_bytes() == (tmp_path / "frame.parquet").read_bytes()
    assert pq.read_table(tmp_path / "store" / "plan.parquet").equals(plan.arrow(), check_metadata=True)


def test_grid_and_list_designs(tmp_path):
    grid = build_design(load_experiment(experiment(tmp_path, SMALL)))
    assert grid.sets == 2 * 3 * 2
    csv = tmp_path / "sets.csv"
    csv.write_text("turnover.teacher,governance.participation,coaching.coaches\n0.1,optional,2\n0.25,required,6\n")
    exp = load_experiment(experiment(tmp_path, f'design = "list"\ncsv = "{csv.as_posix()}"\nreplicates = 2\n', "lst"))
    d = build_design(exp)
    assert d.sets == 2 and d.overrides(1) == {
        "turnover.teacher": 0.25,
        "governance.participation": "required",
        "coaching.coaches": 6,
    }


def test_every_design_runs_sets_times_replicates(tmp_path):
    exp = load_experiment(experiment(tmp_path, SMALL))
    summary = run_sweep(exp, tmp_path / "s", progress=False)
    assert summary.runs == 12 * 3 and summary.ok == 36 and summary.failed == 0
    sweep = load_sweep(tmp_path / "s")
    assert len(sweep.outcomes) == 36 and len(sweep.yearly) == 36 * 4
    assert sweep.outcomes.groupby("set")["seed"].apply(tuple).nunique() == 1  # common random numbers


# --- exactness ------------------------------------------------------------------


@pytest.fixture(scope="module")
def serial_store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    exp = load_experiment(experiment(tmp, SMALL))
    run_sweep(exp, tmp / "store", workers=1, progress=False)
    return tmp, tmp / "store"


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_parallel_equals_serial(serial_store, tmp_path, monkeypatch, method):
    monkeypatch.setattr(sweep_module, "start_method", lambda: method)
    tmp, serial = serial_store
    exp = load_experiment(tmp / "exp.toml")
    run_sweep(exp, tmp_path / "par", workers=2, progress=False)
    assert parts_bytes(tmp_path / "par") == parts_bytes(serial)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_process_that_computes_a_chunk_writes_its_parts(serial_store, tmp_path, monkeypatch, workers):
    """On a local pool each worker writes the parts of the chunks it computes and sends back only
    their number and run count: the sweep's own process saves nothing (unpickling and encoding
    results took it about 1 s of CPU per 20,000 runs, on the workers' cores).  The bytes are a
    serial sweep's, which saves every chunk itself."""
    tmp, serial = serial_store
    here = []
    save_chunk = sweep_module.save_chunk

    def save_here(folder, result, outcomes):
        here.append(result.index)  # a worker appends to its own copy of the list
        save_chunk(folder, result, outcomes)

    monkeypatch.setattr(sweep_module, "save_chunk", save_here)
    summary = run_sweep(load_experiment(tmp / "exp.toml"), tmp_path / "s", workers=workers, progress=False)
    assert summary.ok == summary.computed_runs == 36
    assert sorted(here) == ([] if workers == 2 else [0, 1, 2, 3, 4, 5, 6, 7])
    assert parts_bytes(tmp_path / "s") == parts_bytes(serial)


def test_a_resumed_sweep_removes_the_parts_a_stopped_worker_left_half_written(serial_store, tmp_path):
    """A worker stopped while writing a part (killed with its sweep) leaves its temporary file;
    ``--resume`` removes it and computes the chunk again."""
    import shutil

    from improvesim.experiments.store import part_path

    tmp, serial = serial_store
    store = tmp_path / "store"
    shutil.copytree(serial, store)
    part_path(store, "outcomes", 3).unlink()
    cut = store / "parts" / ".outcomes-00003.parquet.x1y2.tmp"
    cut.write_bytes(b"PAR1 cut off")
    summary = run_sweep(load_experiment(tmp / "exp.toml"), store, resume=True, progress=False)
    assert not cut.exists() and summary.computed_runs == len(pd.read_parquet(part_path(serial, "outcomes", 3)))
    assert parts_bytes(store) == parts_bytes(serial)


def test_a_sweep_whose_worker_died_while_writing_a_part_ends_with_no_temporary_file(
    serial_store, tmp_path, monkeypatch
):
    """A pool worker killed while writing a part (for memory, say) leaves its temporary file; the
    pool is restarted and the chunk computed again, and the finished sweep removes what was cut off
    (so does a --force sweep's, which is swapped into place as it is)."""
    monkeypatch.setattr(sweep_module, "start_method", lambda: "fork")  # the workers see the patch below
    tmp, serial = serial_store
    save_chunk = sweep_module.save_chunk
    once = tmp_path / "killed-once"

    def die_while_writing(folder, result, outcomes):
        if result.index == 3 and not once.exists():
            once.touch()
            (folder / "parts").mkdir(exist_ok=True)
            (folder / "parts" / ".yearly-00003.parquet.cut.tmp").write_bytes(b"PAR1")
            os.kill(os.getpid(), signal.SIGKILL)
        save_chunk(folder, result, outcomes)

    monkeypatch.setattr(sweep_module, "save_chunk", die_while_writing)
    summary = run_sweep(load_experiment(tmp / "exp.toml"), tmp_path / "s", workers=2, progress=False)
    assert once.exists() and summary.ok == 36
    assert not list((tmp_path / "s" / "parts").glob(".*.tmp"))
    assert parts_bytes(tmp_path / "s") == parts_bytes(serial)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_part_that_cannot_be_written_stops_the_sweep_with_what_is_saved(serial_store, tmp_path, monkeypatch, workers):
    """The disk fills up (or the parts folder is made read-only) mid-sweep: the sweep stops, its
    workers too, with every finished chunk kept, no temporary file and a manifest that says so;
    ``--resume`` then finishes it with a serial sweep's bytes."""
    import errno

    from improvesim.experiments import store as store_module
    from improvesim.experiments.store import PartNotWritten

    monkeypatch.setattr(sweep_module, "start_method", lambda: "fork")  # the workers see the patch below
    tmp, serial = serial_store
    exp = load_experiment(tmp / "exp.toml")
    write_atomic = store_module.write_atomic

    def full_from_chunk_4(path, write):
        if path.parent.name == "parts" and int(path.stem.split("-")[1]) >= 4:
            raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
        write_atomic(path, write)

    monkeypatch.setattr(store_module, "write_atomic", full_from_chunk_4)
    store = tmp_path / "s"
    with pytest.raises(sweep_module.SweepInterrupted) as stopped:
        run_sweep(exp, store, workers=workers, progress=False)
    cause = stopped.value.cause
    assert isinstance(cause, PartNotWritten) and "No space left on device" in str(cause) and str(store) in str(cause)
    assert not list((store / "parts").glob(".*.tmp"))
    manifest = pd.read_parquet(store / "manifest.parquet")
    saved = set(pd.concat(pd.read_parquet(p) for p in (store / "parts").glob("outcomes-*.parquet"))["run_id"])
    assert set(manifest.loc[manifest["status"] != "missing", "run_id"]) == saved
    # chunks 0 to 3 were each taken before chunk 4; with 2 workers the other one may still be on
    # one of them when chunk 4's failure stops the pool (a race the test must not depend on)
    assert len(saved) == stopped.value.saved >= (20 if workers == 1 else 15)
    monkeypatch.setattr(store_module, "write_atomic", write_atomic)
    run_sweep(exp, store, workers=workers, resume=True, progress=False)
    assert parts_bytes(store) == parts_bytes(serial)


@pytest.mark.parametrize("where", ["lock", "create", "manifest"])
def test_a_disk_that_fills_outside_the_parts_stops_the_sweep_in_one_line(
    serial_store, tmp_path, monkeypatch, capsys, where
):
    """The disk fills between the command's check and the lock, while the store is created, or
    before the final manifest: one line naming the store and the reason, exit status 2, the runs
    saved kept (it printed a traceback; found by a break-test); ``--resume`` then finishes it."""
    import errno

    from improvesim.cli import main
    from improvesim.experiments import output as output_module
    from improvesim.experiments import store as store_module

    tmp, serial = serial_store
    full = OSError(errno.ENOSPC, "No space left on device")
    patched = {
        "lock": (output_module.FolderLock, "acquire"),
        "create": (store_module, "_create"),
        "manifest": (sweep_module, "write_manifest"),
    }[where]
    original = getattr(*patched)

    def fails(*args, **kwargs):
        raise full

    monkeypatch.setattr(*patched, fails)
    store = tmp_path / "s"
    assert main(["sweep", str(tmp / "exp.toml"), "--out", str(store), "--workers", "1", "--quiet"]) == 2
    advice = {
        "lock": "nothing was computed: make room, then run the same command again",
        "create": "nothing was computed: make room, then run the same command again",
        "manifest": "the runs saved so far are kept: make room, then run the same command with --resume",
    }[where]
    assert (
        capsys.readouterr().err
        == f"improvesim sweep: error: cannot write {store} (No space left on device); {advice}\n"
    )
    monkeypatch.setattr(*patched, original)
    resumed = ["--resume"] if where == "manifest" else []
    assert main(["sweep", str(tmp / "exp.toml"), "--out", str(store), "--workers", "1", "--quiet", *resumed]) == 0
    assert parts_bytes(store) == parts_bytes(serial)


@pytest.mark.parametrize("force", [False, True])
def test_a_disk_that_fills_while_the_store_is_created_leaves_no_half_made_store(
    serial_store, tmp_path, monkeypatch, capsys, force
):
    """The disk fills while the store's plan.parquet is written (a large design): "nothing was
    computed", yet the store was left half made (its marker and experiment.toml; for --force, its
    staging folder): the output folder must be as it was (found by a break-test on a full tmpfs)."""
    import errno

    from improvesim.cli import main
    from improvesim.experiments import store as store_module

    tmp, serial = serial_store
    write_atomic = store_module.write_atomic

    def full_at_the_plan(path, write):
        if path.name == "plan.parquet":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        write_atomic(path, write)

    store = tmp_path / "s"
    command = ["sweep", str(tmp / "exp.toml"), "--out", str(store), "--workers", "1", "--quiet"]
    if force:  # older results, of another seed, that the new sweep would replace
        (tmp_path / "other.toml").write_text((tmp / "exp.toml").read_text().replace("seed = 4", "seed = 5"))
        assert main(["sweep", str(tmp_path / "other.toml"), "--out", str(store), "--workers", "1", "--quiet"]) == 0
        command.append("--force")
    before = sorted(p.name for p in tmp_path.iterdir())
    old = {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()} if force else None
    monkeypatch.setattr(store_module, "write_atomic", full_at_the_plan)
    assert main(command) == 2
    assert "nothing was computed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if force:
        assert {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()} == old
    monkeypatch.undo()
    assert main(command) == 0
    assert parts_bytes(store) == parts_bytes(serial)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_second_ctrl_c_while_the_sweep_stops_does_not_cut_the_stop_short(
    serial_store, tmp_path, monkeypatch, capsys, workers
):
    """An impatient second Ctrl-C lands while the sweep ends its workers and writes its manifest: the
    stop still finishes, with the manifest and the message of what is saved and how to go on (it
    printed "interrupted; nothing was written" and left no manifest, found by a break-test)."""
    from improvesim.cli import main

    tmp, serial = serial_store
    check_interrupted, write_manifest = sweep_module.check_interrupted, sweep_module.write_manifest
    checks = []

    def ctrl_c_after_two_chunks():
        checks.append(1)
        if len(checks) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C, in the sweep's own process
        check_interrupted()

    def ctrl_c_again_then_write(folder, plan=None):
        os.kill(os.getpid(), signal.SIGINT)  # the second, while the sweep stops
        return write_manifest(folder, plan)

    monkeypatch.setattr(sweep_module, "check_interrupted", ctrl_c_after_two_chunks)
    monkeypatch.setattr(sweep_module, "write_manifest", ctrl_c_again_then_write)
    store = tmp_path / "s"
    command = ["sweep", str(tmp / "exp.toml"), "--out", str(store), "--workers", str(workers), "--quiet"]
    status = main(command)
    err = capsys.readouterr().err
    assert status == 130 and "nothing was written" not in err and "--resume" in err, err
    manifest = pd.read_parquet(store / "manifest.parquet")
    assert (manifest["status"] == "ok").sum() >= 10 and f"{(manifest['status'] == 'ok').sum()} of 36" in err
    monkeypatch.undo()
    assert main([*command, "--resume"]) == 0
    assert parts_bytes(store) == parts_bytes(serial)


@pytest.mark.parametrize("moment", ["stop", "end"])
def test_a_library_callers_second_ctrl_c_still_gives_what_was_saved(serial_store, tmp_path, monkeypatch, moment):
    """Outside the command line, a Ctrl-C held back while the sweep stops (or writes its manifest
    once every chunk is saved) was sent again as that block ended and came out of ``run_sweep`` as a
    plain ``KeyboardInterrupt``: a caller's ``except SweepInterrupted`` missed it, with what was saved."""
    tmp, serial = serial_store
    check_interrupted, write_manifest = sweep_module.check_interrupted, sweep_module.write_manifest
    checks = []

    def ctrl_c_after_two_chunks():
        checks.append(1)
        if len(checks) == 2 and moment == "stop":
            os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C
        check_interrupted()

    def ctrl_c_then_write(folder, plan=None):
        os.kill(os.getpid(), signal.SIGINT)  # while the manifest is written: held back till the block ends
        return write_manifest(folder, plan)

    monkeypatch.setattr(sweep_module, "check_interrupted", ctrl_c_after_two_chunks)
    monkeypatch.setattr(sweep_module, "write_manifest", ctrl_c_then_write)
    store = tmp_path / "s"
    exp = load_experiment(tmp / "exp.toml")
    with pytest.raises(KeyboardInterrupt) as stopped:  # not SweepInterrupted: pytest would stop on any other
        run_sweep(exp, store, workers=1, progress=False)
    assert isinstance(stopped.value, sweep_module.SweepInterrupted), repr(stopped.value)
    manifest = pd.read_parquet(store / "manifest.parquet")
    assert stopped.value.saved == (manifest["status"] == "ok").sum() == runs_in_parts(store)
    assert stopped.value.saved == (36 if moment == "end" else stopped.value.saved) and isinstance(
        stopped.value.cause, KeyboardInterrupt
    )
    monkeypatch.undo()
    run_sweep(exp, store, workers=1, resume=True, progress=False)
    assert parts_bytes(store) == parts_bytes(serial)


def test_a_second_ctrl_c_while_the_pool_stops_still_ends_its_workers(serial_store, tmp_path, monkeypatch):
    """A Ctrl-C that lands in the pool's workers (the first) makes the pool stop itself; a second one
    landing there, before the workers were ended, cut that short: outside the command line (the
    process lives on) the workers went on computing and saving chunks after ``run_sweep`` had raised,
    its manifest written and its lock let go."""
    from concurrent.futures import ProcessPoolExecutor

    tmp, serial = serial_store
    wait_futures, shutdown = sweep_module._wait_futures, ProcessPoolExecutor.shutdown
    waits, workers = [], []

    def ctrl_c_while_waiting(pending):
        waits.append(1)
        if len(waits) == 3:
            signal.raise_signal(signal.SIGINT)  # the first Ctrl-C, where the main thread waits for chunks
        return wait_futures(pending)

    def ctrl_c_again_then_shut_down(pool, wait=True, *, cancel_futures=False):
        if cancel_futures and not workers:  # the pool is being stopped
            workers.extend((pool._processes or {}).values())
            signal.raise_signal(signal.SIGINT)  # the second Ctrl-C
        return shutdown(pool, wait, cancel_futures=cancel_futures)

    monkeypatch.setattr(sweep_module, "_wait_futures", ctrl_c_while_waiting)
    monkeypatch.setattr(ProcessPoolExecutor, "shutdown", ctrl_c_again_then_shut_down)
    store = tmp_path / "s"
    exp = load_experiment(tmp / "exp.toml")
    try:
        with pytest.raises(KeyboardInterrupt) as stopped:
            run_sweep(exp, store, workers=2, progress=False)
        assert isinstance(stopped.value, sweep_module.SweepInterrupted), repr(stopped.value)
        assert workers and not [w for w in workers if w.is_alive()]
        assert stopped.value.saved == runs_in_parts(store)
    finally:
        for worker in workers:
            worker.kill()
            worker.join(5)
    monkeypatch.undo()
    run_sweep(exp, store, workers=2, resume=True, progress=False)
    assert parts_bytes(store) == parts_bytes(serial)


def test_a_part_that_cannot_be_written_is_one_clear_message(serial_store, tmp_path, monkeypatch, capsys):
    """On the command line: what could not be written and why, what is saved, how to finish; exit
    status 2 (the folder cannot take the results, as when it is refused before the sweep); no traceback."""
    import errno

    from improvesim.cli import main
    from improvesim.experiments import store as store_module

    tmp, _ = serial_store
    write_atomic = store_module.write_atomic

    def read_only_from_chunk_2(path, write):
        if path.parent.name == "parts" and int(path.stem.split("-")[1]) >= 2:
            raise PermissionError(errno.EACCES, "Permission denied", str(path) + ".tmp")
        write_atomic(path, write)

    monkeypatch.setattr(store_module, "write_atomic", read_only_from_chunk_2)
    store = tmp_path / "s"
    status = main(["sweep", str(tmp / "exp.toml"), "--out", str(store), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"cannot write {store / 'parts'}" in err and "Permission denied" in err
    assert "10 of 36 runs are saved" in err and "--resume" in err


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_calls_on_worker_processes_give_their_results_in_order(monkeypatch, method):
    """run_calls (the sensitivity analysis's outcomes): each call on a worker process, results in the
    order of the calls; a call's exception is raised in the caller."""
    monkeypatch.setattr(sweep_module, "start_method", lambda: method)
    results = sweep_module.run_calls([(divmod, (n, 3)) for n in range(7)] + [(os.getpid, ())], 2)
    assert results[:7] == [divmod(n, 3) for n in range(7)] and results[7] != os.getpid()
    assert sweep_module.run_calls([(divmod, (7, 2))], 2) == [(3, 1)]  # one call: in this process
    with pytest.raises(ZeroDivisionError):
        sweep_module.run_calls([(divmod, (1, 1)), (divmod, (1, 0))], 2)


def test_a_pool_worker_may_fork_in_turn_despite_its_watchdog_thread():
    """A worker runs a watchdog thread (it dies with its parent) that holds no lock, so it may fork: the
    sensitivity analysis's SALib calls, on workers, take SALib's parallel path (a forked process)."""
    if sweep_module.start_method() != "fork":
        pytest.skip("this process may not fork")
    assert sweep_module.run_calls([(sweep_module.start_method, ())] * 2, 2) == ["fork", "fork"]


def test_a_pool_stopped_by_a_calls_exception_leaves_no_thread_running(monkeypatch):
    """A call's exception stops the pool (its workers ended at once); its manager thread was left to end
    on its own and could still run afterwards: :func:`start_method` then spawned the next pool's workers
    (the full suite skipped the test above, "this process may not fork", after the previous test)."""
    from concurrent.futures import process

    run = process._ExecutorManagerThread.run

    def run_then_linger(thread):
        run(thread)
        time.sleep(0.5)  # a manager thread slow to end, as on a loaded machine

    monkeypatch.setattr(process._ExecutorManagerThread, "run", run_then_linger)
    before = set(threading.enumerate())
    with pytest.raises(ZeroDivisionError):
        sweep_module.run_calls([(divmod, (1, 1)), (divmod, (1, 0))], 2)
    assert [thread.name for thread in set(threading.enumerate()) - before] == []


def test_workers_are_spawned_while_another_python_thread_runs():
    """Forking a process that runs another Python thread can leave a lock held in the child."""
    release = threading.Event()
    thread = threading.Thread(target=release.wait)
    thread.start()
    try:
        assert sweep_module.start_method() == "spawn"
    finally:
        release.set()
        thread.join()
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        assert sweep_module.start_method() == "fork"


def test_dask_local_cluster_equals_local(serial_store, tmp_path, monkeypatch):
    """A local Dask cluster's workers (on this machine: they see the store) write their own parts,
    as a local pool's do: the sweep's process saves nothing, and the bytes are a serial sweep's."""
    tmp, serial = serial_store
    here = saves_here(monkeypatch)
    exp = load_experiment(tmp / "exp.toml")
    summary = run_sweep(exp, tmp_path / "dask", dask_local=2, progress=False)
    assert summary.ok == summary.computed_runs == 36 and here == []
    assert parts_bytes(tmp_path / "dask") == parts_bytes(serial)


def saves_here(monkeypatch) -> list[int]:
    """The chunks whose parts this process saves from now on (a worker process appends to its own copy)."""
    here = []
    save_chunk = sweep_module.save_chunk

    def save_here(folder, result, outcomes):
        here.append(result.index)
        save_chunk(folder, result, outcomes)

    monkeypatch.setattr(sweep_module, "save_chunk", save_here)
    return here


# --- a Dask cluster reached by its address (--scheduler), with and without --shared-store -------


@pytest.fixture(scope="module")
def dask_scheduler():
    """The address of a Dask cluster of 2 worker processes, reached as a remote one is (its
    workers run on this machine, so they see the store: a test gives them another folder to
    make them not see it)."""
    cluster = sweep_module.local_cluster(2)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@contextlib.contextmanager
def on_dask_workers(address, module, name, replace):
    """Within the block, ``module.name`` is ``replace(original)`` in every worker process of the
    Dask cluster at ``address`` (``replace`` is defined in the test: it travels by value)."""
    from dask.distributed import Client

    def install():
        import importlib

        m = importlib.import_module(module)
        m.__dict__.setdefault("_replaced_by_test", {})[name] = getattr(m, name)
        setattr(m, name, replace(getattr(m, name)))

    def restore():
        import importlib

        m = importlib.import_module(module)
        setattr(m, name, m._replaced_by_test.pop(name))

    with Client(address, set_as_default=False) as client:
        client.run(install)
        try:
            yield
        finally:
            client.run(restore)


def slow_from_chunk(first: int, seconds: float):
    """A replacement of ``write_atomic`` (see :func:`on_dask_workers`) that waits ``seconds`` before
    writing each part of chunk ``first`` and later ones: chunks still running when the sweep stops."""

    def replace(write_atomic):
        def slow(path, write):
            import time

            if path.parent.name == "parts" and int(path.stem.split("-")[1]) >= first:
                time.sleep(seconds)
            write_atomic(path, write)

        return slow

    return replace


def settled(store, seconds: float = 3.0) -> dict:
    """The store's parts once ``seconds`` passed with none written: a part saved after the sweep
    returned (and after its manifest) shows up as a change."""
    before = parts_bytes(store)
    time.sleep(seconds)
    after = parts_bytes(store)
    assert after == before, sorted(set(after) - set(before))
    return after


@pytest.mark.parametrize("shared", [True, False])
def test_a_dask_cluster_equals_local_and_its_workers_save_their_parts_when_the_store_is_shared(
    serial_store, tmp_path, monkeypatch, dask_scheduler, shared
):
    """With --shared-store a cluster's workers write the parts of the chunks they compute (the
    sweep's process saves nothing); without it their results come back and the sweep saves every
    chunk. The bytes are a serial sweep's either way."""
    tmp, serial = serial_store
    here = saves_here(monkeypatch)
    exp = load_experiment(tmp / "exp.toml")
    summary = run_sweep(exp, tmp_path / "s", scheduler=dask_scheduler, shared_store=shared, progress=False)
    assert summary.ok == summary.computed_runs == 36
    assert sorted(here) == ([] if shared else list(range(8)))
    assert parts_bytes(tmp_path / "s") == parts_bytes(serial)


def test_a_resumed_sweep_on_a_dask_clusters_shared_store_equals_an_uninterrupted_one(
    serial_store, tmp_path, dask_scheduler
):
    """--resume --shared-store: what a stopped worker left half written is removed, only the
    missing chunks are computed, by the workers, and the bytes are a serial sweep's."""
    import shutil

    from improvesim.experiments.store import part_path

    tmp, serial = serial_store
    store = tmp_path / "store"
    shutil.copytree(serial, store)
    for chunk in (2, 5):
        part_path(store, "outcomes", chunk).unlink()
    cut = store / "parts" / ".yearly-00005.parquet.a1b2.tmp"
    cut.write_bytes(b"PAR1")
    summary = run_sweep(
        load_experiment(tmp / "exp.toml"),
        store,
        resume=True,
        scheduler=dask_scheduler,
        shared_store=True,
        progress=False,
    )
    assert summary.computed_runs == 10 and summary.already_done == 26 and not cut.exists()
    assert parts_bytes(store) == parts_bytes(serial)


def test_an_interrupted_sweep_on_a_dask_clusters_shared_store_waits_for_the_chunks_in_flight(
    serial_store, tmp_path, monkeypatch, dask_scheduler, capsys
):
    """Ctrl-C while a cluster's workers compute chunks: Dask cannot stop a running task, which goes on
    after the client has closed and saves its parts; the sweep waits for every chunk in flight before
    its manifest, so no part is saved after it (the parts settle, and the manifest agrees with them);
    --resume then gives a serial sweep's bytes."""
    tmp, serial = serial_store
    check_interrupted = sweep_module.check_interrupted
    checks = []

    def ctrl_c_after_two_chunks():
        checks.append(1)
        if len(checks) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        check_interrupted()

    monkeypatch.setattr(sweep_module, "check_interrupted", ctrl_c_after_two_chunks)
    monkeypatch.setattr(sweep_module, "DASK_STOP_NOTE_AFTER", 0.5)  # the wait says what it waits for
    exp = load_experiment(tmp / "exp.toml")
    store = tmp_path / "s"
    with on_dask_workers(dask_scheduler, "improvesim.experiments.store", "write_atomic", slow_from_chunk(2, 0.75)):
        with pytest.raises(KeyboardInterrupt) as stopped:
            run_sweep(exp, store, scheduler=dask_scheduler, shared_store=True, progress=False)
        settled(store)
    assert isinstance(stopped.value, sweep_module.SweepInterrupted), repr(stopped.value)
    assert "chunk(s) the Dask workers are computing" in capsys.readouterr().err
    assert not list((store / "parts").glob(".*.tmp"))
    manifest = pd.read_parquet(store / "manifest.parquet")
    assert stopped.value.saved == (manifest["status"] == "ok").sum() == runs_in_parts(store) < 36
    monkeypatch.undo()
    run_sweep(exp, store, resume=True, scheduler=dask_scheduler, shared_store=True, progress=False)
    assert parts_bytes(store) == parts_bytes(serial)


def test_a_part_a_dask_worker_cannot_write_stops_the_sweep_in_one_line(serial_store, tmp_path, dask_scheduler, capsys):
    """The disk fills under a worker writing into the shared store: one line (what, where, why, what
    is saved, how to finish), exit status 2; the chunks still running on the other worker end first
    (none is saved after the manifest), no temporary file is left, and --resume finishes the sweep."""
    from improvesim.cli import main

    def full_at_chunk_4(write_atomic):
        def full(path, write):
            import errno
            import time

            chunk = int(path.stem.split("-")[1]) if path.parent.name == "parts" else -1
            if chunk == 4:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
            if chunk > 4:
                time.sleep(0.5)  # still running when chunk 4 fails
            write_atomic(path, write)

        return full

    tmp, serial = serial_store
    store = tmp_path / "s"
    command = ["sweep", str(tmp / "exp.toml"), "--out", str(store), "--scheduler", dask_scheduler, "--shared-store"]
    with on_dask_workers(dask_scheduler, "improvesim.experiments.store", "write_atomic", full_at_chunk_4):
        status = main([*command, "--quiet"])
        settled(store)
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert f"cannot write {store.absolute() / 'parts'}/ (chunk 4): No space left on device" in err
    manifest = pd.read_parquet(store / "manifest.parquet")
    assert f"{(manifest['status'] == 'ok').sum()} of 36 runs are saved" in err
    assert f"--resume --scheduler {dask_scheduler} --shared-store" in err
    assert (manifest["status"] == "ok").sum() == runs_in_parts(store)
    assert not list((store / "parts").glob(".*.tmp"))
    assert main([*command, "--resume", "--quiet"]) == 0
    assert parts_bytes(store) == parts_bytes(serial)


@pytest.mark.parametrize("seen", ["nothing", "a copy"])
def test_dask_workers_that_do_not_see_the_store_stop_the_sweep_in_one_line(
    serial_store, tmp_path, monkeypatch, dask_scheduler, capsys, seen
):
    """--shared-store on a cluster whose workers do not share the store's file system (simulated:
    the workers are given another folder of the same store). Workers that find no store there
    refuse at once, writing nothing; workers that find a copy there (a store of the same path on
    their own disks) write into it, and the sweep, which does not see those parts, says so once
    they stay unseen. One line, exit status 2, no traceback; without --shared-store the sweep then
    finishes with a serial sweep's bytes."""
    import shutil

    from improvesim.cli import main

    tmp, serial = serial_store
    store, elsewhere = tmp_path / "s", tmp_path / "their-disk" / "s"
    run_dask = sweep_module.run_dask

    def other_folder(tasks, client, folder, outcomes, **options):
        if seen == "a copy":  # the store as the sweep created it, copied to the workers' own disk
            shutil.copytree(folder, elsewhere, ignore=shutil.ignore_patterns(".lock"))
        return run_dask(tasks, client, elsewhere, outcomes, **options)

    monkeypatch.setattr(sweep_module, "run_dask", other_folder)
    monkeypatch.setattr(sweep_module, "SEEN_GRACE", 1.0)
    command = ["sweep", str(tmp / "exp.toml"), "--out", str(store), "--scheduler", dask_scheduler]
    status = main([*command, "--shared-store", "--quiet"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    if seen == "nothing":
        assert f"does not see the store {elsewhere}/ (no experiment.json there)" in err
        assert not elsewhere.exists()  # the workers refused before writing anything
    else:
        assert f"8 chunk(s) the Dask workers saved (chunk 0, ...) are not in {store / 'parts'}/" in err
        assert len(list((elsewhere / "parts").glob("outcomes-*.parquet"))) == 8
    assert "0 of 36 runs are saved" in err and "--shared-store needs" in err
    assert err.rstrip().endswith(
        f"finish with: improvesim sweep {tmp / 'exp.toml'} --out {store} --resume --scheduler {dask_scheduler}"
    )
    monkeypatch.undo()
    assert main([*command, "--resume", "--quiet"]) == 0
    assert parts_bytes(store) == parts_bytes(serial)


@pytest.mark.parametrize("engine", [["--workers", "1"], ["--dask-local", "2"]], ids=["serial", "dask-local"])
def test_a_killed_sweep_resumed_equals_an_uninterrupted_one(serial_store, tmp_path, engine):
    """Killed (SIGKILL) part-way, then resumed: a serial sweep's bytes.  A local Dask cluster's
    workers, which write their own parts, end with the sweep's process (Dask's worker processes
    exit when their parent's pipe closes); what one was writing is removed by --resume."""
    tmp, serial = serial_store
    store = tmp_path / "killed"
    cmd = [sys.executable, "-m", "improvesim", "sweep", str(tmp / "exp.toml"), "--out", str(store), *engine, "--quiet"]
    env = {**os.environ, "IMPROVESIM_TEST_SLOW_CHUNKS": "0.4"}  # slow each chunk so the kill lands mid-sweep
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((store / "parts").glob("outcomes-*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = len(list((store / "parts").glob("outcomes-*.parquet")))
    assert 2 <= finished < 8  # really part-way
    resumed = subprocess.run(cmd + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert parts_bytes(store) == parts_bytes(serial)


def test_resume_refuses_a_different_experiment(serial_store, tmp_path):
    tmp, serial = serial_store
    changed = experiment(tmp_path, SMALL.replace("seed = 4", "seed = 5"), "exp")
    with pytest.raises(Exception, match="different experiment"):
        run_sweep(load_experiment(changed), serial, resume=True, progress=False)


def test_existing_results_are_not_overwritten_without_force(serial_store):
    tmp, serial = serial_store
    before = parts_bytes(serial)
    proc = improvesim("sweep", str(tmp / "exp.toml"), "--out", str(serial))
    assert proc.returncode == 2 and "--resume" in proc.stderr and "Traceback" not in proc.stderr
    assert parts_bytes(serial) == before


def test_the_manifest_is_the_plan_with_each_runs_status(serial_store, tmp_path):
    """Every plan column in order, then status and error; a chunk whose outcomes are gone is missing."""
    import shutil

    from improvesim.experiments.store import part_path, write_manifest

    store = tmp_path / "store"
    shutil.copytree(serial_store[1], store)
    part_path(store, "outcomes", 1).unlink()  # as if the sweep stopped before chunk 1
    statuses = write_manifest(store)
    manifest = pd.read_parquet(store / "manifest.parquet")
    plan = pd.read_parquet(store / "plan.parquet")
    assert list(manifest.columns) == [*plan.columns, "status", "error"]
    pd.testing.assert_frame_equal(manifest[plan.columns], plan)
    missing = manifest["run_id"].isin(pd.read_parquet(part_path(serial_store[1], "outcomes", 1))["run_id"])
    assert (manifest.loc[missing, "status"] == "missing").all() and missing.sum() == 5
    assert (manifest.loc[~missing, "status"] == "ok").all() and (manifest["error"] == "").all()
    assert statuses["status"].tolist() == manifest["status"].tolist()


def test_the_manifest_from_the_sweeps_plan_is_the_one_read_from_plan_parquet(serial_store, tmp_path):
    """A sweep writes its manifest from the plan it holds, without reading plan.parquet again."""
    import shutil

    import pyarrow.parquet as pq

    from improvesim.experiments.plan import make_plan
    from improvesim.experiments.store import write_manifest

    store = tmp_path / "store"
    shutil.copytree(serial_store[1], store)
    exp = load_experiment(serial_store[0] / "exp.toml")
    read = write_manifest(store)
    from_file = pq.read_table(store / "manifest.parquet")
    held = write_manifest(store, make_plan(exp, build_design(exp)))
    assert pq.read_table(store / "manifest.parquet").equals(from_file, check_metadata=True)
    pd.testing.assert_frame_equal(held, read, check_exact=True)


@pytest.mark.parametrize("force", [False, True])
def test_ctrl_c_while_the_store_is_made_leaves_nothing(serial_store, tmp_path, monkeypatch, capsys, force):
    """Ctrl-C after plan.parquet was written but before experiment.json (the sweep of sobol_all.toml
    spends seconds there) left the store folder with .improvesim, experiment.toml and plan.parquet
    while the command said "interrupted; nothing was written". The creation is undone: no store
    (or, with --force, the old results as they were and no staging folder), and the same command
    then makes the store."""
    import shutil

    from improvesim.cli import main
    from improvesim.experiments import store as store_module

    tmp, serial = serial_store
    store = tmp_path / "s"
    if force:
        shutil.copytree(serial, store)
    before = parts_bytes(store) if force else None
    write_atomic = store_module.write_atomic

    def ctrl_c_before_experiment_json(path, write):
        if path.name == "experiment.json":
            raise KeyboardInterrupt
        return write_atomic(path, write)

    monkeypatch.setattr(store_module, "write_atomic", ctrl_c_before_experiment_json)
    command = ["sweep", str(tmp / "exp.toml"), "--out", str(store), "--workers", "1", "--quiet"]
    assert main([*command, *(["--force"] if force else [])]) == 130
    assert "nothing was written" in capsys.readouterr().err
    if force:
        assert parts_bytes(store) == before and (store / "experiment.json").exists()
        assert not [p.name for p in tmp_path.iterdir() if p.name != "s"]
    else:
        assert not store.exists(), sorted(p.name for p in store.iterdir())
    monkeypatch.undo()
    assert main([*command, "--force"] if force else command) == 0
    assert parts_bytes(store) == parts_bytes(serial)


def test_an_interrupted_sweep_writes_its_manifest_without_reading_the_plan_back(serial_store, tmp_path, monkeypatch):
    """Ctrl-C: the manifest is written from the plan the sweep holds (reading a million-run plan.parquet
    back made Ctrl-C on sobol_all.toml's sweep take 16.6 s); it says which runs are saved, and --resume
    gives the results of a sweep never interrupted."""
    import pyarrow.parquet as pq

    from improvesim.experiments.sweep import SweepInterrupted

    tmp, serial = serial_store
    exp = load_experiment(tmp / "exp.toml")
    saved, read = [], []
    save_chunk, read_table = sweep_module.save_chunk, pq.read_table

    def save_then_interrupt(folder, result, outcomes):
        save_chunk(folder, result, outcomes)
        saved.append(result.index)
        if len(saved) == 2:
            (folder / "parts" / ".yearly-00002.parquet.cut.tmp").write_bytes(b"PAR1")  # a write cut off
            raise KeyboardInterrupt

    monkeypatch.setattr(sweep_module, "save_chunk", save_then_interrupt)
    monkeypatch.setattr(
        pq, "read_table", lambda path, *a, **k: read.append(os.path.basename(path)) or read_table(path, *a, **k)
    )
    with pytest.raises(SweepInterrupted) as interrupted:
        run_sweep(exp, tmp_path / "s", progress=False)
    assert read and "plan.parquet" not in read
    assert not list((tmp_path / "s" / "parts").glob(".*.tmp"))  # the cut-off write is removed
    manifest = pd.read_parquet(tmp_path / "s" / "manifest.parquet")
    assert len(manifest) == 36 and interrupted.value.saved == 10 == (manifest["status"] == "ok").sum()
    monkeypatch.undo()
    run_sweep(exp, tmp_path / "s", resume=True, progress=False)
    assert parts_bytes(tmp_path / "s") == parts_bytes(serial)
    assert pq.read_table(tmp_path / "s" / "manifest.parquet").equals(pq.read_table(serial / "manifest.parquet"))


def test_a_manifest_of_outcomes_the_plan_does_not_have_is_refused(serial_store, tmp_path):
    import shutil

    from improvesim.experiments.store import StoreError, part_path, write_manifest

    store = tmp_path / "store"
    shutil.copytree(serial_store[1], store)
    part = part_path(store, "outcomes", 0)
    stray = pd.read_parquet(part)
    stray.loc[0, "run_id"] = 10**9  # a run of another sweep
    stray.to_parquet(part, index=False)
    with pytest.raises(StoreError, match="mixes two sweeps"):
        write_manifest(store)


# --- failures ---------------------------------------------------------------------


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path):
    body = """
design = "grid"
replicates = 2
outcomes = ["institutionalized_share"]
[set]
"run.years" = 2
[parameters]
"district.schools" = [5, 40]
"""
    path = experiment(tmp_path, body, "failing")
    proc = improvesim("sweep", str(path), "--out", str(tmp_path / "f"), "--quiet")
    assert proc.returncode == 1 and "2 ok, 2 failed" in proc.stdout
    manifest = pd.read_parquet(tmp_path / "f" / "manifest.parquet")
    failed = manifest[manifest["status"] == "failed"]
    assert (failed["district.schools"] == 5).all() and failed["error"].str.contains("rollout.initial_schools").all()
    ok = load_sweep(tmp_path / "f").outcomes
    assert np.isfinite(ok.loc[ok.status == "ok", "institutionalized_share"]).all()


# --- bad experiment files ----------------------------------------------------------


@pytest.mark.parametrize(
    "body,message",
    [
        (
            'design = "grid"\nreplicate = 2\n[parameters]\n"turnover.teacher" = [0.1]\n',
            "replicate: unknown key (did you mean 'replicates'?)",
        ),
        ('design = "factorial"\n', "design: got 'factorial'; allowed: one of grid, lhs, sobol, morris, list"),
        ('design = "grid"\n[parameters]\n"turnover.teachers" = [0.1]\n', "did you mean 'turnover.teacher'"),
        ('design = "grid"\n[parameters]\n"turnover.teacher" = [0.1, 0.9]\n', "turnover.teacher: got 0.9, out of range"),
        ('design = "lhs"\nsamples = 8\n[parameters]\n"turnover.teacher" = { min = 0.1, max = 0.9 }\n', "out of range"),
        ('design = "lhs"\nsamples = 8\n[parameters]\n"turnover.teacher" = [0.1, 0.2]\n', "needs a range"),
        (
            'design = "sobol"\nsamples = 100\n[parameters]\n"turnover.teacher" = { min = 0.1, max = 0.3 }\n',
            "use 64 or 128",
        ),
        (
            'design = "grid"\n[parameters]\n"turnover.teacher" = { min = 0.1, max = 0.3 }\n',
            "a grid needs a list of levels",
        ),
        ('design = "lhs"\n[parameters]\n"turnover.teacher" = { min = 0.1, max = 0.3 }\n', "samples: missing"),
        (
            'design = "grid"\noutcomes = ["institutionalised_share"]\n[parameters]\n"turnover.teacher" = [0.1]\n',
            "did you mean 'institutionalized_share'",
        ),
    ],
)
def test_bad_experiment_files_give_one_clear_message(tmp_path, body, message):
    path = experiment(tmp_path, body, "bad")
    with pytest.raises(ParameterError, match=None) as err:
        load_experiment(path)
    assert message in str(err.value) and str(path) in str(err.value)
    proc = improvesim("sweep", str(path), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


#: Sampled designs larger than this are built from fewer base samples here (SALib's Saltelli
#: sampler takes about 30 s for the 183,296 sets of sobol_all.toml); their size is counted instead.
LARGE_DESIGN = 50_000


def test_bundled_experiments_are_valid():
    import dataclasses

    from improvesim.analysis.calibration import is_calibration
    from improvesim.experiments.design import count_sets

    for path in sorted((ROOT / "experiments").glob("*.toml")):
        if is_calibration(path):  # not a sweep: tests/test_calibration.py loads it
            continue
        exp = load_experiment(path)
        if exp.samples and count_sets(exp) > LARGE_DESIGN:
            exp = dataclasses.replace(exp, samples=8)
        assert build_design(exp).sets > 0, path.name


def test_duckdb_reads_the_store(serial_store):
    duckdb = pytest.importorskip("duckdb")
    _, store = serial_store
    n = duckdb.sql(
        f"SELECT count(*) FROM '{store}/parts/outcomes-*.parquet' o JOIN '{store}/plan.parquet' p USING (run_id)"
    ).fetchall()[0][0]
    assert n == 36


def test_the_documented_slurm_cluster_renders_a_job_script():
    """The documented SLURM cluster's job script; making the cluster leaves this process's Ctrl-C handler
    as it was (dask-jobqueue's import set one calling ``sys.exit()``, left for every later test: see the
    test below)."""
    from improvesim.experiments.cluster import slurm_cluster

    ctrl_c = signal.getsignal(signal.SIGINT)
    cluster = slurm_cluster(
        jobs=2,
        cores=8,
        memory="16GB",
        walltime="01:00:00",
        queue="normal",
        account="myproject",
        python="/opt/venv/bin/python",
        start=False,
    )
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert signal.getsignal(signal.SIGINT) is ctrl_c
    for line in [
        "#SBATCH -p normal",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH -t 01:00:00",
        "#SBATCH --account=myproject",
        "/opt/venv/bin/python -m distributed.cli.dask_worker",
        "--nworkers 8",
        "--nthreads 1",
    ]:
        assert line in script, line


#: A sweep, in a process that made the documented SLURM cluster first, stopped by Ctrl-C after its first chunk.
SLURM_THEN_CTRL_C = """
import signal, sys
from improvesim.experiments import sweep
from improvesim.experiments.cluster import slurm_cluster
from improvesim.experiments.spec import load_experiment

signal.signal(signal.SIGINT, signal.default_int_handler)  # a script's own, even if started with Ctrl-C ignored
slurm_cluster(jobs=1, cores=1, memory="1GB", walltime="00:10:00", start=False).close()
check_interrupted = sweep.check_interrupted

def ctrl_c_then_check():
    signal.raise_signal(signal.SIGINT)
    check_interrupted()

sweep.check_interrupted = ctrl_c_then_check
try:
    sweep.run_sweep(load_experiment(sys.argv[1]), sys.argv[2], workers=1, progress=False)
except sweep.SweepInterrupted as stopped:
    print("SweepInterrupted", stopped.saved, type(stopped.cause).__name__)
"""


def test_ctrl_c_stops_a_sweep_as_interrupted_after_the_documented_slurm_cluster_was_made(serial_store, tmp_path):
    """Importing dask-jobqueue sets a Ctrl-C handler that calls ``sys.exit()``: in the documented session
    (``slurm_cluster``, then ``run_sweep`` in the same process) Ctrl-C raised ``SystemExit``, and the
    script ended there with status 0, the sweep not stopped as interrupted (no manifest, nothing said)."""
    tmp, _ = serial_store
    store = tmp_path / "s"
    done = subprocess.run(
        [sys.executable, "-c", SLURM_THEN_CTRL_C, str(tmp / "exp.toml"), str(store)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    said = done.stdout.split()
    assert done.returncode == 0 and said[::2] == ["SweepInterrupted", "KeyboardInterrupt"], done.stdout + done.stderr
    manifest = pd.read_parquet(store / "manifest.parquet")
    assert int(said[1]) == (manifest["status"] == "ok").sum() == runs_in_parts(store) > 0


# --- one schema per part kind -----------------------------------------------------------

ALL_FAIL_IN_SOME_CHUNKS = """
design = "grid"
replicates = 2
seed = 3
chunk = 2
outcomes = ["engaged_share", "time_to_first_institutionalization"]
record_schools = true
[set]
"run.years" = 2
"rollout.initial_schools" = 10
[parameters]
"district.schools" = [5, 20]
"turnover.teacher" = [0.1, 0.2]
"""


def test_every_part_of_a_kind_has_one_schema_even_when_its_runs_all_failed(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    ds = pytest.importorskip("pyarrow.dataset")
    duckdb = pytest.importorskip("duckdb")
    store = tmp_path / "s"
    summary = run_sweep(load_experiment(experiment(tmp_path, ALL_FAIL_IN_SOME_CHUNKS)), store, progress=False)
    assert summary.failed == 4 and summary.ok == 4  # the chunks of 5-school runs failed whole
    for kind in ("outcomes", "yearly", "schools"):
        paths = sorted((store / "parts").glob(f"{kind}-*.parquet"))
        schemas = {pq.read_schema(p).remove_metadata() for p in paths}
        assert len(paths) == 4 and len(schemas) == 1, kind
        assert "null" not in str(next(iter(schemas))), kind
        ds.dataset([str(p) for p in paths], format="parquet").to_table()  # one dataset
    rows = duckdb.sql(f"SELECT count(*), avg(engaged_share) FROM '{store}/parts/yearly-*.parquet'").fetchall()
    assert rows[0][0] == 4 * 2
    yearly = load_sweep(store).yearly
    assert yearly["engaged_share"].dtype == np.float64 and np.isfinite(yearly["engaged_share"].quantile(0.5))


def test_a_complete_store_resumed_says_everything_was_already_done(serial_store, capsys):
    from improvesim.cli import main

    tmp, serial = serial_store
    assert main(["sweep", str(tmp / "exp.toml"), "--out", str(serial), "--resume", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "0 computed" in out and "36 already done" in out


# --- Morris grids over integers and categories ------------------------------------------


def morris_experiment(tmp_path, coaches, levels=4, samples=200):
    body = f"""
design = "morris"
samples = {samples}
levels = {levels}
replicates = 1
[parameters]
"coaching.coaches" = {coaches}
"governance.participation" = {{ choices = ["optional", "required"] }}
"turnover.teacher" = {{ min = 0.05, max = 0.35 }}
"""
    return load_experiment(experiment(tmp_path, body, "morris"))


def test_morris_levels_map_to_distinct_evenly_spread_integers(tmp_path):
    from improvesim.experiments.design import morris_value_index

    levels = np.arange(4)
    assert morris_value_index(levels, 4, 4).tolist() == [0, 1, 2, 3]  # 1 to 4 coaches: distinct
    assert morris_value_index(levels, 7, 4).tolist() == [0, 2, 4, 6]  # 0 to 6: evenly spread
    assert morris_value_index(levels, 2, 4).tolist() == [0, 0, 1, 1]  # two choices: two levels each
    values = build_design(morris_experiment(tmp_path, "{ min = 1, max = 4 }")).values
    share = values["coaching.coaches"].value_counts(normalize=True)
    assert set(share.index) == {1, 2, 3, 4}
    # 200 trajectories: each share is 0.25 within about 0.03 (one standard error); the old mapping gave the top 0.5
    assert share.max() < 0.4 and share.min() > 0.1
    assert values["governance.participation"].value_counts(normalize=True).max() < 0.65


def test_morris_refuses_an_integer_range_its_levels_would_draw_unevenly(tmp_path):
    exp = morris_experiment(tmp_path, "{ min = 0, max = 2 }")
    with pytest.raises(ParameterError, match=r"coaching.coaches: a Morris grid of 4 levels over 3 values") as err:
        build_design(exp)
    assert str(exp.path) in str(err.value) and "max = 3" in str(err.value)
    proc = improvesim("sweep", exp.path, "--out", tmp_path / "o")
    assert proc.returncode == 2 and "coaching.coaches" in proc.stderr and "Traceback" not in proc.stderr


def test_dask_workers_that_keep_dying_stop_the_sweep_as_a_pools_do(serial_store, tmp_path, capsys):
    """A chunk whose Dask workers all died computing it (killed for memory, say: Dask's KilledWorker
    once the scheduler's retries are spent) stops the sweep as dying pool workers do: one line, what
    is saved, how to finish, exit status 1; it was a traceback."""
    import dask
    from dask.distributed import Client

    from improvesim.cli import main

    tmp, serial = serial_store
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):  # the first death is the last
        cluster = sweep_module.local_cluster(1)
    try:
        with Client(cluster, set_as_default=False) as client:

            def die_at_chunk_3():
                from improvesim.experiments import sweep

                compute_and_save = sweep.compute_and_save

                def dies(task, folder):
                    if task.index == 3:
                        import os

                        os._exit(1)
                    return compute_and_save(task, folder)

                sweep.compute_and_save = dies

            client.run(die_at_chunk_3)
            store = tmp_path / "s"
            command = ["sweep", str(tmp / "exp.toml"), "--out", str(store), "--scheduler", cluster.scheduler_address]
            status = main([*command, "--shared-store", "--quiet"])
    finally:
        cluster.close()
    err = capsys.readouterr().err
    assert status == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    manifest = pd.read_parquet(store / "manifest.parquet")
    saved = (manifest["status"] == "ok").sum()
    assert "worker processes kept dying" in err and f"{saved} of 36 runs are saved" in err and 0 < saved < 36
    run_sweep(load_experiment(tmp / "exp.toml"), store, resume=True, progress=False)
    assert parts_bytes(store) == parts_bytes(serial)
