"""The ``improvesim`` command line.

    improvesim run SCENARIO [--out DIR] [--seed N] [--replicates R] [--set section.key=value ...] [--workers N] [--force]
    improvesim params [SCENARIO] [--format table|json|toml]
    improvesim sweep EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS [--shared-store]]
    improvesim sensitivity EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS [--shared-store]]
    improvesim sensitivity --from STORE
    improvesim compare PLAN... [--base SCENARIO] [--replicates R] [--seed N] [--conditions low,typical,high] [--outcome O] [--wtp LIST] [--discover EXPERIMENT] [--out DIR] [--force]
    improvesim frontier EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS [--shared-store]]
    improvesim calibrate EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS] [--sbc N]
    improvesim discover STORE --outcome NAME (--below X | --above X) [--share S] [--min-coverage C] [--out DIR] [--force]
    improvesim validate [--replicates R] [--seed N] [--out DIR] [--force] [--posterior FILE]
    improvesim explain SCENARIO --school ID [--seed N] [--replicate K | --run-seed S] [--set section.key=value ...]
    improvesim explain --replay STORE:RUN_ID --school ID
    improvesim app [--port P] [--host H] [--replay STORE:RUN_ID]
    improvesim outcomes

Bad input (unknown key, value out of range or of the wrong type, a missing
file, malformed TOML, a bad ``--set``) prints one clear message naming the
file and the key and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from improvesim import __version__
from improvesim.experiments.output import OutputExistsError, OutputNotWritableError, out_of_room, staged_folder
from improvesim.sim.params import ParameterError, Params, defaults, load_scenario, one_line, parse_assignment
from improvesim.sim.schema import BY_NAME

EXIT_BAD_INPUT = 2
#: Seconds to wait for a Dask scheduler to answer before refusing ``--scheduler``.
SCHEDULER_TIMEOUT = 5.0


class UsageError(Exception):
    """Bad input that is not about a parameter (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (``improvesim run: error: ...``) and exit status 2, like every bad input."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _assignment(text: str) -> str:
    """An ``--set`` value as typed: it must hold ``=`` (checked fully, against the schema, later)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(
            f"expected section.key=value, got {text!r}; write --set {text}=VALUE, with no spaces around ="
        )
    return text


def _port(text: str) -> int:
    """A TCP port number as typed."""
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a port number from 1 to 65535")
    return int(text)


class Interrupted(Exception):
    """A long command was interrupted; ``message`` says what was saved and how to go on."""

    def __init__(self, message: str, cause: BaseException):
        super().__init__(message)
        self.cause = cause


def _interrupted_status(cause: BaseException) -> int:
    """The exit status for an interrupted command: 143 for SIGTERM, 130 for Ctrl-C, 2 when the
    output folder stopped taking files (full, or made read-only: as when it is refused up front)."""
    from improvesim.experiments.lifeline import Terminated
    from improvesim.experiments.store import PartNotWritten

    _forget_unhandled_interrupt()
    if isinstance(cause, Terminated):
        return 128 + 15
    if isinstance(cause, PartNotWritten):
        return EXIT_BAD_INPUT
    return 130 if isinstance(cause, KeyboardInterrupt) else 1


def _forget_unhandled_interrupt() -> None:
    """Clear CPython's note that an interrupt went unhandled, once this program has handled it.

    If the interrupt first passed through code run from a string (``exec``
    of a string or ``PyRun_String``, as some libraries do while they are
    imported), CPython 3.12 notes it as unhandled and, under ``python -m``,
    ends the process by SIGINT at exit whatever status it was given.  Every
    string run resets the note first, so running an empty one clears it.
    """
    import ctypes

    ctypes.pythonapi.PyRun_SimpleString(b"")


def out_folder(text: str) -> Path:
    """``--out``: a folder path; empty text is refused (it would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("got an empty path; allowed: a folder to write the results in")
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(
            f"got {text!r}, which the file system cannot encode; allowed: a folder name in valid text"
        ) from None
    return Path(text)


def check_seed(value: int | None, flag: str) -> None:
    """Refuse a seed outside run.seed's range (0 to 2**63 - 1), naming ``flag``."""
    low, high = BY_NAME["run.seed"].low, BY_NAME["run.seed"].high
    if value is not None and not low <= value <= high:
        raise UsageError(f"{flag}: got {value}; allowed: an integer from {low} to {high} (2**63 - 1)")


def check_scheduler(address: str) -> None:
    """Refuse, before anything is created, a ``--scheduler`` that is not an address or does not answer
    within :data:`SCHEDULER_TIMEOUT` seconds."""
    import socket

    from distributed.comm.addressing import get_address_host_port

    try:
        host, port = get_address_host_port(address if "://" in address else f"tcp://{address}")
    except ValueError as exc:
        raise UsageError(
            f"--scheduler: got {address!r} ({exc}); allowed: a Dask scheduler's address, e.g. tcp://10.0.0.5:8786"
        ) from None
    try:
        socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT).close()
    except (OSError, OverflowError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise UsageError(
            f"--scheduler: {address}: no scheduler answers there ({reason}); allowed: the address of a running "
            "Dask scheduler"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="improvesim",
        description="Simulate how school districts adopt continuous improvement, and why it fades.",
    )
    parser.add_argument("--version", action="version", version=f"improvesim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="simulate a scenario's replicates and write results")
    run.add_argument("scenario", help="scenario file (TOML), or a bundled scenario's name, e.g. baseline")
    run.add_argument("--out", type=out_folder, help="output folder (default results/<scenario name>/)")
    run.add_argument("--seed", type=int, help="seed (overrides run.seed)")
    run.add_argument("--replicates", type=int, help="replicates (overrides run.replicates)")
    run.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        type=_assignment,
        metavar="SECTION.KEY=VALUE",
        help="override one parameter; may be repeated",
    )
    run.add_argument("--force", action="store_true", help="replace results already in the output folder")
    run.add_argument("--no-schools", action="store_true", help="skip schools.parquet (per-school monthly rows)")
    run.add_argument("--workers", type=int, default=None, help="threads computing batches at once (default: all cores)")
    _add_posterior_option(run)

    params = sub.add_parser("params", help="list every parameter with its value, range, unit, meaning and source")
    params.add_argument("scenario", nargs="?", help="scenario file or bundled name (default: the built-in defaults)")
    params.add_argument("--format", choices=("table", "json", "toml"), default="table")

    sweep = sub.add_parser("sweep", help="run an experiment (grid, lhs, sobol, morris or list) into a result store")
    sweep.add_argument(
        "experiment", help="experiment file (TOML), or a bundled experiment's name, e.g. turnover_coaching"
    )
    _add_engine_options(sweep)

    sens = sub.add_parser(
        "sensitivity", help="global sensitivity analysis: a Sobol' or Morris study, or --from a store"
    )
    sens.add_argument("experiment", nargs="?", help='experiment file with design = "sobol" or "morris"')
    sens.add_argument(
        "--from",
        dest="from_store",
        type=Path,
        metavar="STORE",
        help="analyse an existing sweep store with delta and PAWN indices (no sampling)",
    )
    _add_engine_options(sens)
    _add_posterior_option(sens)

    comp = sub.add_parser("compare", help="compare plans (scenario or plan files) with uncertainty and cost")
    comp.add_argument("plans", nargs="+", metavar="PLAN", help="plan files; the first is the reference")
    comp.add_argument("--base", help="scenario the plans change (default: each plan's base, else the baseline)")
    comp.add_argument("--replicates", type=int, default=50, help="replicates per plan and condition (default 50)")
    comp.add_argument("--seed", type=int, default=1)
    comp.add_argument(
        "--conditions",
        default="low,typical,high",
        help="comma-separated: low, typical, high (turnover), pandemic, high_demands",
    )
    comp.add_argument(
        "--outcome",
        default="institutionalized",
        help="outcome plans are chosen on, at the horizon: institutionalized (default), ever_institutionalized, "
        "at_least_partial, authentic",
    )
    comp.add_argument(
        "--wtp", help="willingness-to-pay grid per school for the acceptability curve: increasing dollars, 0,50000,..."
    )
    comp.add_argument(
        "--discover",
        metavar="EXPERIMENT",
        help="also find where each plan loses its advantage, over the uncertainties of this experiment "
        "(e.g. plan_conditions)",
    )
    comp.add_argument("--out", type=out_folder, default=Path("results/compare"))
    comp.add_argument("--force", action="store_true", help="replace a report already in --out")
    _add_posterior_option(comp)

    front = sub.add_parser("frontier", help="cost against institutionalization frontier over a sweep of levers")
    front.add_argument(
        "experiment", help="experiment file over levers; outcomes must include cost_total and institutionalized_share"
    )
    _add_engine_options(front)

    calib = sub.add_parser("calibrate", help="calibrate the screened constants by ABC-SMC (pyabc) on a case")
    calib.add_argument("experiment", help="calibration experiment file or bundled name, e.g. calibrate_viano2024")
    _add_engine_options(calib, store=False)
    calib.add_argument(
        "--sbc",
        type=int,
        metavar="N",
        help="simulation-based calibration check instead: N synthetic datasets (default --out results/<name>-sbc/)",
    )

    disc = sub.add_parser(
        "discover", help="scenario discovery (PRIM): in which region of a sweep does an outcome condition hold?"
    )
    disc.add_argument("store", type=Path, help="a sweep store (the folder improvesim sweep wrote)")
    disc.add_argument("--outcome", required=True, help="an outcome the store holds, e.g. institutionalized_share_y10")
    side = disc.add_mutually_exclusive_group(required=True)
    side.add_argument("--below", type=float, metavar="X", help="sets of interest have the outcome below X")
    side.add_argument("--above", type=float, metavar="X", help="sets of interest have the outcome above X")
    disc.add_argument(
        "--share",
        type=float,
        metavar="S",
        help="a set is of interest when at least this share of its replicates meet the condition "
        "(default: when the replicate mean meets it)",
    )
    disc.add_argument(
        "--min-coverage",
        type=float,
        default=0.5,
        metavar="C",
        help="the box is the densest peeling step with at least this coverage (default 0.5)",
    )
    disc.add_argument("--out", type=Path, help="output folder (default STORE/discovery-<outcome>/)")
    disc.add_argument("--force", action="store_true", help="replace an analysis already in --out")

    valid = sub.add_parser(
        "validate", help="run every validation pattern and print the table (pattern, observed, model, role)"
    )
    valid.add_argument(
        "--replicates", type=int, default=200, help="seeded replicates per pattern and arm (default 200)"
    )
    valid.add_argument("--seed", type=int, default=1)
    valid.add_argument(
        "--out", type=out_folder, default=Path("results/validation"), help="folder for validation.md and .csv"
    )
    valid.add_argument("--force", action="store_true", help="replace a table already in --out")
    _add_posterior_option(valid)

    explain = sub.add_parser("explain", help="tell the story of one school in one run")
    explain.add_argument("scenario", nargs="?", help="scenario file (TOML) or bundled name; not with --replay")
    explain.add_argument("--school", type=int, required=True, help="school index, from 0")
    explain.add_argument("--seed", type=int, help="seed as for `improvesim run` (default run.seed)")
    explain.add_argument("--replicates", type=int, help="replicates as for `improvesim run` (default run.replicates)")
    which = explain.add_mutually_exclusive_group()
    which.add_argument("--replicate", type=int, default=0, help="replicate of `improvesim run --seed` (default 0)")
    which.add_argument("--run-seed", type=int, help="a run's own seed (as in a sweep's plan.parquet)")
    explain.add_argument(
        "--set", dest="sets", action="append", default=[], type=_assignment, metavar="SECTION.KEY=VALUE"
    )
    explain.add_argument(
        "--replay", metavar="STORE:RUN_ID", help="run RUN_ID of a sweep store exactly (its stored parameters and seed)"
    )

    app = sub.add_parser("app", help="the workshop page: a live district in the browser")
    app.add_argument("--port", type=_port, default=8765, help="port to listen on, 1 to 65535 (default 8765)")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    app.add_argument("--replay", metavar="STORE:RUN_ID", help="show run RUN_ID of a sweep store exactly, as plan A")

    sub.add_parser("outcomes", help="list the end-of-run outcomes experiments can keep")
    return parser


def _add_posterior_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--posterior",
        metavar="FILE",
        help="each replicate draws the constants of this posterior (a file improvesim calibrate "
        "wrote, or a bundled name); constants the scenario, --set or the design sets keep their values",
    )


def posterior_of(args: argparse.Namespace):
    """The ``--posterior`` option's posterior (None when not given); bad input raises ParameterError."""
    from improvesim.sim.posterior import load_posterior

    return None if args.posterior is None else load_posterior(args.posterior)


def _add_engine_options(parser: argparse.ArgumentParser, store: bool = True) -> None:
    """The options of a command that computes on local workers or a Dask cluster; ``store``: it
    writes a sweep store (so --shared-store applies)."""
    parser.add_argument("--out", type=out_folder, help="result store (default results/<experiment name>/)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    parser.add_argument("--force", action="store_true", help="replace the results already in --out")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--dask-local", type=int, metavar="N", help="run on a local Dask cluster of N workers")
    engine.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    if store:
        parser.add_argument(
            "--shared-store",
            action="store_true",
            help="the --out folder is on a file system every --scheduler worker sees at the same path (a "
            "cluster's shared scratch): workers write their own result parts instead of sending results to "
            "this process (local workers and --dask-local always do)",
        )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


#: Options that set a run parameter directly, by the parameter they set.
RUN_OPTIONS = {"run.seed": "--seed", "run.replicates": "--replicates"}


def scenario_with_overrides(path: str | None, sets: Sequence[str], **options) -> Params:
    """Load a scenario (or the defaults) and apply ``--set`` overrides, then options such as ``--seed``.

    ``options`` maps a parameter of :data:`RUN_OPTIONS` to the option's value
    (None when not given).  A parameter given both ways is refused, and each
    value is checked under its own option's name.
    """
    params = defaults() if path is None else load_scenario(path)
    overrides = dict(parse_assignment(text) for text in sets)
    if overrides:
        params = params.with_overrides(overrides)
    for name, value in options.items():
        if value is None:
            continue
        if name in overrides:
            raise UsageError(f"{RUN_OPTIONS[name]} and --set {name}: give it once, one way or the other")
        params = params.with_overrides({name: value}, where=RUN_OPTIONS[name])
    return params


def cmd_run(args: argparse.Namespace) -> int:
    from improvesim.analysis.summary import summary_table
    from improvesim.analysis.validation import case_table
    from improvesim.experiments.output import check_writable, staged_folder
    from improvesim.scenario_run import simulate_into

    params = scenario_with_overrides(
        args.scenario, args.sets, **{"run.seed": args.seed, "run.replicates": args.replicates}
    )
    posterior = posterior_of(args)
    out = args.out if args.out is not None else Path("results") / params.name
    check_writable(out, args.force)
    seed, replicates = int(params["run.seed"]), int(params["run.replicates"])
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1:
        raise UsageError(f"--workers: got {workers}; allowed: at least 1")
    _compile_if_needed()
    started = time.perf_counter()
    with staged_folder(out, force=args.force) as stage:
        summary, _ = simulate_into(
            params,
            replicates,
            seed,
            stage,
            overrides=args.sets,
            record_schools=not args.no_schools,
            posterior=posterior,
            workers=workers,
        )
    elapsed = time.perf_counter() - started
    print(summary_table(summary))
    if "observed" in summary:
        print("\n" + case_table(summary["observed"], replicates))
    print(f"\nIntervals: {summary['intervals']}.")
    print(f"\n{replicates} runs in {elapsed:.2f} s; results in {out}/")
    return 0


def _compile_if_needed() -> None:
    """At the model's first use on this machine (no compiled kernels cached): one line on
    standard error, then its kernels compiled on every core (:mod:`improvesim.sim.precompile`)."""
    from improvesim.experiments.sweep import compile_kernels
    from improvesim.sim.precompile import kernels_cached

    if kernels_cached():
        return
    cores = os.cpu_count() or 1
    print(
        f"improvesim: compiling the model for this machine on {cores} core(s) (once per version; "
        "about 20-30 s on two cores)...",
        file=sys.stderr,
        flush=True,
    )
    compile_kernels(cores)


def cmd_params(args: argparse.Namespace) -> int:
    from improvesim.describe import as_json, as_table, as_toml

    params = defaults() if args.scenario is None else load_scenario(args.scenario)
    print({"table": as_table, "json": as_json, "toml": as_toml}[args.format](params))
    return 0


def _sweep(args: argparse.Namespace, exp) -> tuple[Path, int]:
    """Run the experiment's sweep as the options say; returns the store and an exit status."""
    import os

    from improvesim.experiments.design import check_size
    from improvesim.experiments.output import check_writable
    from improvesim.experiments.store import StoreError
    from improvesim.experiments.sweep import SweepInterrupted, run_sweep

    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1 or (args.dask_local is not None and args.dask_local < 1):
        raise UsageError("--workers and --dask-local need at least 1")
    if args.scheduler is not None:
        check_scheduler(args.scheduler)
    out = args.out if args.out is not None else Path("results") / exp.name
    check_writable(out, force=True)  # the store itself refuses results it should not replace or resume
    # local processes that hold a batch each: the pool's, Dask's local workers, or this one (a remote
    # scheduler's workers are on other machines)
    local = 0 if args.scheduler else (args.dask_local or (workers if workers > 1 else 1))
    check_size(exp, local, workers_option="--dask-local" if args.dask_local else "--workers")
    _compile_if_needed()
    try:
        summary = run_sweep(
            exp,
            out,
            workers=workers,
            resume=args.resume,
            force=args.force,
            dask_local=args.dask_local,
            scheduler=args.scheduler,
            shared_store=args.shared_store,
            progress=not args.quiet,
        )
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    except SweepInterrupted as exc:
        raise Interrupted(_interrupted_message(args, exc), exc.cause) from None
    already = summary.already_done
    print(
        f"{exp.name}: {summary.runs} runs: {summary.ok} ok, {summary.failed} failed, {summary.missing} missing; "
        f"{summary.computed_runs} computed in {summary.seconds:.1f} s ({summary.runs_per_second:.0f} runs/s)"
        + (f", {already} already done" if already else "")
        + f"; store {out}/"
    )
    for error in summary.errors:
        print(f"  failure: {error}")
    return out, (0 if summary.failed == 0 and summary.missing == 0 else 1)


def _interrupted_message(args: argparse.Namespace, exc) -> str:
    """What was saved where, and the exact command that finishes the sweep."""
    from improvesim.experiments.store import PartNotWritten, StoreNotShared

    # without --shared-store when the workers do not see the store: the results then come back here
    again = _resume_command(args, exc.store, exc.forced, shared_store=not isinstance(exc.cause, StoreNotShared))
    if isinstance(exc.cause, StoreNotShared):
        why = str(exc.cause)
    elif isinstance(exc.cause, PartNotWritten):
        why = f"{exc.cause}; make room there (or make it writable) first"
    elif isinstance(exc.cause, Exception):
        why = "worker processes kept dying (out of memory?)"
    else:
        why = "interrupted"
    where = (
        f"the new sweep's {exc.saved} of {exc.runs} finished runs are kept aside in {exc.folder}/ and the old "
        f"results in {exc.store}/ are untouched"
        if exc.forced
        else f"{exc.saved} of {exc.runs} runs are saved in {exc.store}/"
    )
    return f"{why}; {where}; finish with: {again}"


def _resume_command(args: argparse.Namespace, store: Path, forced: bool = False, shared_store: bool = True) -> str:
    """The command that finishes (or, once finished, analyses again) the sweep of ``args`` in ``store``
    (with its --shared-store, if it had one and ``shared_store``)."""
    again = ["improvesim", args.command, str(args.experiment), "--out", str(store), "--resume"]
    if forced:
        again.append("--force")
    for option in ("posterior", "workers", "dask_local", "scheduler"):
        value = getattr(args, option, None)
        if value is not None:
            again += [f"--{option.replace('_', '-')}", str(value)]
    if shared_store and getattr(args, "shared_store", False):
        again.append("--shared-store")
    return " ".join(again)


@contextlib.contextmanager
def _runs_kept(args: argparse.Namespace, store: Path) -> Iterator[None]:
    """Around what a command makes from a finished sweep's runs (its analysis, written into the
    store): when that cannot be written (a full disk: :class:`UsageError`) or is interrupted
    (Ctrl-C, SIGTERM, also one a library turned into another exception: :class:`Interrupted`),
    the one line says the runs are kept and gives the command that analyses them again without
    computing them."""
    from improvesim.experiments.lifeline import interrupt_received

    kept = f"the runs are kept in {store}/"
    again = _resume_command(args, store)
    stopped = f"interrupted during the analysis; {kept}; analyse them with: {again}"
    try:
        yield
    except OutputNotWritableError as exc:
        raise UsageError(f"{exc}; {kept}: make room, then analyse them with: {again}") from None
    except KeyboardInterrupt as exc:
        raise Interrupted(stopped, exc) from None
    except Exception:
        kind = interrupt_received()
        if kind is None:
            raise
        raise Interrupted(stopped, kind()) from None


def cmd_sweep(args: argparse.Namespace) -> int:
    from improvesim.experiments.spec import load_experiment

    return _sweep(args, load_experiment(args.experiment))[1]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from improvesim.analysis.sensitivity import SensitivityError, check_sample_size
    from improvesim.experiments.output import FolderLock
    from improvesim.experiments.spec import load_experiment
    from improvesim.sensitivity import analyse_any, analyse_study

    try:
        if args.from_store is not None:
            if args.experiment is not None:
                raise UsageError("give an experiment file or --from STORE, not both")
            if args.posterior is not None:
                raise UsageError("--posterior and --from STORE: the store's runs are already made; give one")
            if not (args.from_store / "experiment.json").is_file():
                raise UsageError(f"{args.from_store} is not a sweep store (no experiment.json)")
            with FolderLock(args.from_store, command="improvesim sensitivity --from"):
                folder, analysed = analyse_any(args.from_store)
        else:
            if args.experiment is None:
                raise UsageError("give an experiment file (design sobol or morris), or --from STORE")
            exp = load_experiment(args.experiment)
            if exp.design not in ("sobol", "morris"):
                raise UsageError(
                    f'{args.experiment}: design: got "{exp.design}"; sensitivity needs "sobol" or "morris" '
                    "(use --from STORE for delta and PAWN indices of other sweeps)"
                )
            check_sample_size(exp.design, exp.samples, where=f"{args.experiment}: samples")
            posterior = posterior_of(args)
            if posterior is not None:
                from dataclasses import replace

                exp = replace(exp, posterior=posterior)
            store, status = _sweep(args, exp)
            if status:
                print("some runs failed or are missing; analysing what there is", file=sys.stderr)
            with FolderLock(store, command="improvesim sensitivity"), _runs_kept(args, store):
                # (the analysis runs here: on this machine's cores, or as many as --workers gives)
                folder, analysed = analyse_study(
                    store, processes=min(args.workers or os.cpu_count() or 1, os.cpu_count() or 1)
                )
    except SensitivityError as exc:
        raise UsageError(str(exc)) from None
    if not analysed:
        print(
            f"improvesim sensitivity: no outcome could be analysed; the reasons are in {folder}/report.md",
            file=sys.stderr,
        )
        return 1
    print(f"analysis in {folder}/ (report.md)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from improvesim.compare import run_compare

    check_seed(args.seed, "--seed")
    posterior = posterior_of(args)  # refused before the compile notice: bad input gets one line
    _compile_if_needed()
    out = run_compare(
        args.plans,
        args.base,
        args.replicates,
        args.seed,
        args.conditions,
        args.out,
        args.force,
        args.outcome,
        args.wtp,
        command=args.command_line,
        discover=args.discover,
        posterior=posterior,
    )
    print(f"report in {out}/report.html")
    return 0


def cmd_frontier(args: argparse.Namespace) -> int:
    from improvesim.analysis.compare_report import money
    from improvesim.analysis.frontier import BEATS, COST, EFFECT, frontier
    from improvesim.analysis.plots import frontier_plot
    from improvesim.analysis.store import load_sweep
    from improvesim.experiments.spec import load_experiment

    exp = load_experiment(args.experiment)
    missing = [o for o in (COST, EFFECT) if o not in exp.outcomes]
    if missing:
        raise UsageError(f"{args.experiment}: outcomes: add {', '.join(missing)} (the frontier needs cost and effect)")
    if not exp.common_random_numbers:
        raise UsageError(
            f"{args.experiment}: common_random_numbers: got false; allowed: true (the frontier compares plans "
            "replicate by replicate, on shared seeds)"
        )
    store, status = _sweep(args, exp)
    sweep = load_sweep(store)
    table = frontier(sweep.outcomes, sweep.factors, int(exp.base["district.schools"]))
    folder = store / "frontier"
    with _runs_kept(args, store), staged_folder(folder, force=True) as stage:
        table.to_csv(stage / "frontier.csv", index=False)
        frontier_plot(table, f"Cost and institutionalization: {exp.name}").savefig(stage / "frontier.png")
    on, off = table[table["on_frontier"]], table[~table["on_frontier"]]
    print(
        f"{len(on)} of {len(table)} plans remain: no plan costing no more institutionalizes more schools than "
        f"they do in at least {BEATS:.0%} of the paired replicates (cheapest first):"
    )
    for _, row in on.iterrows():
        levers = ", ".join(f"{f}={row[f]}" for f in sweep.factors)
        print(f"  {money(row['cost_total']):>13}  {row['institutionalized_schools']:5.1f} schools  {levers}")
    if len(off):
        print(
            f"{len(off)} dropped, each beaten by a plan that costs no more (frontier.csv: beaten_by, probability_beaten):"
        )
        by_set = table.set_index("set")
        for _, row in off.sort_values("cost_total").iterrows():
            levers = ", ".join(f"{f}={row[f]}" for f in sweep.factors)
            q = by_set.loc[row["beaten_by_set"]]
            changes = ", ".join(f"{f}={q[f]}" for f in sweep.factors if q[f] != row[f])
            print(f"  {levers}: beaten by the same with {changes} in {row['probability_beaten']:.0%} of replicates")
    print(f"table and figure in {folder}/")
    return status


def _kept_generations(args: argparse.Namespace, out: Path) -> str:
    """After a calibration failed past its ABC-SMC generations (the structure step): where they are kept."""
    from improvesim.calibrate import HISTORY, resume_folder

    if not (resume_folder(out) / HISTORY).is_file():
        return ""
    return (
        f"; the completed generations are kept in {resume_folder(out)}/ and {out}/ is untouched: "
        f"improvesim calibrate {args.experiment} --out {out} --resume reruns only what follows them"
    )


def cmd_calibrate(args: argparse.Namespace) -> int:
    import os

    from improvesim.analysis.calibration import CalibrationError, load_calibration
    from improvesim.calibrate import calibrate, resume_folder, run_sbc, workers_for

    cal = load_calibration(args.experiment)
    workers = args.workers if args.workers is not None else (os.cpu_count() or 1)
    if workers < 1 or (args.dask_local is not None and args.dask_local < 1):
        raise UsageError("--workers and --dask-local need at least 1")
    if args.scheduler is not None:
        check_scheduler(args.scheduler)
    if args.sbc is not None and not 2 <= args.sbc <= 1000:
        raise UsageError(f"--sbc: got {args.sbc}; allowed: 2 to 1000 synthetic datasets")
    if args.sbc is not None and args.resume:
        raise UsageError("--sbc and --resume: the check cannot be resumed; run it again")
    import logging

    import pyabc  # noqa: F401  (its progress logger writes to the stderr of the moment it was first imported)

    logging.getLogger("ABC").setLevel(logging.WARNING if args.quiet else logging.INFO)  # pyabc's progress lines
    for handler in logging.getLogger("ABC").handlers:
        if type(handler) is logging.StreamHandler:  # this command's stderr, even where it was replaced since
            handler.acquire()
            try:
                handler.stream = sys.stderr  # (setStream would flush the old stream, which may be closed)
            finally:
                handler.release()
    _compile_if_needed()
    try:
        with workers_for(workers, args.dask_local, args.scheduler) as (submit, n):
            if args.sbc is not None:
                out = args.out if args.out is not None else Path("results") / f"{cal.name}-sbc"
                cover = run_sbc(cal, args.sbc, out, force=args.force, submit=submit, workers=n)
                for row in cover.itertuples():
                    verdict = "pass" if row.passed else "FAIL"
                    print(
                        f"  {row.parameter:32s} covered {row.covered} of {row.datasets} (floor {row.floor}) {verdict}"
                    )
                print(f"check in {out}/ (report.md, sbc.csv)")
                return 0 if cover["passed"].all() else 1
            out = args.out if args.out is not None else Path("results") / cal.name
            again = f"improvesim calibrate {args.experiment} --out {out} --resume" + (" --force" if args.force else "")
            try:
                result = calibrate(cal, out, force=args.force, resume=args.resume, submit=submit, workers=n)
            except KeyboardInterrupt as exc:
                raise Interrupted(
                    f"interrupted; the completed generations are kept in {resume_folder(out)}/ and {out}/ is "
                    f"untouched; continue with: {again}",
                    exc,
                ) from None
            except OutputNotWritableError as exc:  # the results could not be written: the generations are kept
                raise UsageError(f"{exc}{_kept_generations(args, out)}") from None
            except Exception as exc:  # the disk filled while pyabc wrote its History (SQLite), say
                reason = out_of_room(exc)
                if not reason:
                    raise
                raise UsageError(
                    f"{args.experiment}: cannot write {resume_folder(out)}/ ({reason}); the completed generations "
                    f"are kept there and {out}/ is untouched: make room, then continue with: {again}"
                ) from None
    except CalibrationError as exc:
        kept = "" if args.sbc is not None or str(exc).startswith("--resume") else _kept_generations(args, out)
        raise UsageError(f"{args.experiment}: {exc}{kept}") from None
    g = result.info.generations
    print(
        f"{len(g)} generations ({result.info.stopped}); final epsilon {g['epsilon'].iloc[-1]:.3g}, acceptance "
        f"{100 * g['acceptance_rate'].iloc[-1]:.1f}%, ESS {g['ess'].iloc[-1]:.0f}; {result.info.seconds:.0f} s"
    )
    for row in result.marginals.itertuples():
        print(
            f"  {row.parameter:32s} joint point {result.point[row.parameter]:.3g}  median {row.median:.3g}  "
            f"(90% {row.low:.3g} to {row.high:.3g}; prior {row.prior_low:g} to {row.prior_high:g})"
        )
    print(f"posterior in {out}/ (report.md, posterior.parquet, point.toml)")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    from improvesim.analysis.discovery import Condition, DiscoveryError, check_store, discover
    from improvesim.discover import default_folder, write_discovery
    from improvesim.experiments.output import check_writable

    try:
        direction = "below" if args.below is not None else "above"
        condition = Condition(args.outcome, direction, getattr(args, direction), args.share)
        out = args.out if args.out is not None else default_folder(args.store, args.outcome)
        check_store(args.store)
        check_writable(out, args.force)
        result = discover(args.store, condition, args.min_coverage)
    except DiscoveryError as exc:
        raise UsageError(str(exc)) from None
    write_discovery(result, out, force=args.force)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.summary())
    step = result.chosen_step
    print(
        f"{result.sets_of_interest} of {result.sets} parameter sets are of interest; box: step {int(step['step'])}, "
        f"coverage {step['coverage']:.2f}, density {step['density']:.2f}; report in {out}/"
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from improvesim.analysis.validation import KNOWN_FAILURES, markdown_table, posterior_draw, validate
    from improvesim.experiments.output import check_writable
    from improvesim.sim.posterior import uncertainty_note

    check_seed(args.seed, "--seed")
    if not 2 <= args.replicates <= BY_NAME["run.replicates"].high:
        raise UsageError(
            f"--replicates: got {args.replicates}; allowed: at least 2 and at most {BY_NAME['run.replicates'].high:,}"
        )
    check_writable(args.out, args.force)
    posterior = posterior_of(args)  # refused before the compile notice: bad input gets one line
    _compile_if_needed()
    table = validate(args.replicates, args.seed, draw=None if posterior is None else posterior_draw(posterior))
    intervals = uncertainty_note(posterior)
    table["intervals"] = intervals
    markdown = markdown_table(table, intervals)
    with staged_folder(args.out, force=args.force) as stage:
        (stage / "validation.md").write_text(markdown)
        table.to_csv(stage / "validation.csv", index=False)
    print(markdown, end="")
    failed = table[~table["passed"]]
    undocumented = failed[~failed["pattern"].isin(list(KNOWN_FAILURES))]
    tests = table[table["role"] == "test"]
    print(
        f"{len(table) - len(failed)} of {len(table)} patterns pass, {len(failed) - len(undocumented)} documented "
        f"failure(s) ({args.replicates} replicates, seed {args.seed}); of the {len(tests)} test patterns (used "
        f"neither to calibrate nor to choose the structure) {int(tests['passed'].sum())} pass; table in {args.out}/"
    )
    return 1 if len(undocumented) else 0


def replayed(spec: str) -> tuple[Params, int]:
    """(parameters, seed) of run RUN_ID of a sweep store, from ``STORE:RUN_ID``, exactly as the sweep ran it."""
    from improvesim.experiments.replay import replay_run
    from improvesim.experiments.store import StoreError

    try:
        run = replay_run(spec)
    except StoreError as exc:
        raise UsageError(f"--replay: {exc}") from None
    return run.params, run.seed


def cmd_explain(args: argparse.Namespace) -> int:
    from improvesim.analysis.story import school_story
    from improvesim.sim.model import DistrictModel
    from improvesim.sim.rng import derive_seeds

    if args.replay:
        given = [args.scenario, args.sets, args.seed, args.run_seed, args.replicates, args.replicate or None]
        if any(x not in (None, []) for x in given):
            raise UsageError(
                "--replay: the run's own parameters and seed are used; give no SCENARIO, --set, seed or replicate"
            )
        params, seed = replayed(args.replay)
    elif args.scenario is None:
        raise UsageError("give a SCENARIO file (or bundled name), or --replay STORE:RUN_ID")
    else:
        check_seed(args.run_seed, "--run-seed")
        params = scenario_with_overrides(
            args.scenario, args.sets, **{"run.seed": args.seed, "run.replicates": args.replicates}
        )
        replicates = int(params["run.replicates"])
        if args.run_seed is None and not 0 <= args.replicate < replicates:
            raise UsageError(
                f"--replicate: got {args.replicate}; allowed: 0 to {replicates - 1} (the run has {replicates} "
                "replicates; give --replicates as given to `improvesim run`)"
            )
        seed = (
            args.run_seed
            if args.run_seed is not None
            else derive_seeds(int(params["run.seed"]), args.replicate + 1)[-1]
        )
    schools = int(params["district.schools"])
    if not 0 <= args.school < schools:
        raise UsageError(f"--school: got {args.school}; allowed: 0 to {schools - 1}")
    _compile_if_needed()
    model = DistrictModel(params, seed=seed)
    result = model.run()
    records = {k: v[0] for k, v in result.schools.items()}
    print(f"School {args.school} in {params.name} (run seed {seed}):")
    for line in school_story(model.events, records, args.school):
        print("  " + line)
    return 0


#: Solara settings `improvesim app` always sets, whatever the environment, so the page runs
#: offline: no telemetry (which also looks up the server's public IP), and no fetching of
#: browser code from a CDN (every file the page needs ships in solara-assets; a request for
#: any other file gets a 404 instead of a download).  The version check is ``--no-check-version``.
OFFLINE_SOLARA = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_ASSETS_PROXY": "True",
    "SOLARA_ASSETS_CDN": "offline:/",  # no such scheme: a cache miss fails at once, without a connection
}
#: The page's own Solara settings: no corner banner (it would cover the chart at 1280x720), its title.
PAGE_SOLARA = {"SOLARA_THEME_SHOW_BANNER": "False", "SOLARA_THEME_TITLE": "improvesim workshop"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) reaches this machine only."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may be reachable from the network


def cmd_app(args: argparse.Namespace) -> int:
    import os
    import shutil

    solara = shutil.which("solara", path=os.path.dirname(sys.executable)) or shutil.which("solara")
    if solara is None:
        raise UsageError(
            "solara is not installed; reinstall improvesim (pip install improvesim, or make run in a checkout)"
        )
    app = Path(__file__).with_name("app.py")
    if args.replay:
        replayed(args.replay)  # refused here, before the server starts, if it cannot be rebuilt
        os.environ["IMPROVESIM_APP_REPLAY"] = args.replay
    os.environ.update(OFFLINE_SOLARA | PAGE_SOLARA)
    if not is_loopback(args.host):
        print(
            f"improvesim app: warning: --host {args.host} serves the page beyond this machine: anyone who can "
            "reach this address on the network can open and use it (there is no password). "
            "Use the default 127.0.0.1 unless the room needs it.",
            file=sys.stderr,
            flush=True,
        )
    _compile_if_needed()  # before the server: the page's first run would otherwise wait for it
    print(f"workshop page at http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    command = [solara, "run", str(app), "--host", args.host, "--port", str(args.port), "--production"]
    os.execv(solara, [*command, "--no-check-version"])
    return 0  # not reached


def cmd_outcomes(args: argparse.Namespace) -> int:
    from improvesim.sim.end_of_run import OUTCOMES

    for name, meaning in OUTCOMES.items():
        print(f"{name:40s} {meaning}")
    return 0


COMMANDS = {
    "run": cmd_run,
    "params": cmd_params,
    "sweep": cmd_sweep,
    "sensitivity": cmd_sensitivity,
    "compare": cmd_compare,
    "frontier": cmd_frontier,
    "calibrate": cmd_calibrate,
    "discover": cmd_discover,
    "validate": cmd_validate,
    "explain": cmd_explain,
    "app": cmd_app,
    "outcomes": cmd_outcomes,
}


def main(argv: Sequence[str] | None = None) -> int:
    from improvesim.experiments.lifeline import HandledInterrupts, interrupts_handled

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["improvesim", *map(shlex.quote, argv)])
    handled = HandledInterrupts()
    try:
        with interrupts_handled() as handled:  # SIGTERM is handled like Ctrl-C
            return COMMANDS[args.command](args)
    except BrokenPipeError:
        return _reader_went_away()
    except (ParameterError, OutputExistsError, OutputNotWritableError, UsageError) as exc:
        print(f"improvesim {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Interrupted as exc:
        print(f"improvesim {args.command}: {exc}", file=sys.stderr)
        return _interrupted_status(exc.cause)
    except KeyboardInterrupt as exc:
        return _nothing_written(args.command, exc)
    except Exception:
        kind = handled.kind()  # an interrupt that a library turned into another exception
        if kind is None:
            raise
        return _nothing_written(args.command, kind())


def _nothing_written(command: str, cause: KeyboardInterrupt) -> int:
    """Report an interrupted command that saved nothing; returns its exit status."""
    print(f"improvesim {command}: interrupted; nothing was written", file=sys.stderr)
    return _interrupted_status(cause)


def _reader_went_away() -> int:
    """The reader of standard output closed it (``improvesim params | head``): stop quietly.

    As the Python documentation advises, standard output is pointed at
    /dev/null so that the interpreter's final flush raises nothing.
    """
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, as a shell reports a process that a closed pipe stopped


if __name__ == "__main__":
    sys.exit(main())
