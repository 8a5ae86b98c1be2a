"""Every bad input is answered in one line, before any computing (issue: bad input, items 1 to 12).

Each test runs the real command line in this process (``improvesim.cli.main``)
on tiny studies (3 schools, 1 year, 1 replicate) and checks the promise: exit
status 2, one line on stderr naming the file and the key, no traceback, and
nothing created.  The read-only and full file system tests mount a small tmpfs
in a private mount namespace (``unshare -m``, as root), and are skipped with
the reason where that is not possible.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT

from improvesim.cli import main
from improvesim.experiments.design import build_design, check_size, estimate_size
from improvesim.experiments.plan import make_plan
from improvesim.experiments.spec import load_experiment
from improvesim.sim import params as params_module
from improvesim.sim.params import ParameterError, load_scenario

TINY = """
[run]
years = 1
replicates = 1
[district]
schools = 3
[rollout]
initial_schools = 3
"""
TINY_SET = '[set]\n"run.years" = 1\n"district.schools" = 3\n"rollout.initial_schools" = 3\n'


def cli(capsys, *args) -> tuple[int, str, str]:
    """Run ``improvesim ARGS`` in this process: (exit status, stdout, stderr)."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's refusals
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, *args, says: tuple[str, ...] = ()) -> str:
    """Assert ``improvesim ARGS`` is refused in one line that contains every text in ``says``; return the line."""
    code, out, err = cli(capsys, *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"improvesim {args[0]}: error: "), err
    assert "Traceback" not in err and not out
    for text in says:
        assert text in lines[0], (text, lines[0])
    return lines[0]


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Work in an empty folder holding a tiny scenario (tiny.toml)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny.toml").write_text(TINY)
    return tmp_path


def experiment(folder: Path, body: str, name: str = "exp") -> Path:
    path = folder / f"{name}.toml"
    path.write_text('scenario = "tiny.toml"\n' + textwrap.dedent(body))
    return path


