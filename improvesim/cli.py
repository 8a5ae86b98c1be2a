"""The ``improvesim`` command line.

    improvesim run SCENARIO [--out DIR] [--seed N] [--replicates R] [--set section.key=value ...] [--force]
    improvesim params [SCENARIO] [--format table|json|toml]
    improvesim sweep EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS]
    improvesim sensitivity EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS]
    improvesim sensitivity --from STORE
    improvesim compare PLAN... [--base SCENARIO] [--replicates R] [--seed N] [--conditions low,typical,high] [--out DIR] [--force]
    improvesim frontier EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS]
    improvesim calibrate EXPERIMENT [--out DIR] [--workers N] [--resume] [--force]
    improvesim validate [--replicates R] [--seed N] [--out DIR] [--force]
    improvesim explain SCENARIO --school ID [--seed N] [--replicate K | --run-seed S] [--set section.key=value ...]
    improvesim app [--port P] [--host H] [--replay STORE:RUN_ID]
    improvesim outcomes

Bad input (unknown key, value out of range or of the wrong type, a missing
file, malformed TOML, a bad ``--set``) prints one clear message naming the
file and the key and what is allowed, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from improvesim import __version__
from improvesim.output import OutputExistsError, OutputNotWritableError, staged_folder
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


def out_folder(text: str) -> Path:
    """``--out``: a folder path; empty text is refused (it would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("got an empty path; allowed: a folder to write the results in")
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
    comp.add_argument("--out", type=out_folder, default=Path("results/compare"))
    comp.add_argument("--force", action="store_true", help="replace a report already in --out")

    front = sub.add_parser("frontier", help="cost against institutionalization frontier over a sweep of levers")
    front.add_argument(
        "experiment", help="experiment file over levers; outcomes must include cost_total and institutionalized_share"
    )
    _add_engine_options(front)

    calib = sub.add_parser("calibrate", help="calibrate constants by rejection ABC over an lhs experiment")
    calib.add_argument("experiment", help="experiment file, e.g. experiments/calibrate_viano2024.toml")
    _add_engine_options(calib)

    valid = sub.add_parser(
        "validate", help="run every validation pattern and print the table (pattern, observed, model)"
    )
    valid.add_argument(
        "--replicates", type=int, default=200, help="seeded replicates per pattern and arm (default 200)"
    )
    valid.add_argument("--seed", type=int, default=1)
    valid.add_argument(
        "--out", type=out_folder, default=Path("results/validation"), help="folder for validation.md and .csv"
    )
    valid.add_argument("--force", action="store_true", help="replace a table already in --out")

    explain = sub.add_parser("explain", help="tell the story of one school in one run")
    explain.add_argument("scenario", help="scenario file (TOML) or bundled name")
    explain.add_argument("--school", type=int, required=True, help="school index, from 0")
    explain.add_argument("--seed", type=int, help="seed as for `improvesim run` (default run.seed)")
    explain.add_argument("--replicates", type=int, help="replicates as for `improvesim run` (default run.replicates)")
    which = explain.add_mutually_exclusive_group()
    which.add_argument("--replicate", type=int, default=0, help="replicate of `improvesim run --seed` (default 0)")
    which.add_argument("--run-seed", type=int, help="a run's own seed (as in a sweep's plan.parquet)")
    explain.add_argument(
        "--set", dest="sets", action="append", default=[], type=_assignment, metavar="SECTION.KEY=VALUE"
    )

    app = sub.add_parser("app", help="the workshop page: a live district in the browser")
    app.add_argument("--port", type=int, default=8765)
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    app.add_argument("--replay", metavar="STORE:RUN_ID", help="show run RUN_ID of a sweep store exactly, as plan A")

    sub.add_parser("outcomes", help="list the end-of-run outcomes experiments can keep")
    return parser


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=out_folder, help="result store (default results/<experiment name>/)")
    parser.add_argument("--workers", type=int, default=None, help="local worker processes (default: all cores)")
    parser.add_argument("--resume", action="store_true", help="finish an interrupted sweep in --out")
    parser.add_argument("--force", action="store_true", help="replace the results already in --out")
    engine = parser.add_mutually_exclusive_group()
    engine.add_argument("--dask-local", type=int, metavar="N", help="run on a local Dask cluster of N workers")
    engine.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def scenario_with_overrides(path: str | None, sets: Sequence[str], **named) -> Params:
    """Load a scenario (or the defaults) and apply --set and named overrides."""
    params = defaults() if path is None else load_scenario(path)
    overrides = dict(parse_assignment(text) for text in sets)
    overrides.update({k: v for k, v in named.items() if v is not None})
    return params.with_overrides(overrides) if overrides else params


