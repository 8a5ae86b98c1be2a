"""``improvesim calibrate``: ABC-SMC (pyabc) of a calibration experiment, its simulation-based check, adoption.

    improvesim calibrate EXPERIMENT [--out DIR] [--workers N | --dask-local N | --scheduler ADDRESS] [--resume] [--force]
    improvesim calibrate EXPERIMENT --sbc N [--out DIR] [--workers N] [--force]

The results go to DIR (default ``results/<experiment name>/``), written whole
or not at all (:func:`~improvesim.experiments.output.staged_folder`):

    posterior.parquet    the posterior: the last generation's weighted particles, one row each
                         (the calibrated constants, with one case per particle the nuisance values each drew,
                         weight, population, distance); weights sum to one.  With a [structure] table, only
                         the particles meeting the structure criteria (analysis/structure.py), renormalised
    posterior_case.parquet  (with [structure]) the case posterior before that restriction
    structure.csv        (with [structure]) each particle's verdicts on the structure criteria
    particles.parquet    every generation's particles, the same columns
    generations.csv      per generation: tolerance, candidates simulated, acceptance rate, ESS
    marginals.csv        per constant: prior range, weighted mean, median, 90% credible interval
    point.toml           the defaults' single joint point: the mode of a weighted KDE of the posterior
                         (with [structure]: the rule of analysis.calibration.structured_point)
    calibration.json     the procedure and provenance (experiment, seed, settings, date, commit)
    pairs.png            the pair plot (identifiability)
    report.md            the procedure and the results in words
    history.db           pyabc's History (SQLite)

While it runs, pyabc's History lives in the hidden folder ``.DIR.calibrating``
beside DIR; an interrupted calibration is continued from its last complete
generation with ``--resume`` (pyabc's ``ABCSMC.load``), of the same experiment
only (its text and its scenario's values are kept beside the History).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from improvesim import __version__
from improvesim.analysis import calibration as abc
from improvesim.analysis.calibration import Calibration, CalibrationError, Submit
from improvesim.analysis.plots import pair_plot
from improvesim.experiments.output import FolderLock, check_writable, new_staging, staged_folder, write_atomic
from improvesim.sim import rng

HISTORY = "history.db"
RESUME_STAGE = "calibrating"
#: Beside the kept History: the experiment (its text and its scenario's values) the generations ran.
RUN_OF = "experiment.json"


@dataclass
class CalibrationResult:
    folder: Path
    posterior: pd.DataFrame
    marginals: pd.DataFrame
    point: dict[str, float]
    info: abc.RunInfo


def resume_folder(out: Path) -> Path:
    """Where an unfinished calibration into ``out`` keeps pyabc's History (``.OUT.calibrating`` beside it)."""
    return out.parent / f".{out.name}.{RESUME_STAGE}"


def calibrate(cal: Calibration, out: Path, *, force: bool, resume: bool, submit: Submit | None, workers: int):
    """Run the calibration into ``out`` (see the module's docstring); returns a :class:`CalibrationResult`."""
    check_writable(out, force)
    stage = new_staging(out, name=RESUME_STAGE)
    with FolderLock(stage, command="improvesim calibrate"):
        db = stage / HISTORY
        if db.exists() and not resume:
            raise CalibrationError(
                f"an interrupted calibration is kept in {stage}/; continue it with --resume, or delete that "
                "folder to start again"
            )
        if resume and not db.exists():
            raise CalibrationError(f"--resume: nothing to resume ({stage}/{HISTORY} does not exist)")
        check_same_experiment(cal, stage / RUN_OF, resume)
        info = abc.run_abc(cal, db, submit=submit, workers=workers, resume=resume)
        result = write_results(cal, db, out, info, force=force, workers=workers, submit=submit)
    shutil.rmtree(stage, ignore_errors=True)
    return result