def nothing_but(folder: Path, *names: str) -> None:
    """The folder holds only the files the test wrote: nothing was created."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(names)


# --- 1. a list design's CSV --------------------------------------------------------------


def list_experiment(folder: Path, csv_text: str) -> Path:
    (folder / "sets.csv").write_text(csv_text)
    return experiment(folder, 'design = "list"\ncsv = "sets.csv"\n' + TINY_SET)


def test_a_csv_row_with_an_extra_cell_is_refused_naming_the_row(here, capsys):
    path = list_experiment(here, "turnover.teacher,coaching.coaches\n0.1,0.2,4\n0.3,0.4,5\n")
    refused(capsys, "sweep", path, "--out", "s", says=("sets.csv: row 2:", "3 cells for 2 columns"))
    nothing_but(here, "tiny.toml", "sets.csv", "exp.toml")


def test_a_csv_row_with_a_missing_cell_is_refused(here, capsys):
    path = list_experiment(here, "turnover.teacher,coaching.coaches\n0.1,2\n0.3\n")
    refused(capsys, "sweep", path, "--out", "s", says=("sets.csv: row 3:", "1 cells for 2 columns"))


@pytest.mark.parametrize("cell", ["４", "1_0", "nan", "inf", "0x4", "4 4", "٤"])
def test_a_csv_number_is_ascii_digits_only(here, capsys, cell):
    path = list_experiment(here, f"turnover.teacher,coaching.coaches\n0.1,{cell}\n")
    refused(capsys, "sweep", path, "--out", "s", says=("sets.csv: row 2: coaching.coaches:", "allowed: an integer"))


def test_a_good_csv_is_run_with_exactly_its_values(here, capsys):
    path = list_experiment(here, "\ufeffturnover.teacher,coaching.coaches\r\n0.1,2\r\n\r\n0.3,4\r\n")
    code, _, err = cli(capsys, "sweep", path, "--out", "s", "--quiet", "--workers", "1")
    assert code == 0, err
    plan = pd.read_parquet(here / "s" / "plan.parquet")
    assert plan["turnover.teacher"].tolist() == [0.1, 0.3] and plan["coaching.coaches"].tolist() == [2, 4]


# --- 2. the seed and the replicates are the experiment's own keys ---------------------------


@pytest.mark.parametrize(
    "body,key",
    [
        ('design = "grid"\n[parameters]\n"run.seed" = [1, 2, 3]\n', "run.seed"),
        ('design = "grid"\n[parameters]\n"run.replicates" = [1, 2]\n', "run.replicates"),
        ('design = "grid"\n[set]\n"run.seed" = 5\n[parameters]\n"turnover.teacher" = [0.1]\n', "[set] run.seed"),
        ('design = "grid"\n[set]\n"run.replicates" = 5\n[parameters]\n"turnover.teacher" = [0.1]\n', "replicates"),
        ('design = "lhs"\nsamples = 4\n[parameters]\n"run.seed" = { min = 1, max = 9 }\n', "run.seed"),
    ],
)
def test_run_seed_and_replicates_are_refused_as_parameters(here, capsys, body, key):
    line = refused(capsys, "sweep", experiment(here, body), "--out", "s", says=("exp.toml: ", key))
    assert "top-level seed" in line or "top-level replicates" in line


@pytest.mark.parametrize("column", ["run.seed", "run.replicates"])
def test_run_seed_and_replicates_are_refused_as_csv_columns(here, capsys, column):
    path = list_experiment(here, f"turnover.teacher,{column}\n0.1,1\n0.2,2\n")
    refused(capsys, "sweep", path, "--out", "s", says=(f"sets.csv: {column}:", "top-level"))


# --- 3. --set line breaks, keys the design does not use, shocks after the horizon -------------


@pytest.mark.parametrize("text", ["turnover.teacher=0.3\nrun.years=2", "turnover.teacher=0.3\r", "run.years=1\t"])
def test_a_set_with_a_control_character_is_refused(here, capsys, text):
    refused(capsys, "run", "tiny.toml", "--set", text, "--out", "o", says=("--set:", "control character"))
    nothing_but(here, "tiny.toml")


@pytest.mark.parametrize(
    "body,key",
    [
        ("levels = 4\n", "levels: is only used by a morris design"),
        ("second_order = false\n", "second_order: is only used by a sobol design"),
        ('groups = "families"\n', "groups: is only used by a sobol or morris design"),
    ],
)
def test_keys_a_grid_does_not_use_are_refused(here, capsys, body, key):
    path = experiment(here, 'design = "grid"\n' + body + '[parameters]\n"turnover.teacher" = [0.1]\n')
    refused(capsys, "sweep", path, "--out", "s", says=("exp.toml: " + key,))


SHOCK = '[[shocks]]\nkind = "pandemic"\nstart_month = {start}\nmonths = 6\nseverity = 0.5\n'


def test_a_shock_after_the_horizon_is_refused(here, capsys):
    (here / "late.toml").write_text(TINY + SHOCK.format(start=12))
    refused(capsys, "run", "late.toml", "--out", "o", says=("late.toml: shocks[0].start_month: got 12", "0 to 11"))
    (here / "late.toml").write_text(TINY.replace("years = 1", "years = 3") + SHOCK.format(start=30))
    assert load_scenario(here / "late.toml").shocks[0].start_month == 30
    refused(capsys, "run", "late.toml", "--set", "run.years=2", "--out", "o", says=("--set: shocks[0].start_month",))
    path = experiment(here, 'scenario = "late.toml"\ndesign = "grid"\n[parameters]\n"run.years" = [2, 3]\n', "yrs")
    path.write_text(path.read_text().replace('scenario = "tiny.toml"\n', ""))
    refused(capsys, "sweep", path, "--out", "s", says=("yrs.toml: run.years:", "allowed: at least 3 years"))
    nothing_but(here, "tiny.toml", "late.toml", "yrs.toml")


# --- 4. numbers ---------------------------------------------------------------------------


HUGE = "1" * 400


@pytest.mark.parametrize(
    "where,args",
    [
        ("scenario", lambda h: ["run", write(h / "s.toml", f"[turnover]\nteacher = {HUGE}\n"), "--out", "o"]),
        ("--set", lambda h: ["run", "tiny.toml", "--set", f"turnover.teacher={HUGE}", "--out", "o"]),
        ("--set", lambda h: ["run", "tiny.toml", "--set", f"run.years={HUGE}", "--out", "o"]),
        ("grid", lambda h: ["sweep", experiment(h, f'design="grid"\n[parameters]\n"turnover.teacher"=[{HUGE}]\n')]),
        (
            "range",
            lambda h: [
                "sweep",
                experiment(h, f'design="lhs"\nsamples=4\n[parameters]\n"run.years"={{min=1,max={HUGE}}}\n'),
            ],
        ),
    ],
)
def test_an_integer_of_hundreds_of_digits_is_refused(here, capsys, where, args):
    line = refused(capsys, *args(here), says=("about 400 digits", "allowed: "))
    assert len(line) < 400


@pytest.mark.parametrize("value", ["1e999", "inf", "-inf", "nan"])
def test_a_number_that_is_not_finite_is_refused(here, capsys, value):
    refused(capsys, "run", "tiny.toml", "--set", f"turnover.teacher={value}", says=("not a finite number",))
    write(here / "s.toml", f"[turnover]\nteacher = {value}\n")
    refused(capsys, "run", "s.toml", says=("s.toml: turnover.teacher:", "not a finite number"))


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_an_integer_of_thousands_of_digits_is_refused(here, capsys):
    path = write(here / "s.toml", f"[turnover]\nteacher = {'1' * 5000}\n")
    refused(capsys, "run", path, "--out", "o", says=("s.toml: not a usable number", "4300 digits"))
    refused(capsys, "run", "tiny.toml", "--set", f"turnover.teacher={'1' * 5000}", says=("turnover.teacher",))


def test_arrays_nested_thousands_deep_are_refused(here, capsys):
    path = write(here / "s.toml", f"[turnover]\nteacher = {'[' * 5000}1{']' * 5000}\n")
    refused(capsys, "run", path, "--out", "o", says=("s.toml: not valid TOML", "nested too deeply"))
    path = write(here / "e.toml", f'design = "grid"\ndescription = {"[" * 5000}{"]" * 5000}\n')
    refused(capsys, "sweep", path, says=("e.toml: not valid TOML",))
    path = experiment(
        here, f'design = "grid"\ndescription = {"[" * 50}{"]" * 50}\n[parameters]\n"turnover.teacher"=[0.1]\n'
    )
    refused(capsys, "sweep", path, says=("exp.toml: description:", "allowed: text in quotes"))


# --- 5. files -----------------------------------------------------------------------------


def test_non_utf8_files_are_refused_naming_the_file(here, capsys):
    (here / "latin.toml").write_bytes("[turnover]\n# caf\xe9\nteacher = 0.1\n".encode("latin-1"))
    refused(capsys, "run", "latin.toml", "--out", "o", says=("latin.toml: not UTF-8 text (byte 0xe9 on line 2)",))
    (here / "latin_exp.toml").write_bytes(b'design = "grid" # \xff\n')
    refused(capsys, "sweep", "latin_exp.toml", says=("latin_exp.toml: not UTF-8",))
    (here / "sets.csv").write_bytes(b"turnover.teacher\n0.1\xff\n")
    path = experiment(here, 'design = "list"\ncsv = "sets.csv"\n')
    refused(capsys, "sweep", path, says=("exp.toml: csv: '", "sets.csv': not UTF-8 text (byte 0xff on line 2)"))


def test_a_folder_as_csv_is_refused(here, capsys):
    (here / "folder.csv").mkdir()
    refused(capsys, "sweep", experiment(here, 'design = "list"\ncsv = "folder.csv"\n'), says=("csv:", "not a regular"))


def test_a_fifo_and_dev_zero_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(ParameterError, match="not a regular scenario file"):
        params_module.read_toml(fifo)
    with pytest.raises(ParameterError, match="not a regular scenario file"):
        params_module.read_toml("/dev/zero")
    # through the command line too, in a process of its own that cannot hang this one
    csv_exp = tmp_path / "e.toml"
    csv_exp.write_text(f'scenario = "baseline"\ndesign = "list"\ncsv = "{fifo}"\n')
    for args in (["params", str(fifo)], ["sweep", str(csv_exp)], ["params", "/dev/zero"]):
        proc = subprocess.run(
            [sys.executable, "-m", "improvesim", *args], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert proc.returncode == 2 and "not a regular" in proc.stderr and "Traceback" not in proc.stderr


def test_a_file_over_the_size_limit_is_refused_unread(here, capsys, monkeypatch):
    monkeypatch.setattr(params_module, "MAX_INPUT_BYTES", 1000)
    write(here / "big.toml", "# " + "x" * 2000 + "\n")
    refused(capsys, "params", "big.toml", says=("big.toml: is 2,003 bytes; allowed: a scenario file of at most 1,000",))


# --- 6. seeds -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", ["-1", str(2**64), str(2**63)])
@pytest.mark.parametrize(
    "args",
    [
        ["compare", "plans/deep_bench", "plans/grant_only", "--replicates", "2", "--out", "c", "--seed"],
        ["validate", "--replicates", "2", "--out", "v", "--seed"],
        ["explain", "tiny.toml", "--school", "0", "--run-seed"],
    ],
)
def test_seeds_out_of_range_are_refused(here, capsys, args, seed):
    refused(capsys, *args, seed, says=(f"{args[-1]}: got {seed}", "allowed: an integer from 0 to"))
    nothing_but(here, "tiny.toml")


# --- 7. outcomes and output folders ----------------------------------------------------------


def test_an_outcome_named_twice_is_refused(here, capsys):
    path = experiment(
        here, 'design = "grid"\noutcomes = ["cost_total", "cost_total"]\n[parameters]\n"turnover.teacher" = [0.1]\n'
    )
    refused(capsys, "sweep", path, "--out", "s", says=("exp.toml: outcomes: cost_total named twice",))


@pytest.mark.parametrize(
    "out,says",
    [
        ("", "argument --out: got an empty path"),
        ("afile", "afile: exists and is not a folder"),
        ("afile/under", "is a file, not a folder"),
        ("/proc/improvesim-results", "cannot write in /proc"),
    ],
)
@pytest.mark.parametrize("command", ["run", "sweep", "compare", "validate"])
def test_an_output_folder_that_cannot_be_written_is_refused_first(here, capsys, out, says, command):
    (here / "afile").write_text("notes")
    args = {
        "run": ["run", "tiny.toml"],
        "sweep": ["sweep", experiment(here, 'design = "grid"\n[parameters]\n"turnover.teacher" = [0.1]\n')],
        "compare": ["compare", "plans/deep_bench", "plans/grant_only", "--replicates", "2"],
        "validate": ["validate", "--replicates", "2"],
    }[command]
    refused(capsys, *args, "--out", out, says=(says,))
    assert (here / "afile").read_text() == "notes"


def in_namespace(script: str) -> subprocess.CompletedProcess:
    """Run a shell script as root in a private mount namespace (mounts vanish with it)."""
    return subprocess.run(["unshare", "-m", "sh", "-ec", script], capture_output=True, text=True, timeout=300)


def _namespaces_usable() -> str:
    if os.geteuid() != 0:
        return "needs root to mount a tmpfs in a private mount namespace"
    if shutil.which("unshare") is None:
        return "needs unshare (util-linux)"
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    if probe.returncode:
        return f"cannot mount a tmpfs in a private mount namespace here: {probe.stderr.decode().strip()}"
    return ""


NO_NAMESPACE = _namespaces_usable()


def on_a_tmpfs(tmp_path: Path, mount: str, fill: str, args: str) -> tuple[Path, subprocess.CompletedProcess]:
    """``improvesim ARGS --out $M/results`` with a tmpfs mounted (``mount``: its options) at
    ``$M`` = tmp_path/mnt in a private namespace, after the shell command ``fill``; the command
    must fail with exit status 2 (printed, then ``ls -A $M``).  Returns ($M, the process)."""
    target = tmp_path / "mnt"
    target.mkdir()
    proc = in_namespace(
        f"M={target}; mount -t tmpfs {mount} tmpfs $M; {fill or 'true'}; "
        f"{sys.executable} -m improvesim {args} --out $M/results || echo exit $?; ls -A $M"
    )
    assert proc.returncode == 0 and "exit 2" in proc.stdout, proc.stderr
    return target, proc


@pytest.mark.skipif(bool(NO_NAMESPACE), reason=NO_NAMESPACE or "usable")
@pytest.mark.parametrize(
    "mount,fill,says",
    [
        ("-o ro,size=1m", "", "Read-only file system"),
        ("-o size=64k", "dd if=/dev/zero of=$M/fill bs=4k 2>/dev/null || true", "cannot write in"),
        ("-o size=1m", "", "MB free"),  # writable, but less room than a run's results need
    ],
)
@pytest.mark.parametrize("command", ["run", "sweep"])
def test_a_read_only_or_full_file_system_is_found_before_computing(tmp_path, mount, fill, says, command):
    (tmp_path / "tiny.toml").write_text(TINY)
    exp = experiment(tmp_path, 'design = "grid"\n[parameters]\n"turnover.teacher" = [0.1]\n')
    args = {"run": f"run {tmp_path / 'tiny.toml'}", "sweep": f"sweep {exp} --quiet --workers 1"}[command]
    target, proc = on_a_tmpfs(tmp_path, mount, fill, args)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"improvesim {command}: error: --out:") and says in lines[0], (
        proc.stderr
    )
    assert "results" not in proc.stdout.split()  # nothing created in the file system
    assert "runs in" not in proc.stdout and "computed" not in proc.stdout  # nothing computed


@pytest.mark.skipif(bool(NO_NAMESPACE), reason=NO_NAMESPACE or "usable")
def test_a_file_system_that_fills_while_the_results_are_written_is_reported_in_one_line(tmp_path):
    """Room enough at the check (16 MB), not for 600 runs' results (about 45 MB): the write fails
    part-way.  It printed pyarrow's traceback; now one line and exit status 2, nothing left behind."""
    fill = "dd if=/dev/zero of=$M/fill bs=1M count=7 2>/dev/null"
    target, proc = on_a_tmpfs(tmp_path, "-o size=24m", fill, "run baseline --replicates 600")
    assert proc.stderr == (
        f"improvesim run: error: --out: {target}/results: the results could not be written (No space left on "
        f"device); nothing was written and {target}/results is as it was; allowed: a folder with room for them\n"
    )
    assert proc.stdout.split()[-2:] == ["2", "fill"]  # nothing but the filler left in the file system