def cmd_run(args: argparse.Namespace) -> int:
    from improvesim.analysis.summary import summary_table
    from improvesim.analysis.validation import case_table
    from improvesim.output import check_writable, staged_folder
    from improvesim.scenario_run import simulate_into

    _check_count("--replicates", args.replicates)
    params = scenario_with_overrides(
        args.scenario, args.sets, **{"run.seed": args.seed, "run.replicates": args.replicates}
    )
    out = args.out if args.out is not None else Path("results") / params.name
    check_writable(out, args.force)
    seed, replicates = int(params["run.seed"]), int(params["run.replicates"])
    _notice_if_compiling()
    started = time.perf_counter()
    with staged_folder(out, force=args.force) as stage:
        summary, _ = simulate_into(
            params, replicates, seed, stage, overrides=args.sets, record_schools=not args.no_schools
        )
    elapsed = time.perf_counter() - started
    print(summary_table(summary))
    if "observed" in summary:
        print("\n" + case_table(summary["observed"], replicates))
    print(f"\n{replicates} runs in {elapsed:.2f} s; results in {out}/")
    return 0


def _check_count(option: str, value: int | None, low: int = 1, high: int = 100_000) -> None:
    """Refuse a count option outside [low, high] by the option's own name."""
    if value is not None and not low <= value <= high:
        raise UsageError(f"{option}: got {value}; allowed: an integer from {low:,} to {high:,}")


def _notice_if_compiling() -> None:
    """One line on standard error when this run will first compile the model's kernels."""
    from improvesim.sim.jit import kernels_cached

    if not kernels_cached():
        print(
            "improvesim: compiling the model for this machine (once per version; about a minute on two cores)...",
            file=sys.stderr,
            flush=True,
        )


def cmd_params(args: argparse.Namespace) -> int:
    from improvesim.describe import as_json, as_table, as_toml

    params = defaults() if args.scenario is None else load_scenario(args.scenario)
    print({"table": as_table, "json": as_json, "toml": as_toml}[args.format](params))
    return 0


def _sweep(args: argparse.Namespace, exp) -> tuple[Path, int]:
    """Run the experiment's sweep as the options say; returns the store and an exit status."""
    import os

    from improvesim.experiments.design import check_size
    from improvesim.experiments.store import StoreError
    from improvesim.experiments.sweep import run_sweep
    from improvesim.output import check_writable

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
    check_size(exp, local)
    _notice_if_compiling()
    try:
        summary = run_sweep(
            exp,
            out,
            workers=workers,
            resume=args.resume,
            force=args.force,
            dask_local=args.dask_local,
            scheduler=args.scheduler,
            progress=not args.quiet,
        )
    except StoreError as exc:
        raise UsageError(str(exc)) from None
    print(
        f"{exp.name}: {summary.runs} runs: {summary.ok} ok, {summary.failed} failed, {summary.missing} missing; "
        f"{summary.computed_runs} computed in {summary.seconds:.1f} s ({summary.runs_per_second:.0f} runs/s); "
        f"store {out}/"
    )
    for error in summary.errors:
        print(f"  failure: {error}")
    return out, (0 if summary.failed == 0 and summary.missing == 0 else 1)