def check_same_experiment(cal: Calibration, record: Path, resume: bool) -> None:
    """Record the experiment a calibration runs (``record``), or on ``--resume`` check it is the same.

    Generations kept from one experiment continued under another (a changed prior, seed,
    target or scenario) would give results that mix the two and state only the second: that
    raises :class:`CalibrationError`.  A History kept without a record (older versions) is
    resumed unchecked.
    """
    now = json.dumps(
        {"experiment": cal.path.read_text(), "scenario": {k: v for k, v in sorted(cal.base.values.items())}},
        sort_keys=True,
        default=str,
    )
    if not resume:  # whole or not at all: a record cut off by a full disk would refuse a later --resume
        write_atomic(record, lambda path: path.write_text(now))
    elif record.is_file() and record.read_text() != now:
        raise CalibrationError(
            f"--resume: {cal.path} (or its scenario) is not what the kept generations ran; resuming would mix two "
            f"calibrations. Restore it, or delete {record.parent}/ and run again without --resume"
        )


def write_results(
    cal: Calibration,
    db: Path,
    out: Path,
    info: abc.RunInfo,
    *,
    force: bool,
    workers: int,
    submit: Submit | None = None,
):
    import pyabc

    history = pyabc.History(f"sqlite:///{db}")
    particles = abc.particle_table(history, cal.names, [p.name for p in cal.nuisance])
    posterior = abc.posterior_population(particles, cal.abc.min_ess_fraction)
    case_posterior, verdicts, chosen = posterior, None, "kde mode"
    if cal.structure is None:
        point = as_written(abc.kde_mode(posterior, cal))
    else:
        verdicts = structure_step(posterior, cal, submit)
        posterior = abc.admissible(case_posterior, verdicts)
        point, chosen = abc.structured_point(posterior, cal, lambda p: point_holds(p, cal))
        point = as_written(point)
    marginals = abc.marginals(posterior, cal)
    meta = provenance(cal, info, workers) | {"point_rule": chosen}
    with staged_folder(out, force=force) as stage:
        if verdicts is not None:
            case_posterior.to_parquet(stage / "posterior_case.parquet", index=False)
            verdicts.to_csv(stage / "structure.csv", index=False)
        posterior.to_parquet(stage / "posterior.parquet", index=False)
        particles.to_parquet(stage / "particles.parquet", index=False)
        info.generations.to_csv(stage / "generations.csv", index=False)
        marginals.to_csv(stage / "marginals.csv", index=False)
        (stage / "point.toml").write_text(point_toml(point, meta))
        (stage / "calibration.json").write_text(json.dumps(meta, indent=2) + "\n")
        priors = [(p.name, p.low, p.high) for p in cal.calibrated]
        pair_plot(posterior, priors, point).savefig(stage / "pairs.png")
        text = report(cal, info, marginals, point, posterior, meta)
        if verdicts is not None:
            text += structure_report(cal, case_posterior, verdicts, posterior, chosen)
        (stage / "report.md").write_text(text)
        shutil.copyfile(db, stage / HISTORY)
    return CalibrationResult(out, posterior, marginals, point, info)


def structure_step(posterior: pd.DataFrame, cal: Calibration, submit: Submit | None) -> pd.DataFrame:
    """Each posterior particle's verdicts on the structure criteria (:mod:`analysis.structure`), one row
    per particle in order: admissible, the first failure, each criterion (None after it) and what it
    measured.  Particles run on the workers when ``submit`` is given."""
    s = cal.structure
    jobs = abc.particle_constants(posterior, cal)
    if submit is None:
        results = (abc.structure_verdicts(c, s.replicates, s.seed) for c in jobs)
    else:
        futures = [submit(abc.structure_verdicts, c, s.replicates, s.seed) for c in jobs]
        results = (f.result() for f in futures)
    rows = []
    for row in results:
        rows.append(row)
        _report_progress(len(rows), len(jobs), sum(r["admissible"] for r in rows))
    return pd.DataFrame(rows).assign(weight=posterior["weight"].to_numpy())


#: The structure step's progress lines, beside pyabc's (its "ABC" logger's handler and level: --quiet hides them).
STRUCTURE_LOG = "ABC.structure"


def _report_progress(done: int, total: int, admissible: int) -> None:
    """A progress line at every tenth of the particles (and the last)."""
    import logging

    if done == total or done * 10 // total > (done - 1) * 10 // total:
        logging.getLogger(STRUCTURE_LOG).info(
            f"structure step: {done} of {total} particles, {admissible} meet every criterion"
        )