def test_every_command_s_staged_results_report_a_folder_that_stops_taking_files(tmp_path):
    """:func:`staged_folder` is where every command writes its results: a full disk, a quota, a
    file system gone read-only or a file too large becomes one message naming the folder."""
    import errno

    from improvesim.experiments.output import NO_ROOM, OutputNotWritableError, staged_folder

    target = tmp_path / "results"
    for number in sorted(NO_ROOM):
        says = f"--out: {target}: the results could not be written"
        with pytest.raises(OutputNotWritableError, match=says), staged_folder(target) as stage:
            (stage / "part.txt").write_text("half")
            raise OSError(number, os.strerror(number))
        nothing_but(tmp_path)
    with pytest.raises(FileNotFoundError), staged_folder(target):  # anything else is not the output's fault
        raise FileNotFoundError(errno.ENOENT, "an input")
    nothing_but(tmp_path)


#: A tiny study of each command that analyses its runs into the store: its experiment's keys and
#: parameters, and a file of its analysis.
STUDIES = {
    "sensitivity": (
        'design = "morris"\nsamples = 8\nreplicates = 1\n',
        '[parameters]\n"turnover.teacher" = { min = 0.1, max = 0.3 }\n',
        "sensitivity/report.md",
    ),
    "frontier": (
        'design = "grid"\noutcomes = ["institutionalized_share", "cost_total"]\n',
        '[parameters]\n"time.integrated" = [0.3, 0.9]\n',
        "frontier/frontier.csv",
    ),
}


