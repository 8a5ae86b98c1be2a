"""Kills, concurrent writers and dying workers: results are never mixed, lost or half-written.

Real processes (the command line in a subprocess), real signals, tiny
experiments; every wait is bounded.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT

from improvesim.experiments.output import LOCK, FolderLock, FolderLockedError, recover, staged_folder
from improvesim.experiments.spec import load_experiment
from improvesim.experiments.sweep import run_sweep

BASELINE = (ROOT / "scenarios" / "baseline.toml").as_posix()
TINY = f"""
scenario = "{BASELINE}"
design = "grid"
replicates = 2
seed = {{seed}}
chunk = 2
outcomes = ["institutionalized_share", "time_to_first_institutionalization"]
[set]
"run.years" = 2
[parameters]
"turnover.teacher" = [0.1, 0.2, 0.3, 0.4]
"governance.participation" = ["optional", "required"]
"""
CHUNKS = 8
TIMEOUT = 90


def tiny(folder, seed=3):
    path = folder / f"tiny{seed}.toml"
    path.write_text(TINY.format(seed=seed))
    return path


def parts_bytes(store):
    return {p.name: p.read_bytes() for p in sorted((store / "parts").glob("*.parquet"))}


def tree_bytes(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The tiny experiment swept without interruption, and an older store of another seed."""
    tmp = tmp_path_factory.mktemp("reference")
    run_sweep(load_experiment(tiny(tmp)), tmp / "uninterrupted", progress=False)
    run_sweep(load_experiment(tiny(tmp, seed=4)), tmp / "old", progress=False)
    return tmp


def start(*args, slow=0.5, session=False, pause_swap=0.0):
    env = {**os.environ, "IMPROVESIM_TEST_SLOW_CHUNKS": str(slow), "IMPROVESIM_TEST_PAUSE_SWAP": str(pause_swap)}
    return subprocess.Popen(
        [sys.executable, "-m", "improvesim", *map(str, args)],
        cwd=ROOT,
        env=env,
        start_new_session=session,  # its own process group, as a terminal gives a command
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition, what):
    deadline = time.time() + TIMEOUT
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def chunks_saved(folder):
    return len(list((folder / "parts").glob("outcomes-*.parquet")))


def pool_workers(pid):
    """Pids of the sweep's pool workers among ``pid``'s children: forked ones (the parent's
    command line) or spawned ones, not multiprocessing's resource tracker."""
    own = Path(f"/proc/{pid}/cmdline").read_bytes()
    found = []
    for child in children(pid):
        with contextlib.suppress(OSError):
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if cmdline == own or b"spawn_main" in cmdline:
                found.append(child)
    return found