def cmd_sweep(args: argparse.Namespace) -> int:
    from improvesim.experiments.spec import load_experiment

    return _sweep(args, load_experiment(args.experiment))[1]


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from improvesim.analysis.sensitivity import SensitivityError
    from improvesim.experiments.spec import load_experiment
    from improvesim.sensitivity import analyse_any, analyse_study

    try:
        if args.from_store is not None:
            if args.experiment is not None:
                raise UsageError("give an experiment file or --from STORE, not both")
            if not (args.from_store / "experiment.json").is_file():
                raise UsageError(f"{args.from_store} is not a sweep store (no experiment.json)")
            folder = analyse_any(args.from_store)
        else:
            if args.experiment is None:
                raise UsageError("give an experiment file (design sobol or morris), or --from STORE")
            exp = load_experiment(args.experiment)
            if exp.design not in ("sobol", "morris"):
                raise UsageError(
                    f'{args.experiment}: design: got "{exp.design}"; sensitivity needs "sobol" or "morris" '
                    "(use --from STORE for delta and PAWN indices of other sweeps)"
                )
            store, status = _sweep(args, exp)
            if status:
                print("some runs failed or are missing; analysing what there is", file=sys.stderr)
            folder = analyse_study(store)
    except SensitivityError as exc:
        raise UsageError(str(exc)) from None
    print(f"analysis in {folder}/ (report.md)")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from improvesim.compare import run_compare

    check_seed(args.seed, "--seed")
    _notice_if_compiling()
    out = run_compare(args.plans, args.base, args.replicates, args.seed, args.conditions, args.out, args.force)
    print(f"report in {out}/report.html")
    return 0


def cmd_frontier(args: argparse.Namespace) -> int:
    from improvesim.analysis.frontier import COST, EFFECT, frontier
    from improvesim.analysis.plots import frontier_plot
    from improvesim.analysis.store import load_sweep
    from improvesim.experiments.spec import load_experiment

    exp = load_experiment(args.experiment)
    missing = [o for o in (COST, EFFECT) if o not in exp.outcomes]
    if missing:
        raise UsageError(f"{args.experiment}: outcomes: add {', '.join(missing)} (the frontier needs cost and effect)")
    store, status = _sweep(args, exp)
    sweep = load_sweep(store)
    table = frontier(sweep.outcomes, sweep.factors, int(exp.base["district.schools"]))
    folder = store / "frontier"
    with staged_folder(folder, force=True) as stage:
        table.to_csv(stage / "frontier.csv", index=False)
        frontier_plot(table, f"Cost and institutionalization: {exp.name}").savefig(stage / "frontier.png")
    on = table[table["on_frontier"]]
    print(f"{len(on)} of {len(table)} plans are on the frontier (cheapest first):")
    for _, row in on.iterrows():
        levers = ", ".join(f"{f}={row[f]}" for f in sweep.factors)
        print(f"  ${row['cost_total'] / 1e6:,.2f}M  {row['institutionalized_schools']:5.1f} schools  {levers}")
    print(f"table and figure in {folder}/")
    return status


def cmd_calibrate(args: argparse.Namespace) -> int:
    from improvesim.analysis.calibration import CalibrationError, calibration_patterns
    from improvesim.analysis.validation import PATTERNS
    from improvesim.calibrate import analyse_calibration
    from improvesim.experiments.spec import load_experiment

    exp = load_experiment(args.experiment)
    if exp.design != "lhs":
        raise UsageError(f'{args.experiment}: design: got "{exp.design}"; calibration needs "lhs"')
    patterns = calibration_patterns(exp.base.name)
    if not patterns:
        observed_in = sorted({p.scenario for p in PATTERNS if p.calibration})
        raise UsageError(
            f"{args.experiment}: scenario: no calibration pattern is observed in {exp.base.name}; "
            f"allowed: {', '.join(observed_in)}"
        )
    missing = sorted({p.outcome for p in patterns} - set(exp.outcomes))
    if missing:
        raise UsageError(f"{args.experiment}: outcomes: add {', '.join(missing)} (the calibration patterns need them)")
    store, status = _sweep(args, exp)
    try:
        folder, post = analyse_calibration(store, exp.base.name)
    except CalibrationError as exc:
        raise UsageError(f"{args.experiment}: {exc}") from None
    print(f"{post.accepted_runs} of {post.runs} runs accepted; effective sample size {post.ess:.0f}")
    for row in post.summary.itertuples():
        print(
            f"  {row.parameter:32s} median {row.posterior_median:.3g}  "
            f"(90% {row.posterior_q05:.3g} to {row.posterior_q95:.3g}; prior {row.prior_low:g} to {row.prior_high:g})"
        )
    print(f"posterior in {folder}/ (report.md, calibrated.toml)")
    return status