def point_holds(point: dict[str, float], cal: Calibration) -> bool:
    """Whether the calibrated constants ``point``, as ``point.toml`` writes them (:func:`as_written`), meet
    every structure criterion (the nuisance constants at their defaults)."""
    from improvesim.analysis import structure

    s = cal.structure
    return bool(structure.verdicts(as_written(point), replicates=s.replicates, seed=s.seed)["admissible"])


def as_written(point: dict[str, float]) -> dict[str, int | float]:
    """The joint point as ``point.toml`` (and so the adopted defaults) holds it: an integer parameter
    rounded to the nearest integer (as a particle's constants are), any other to 4 significant digits."""
    return {
        name: value if isinstance(value, int) else float(f"{value:.4g}") for name, value in abc._typed(point).items()
    }


def git_commit() -> str:
    """The commit of the checkout improvesim runs from (``unknown`` outside a git checkout)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(Path(__file__).parent), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"


def provenance(cal: Calibration, info: abc.RunInfo, workers: int) -> dict:
    return {
        "experiment": cal.name,
        "experiment_file": str(cal.path),
        "experiment_text": cal.path.read_text(),
        "scenario": cal.base.name,
        "targets": [p.key for p in cal.targets],
        "calibrated": [asdict(p) for p in cal.calibrated],
        "nuisance": [asdict(p) for p in cal.nuisance],
        "replicates": cal.replicates,
        "seed": cal.seed,
        "abc": asdict(cal.abc),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "improvesim": __version__,
        "workers": workers,
        "seconds": round(info.seconds, 1),
        "stopped": info.stopped,
        "simulations": int(info.generations["samples"].sum()),
    }


def point_toml(point: dict[str, float], meta: dict) -> str:
    """The joint point as scenario-file lines (:func:`as_written`), with its provenance as comments."""
    rule = meta.get("point_rule", "kde mode")
    what = (
        "The mode of a weighted kernel density estimate of the joint posterior"
        if rule == "kde mode"
        else f"The joint posterior's {rule}"
    )
    lines = [
        f"# {what} of {meta['experiment']}",
        f"# (seed {meta['seed']}, {meta['date']}, commit {meta['commit']}).",
    ]
    section = None
    for name in sorted(point):
        sec, key = name.split(".", 1)
        if sec != section:
            lines.append(f"[{sec}]")
            section = sec
        lines.append(f"{key} = {as_written({name: point[name]})[name]}")
    return "\n".join(lines) + "\n"


def _particle_sentence(cal) -> str:
    """What one particle is and how its distance is measured, in words."""
    nuisance = f"the {len(cal.nuisance)} nuisance constants are drawn from their prior ranges"
    if cal.replicates == 1:
        return (
            f"One particle is one simulated case; {nuisance} for it. Distance: the {cal.abc.distance} norm of the "
            "gaps to the observed counts (schools)."
        )
    return (
        f"One particle is one batched model call of {cal.replicates} replicates; {nuisance} in every replicate. "
        f"Distance: the mean over replicates of the {cal.abc.distance} norm of the gaps to the observed counts "
        "(schools)."
    )


def _posterior_sentence(g: pd.DataFrame, t: int, ess: float, particles: int) -> str:
    """Which generation is the posterior, its tolerance, acceptance rate and effective sample size."""
    row = g[g["t"] == t].iloc[0]
    which = "the last generation" if t == int(g["t"].iloc[-1]) else f"generation {t} (the later ones fell below it)"
    return (
        f"The posterior is {which}: tolerance {row['epsilon']:.3g} schools, acceptance rate "
        f"{100 * row['acceptance_rate']:.1f}%, effective sample size {ess:.0f} of {particles} particles."
    )


def report(cal, info, marginals, point, posterior, meta) -> str:
    g = info.generations
    targets = "; ".join(f"{p.description.lower()}: {p.observed}" for p in cal.targets)
    ess = abc.effective_sample_size(posterior["weight"].to_numpy())
    corr = abc.correlations(posterior, cal.names)
    strong = [
        f"`{a}` and `{b}` ({corr.loc[a, b]:+.2f})"
        for i, a in enumerate(cal.names)
        for b in cal.names[i + 1 :]
        if abs(corr.loc[a, b]) >= 0.5
    ]
    lines = [
        f"# Calibration: {cal.name}",
        "",
        f"ABC-SMC (pyabc) on `{cal.base.name}`, fitting jointly: {targets}. {_particle_sentence(cal)} "
        f"Tolerance: each generation's epsilon is the weighted {cal.abc.epsilon_quantile:g} quantile of the last "
        f"accepted distances, and below the last epsilon. Population {cal.abc.population_size}; "
        f"stopping rule: epsilon at most {cal.abc.minimum_epsilon:g}, {cal.abc.max_populations} generations, "
        f"acceptance rate below {cal.abc.min_acceptance_rate:g}, {cal.abc.max_walltime_minutes:g} minutes, or a "
        f"generation whose effective sample size is below {cal.abc.min_ess_fraction:g} of the population. The "
        "posterior is the last generation whose effective sample size is at least that share.",
        "",
        f"Stopped after {len(g)} generations ({info.stopped}); {meta['simulations']:,} particles simulated in "
        f"{info.seconds:,.0f} s. {_posterior_sentence(g, int(posterior['population'].iloc[0]), ess, len(posterior))} "
        f"Seed {cal.seed}, commit {meta['commit']}, {meta['date']}."
        + (
            " The walltime rule stopped it: another machine may stop at another generation."
            if "walltime" in info.stopped
            else ""
        ),
        "",
        "| Generation | Epsilon (schools) | Simulated | Acceptance rate | ESS |",
        "|---|---|---|---|---|",
        *[
            f"| {r.t} | {r.epsilon:.3g} | {r.samples:,} | {100 * r.acceptance_rate:.1f}% | {r.ess:.0f} |"
            for r in g.itertuples()
        ],
        "",
        "| Constant | Prior | Posterior median | 90% credible interval | Joint point |",
        "|---|---|---|---|---|",
        *[
            f"| `{r.parameter}` | {r.prior_low:g} to {r.prior_high:g} | {r.median:.3g} | {r.low:.3g} to {r.high:.3g} "
            f"| {point[r.parameter]:.3g} |"
            for r in marginals.itertuples()
        ],
        "",
        "The joint point is the mode of a weighted Gaussian kernel density estimate of the joint posterior "
        "(constants scaled to their prior ranges)"
        + ("" if meta.get("point_rule", "kde mode") == "kde mode" else " or, with the structure step, the rule below")
        + "; it is not the marginal medians, which need not lie together "
        "in a likely region. Weights are ABC-SMC importance weights (prior over proposal density, normalised).",
        "",
        "Pairs with a weighted correlation of at least 0.5 in size (a ridge: the data identify a combination, "
        "not each constant): " + (", ".join(strong) if strong else "none") + ".",
        "",
        "![Pair plot of the posterior](pairs.png)",
        "",
        "",
    ]
    return "\n".join(lines)


def structure_report(cal, case_posterior, verdicts, posterior, chosen) -> str:
    """The structure step in words: how many particles meet the criteria, which fail first, the point's rule."""
    from improvesim.analysis.structure import CRITERIA

    s = cal.structure
    kept = verdicts["admissible"].to_numpy(dtype=bool)
    w = case_posterior["weight"].to_numpy()
    first = verdicts.loc[~kept, "failed"].value_counts()
    ess_before, ess_after = abc.effective_sample_size(w), abc.effective_sample_size(posterior["weight"].to_numpy())
    lines = [
        "## The structure step",
        "",
        f"Each particle of the case posterior (its calibrated constants and the nuisance values it drew) ran "
        f"the {len(CRITERIA)} structure criteria of `analysis/structure.py` (the second edition's committed "
        f"patterns), every arm {s.replicates} replicates from seed {s.seed}, stopping at its first failure. "
        f"The posterior above is the case posterior restricted to the particles that meet all of them (an "
        "indicator likelihood: the criteria are a deterministic function of the constants at fixed seeds), "
        f"weights renormalised: {int(kept.sum())} of {kept.size} particles, {100 * w[kept].sum():.1f}% of the "
        f"weight; effective sample size {ess_after:.0f} (of {ess_before:.0f} before). The case posterior alone "
        "is `posterior_case.parquet`; every particle's verdicts are `structure.csv`.",
        "",
        *(
            [
                "| First criterion failed | Particles | Share of the case posterior's weight |",
                "|---|---|---|",
                *[
                    f"| `{key}` | {count} | {100 * w[(verdicts['failed'] == key).to_numpy()].sum():.1f}% |"
                    for key, count in first.items()
                ],
            ]
            if len(first)
            else ["Every particle meets every criterion."]
        ),
        "",
        f"The joint point is the {chosen}. The rule is the weighted KDE mode of the restricted posterior when it "
        "meets every criterion itself (nuisance constants at their defaults), else the restricted posterior's "
        "particle of highest density that does.",
        "",
    ]
    return "\n".join(lines)


