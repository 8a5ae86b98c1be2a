"""improvesim as a package: a wheel that installs and runs from any folder, one import package, a tour that works.

The wheel test builds the wheel from a copy of the checkout, installs it into
a fresh virtual environment outside the checkout (dependencies come through
pip's cache) and uses it from an empty folder, as a new user would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT, RUN_FILES

#: The folders that are installed inside improvesim and must never load under their own names.
FOLDERS = ("sim", "analysis", "experiments", "scenarios")


def _copy_of_checkout(into: Path) -> Path:
    """The checkout's files, less what git ignores (a build writes build/ and *.egg-info beside its sources)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in files.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, empty working folder) with the wheel installed."""
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the checkout's files")
    base = tmp_path_factory.mktemp("wheel")
    source = _copy_of_checkout(base / "source")
    dist = base / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, source],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("improvesim-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run(
        [
            venv / "bin" / "python",
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            wheel,
        ],
        check=True,
        capture_output=True,
    )
    empty = base / "empty"
    empty.mkdir()
    return venv / "bin", empty


def _in(bin_dir: Path, cwd: Path, *args, timeout=600) -> subprocess.CompletedProcess:
    """A command of the installed wheel, with a kernel cache of its own (so its first run compiles)."""
    env = {**os.environ, "XDG_CACHE_HOME": str(bin_dir.parent.parent / "cache")}
    env.pop("NUMBA_CACHE_DIR", None)
    return subprocess.run(
        [str(bin_dir / args[0]), *map(str, args[1:])], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_the_wheel_runs_from_an_empty_folder(installed):
    bin_dir, empty = installed
    run = _in(bin_dir, empty, "improvesim", "run", "baseline", "--replicates", 2, "--out", "X")
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("improvesim: compiling the model for this machine"), run.stderr
    listed = _in(
        bin_dir, empty, "python", "-c", "import improvesim.sim.precompile as p; print(len(p.load_signatures()))"
    )
    assert int(listed.stdout) >= 20, listed.stderr  # the wheel holds the list the first use compiles from
    assert sorted(p.name for p in (empty / "X").iterdir()) == RUN_FILES
    assert json.loads((empty / "X" / "summary.json").read_text())["replicates"] == 2
    version = _in(bin_dir, empty, "improvesim", "--version")
    assert version.returncode == 0 and version.stdout.startswith("improvesim ")
    params = _in(bin_dir, empty, "improvesim", "params", "plans/deep_bench")
    assert params.returncode == 0 and "succession.deep_bench" in params.stdout
    validate = _in(bin_dir, empty, "improvesim", "validate", "--replicates", 2, "--out", "V")
    assert validate.returncode in (0, 1) and "Traceback" not in validate.stderr, validate.stderr
    assert "compiling" not in validate.stderr  # compiled once, by the first run
    assert (empty / "V" / "validation.md").exists()
    sweep = _in(bin_dir, empty, "improvesim", "sweep", "nope")
    assert sweep.returncode == 2 and "bundled: calibrate_viano2024" in sweep.stderr


def test_the_wheel_is_one_import_package(installed):
    bin_dir, empty = installed
    ok = _in(bin_dir, empty, "python", "-c", "import improvesim.sim, improvesim; print(improvesim.DistrictModel)")
    assert ok.returncode == 0 and "improvesim.sim.model.DistrictModel" in ok.stdout, ok.stderr
    for folder in FOLDERS:
        proc = _in(bin_dir, empty, "python", "-c", f"import {folder}")
        assert proc.returncode != 0 and f"No module named '{folder}'" in proc.stderr, folder
    site = _in(
        bin_dir,
        empty,
        "python",
        "-c",
        "import improvesim, pathlib; print(pathlib.Path(improvesim.__file__).parents[1])",
    )
    top = sorted(p.name for p in Path(site.stdout.strip()).iterdir() if p.name.split("-")[0].split(".")[0] in FOLDERS)
    assert top == [], top
    # the workshop page's tiles are a Vue template, package data of improvesim
    vue = _in(
        bin_dir,
        empty,
        "python",
        "-c",
        "import improvesim.app as a, pathlib; print(pathlib.Path(a.__file__).with_name('tiles.vue').is_file())",
    )
    assert vue.stdout.strip() == "True", vue.stderr


def test_the_wheel_serves_the_workshop_page(installed):
    bin_dir, empty = installed
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = subprocess.Popen(
        [bin_dir / "improvesim", "app", "--port", str(port)],
        cwd=empty,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline, status = time.monotonic() + 120, None
        while time.monotonic() < deadline and page.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    status = response.status
                    break
            except OSError:
                time.sleep(0.5)
        assert status == 200, page.stderr.read().decode() if page.poll() is not None else "no answer"
    finally:
        os.killpg(page.pid, 15)
        page.wait(timeout=30)


SITECUSTOMIZE = """
import atexit, os, sys

def _record():
    folder = os.environ["IMPROVESIM_MODULES_OUT"]
    tops = sorted({name.split(".")[0] for name in sys.modules} | {name for name in sys.modules if name.startswith("improvesim.")})
    with open(os.path.join(folder, f"{os.getpid()}.txt"), "w") as out:
        out.write("\\n".join(tops))

atexit.register(_record)
"""


#: ``improvesim`` with its arguments, run while another thread waits.
SWEEP_WITH_A_THREAD = """
import sys, threading
threading.Thread(target=threading.Event().wait, daemon=True).start()
from improvesim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_no_folder_loads_under_its_own_name_in_a_sweep_with_spawned_workers(tmp_path):
    """Every process of a sweep (the parent and each spawned worker) loads the model only as improvesim.sim.

    The parent runs another thread, so its workers are spawned (they import the model again),
    not forked (experiments.sweep.start_method)."""
    hook, record = tmp_path / "hook", tmp_path / "modules"
    hook.mkdir()
    record.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    (tmp_path / "e.toml").write_text(
        'scenario = "baseline"\ndesign = "grid"\nreplicates = 2\n'
        '[set]\n"run.years" = 2\n[parameters]\n"coaching.coaches" = [2, 4, 6]\n'
    )
    env = {**os.environ, "PYTHONPATH": str(hook), "IMPROVESIM_MODULES_OUT": str(record)}
    proc = subprocess.run(
        [sys.executable, "-c", SWEEP_WITH_A_THREAD, "sweep", "e.toml", "--workers", "2", "--out", "S", "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = [set(p.read_text().split()) for p in record.glob("*.txt")]
    workers = [m for m in loaded if "improvesim.sim.engine" in m]
    assert len(workers) >= 2, "the parent and at least one worker ran the model"
    for modules in loaded:
        assert not modules & set(FOLDERS), modules & set(FOLDERS)


def _tour_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## A short tour\n\n```bash\n(.*?)```", readme, re.S).group(1)
    lines = [line.split("  #")[0].strip() for line in block.splitlines()]
    return [line for line in lines if line.startswith("improvesim ")]


def test_the_readme_tour_works_as_written_in_order(tmp_path):
    """After `make run` (its results/baseline), every command of the tour succeeds, in order, in a new folder."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    make_run = subprocess.run(  # what `make run` leaves: results/baseline/
        ["improvesim", "run", "baseline", "--force", "--no-schools"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert make_run.returncode == 0, make_run.stderr
    commands = _tour_commands()
    assert len(commands) >= 10
    for command in commands:
        proc = subprocess.run(command, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-2000:]}"
        assert "Traceback" not in proc.stderr, command