def cmd_validate(args: argparse.Namespace) -> int:
    from improvesim.analysis.validation import KNOWN_FAILURES, markdown_table, validate
    from improvesim.output import check_writable

    check_seed(args.seed, "--seed")
    if not 2 <= args.replicates <= BY_NAME["run.replicates"].high:
        raise UsageError(
            f"--replicates: got {args.replicates}; allowed: at least 2 and at most {BY_NAME['run.replicates'].high:,}"
        )
    check_writable(args.out, args.force)
    _notice_if_compiling()
    table = validate(args.replicates, args.seed)
    markdown = markdown_table(table)
    with staged_folder(args.out, force=args.force) as stage:
        (stage / "validation.md").write_text(markdown)
        table.to_csv(stage / "validation.csv", index=False)
    print(markdown, end="")
    failed = table[~table["passed"]]
    undocumented = failed[~failed["pattern"].isin(list(KNOWN_FAILURES))]
    print(
        f"{len(table) - len(failed)} of {len(table)} patterns pass, {len(failed) - len(undocumented)} documented "
        f"failure(s) ({args.replicates} replicates, seed {args.seed}); table in {args.out}/"
    )
    return 1 if len(undocumented) else 0


def cmd_explain(args: argparse.Namespace) -> int:
    from improvesim.analysis.story import school_story
    from improvesim.sim.model import DistrictModel
    from improvesim.sim.rng import derive_seeds

    check_seed(args.run_seed, "--run-seed")
    _check_count("--replicates", args.replicates)
    params = scenario_with_overrides(
        args.scenario, args.sets, **{"run.seed": args.seed, "run.replicates": args.replicates}
    )
    schools = int(params["district.schools"])
    if not 0 <= args.school < schools:
        raise UsageError(f"--school: got {args.school}; allowed: 0 to {schools - 1}")
    replicates = int(params["run.replicates"])
    if args.run_seed is None and not 0 <= args.replicate < replicates:
        raise UsageError(
            f"--replicate: got {args.replicate}; allowed: 0 to {replicates - 1} (the run has {replicates} "
            "replicates; give --replicates as given to `improvesim run`)"
        )
    _notice_if_compiling()
    seed = args.run_seed if args.run_seed is not None else derive_seeds(int(params["run.seed"]), args.replicate + 1)[-1]
    model = DistrictModel(params, seed=seed)
    result = model.run()
    records = {k: v[0] for k, v in result.schools.items()}
    print(f"School {args.school} in {params.name} (run seed {seed}):")
    for line in school_story(model.events, records, args.school):
        print("  " + line)
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    import os
    import shutil

    solara = shutil.which("solara", path=os.path.dirname(sys.executable)) or shutil.which("solara")
    if solara is None:
        raise UsageError("solara is not installed; run the set-up (make run or make test) first")
    app = Path(__file__).with_name("app.py")
    if args.replay:
        from improvesim.app import replayed_run

        try:
            replayed_run(args.replay)
        except (ValueError, IndexError, FileNotFoundError) as exc:
            raise UsageError(f"--replay {args.replay}: expected STORE:RUN_ID of an existing run ({exc})") from None
        os.environ["IMPROVESIM_APP_REPLAY"] = args.replay
    print(f"workshop page at http://{args.host}:{args.port}/ (Ctrl-C to stop)", flush=True)
    os.execv(solara, [solara, "run", str(app), "--host", args.host, "--port", str(args.port), "--production"])
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
    "validate": cmd_validate,
    "explain": cmd_explain,
    "app": cmd_app,
    "outcomes": cmd_outcomes,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BrokenPipeError:
        return _reader_went_away()
    except (ParameterError, OutputExistsError, OutputNotWritableError, UsageError) as exc:
        print(f"improvesim {args.command}: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        if args.command in ("sweep", "sensitivity", "calibrate"):
            print(
                f"improvesim {args.command}: interrupted; finished chunks are saved; finish with --resume",
                file=sys.stderr,
            )
        else:
            print(f"improvesim {args.command}: interrupted; nothing was written", file=sys.stderr)
        return 130


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