# --- simulation-based calibration --------------------------------------------------------------


def coverage_floor(datasets: int, level: float, alpha: float) -> int:
    """The fewest covering intervals a correct calibration gives with probability at least 1 - ``alpha``.

    The number of ``datasets`` whose central ``level`` interval covers the truth
    is Binomial(datasets, level) when the posterior is right; the floor is the
    largest k with P(X < k) <= alpha (15 of 20 at level 0.9, alpha 0.02).
    """
    from scipy.stats import binom

    k = 0
    while k < datasets and binom.cdf(k, datasets, level) <= alpha:
        k += 1
    return k


def sbc(cal: Calibration, datasets: int, submit: Submit | None, workers: int, work: Path) -> pd.DataFrame:
    """Simulation-based calibration: ``datasets`` synthetic cases from prior draws, each calibrated.

    Dataset i draws its true constants (calibrated and nuisance) from the
    prior with seed ``derive_seeds(cal.seed, datasets, "sbc")[i]``, simulates
    one district (its counts, rounded, are the data), and runs ABC-SMC with
    the experiment's ``[sbc]`` settings.  Returns one row per dataset and
    constant: truth, the central ``level`` interval, covered.
    """
    settings = cal.sbc
    run_settings = replace(cal.abc, population_size=settings.population_size, max_populations=settings.max_populations)
    rows = []
    for i, seed in enumerate(rng.derive_seeds(cal.seed, datasets, salt="sbc")):
        u = np.random.default_rng(seed).random(len(cal.calibrated))
        truth = {p.name: float(p.sample(u[j])) for j, p in enumerate(cal.calibrated)}
        model = abc.CaseModel(cal.base, cal.targets, cal.nuisance, 1)
        counts = np.rint(model.counts(truth, seed)[0])
        data = {"low": counts, "high": counts}
        db = work / f"sbc-{i}.db"
        abc.run_abc(
            cal,
            db,
            targets_observed=data,
            abc=run_settings,
            replicates=settings.replicates,
            seed=seed,
            submit=submit,
            workers=workers,
        )
        import pyabc

        posterior = abc.posterior_population(
            abc.particle_table(pyabc.History(f"sqlite:///{db}"), cal.names), run_settings.min_ess_fraction
        )
        m = abc.marginals(posterior, cal, settings.level)
        for r in m.itertuples():
            rows.append(
                {
                    "dataset": i,
                    "parameter": r.parameter,
                    "truth": truth[r.parameter],
                    "low": r.low,
                    "high": r.high,
                    "covered": bool(r.low <= truth[r.parameter] <= r.high),
                    "width_of_prior": (r.high - r.low) / (r.prior_high - r.prior_low),
                    "data": " ".join(f"{c:g}" for c in counts),
                }
            )
    return pd.DataFrame(rows)