def children(pid):
    """Pids of the live processes whose parent is ``pid``."""
    found = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = Path(f"/proc/{stat}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(stat))
    return found


def alive(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def assert_no_orphans(pids):
    deadline = time.time() + 20
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not [p for p in pids if alive(p)], "worker processes outlived the sweep"


def interrupt(proc, sig, store, moment):
    """Send ``sig`` once ``moment`` chunks are saved in ``store`` (0: as soon as the store is locked)."""
    wait_for(lambda: (store / LOCK).exists() if moment == 0 else chunks_saved(store) >= moment, "the sweep")
    workers = children(proc.pid)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, err, workers


@pytest.mark.parametrize("sig,moment", [(signal.SIGKILL, 0), (signal.SIGTERM, 2)])
def test_a_killed_sweep_leaves_no_workers_and_resumes_to_the_same_bytes(reference, tmp_path, sig, moment):
    store = tmp_path / "store"
    proc = start("sweep", tiny(tmp_path), "--out", store, "--workers", 2, "--quiet")
    status, err, workers = interrupt(proc, sig, store, moment)
    assert_no_orphans(workers)
    if sig == signal.SIGTERM:  # handled like Ctrl-C: the manifest and the exact command to go on
        assert status == 143 and "Traceback" not in err, err
        assert f"--out {store} --resume" in err and (store / "manifest.parquet").exists()
    assert chunks_saved(store) < CHUNKS
    summary = run_sweep(load_experiment(tiny(tmp_path)), store, resume=True, progress=False)
    assert summary.ok == 16 and parts_bytes(store) == parts_bytes(reference / "uninterrupted")
    assert not (store / LOCK).exists()


@pytest.mark.parametrize("engine", [["--workers", 2], ["--dask-local", 2]])
def test_ctrl_c_stops_every_process_quietly_and_says_how_to_go_on(tmp_path, engine):
    """Ctrl-C in a terminal sends SIGINT to the whole process group: the sweep and its workers."""
    store = tmp_path / "store"
    proc = start("sweep", tiny(tmp_path), "--out", store, *engine, "--quiet", session=True)
    wait_for(lambda: chunks_saved(store) >= 1, "the first chunk")
    workers = children(proc.pid)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 130 and "Traceback" not in err and "IOLoop" not in err, err
    assert f"--out {store} --resume {' '.join(map(str, engine))}" in err
    assert_no_orphans(workers)


@pytest.mark.parametrize("sig,moment", [(signal.SIGKILL, 1), (signal.SIGTERM, 0)])
def test_a_killed_forced_sweep_keeps_the_old_results(reference, tmp_path, sig, moment):
    store = tmp_path / "store"
    shutil.copytree(reference / "old", store)
    before = tree_bytes(store)
    proc = start("sweep", tiny(tmp_path), "--out", store, "--workers", 1, "--quiet", "--force")
    staging = tmp_path / ".store.next"
    wait_for(lambda: (staging / "experiment.json").exists(), "the new sweep to start")
    status, err, _ = interrupt(proc, sig, staging if moment else store, moment)
    assert tree_bytes(store) == {**before, **({LOCK: tree_bytes(store)[LOCK]} if sig == signal.SIGKILL else {})}
    if sig == signal.SIGTERM:
        assert status == 143 and "old results" in err and "--resume --force" in err and "Traceback" not in err
    run_sweep(load_experiment(tiny(tmp_path)), store, resume=True, force=True, progress=False)
    assert parts_bytes(store) == parts_bytes(reference / "uninterrupted")
    assert not staging.exists() and not (store / LOCK).exists()


def test_a_sweep_killed_while_creating_its_store_resumes(reference, tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    (store / ".improvesim").write_text("{}")  # what a sweep writes first, then killed before experiment.json
    (store / "plan.parquet").write_bytes(b"half")
    run_sweep(load_experiment(tiny(tmp_path)), store, resume=True, progress=False)
    assert parts_bytes(store) == parts_bytes(reference / "uninterrupted")


def test_a_second_writer_is_refused_while_the_first_runs(reference, tmp_path):
    store = tmp_path / "store"
    first = start("sweep", tiny(tmp_path), "--out", store, "--workers", 1, "--quiet", slow=1.0)
    try:
        wait_for(lambda: chunks_saved(store) >= 1, "the first sweep")
        second = subprocess.run(
            [sys.executable, "-m", "improvesim", "sweep", tiny(tmp_path, 4), "--out", store, "--force", "--quiet"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert second.returncode == 2 and f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=TIMEOUT)
    run_sweep(load_experiment(tiny(tmp_path)), store, resume=True, progress=False)
    assert parts_bytes(store) == parts_bytes(reference / "uninterrupted")  # nothing of the second sweep got in


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_is_taken_over_and_a_live_one_is_not(tmp_path):
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / LOCK).write_text(f'{{"pid": {dead_pid()}, "host": "{socket.gethostname()}", "started": "x"}}')
    with FolderLock(folder), pytest.raises(FolderLockedError, match=f"pid {os.getpid()}"):
        FolderLock(folder).acquire()
    assert not (folder / LOCK).exists()


def test_a_lock_on_a_file_system_gone_read_only_is_left_for_the_next_writer(tmp_path, monkeypatch):
    """A sweep whose file system is remounted read-only stops with its one-line message; releasing
    its lock then fails (the file stays), which must not end in a traceback: the next writer takes
    the lock of the dead process over."""
    import errno
    import pathlib

    folder = tmp_path / "store"
    with FolderLock(folder):

        def read_only(self, missing_ok=False):
            raise OSError(errno.EROFS, "Read-only file system", str(self))

        monkeypatch.setattr(pathlib.Path, "unlink", read_only)
    monkeypatch.undo()
    assert (folder / LOCK).exists()


def test_a_folder_a_sweep_is_writing_is_not_replaced_by_another_command(tmp_path):
    folder = tmp_path / "store"
    with FolderLock(folder, command="improvesim sweep"):
        (folder / "experiment.json").write_text("{}")
        with pytest.raises(FolderLockedError, match="improvesim sweep"), staged_folder(folder, force=True):
            pass
    assert (folder / "experiment.json").read_text() == "{}"


def test_a_worker_that_dies_is_replaced_and_its_chunks_computed_again(reference, tmp_path):
    store = tmp_path / "store"
    proc = start("sweep", tiny(tmp_path), "--out", store, "--workers", 2, "--quiet", slow=0.2)
    wait_for(lambda: chunks_saved(store) >= 1, "the first chunk")
    os.kill(pool_workers(proc.pid)[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=TIMEOUT)
    assert proc.returncode == 0 and "Traceback" not in err, out + err
    assert "worker process died" in err
    assert parts_bytes(store) == parts_bytes(reference / "uninterrupted")


# --- run (and every command writing through a staging folder) ------------------------------------------


STOP_WITH_A_CHUNK_PART_WRITTEN = """
import multiprocessing, time
from improvesim.experiments import sweep
pool = sweep._new_pool(1)
pool.submit(time.sleep, 300)
pool.submit(len, b"x" * 5_000_000)  # queued: the pool's feeder thread blocks writing it into the pipe
time.sleep(0.5)
# forked now, it holds the pipe's read end too (as a restarted pool's workers can) and never reads it
holder = multiprocessing.get_context("fork").Process(target=time.sleep, args=(300,), daemon=True)
holder.start()
sweep._stop_pool(pool)
print("stopped", flush=True)
"""


def test_a_pool_stopped_while_its_feeder_writes_a_chunk_lets_the_process_exit():
    """A stopped pool's feeder thread blocked writing a queued chunk no worker will read kept a resumed
    sobol_all.toml sweep alive after its interrupt message (its exit waited for the thread): it must not."""
    proc = subprocess.run(
        [sys.executable, "-c", STOP_WITH_A_CHUNK_PART_WRITTEN], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 0 and proc.stdout == "stopped\n", proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_forced_run_keeps_the_old_results_and_leaves_nothing_behind(tmp_path, sig):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"old": true}')
    proc = start("run", BASELINE, "--out", out, "--replicates", 3000, "--no-schools", "--force")
    time.sleep(2.0)  # the model is computing (the results are written only at the end)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=TIMEOUT)
    assert (out / "summary.json").read_text() == '{"old": true}'
    if sig == signal.SIGTERM:
        assert proc.returncode == 143 and "Traceback" not in err, err
    recover(out)  # what the next writer does first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
@pytest.mark.parametrize("moment", ["staged", "between renames"])
def test_a_run_killed_while_swapping_its_results_in_loses_nothing(tmp_path, sig, moment):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text('{"old": true}')
    proc = start("run", BASELINE, "--out", out, "--replicates", 2, "--no-schools", "--force", pause_swap=1.5)
    if moment == "staged":  # every new file is written, nothing renamed yet
        wait_for(lambda: list(tmp_path.glob(".out.partial-*/summary.json")), "the staged results")
    else:  # the old results are aside, the new ones not yet in place
        wait_for(lambda: list(tmp_path.glob(".out.old-*")) and not out.exists(), "the first rename")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=TIMEOUT)
    if sig == signal.SIGTERM:  # the process itself puts everything back
        assert proc.returncode == 143 and "Traceback" not in err, err
    recover(out)  # what the next writer does first (after SIGKILL it has work to do)
    assert (out / "summary.json").read_text() == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staging_of_dead_writers_is_cleaned_and_a_half_swapped_target_recovered(tmp_path):
    target = tmp_path / "results"
    pid = dead_pid()
    partial = tmp_path / f".results.partial-{pid}-abc"
    partial.mkdir()
    (partial / "district.parquet").write_bytes(b"half")
    old = tmp_path / f".results.old-{pid}-def"  # died between the two renames of a swap
    old.mkdir()
    (old / "summary.json").write_text("old results")
    live = tmp_path / f".results.partial-{os.getpid()}-ghi"  # a live writer's staging is left alone
    live.mkdir()
    with staged_folder(target, force=True) as stage:
        (stage / "summary.json").write_text("new results")
    assert (target / "summary.json").read_text() == "new results"
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name, "results"]


def _land_in_weakref_callback(raiser):
    """Run ``raiser`` as a weakref callback, as a signal handler can (importlib's module locks use one)."""
    import weakref

    class Thing:
        pass

    thing = Thing()
    ref = weakref.ref(thing, lambda _: raiser())
    del thing
    return ref


def _land_in_del(raiser):
    """Run ``raiser`` inside a ``__del__`` method."""

    class Thing:
        def __del__(self):
            raiser()

    Thing()


def _land_in_callback_from_c(raiser):
    """Run ``raiser`` in Python code that C calls back into (as llvmlite's object-cache hook is called)."""
    import ctypes

    callback = ctypes.CFUNCTYPE(None)(lambda: raiser())
    callback()


@pytest.mark.parametrize("where", [_land_in_weakref_callback, _land_in_del, _land_in_callback_from_c])
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_an_interrupt_lost_where_python_cannot_raise_waits_silently_for_the_next_check(where, signal_name, capfd):
    """CI once saw SIGTERM land in importlib's weakref callback: Python printed "Exception ignored in"
    with a traceback and went on.  Every place that swallows exceptions is covered by one hook."""
    from improvesim.experiments import lifeline

    expected = lifeline.Terminated if signal_name == "SIGTERM" else KeyboardInterrupt
    with lifeline.interrupts_handled():
        where(lambda: signal.raise_signal(getattr(signal, signal_name)))
        with pytest.raises(expected) as caught:
            lifeline.check_interrupted()
        assert isinstance(caught.value, lifeline.Terminated) == (signal_name == "SIGTERM")
    assert "Traceback" not in capfd.readouterr().err
    with lifeline.interrupts_handled():  # the next handled block starts afresh
        lifeline.check_interrupted()


def test_other_lost_exceptions_still_reach_the_previous_hook(monkeypatch):
    from improvesim.experiments import lifeline

    reported = []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reported.append(unraisable.exc_value))

    def fail():
        raise ValueError("a real bug")

    with lifeline.interrupts_handled():
        _land_in_del(fail)
        lifeline.check_interrupted()
    assert [str(exc) for exc in reported] == ["a real bug"]
    assert sys.unraisablehook is not lifeline._keep_lost_interrupts


def interrupted_import(args):
    """A command whose extension-module import Ctrl-C interrupts: the module raises ImportError."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        raise ImportError("initialization failed") from None


def test_an_interrupt_a_library_turned_into_another_exception_is_still_an_interrupt(monkeypatch, capsys):
    """An extension module whose import Ctrl-C interrupts raises ImportError("initialization failed")."""
    from improvesim import cli

    monkeypatch.setitem(cli.COMMANDS, "params", interrupted_import)
    assert cli.main(["params"]) == 130
    assert capsys.readouterr().err == "improvesim params: interrupted; nothing was written\n"


def test_an_interrupt_the_command_line_handled_does_not_stop_a_later_sweep_in_the_same_process(
    monkeypatch, capsys, tmp_path
):
    """A library's caller who ran a command (``cli.main``) that was interrupted, then sweeps in the
    same process: the old interrupt was still recorded and stopped the sweep at its first check."""
    from improvesim import cli
    from improvesim.experiments import lifeline

    monkeypatch.setitem(cli.COMMANDS, "params", interrupted_import)
    assert cli.main(["params"]) == 130
    assert lifeline.interrupt_received() is None
    summary = run_sweep(load_experiment(tiny(tmp_path)), tmp_path / "store", progress=False)
    assert (summary.ok, summary.missing) == (summary.runs, 0)


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_an_interrupt_deferred_outside_the_command_line_comes_at_the_block_end_and_is_then_forgotten(
    signal_name, monkeypatch
):
    """Outside ``interrupts_handled`` (a library's caller) a deferred interrupt was recorded and
    never raised: the caller's Ctrl-C vanished and the next sweep stopped at its first check."""
    from improvesim.experiments import lifeline

    sig = getattr(signal, signal_name)
    came = []

    def callers_handler(signum, frame):
        came.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(sig, callers_handler)
    try:
        with pytest.raises(KeyboardInterrupt), lifeline.interrupts_deferred():
            signal.raise_signal(sig)
            signal.raise_signal(sig)  # twice: sent again once
            assert came == []  # nothing raised within the block
        assert came == [sig]
        assert signal.getsignal(sig) is callers_handler
        assert lifeline.interrupt_received() is None
        lifeline.check_interrupted()
    finally:
        signal.signal(sig, previous)


def test_an_interrupt_deferred_within_the_command_line_waits_for_the_next_check():
    from improvesim.experiments import lifeline

    with lifeline.interrupts_handled() as handled:
        with lifeline.interrupts_deferred():
            signal.raise_signal(signal.SIGTERM)
        assert lifeline.interrupt_received() is lifeline.Terminated
        with pytest.raises(lifeline.Terminated):
            lifeline.check_interrupted()
    assert handled.kind() is lifeline.Terminated
    assert lifeline.interrupt_received() is None


def test_other_exceptions_are_not_taken_for_interrupts(monkeypatch):
    from improvesim import cli

    def broken(args):
        raise ImportError("a real bug")

    monkeypatch.setitem(cli.COMMANDS, "params", broken)
    with pytest.raises(ImportError):
        cli.main(["params"])


def test_an_interrupt_that_passed_through_a_string_exec_exits_130_not_by_sigint(tmp_path):
    """CPython 3.12 notes a KeyboardInterrupt that leaves code run from a string (``exec`` of a string,
    ``PyRun_String``, as some libraries do while imported) as unhandled and, under ``python -m``, ends the
    process by SIGINT even though the command handled it and returned 130."""
    (tmp_path / "interrupt_in_exec.py").write_text(
        "import sys\n"
        "from improvesim import cli\n"
        "cli.COMMANDS['params'] = lambda args: exec('raise KeyboardInterrupt', {})\n"
        "sys.exit(cli.main(['params']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "interrupt_in_exec"], cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr


def test_results_and_parts_get_the_permissions_of_any_new_file(tmp_path):
    """The staging folder (which becomes the results) and each part were made by ``tempfile`` with
    0700 and 0600: a user's group could not read results that a plain write would have let it read."""
    previous = os.umask(0o022)
    try:
        with staged_folder(tmp_path / "results") as stage:
            (stage / "table.csv").write_text("x\n")
        run_sweep(load_experiment(tiny(tmp_path)), tmp_path / "store", progress=False)
    finally:
        os.umask(previous)
    made = [tmp_path / "results", tmp_path / "store", *(tmp_path / "store").rglob("*")]
    modes = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777) for p in made if not p.name.startswith(".")}
    assert modes == {k: ("0o755" if (tmp_path / k).is_dir() else "0o644") for k in modes}, modes
    assert any(k.startswith("store/parts/outcomes-") for k in modes)