def _disk_full(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _ctrl_c(*args, **kwargs):
    signal.raise_signal(signal.SIGINT)


def _ctrl_c_a_library_turned_into_its_own_error(*args, **kwargs):
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        raise RuntimeError("a library's own error") from None


@pytest.mark.parametrize(
    "command,fault,says,status",
    [
        ("sensitivity", _disk_full, "room for them; the runs are kept in {store}/: make room, then", 2),
        ("frontier", _disk_full, "room for them; the runs are kept in {store}/: make room, then", 2),
        ("sensitivity", _ctrl_c, "interrupted during the analysis; the runs are kept in {store}/;", 130),
        (
            "sensitivity",
            _ctrl_c_a_library_turned_into_its_own_error,
            "interrupted during the analysis; the runs are kept in {store}/;",
            130,
        ),
    ],
)
def test_an_analysis_cut_off_says_the_runs_are_kept_and_resume_analyses_them(
    here, capsys, monkeypatch, command, fault, says, status
):
    """A study's runs are saved; its analysis (written into the store) meets a full disk or Ctrl-C:
    the one line said nothing of the runs ("interrupted; nothing was written" after Ctrl-C, found by
    a break-test).  It now says they are kept and gives the command that analyses them again; that
    command computes no run."""
    from improvesim import sensitivity
    from improvesim.analysis import plots

    top, parameters, analysis = STUDIES[command]
    path, store = experiment(here, top + TINY_SET + parameters), here / "store"
    writer = (sensitivity, "_write_tables") if command == "sensitivity" else (plots, "frontier_plot")
    with monkeypatch.context() as patched:
        patched.setattr(*writer, fault)
        code, out, err = cli(capsys, command, path, "--out", store, "--workers", 1, "--quiet")
    (line,) = err.strip().splitlines()
    assert code == status and "ok, 0 failed" in out and says.format(store=store) in line, (out, err)
    again = f"improvesim {command} {path} --out {store} --resume --workers 1"
    assert line.endswith(f"analyse them with: {again}"), line
    code, out, err = cli(capsys, *again.split()[1:], "--quiet")
    assert code == 0 and "0 computed" in out and (store / analysis).is_file(), (out, err)


# --- 8. the Dask scheduler --------------------------------------------------------------------


def test_a_scheduler_that_is_not_an_address_is_refused(here, capsys):
    path = experiment(here, 'design = "grid"\n[parameters]\n"turnover.teacher" = [0.1]\n')
    refused(
        capsys,
        "sweep",
        path,
        "--out",
        "s",
        "--scheduler",
        "not an address",
        says=("--scheduler: got 'not an address'",),
    )
    refused(capsys, "sweep", path, "--out", "s", "--scheduler", "tcp://127.0.0.1:99999", says=("--scheduler:",))
    nothing_but(here, "tiny.toml", "exp.toml")


def test_an_unreachable_scheduler_is_refused_before_the_store_is_created(here, capsys):
    with socket.socket() as sock:  # a port on this machine that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = experiment(here, 'design = "grid"\n[parameters]\n"turnover.teacher" = [0.1]\n')
    refused(
        capsys, "sweep", path, "--out", "s", "--scheduler", f"tcp://127.0.0.1:{port}", says=("no scheduler answers",)
    )
    nothing_but(here, "tiny.toml", "exp.toml")


# --- 9. sizes -------------------------------------------------------------------------------------


GRID_20_8 = "".join(
    f'"{name}" = [{", ".join(f"{0.01 * i:.2f}" for i in range(20))}]\n'
    for name in (
        "turnover.teacher",
        "turnover.principal",
        "turnover.lead",
        "turnover.coach",
        "time.integrated",
        "messaging.why_framing",
        "succession.deep_bench",
        "knowledge.management",
    )
)
TWO_RANGES = '"turnover.teacher" = { min = 0.0, max = 0.5 }\n"turnover.coach" = { min = 0.0, max = 0.5 }\n'


@pytest.mark.parametrize(
    "body,key,runs",
    [
        ('design = "grid"\n[parameters]\n' + GRID_20_8, "[parameters]", "25,600,000,000 runs"),
        (
            'design = "lhs"\nsamples = 10000000\nreplicates = 5\n[parameters]\n' + TWO_RANGES,
            "samples",
            "50,000,000 runs",
        ),
        ('design = "sobol"\nsamples = 8388608\n[parameters]\n' + TWO_RANGES, "samples", "50,331,648 runs"),
    ],
)
def test_a_study_too_big_for_memory_is_refused_with_the_estimate_and_the_limit(
    here, capsys, monkeypatch, body, key, runs
):
    # the limit is half of 24 GB whatever this machine has free now
    monkeypatch.setattr("improvesim.experiments.design.available_memory", lambda: 24 * 2**30)
    line = refused(
        capsys, "sweep", experiment(here, body), "--out", "s", "--workers", "2", says=(f"exp.toml: {key}:", runs)
    )
    assert "GB of memory; allowed: at most 12.0 GB (half the memory available now)" in line
    nothing_but(here, "tiny.toml", "exp.toml")


@pytest.mark.parametrize("option", ["--workers", "--dask-local"])
def test_a_study_that_fits_with_fewer_workers_names_the_option_and_the_most_that_fit(here, capsys, monkeypatch, option):
    """Too many workers for the memory: the line named the design's ``samples`` (found by a
    break-test with --workers 64); it names the option and the most workers that fit, and that
    many fit (one more does not)."""
    monkeypatch.setattr("improvesim.experiments.design.available_memory", lambda: 24 * 2**30)
    path = experiment(here, 'design = "grid"\n[parameters]\n"turnover.teacher" = [0.1]\n')
    line = refused(capsys, "sweep", path, "--out", "s", option, "4096", says=(f"error: {option}: 4096 workers",))
    most = int(line.rsplit("use at most ", 1)[1].split()[0])
    check_size(load_experiment(path), most, available=24 * 2**30)
    with pytest.raises(ParameterError, match=f"use at most {most} workers"):
        check_size(load_experiment(path), most + 1, available=24 * 2**30)
    nothing_but(here, "tiny.toml", "exp.toml")


def test_a_million_run_study_that_fits_is_accepted(tmp_path):
    path = tmp_path / "million.toml"
    path.write_text(
        'scenario = "baseline"\ndesign = "lhs"\nsamples = 100000\nreplicates = 10\n[parameters]\n' + TWO_RANGES
    )
    exp = load_experiment(path)
    size = check_size(exp, workers=2, available=8 * 2**30)  # a machine with 8 GB free
    assert size.runs == 1_000_000 and size.peak_bytes < 4 * 2**30


def test_the_estimate_covers_the_memory_the_plan_takes(tmp_path):
    """The plan-side estimate (no workers, less the process's own base) is at least what building the design,
    the plan and its Arrow table (kept for plan.parquet and the manifest) allocates, measured with tracemalloc,
    and not wildly more."""
    import tracemalloc

    from improvesim.experiments.design import BASE_BYTES

    path = tmp_path / "e.toml"
    path.write_text(
        'scenario = "baseline"\ndesign = "sobol"\nsamples = 1024\nreplicates = 4\n[parameters]\n' + TWO_RANGES
    )
    exp = load_experiment(path)
    make_plan(exp, build_design(exp)).arrow()  # imports and caches outside the measurement
    tracemalloc.start()
    plan = make_plan(exp, build_design(exp))
    plan.arrow()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    estimate = estimate_size(exp, workers=0).peak_bytes - BASE_BYTES
    assert plan.runs == 1024 * 6 * 4 and peak <= estimate <= 10 * peak


# --- 10. compare -------------------------------------------------------------------------------------


def test_compare_refuses_plans_shorter_than_three_years_before_simulating(here, capsys):
    (here / "a.toml").write_text(TINY.replace("years = 1", "years = 2"))
    (here / "b.toml").write_text(
        TINY.replace("years = 1", "years = 2").replace("[district]", "[coaching]\ncoaches = 2\n[district]")
    )
    refused(
        capsys,
        "compare",
        "a.toml",
        "b.toml",
        "--base",
        "tiny.toml",
        "--replicates",
        "2",
        "--out",
        "c",
        says=("run.years: got 2", "at least 3"),
    )
    nothing_but(here, "tiny.toml", "a.toml", "b.toml")


def test_compare_refuses_a_condition_named_twice(here, capsys):
    refused(
        capsys,
        "compare",
        "plans/deep_bench",
        "plans/grant_only",
        "--conditions",
        "typical,typical",
        "--out",
        "c",
        says=("--conditions: typical named twice",),
    )


def test_names_with_dollar_signs_reach_the_figures_as_written(here, capsys):
    three = TINY.replace("years = 1", "years = 3")
    (here / "$\\frac$.toml").write_text('name = "$\\\\frac{a}$ plan"\n' + three)
    (here / "b.toml").write_text('name = "$x^2"\n' + three.replace("[district]", "[coaching]\ncoaches = 2\n[district]"))
    code, _, err = cli(
        capsys, "compare", "$\\frac$.toml", "b.toml", "--replicates", "2", "--conditions", "typical", "--out", "c"
    )
    assert code == 0, err
    assert "$\\frac{a}$ plan" in (here / "c" / "report.html").read_text()
    scenario = here / "$\\frac$ run.toml"
    scenario.write_text(TINY)
    code, _, err = cli(capsys, "run", scenario, "--out", "r", "--no-schools")
    assert code == 0 and (here / "r" / "trajectories.png").stat().st_size > 0, err


# --- 11. replay and resume -------------------------------------------------------------------------


def test_replay_of_an_empty_plan_folder_is_refused(here, capsys):
    (here / "store" / "plan.parquet").mkdir(parents=True)
    refused(capsys, "app", "--replay", "store:0", says=("--replay: store: not a sweep store",))
    (here / "store" / "experiment.json").write_text("{}")
    refused(capsys, "app", "--replay", "store:0", says=("--replay: store: plan.parquet lacks the columns",))
    refused(capsys, "app", "--replay", "store:x", says=("store:x: expected STORE:RUN_ID",))


@pytest.fixture(scope="module")
def small_store(tmp_path_factory):
    """A finished sweep of 3 chunks, and its experiment file."""
    folder = tmp_path_factory.mktemp("store")
    (folder / "tiny.toml").write_text(TINY)
    path = experiment(folder, 'design = "grid"\nchunk = 2\n[parameters]\n"turnover.teacher" = [0.1, 0.2, 0.3]\n')
    store = folder / "store"
    assert main(["sweep", str(path), "--out", str(store), "--quiet", "--workers", "1"]) == 0
    return path, store


def test_resume_recomputes_a_chunk_whose_outcomes_part_is_empty(small_store, tmp_path, capsys):
    path, store = small_store
    copy = tmp_path / "copy"
    shutil.copytree(store, copy)
    part = copy / "parts" / "outcomes-00001.parquet"
    part.write_bytes(b"")
    code, out, err = cli(capsys, "sweep", path, "--out", copy, "--resume", "--quiet", "--workers", "1")
    assert code == 0 and "1 computed" in out, (out, err)
    assert part.read_bytes() == (store / "parts" / "outcomes-00001.parquet").read_bytes()


# --- 12. messages name the file and the key ----------------------------------------------------------


@pytest.mark.parametrize(
    "body,says",
    [
        ('scenario = ""\ndesign = "grid"\n', "exp.toml: scenario: got ''; allowed:"),
        ('scenario = "no/such.toml"\ndesign = "grid"\n', 'exp.toml: scenario: "no/such.toml": no such scenario file'),
        ('scenario = 5\ndesign = "grid"\n', "exp.toml: scenario: got 5; allowed:"),
        ('scenario = "baseline"\ndesign = "list"\ncsv = 5\n', "exp.toml: csv: got 5; allowed: the path of a CSV file"),
        ('scenario = "baseline"\ndesign = "list"\ncsv = ""\n', "exp.toml: csv: got ''"),
        ('scenario = "baseline"\ndesign = "list"\ncsv = "none.csv"\n', "none.csv': no such CSV file"),
    ],
)
def test_messages_name_the_experiment_file_and_the_key(here, capsys, body, says):
    (here / "exp.toml").write_text(body)
    refused(capsys, "sweep", "exp.toml", "--out", "s", says=(says,))
    nothing_but(here, "tiny.toml", "exp.toml")


def test_a_file_name_with_a_line_break_still_gives_one_line(here, capsys):
    refused(capsys, "run", "no\nsuch.toml", "--out", "o", says=("no\\nsuch.toml",))


def test_bundled_inputs_still_load(capsys):
    from improvesim.analysis.calibration import is_calibration, load_calibration

    for path in sorted((ROOT / "experiments").glob("*.toml")):
        if is_calibration(path):  # a calibration experiment (improvesim calibrate), not a sweep
            assert load_calibration(path).calibrated
            refused(capsys, "sweep", path, "--out", "never", says=(str(path), "improvesim calibrate"))
            continue
        assert build_design(load_experiment(path)).sets > 0
    assert json.loads(json.dumps(load_scenario("baseline").as_nested()))


@pytest.mark.parametrize(
    "args,says",
    [
        (["params", "y" * 5000], "no such scenario file"),
        (["run", "tiny.toml", "--out", "z" * 300], "--out: "),
        (["run", "tiny.toml", "--out", "z/" * 3000], "File name too long"),
    ],
)
def test_names_the_system_cannot_look_up_are_refused(here, capsys, args, says):
    refused(capsys, *args, says=(says,))
    nothing_but(here, "tiny.toml")


def test_files_named_in_an_experiment_that_the_system_cannot_look_up_are_refused(here, capsys):
    (here / "exp.toml").write_text(f'scenario = "{"x" * 5000}"\ndesign = "grid"\n')
    refused(capsys, "sweep", "exp.toml", says=("exp.toml: scenario:", "no such scenario file"))
    (here / "exp.toml").write_text(f'scenario = "tiny.toml"\ndesign = "list"\ncsv = "{"y" * 5000}"\n')
    refused(capsys, "sweep", "exp.toml", says=("exp.toml: csv:", "File name too long"))


def test_a_comparison_too_big_for_memory_is_refused_before_simulating(here, capsys, monkeypatch):
    from improvesim.analysis.compare import load_plan
    from improvesim.compare import memory_needed

    monkeypatch.setattr("improvesim.experiments.design.available_memory", lambda: 8 * 2**30)
    plans = ["plans/deep_bench", "plans/grant_only", "plans/integrated_time", "plans/knowledge_plan"]
    loaded = [load_plan(p) for p in plans]
    assert memory_needed(loaded, ["low", "typical", "high"], 100_000) > 4 * 2**30  # so no simulation can start
    assert memory_needed(loaded, ["low", "typical", "high"], 50) < 2**30  # the default fits
    line = refused(capsys, "compare", *plans, "--replicates", "100000", "--out", "c", says=("--replicates:",))
    assert "4 plans x 3 conditions x 100,000 replicates need about" in line and "at most 4.0 GB" in line
    nothing_but(here, "tiny.toml")