def coverage(table: pd.DataFrame, level: float, alpha: float) -> pd.DataFrame:
    """Per constant: datasets covered, the binomial floor, and whether it passes."""
    datasets = int(table["dataset"].nunique())
    floor = coverage_floor(datasets, level, alpha)
    out = table.groupby("parameter", sort=False).agg(
        covered=("covered", "sum"), datasets=("dataset", "nunique"), mean_width_of_prior=("width_of_prior", "mean")
    )
    out["floor"] = floor
    out["passed"] = out["covered"] >= floor
    return out.reset_index()


#: The full check's criterion, fixed before it is first run: per constant, P(X < floor) <= 0.02 under a
#: correct posterior (X ~ Binomial(datasets, level)); 15 of 20 at level 0.9.
SBC_ALPHA = 0.02


def run_sbc(cal: Calibration, datasets: int, out: Path, *, force: bool, submit: Submit | None, workers: int):
    """The check into ``out``: ``sbc.csv`` (per dataset and constant), ``coverage.csv``, ``report.md``."""
    check_writable(out, force)
    with tempfile.TemporaryDirectory(prefix="improvesim-sbc-") as work:
        table = sbc(cal, datasets, submit, workers, Path(work))
    cover = coverage(table, cal.sbc.level, SBC_ALPHA)
    with staged_folder(out, force=force) as stage:
        table.to_csv(stage / "sbc.csv", index=False)
        cover.to_csv(stage / "coverage.csv", index=False)
        (stage / "report.md").write_text(sbc_report(cal, cover, datasets))
    return cover


def sbc_report(cal: Calibration, cover: pd.DataFrame, datasets: int) -> str:
    s = cal.sbc
    lines = [
        f"# Simulation-based calibration check: {cal.name}",
        "",
        f"{datasets} synthetic case datasets, each from constants drawn from the prior (calibrated and nuisance), "
        f"each calibrated by ABC-SMC with population {s.population_size}, at most {s.max_populations} generations, "
        f"{s.replicates} replicates per particle (seed {cal.seed}), the posterior being the last generation whose "
        f"effective sample size is at least {cal.abc.min_ess_fraction:g} of the population, as in the calibration. "
        "Criterion, fixed before the first run: each "
        f"constant's central {100 * s.level:.0f}% credible interval covers the truth in at least "
        f"{int(cover['floor'].iloc[0])} of {datasets} (P < {SBC_ALPHA:g} under a correct posterior, binomial).",
        "",
        "| Constant | Covered | Floor | Mean interval width (share of prior) | Verdict |",
        "|---|---|---|---|---|",
        *[
            f"| `{r.parameter}` | {r.covered} of {r.datasets} | {r.floor} | {r.mean_width_of_prior:.2f} | "
            f"{'pass' if r.passed else 'FAIL'} |"
            for r in cover.itertuples()
        ],
        "",
        "Intervals nearly as wide as the prior cover the truth whatever the data: read coverage beside the width.",
        "",
    ]
    return "\n".join(lines)


# --- workers -----------------------------------------------------------------------------------


@contextmanager
def workers_for(workers: int, dask_local: int | None, scheduler: str | None) -> Iterator[tuple[Submit | None, int]]:
    """(submit, workers) for the sampler: a spawned process pool, a Dask cluster, or this process."""
    if dask_local or scheduler:
        from dask.distributed import Client

        from improvesim.experiments.sweep import local_cluster

        cluster = local_cluster(dask_local) if dask_local else None
        client = Client(cluster if cluster is not None else scheduler)
        try:
            n = max(1, len(client.scheduler_info().get("workers", {})))
            yield (lambda fn, *args: client.submit(fn, *args, pure=False)), n
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
        return
    if workers <= 1:
        yield None, 1
        return
    from improvesim.experiments.sweep import _new_pool, _stop_pool

    pool = _new_pool(workers)
    try:
        yield pool.submit, workers
    finally:
        _stop_pool(pool)


# --- adoption ----------------------------------------------------------------------------------


class AdoptionError(ValueError):
    """A calibration folder that cannot be adopted (missing files, a point outside the posterior's constants)."""


def adopt(folder: Path, repo: Path, name: str, force: bool = False) -> tuple[Path, Path]:
    """Make calibration ``folder``'s joint point the defaults, and bundle its posterior as ``name``.

    Writes ``repo/sim/calibrated.toml`` (``[provenance]``: experiment, seed,
    date, commit, folder; ``[values]``: the joint point, read by
    :mod:`improvesim.sim.schema`) and copies ``posterior.parquet`` to
    ``repo/scenarios/posteriors/NAME.parquet``, each file written whole
    (a temporary file renamed into place).  An existing bundled posterior of
    that name is replaced only with ``force``.  Raises :class:`AdoptionError`
    or :class:`~improvesim.sim.params.ParameterError` (a bad posterior file).
    """
    import os

    from improvesim.sim import schema
    from improvesim.sim.posterior import load_posterior

    for needed in ("posterior.parquet", "point.toml", "calibration.json"):
        if not (folder / needed).is_file():
            raise AdoptionError(f"{folder}: no {needed}; allowed: a folder written by improvesim calibrate")
    if not (repo / "sim" / "schema.py").is_file():
        raise AdoptionError(f"--repo {repo}: not a checkout of improvesim (no sim/schema.py)")
    posterior = load_posterior(folder / "posterior.parquet")
    point = _read_point(folder / "point.toml")
    if not set(point) <= set(posterior.constants):
        raise AdoptionError(f"{folder}/point.toml: its constants are not all columns of posterior.parquet")
    for name, value in point.items():  # never write a calibrated.toml that sim/schema.py refuses
        try:
            schema.adopted_value(schema.BY_NAME[name], value, folder / "point.toml")
        except schema.AdoptedFileError as exc:
            raise AdoptionError(str(exc)) from None
    try:
        meta = json.loads((folder / "calibration.json").read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise AdoptionError(
            f"{folder}/calibration.json: not valid JSON ({exc}); allowed: the file calibrate writes"
        ) from None
    if not isinstance(meta, dict):
        raise AdoptionError(f"{folder}/calibration.json: not a JSON object; allowed: the file calibrate writes")
    bundled = repo / "scenarios" / "posteriors" / f"{name}.parquet"
    if bundled.exists() and not force:
        raise AdoptionError(f"{bundled} exists; use --force to replace it")
    lines = [
        "# The adopted calibration: written by scripts/adopt_calibration.py, read by sim/schema.py.",
        "# Its values are the defaults of the calibrated constants (the posterior's joint point, by point_rule).",
        "[provenance]",
        *[
            f"{key} = {json.dumps(str(meta.get(key, '')))}"
            for key in ("experiment", "seed", "date", "commit", "stopped")
        ],
        f"point_rule = {json.dumps(str(meta.get('point_rule', 'kde mode')))}",
        f"folder = {json.dumps(str(folder))}",
        f"posterior = {json.dumps(name)}",
        "",
        "[values]",
        *[f'"{k}" = {point[k]!r}' for k in sorted(point)],
    ]
    target = repo / "sim" / "calibrated.toml"
    _write_whole(target, ("\n".join(lines) + "\n").encode())
    bundled.parent.mkdir(parents=True, exist_ok=True)
    _write_whole(bundled, (folder / "posterior.parquet").read_bytes())
    os.sync()
    return target, bundled


def _read_point(path: Path) -> dict:
    """``{"section.key": value}`` of a ``point.toml``; :class:`AdoptionError` when it is not one."""
    import tomllib

    from improvesim.sim.schema import BY_NAME

    try:
        with path.open("rb") as f:
            tables = tomllib.load(f)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AdoptionError(f"{path}: not valid TOML ({exc}); allowed: the file calibrate writes") from None
    point = {}
    for section, body in tables.items():
        if not isinstance(body, dict):
            raise AdoptionError(f"{path}: {section}: not a table; allowed: [section] tables of parameter values")
        point |= {f"{section}.{key}": value for key, value in body.items()}
    unknown = sorted(set(point) - set(BY_NAME))
    if unknown:
        raise AdoptionError(f"{path}: {unknown[0]}: not a parameter; allowed: parameters of improvesim params")
    return point


def _write_whole(path: Path, data: bytes) -> None:
    import os

    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
