"""Global sensitivity analysis (SALib) over a sweep store.

Method functions take SALib's ``problem``, the sample matrix ``X`` and one
value ``Y`` per sample row, in sample order, and return a tidy table of
indices; they are checked on the Ishigami function (known indices) in the
tests before they are trusted on the model.

How the model's stochastic output is aggregated: each sample row (a
parameter set) is run with several replicates; the analysis uses the **mean
over replicates** of each row.  The indices then describe how the parameters
drive the expected outcome, which is what a district can plan for; replicate
noise is reported beside them (:func:`noise_decomposition`), both as a share
of run-to-run variance and as the share left in the replicate means.

Guards against SALib's silent traps: the second-order setting, the method
and the groups are read from the store (never re-entered by hand); rows are
put in sample order by their set index and checked against the design's
size; Sobol' N must be a power of two (checked when the experiment is
read); a row with no successful run stops the analysis with a message;
designs too small for an index to be defined are refused
(:func:`check_sample_size`).  Outcomes that are undefined in some runs are
handled explicitly: times to an event are censored at each run's own
horizon (:mod:`improvesim.sim.censoring`; with horizons that differ, at the
shortest), anything else undefined is reported and skipped, never silently
dropped.  Indices that are undefined (NaN) are never ranked, indices outside
[0, 1] are flagged, and no order is called clear when replicate noise is a
large share of the variance analysed.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CONF_LEVEL = 0.95
RESAMPLES = 500
#: The convergence table's designs: the first quarter and half of the base samples, and all of them.
PREFIXES = (("quarter", 0.25), ("half", 0.5), ("full", 1.0))
#: Outcomes measured as months to an event: undefined means "not within the horizon".
CENSORED = ("time_to_first_institutionalization", "median_time_to_institutionalization")
#: Smallest designs analysed.  SALib states no minimum; these follow from the estimators:
#: Sobol' N = 16 base samples leaves 4 in the quarter-sample convergence check (with N = 1 the
#: bootstrap interval has zero width and ST can exceed 1); Morris needs two trajectories per
#: convergence step for sigma (a standard deviation), so 8 in all; SALib's delta conditions on
#: classes of at least 10 samples and PAWN on 10 slides, so both need 20 parameter sets.
MIN_SAMPLES = {"sobol": 16, "morris": 8}
MIN_SETS_FROM_STORE = 20
#: Replicate noise above this share of the variance analysed makes any order uncertain.
NOISE_LIMIT = 0.2


class SensitivityError(ValueError):
    """The store cannot be analysed as asked (exit status 2)."""


def check_sample_size(design: str, samples: int | None, where: str = "samples") -> None:
    """Refuse a Sobol' or Morris design too small for its indices (see :data:`MIN_SAMPLES`).

    Raises :class:`SensitivityError` naming ``where``, the value and the minimum.
    """
    least = MIN_SAMPLES.get(design)
    if least is not None and (samples or 0) < least:
        what = "base samples N" if design == "sobol" else "trajectories"
        raise SensitivityError(
            f"{where}: got {samples}; {design} indices need at least {least} {what} "
            "(fewer give undefined or impossible indices)"
        )


# --- methods on (problem, X, Y) ------------------------------------------------------


def factor_names(problem: dict) -> list[str]:
    """Names the indices are reported for: groups if any, else parameters (SALib's order)."""
    return list(dict.fromkeys(problem["groups"])) if problem.get("groups") else list(problem["names"])


def rows_per_base_sample(problem: dict, second_order: bool) -> int:
    k = len(factor_names(problem))
    return 2 * k + 2 if second_order else k + 2


def sobol_indices(
    problem: dict,
    Y: np.ndarray,
    second_order: bool,
    seed: int = 0,
    base_samples: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """First-order (S1) and total (ST) indices with 95% intervals; S2 matrix if second order.

    ``Y`` must hold one value per row of the Saltelli design, in sample
    order: ``base_samples * (2k + 2)`` values with second order,
    ``base_samples * (k + 2)`` without, for k factors (or groups).  One
    SALib ``sobol.analyze`` call through its ``parallel`` path on one
    forked process (its serial path when this process may not fork:
    :func:`~improvesim.experiments.sweep.start_method`): the numbers of its serial path (which gives an index whose
    resampled outputs are all equal an interval of 0, as the parallel path's
    estimator does), for about a quarter less work (the serial path gathers
    and spans the resampled outputs again for every factor; measured: 199
    factors x 1,024 base samples, 5.4-6.7 s of CPU against 7.7-9.7 s).
    Several outcomes' analyses are shared out among processes by the
    caller (:mod:`improvesim.sensitivity`).

    Raises:
        SensitivityError: ``Y`` does not fit the design.
    """
    from SALib.analyze import sobol

    from improvesim.experiments.sweep import forks_quietly, start_method

    step = rows_per_base_sample(problem, second_order)
    n = len(Y) // step
    fits = len(Y) % step == 0 and n > 0 and (n & (n - 1)) == 0
    if base_samples is not None:
        fits = fits and n == base_samples
    if not fits:
        raise SensitivityError(
            f"{len(Y)} results do not fit a Saltelli design of {step} rows per base sample "
            f"(second_order={second_order}, {len(factor_names(problem))} factors"
            + (f", N = {base_samples}" if base_samples else "")
            + "); the results are not those of this design"
        )
    names = factor_names(problem)
    fork = start_method() == "fork"  # (SALib's parallel path forks a process)
    with forks_quietly() if fork else contextlib.nullcontext():
        r = sobol.analyze(
            problem,
            Y,
            calc_second_order=second_order,
            num_resamples=RESAMPLES,
            conf_level=CONF_LEVEL,
            seed=salib_seed(seed),
            parallel=fork,
            n_processors=1 if fork else None,
        )
    table = pd.DataFrame(
        {"factor": names, "S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]}
    )
    s2 = pd.DataFrame(r["S2"], index=names, columns=names) if second_order else None
    return table, s2


def sobol_table(problem: dict, Y: np.ndarray, second_order: bool, seed: int = 0) -> pd.DataFrame:
    """The S1 and ST table of :func:`sobol_indices` alone."""
    return sobol_indices(problem, Y, second_order, seed)[0]


def salib_seed(seed: int) -> int:
    """The seed handed to SALib's resampling for an experiment seed (0 to 2**63 - 1).

    SALib's Sobol', delta and PAWN analyses read seed 0 as "no seed" (their intervals
    then differ from one call to the next), and delta and PAWN seed NumPy's global
    generator, which refuses 2**32 and above: those seeds are folded into 1 to
    2**32 - 1 (0 becomes 1); every other seed is handed on unchanged.  (Morris takes
    any seed as it is: it makes its own NumPy Generator.)"""
    return seed if 0 < seed < 2**32 else 1 + seed % (2**32 - 1)


def morris_indices(problem: dict, X: np.ndarray, Y: np.ndarray, levels: int, seed: int = 0) -> pd.DataFrame:
    """Elementary effects: mu, mu_star (with 95% interval) and sigma."""
    from SALib.analyze import morris

    r = morris.analyze(problem, X, Y, num_resamples=RESAMPLES, conf_level=CONF_LEVEL, num_levels=levels, seed=seed)
    return pd.DataFrame(
        {
            "factor": list(r["names"]),
            "mu": r["mu"],
            "mu_star": r["mu_star"],
            "mu_star_conf": r["mu_star_conf"],
            "sigma": r["sigma"],
        }
    )


def delta_indices(problem: dict, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Borgonovo's moment-independent delta (SALib's raw estimator) and first-order S1, from any sample."""
    from SALib.analyze import delta

    r = delta.analyze(
        problem, X, Y, num_resamples=RESAMPLES, conf_level=CONF_LEVEL, seed=salib_seed(seed), method="all"
    )
    return pd.DataFrame(
        {
            "factor": problem["names"],
            "delta": r["delta_raw"],
            "delta_conf": r["delta_raw_conf"],
            "S1": r["S1"],
            "S1_conf": r["S1_conf"],
        }
    )


def pawn_indices(problem: dict, X: np.ndarray, Y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """PAWN (Pianosi and Wagener 2015): statistics of the KS distance over 10 conditioning slides."""
    from SALib.analyze import pawn

    r = pawn.analyze(problem, X, Y, S=10, seed=salib_seed(seed))
    return pd.DataFrame(
        {
            "factor": problem["names"],
            "pawn_median": r["median"],
            "pawn_mean": r["mean"],
            "pawn_max": r["maximum"],
            "pawn_cv": r["CV"],
        }
    )


def first_order_rows(Y: np.ndarray, k: int) -> np.ndarray:
    """The first-order Saltelli design inside a second-order one.

    Per base sample, a second-order design has rows A, AB_1..AB_k, BA_1..BA_k,
    B; the first-order design is A, AB_1..AB_k, B.  Selecting those rows gives
    a valid first-order design for S1 and ST (much faster to analyse than
    recomputing S2), without ever telling SALib the wrong second-order setting.
    """
    blocks = Y.reshape(-1, 2 * k + 2)
    return np.concatenate([blocks[:, : k + 1], blocks[:, -1:]], axis=1).reshape(-1)


def convergence_prefixes(
    method: str, problem: dict, X: np.ndarray, Y: np.ndarray, second_order: bool, levels: int, seed: int = 0
) -> list[tuple[str, int, Callable, tuple]]:
    """The designs of :data:`PREFIXES` whose indices :func:`convergence` tabulates: ``(label, base
    samples, function, arguments)`` each, ``function(*arguments)`` giving the indices table (Sobol':
    first-order indices, from the first-order rows of a second-order design).

    Saltelli and Morris designs are blocks of rows per base sample (or
    trajectory), and Sobol' sequences are balanced on power-of-two prefixes,
    so the prefixes are valid smaller designs.  The calls are independent:
    a caller may make them on other processes.
    """
    k = len(factor_names(problem))
    if method == "sobol" and second_order:
        Y, second_order = first_order_rows(Y, k), False
    step = rows_per_base_sample(problem, second_order) if method == "sobol" else k + 1
    base = len(Y) // step
    prefixes = []
    for label, fraction in PREFIXES:
        n = max(1, int(base * fraction)) * step
        if method == "sobol":
            call = (sobol_table, (problem, Y[:n], second_order, seed))
        else:
            call = (morris_indices, (problem, X[:n], Y[:n], levels, seed))
        prefixes.append((label, n // step, *call))
    return prefixes


def convergence(
    method: str,
    problem: dict,
    X: np.ndarray,
    Y: np.ndarray,
    second_order: bool,
    levels: int,
    seed: int = 0,
    full: pd.DataFrame | None = None,
    tables: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """Indices recomputed on the first quarter and half of the base samples beside the full set
    (:func:`convergence_prefixes`).  ``full`` (the indices on all samples) is reused when given, as
    are ``tables`` (label to indices table, computed elsewhere)."""
    tables = dict(tables or {})
    if full is not None:
        tables["full"] = full
    frames = []
    for label, base_samples, function, arguments in convergence_prefixes(
        method, problem, X, Y, second_order, levels, seed
    ):
        table = tables[label] if label in tables else function(*arguments)
        frames.append(table.assign(samples=label, base_samples=base_samples))
    return pd.concat(frames, ignore_index=True)


# --- the store ------------------------------------------------------------------------


@dataclass
class Study:
    """A sampled design read back from a store, rows in sample order."""

    method: str
    problem: dict
    X: np.ndarray
    second_order: bool
    levels: int
    replicates: int
    seed: int
    horizon_months: int
    outcomes: list[str]
    base_samples: int


def read_study(store: Path) -> Study:
    meta = json.loads((store / "experiment.json").read_text())
    if meta["design"] not in ("sobol", "morris"):
        raise SensitivityError(
            f'{store} holds a {meta["design"]} design; Sobol\' and Morris indices need design = "sobol" or "morris" '
            "(for any other sweep use `improvesim sensitivity --from STORE`)"
        )
    X = pd.read_parquet(store / "design.parquet").to_numpy()
    if len(X) != meta["sets"]:
        raise SensitivityError(f"{store}: design.parquet has {len(X)} rows but the plan has {meta['sets']} sets")
    return Study(
        method=meta["design"],
        problem=meta["problem"],
        X=X,
        second_order=bool(meta["second_order"]),
        levels=int(meta["levels"]),
        replicates=int(meta["replicates"]),
        seed=int(meta["seed"]),
        horizon_months=int(meta["horizon_months"]),
        outcomes=list(meta["outcomes"]),
        base_samples=int(meta["samples"]),
    )


def set_means(outcomes: pd.DataFrame, outcome: str, sets: int, horizon_months: int) -> tuple[np.ndarray, dict]:
    """Mean over replicates of each set, in set order, with notes on undefined values.

    ``outcomes`` has one row per run: ``set``, ``status`` and the outcome,
    and optionally ``horizon_months`` (each run's own horizon; else every
    run's is ``horizon_months``).  A time to an event that did not happen is
    censored at the run's horizon; when horizons differ, every run is
    censored at the shortest (:func:`improvesim.sim.censoring.restricted_times`),
    so runs of different lengths stay comparable.  Raises
    :class:`SensitivityError` for an undefined value of any other outcome
    and for sample rows without a successful run.
    """
    from improvesim.sim.censoring import restricted_times

    ok = outcomes[outcomes["status"] == "ok"]
    values = ok[outcome].astype(float)
    notes = {"runs": len(outcomes), "failed_runs": int((outcomes["status"] != "ok").sum())}
    undefined = values.isna()
    notes["undefined_runs"] = int(undefined.sum())
    if outcome in CENSORED and len(ok):
        horizons = ok["horizon_months"] if "horizon_months" in ok else pd.Series(horizon_months, index=ok.index)
        restricted, censored_at = restricted_times(values.to_numpy(), horizons.to_numpy())
        if undefined.any() or horizons.nunique() > 1:
            notes["censored_at_months"] = int(censored_at)
            notes["horizons_vary"] = horizons.nunique() > 1
        values = pd.Series(restricted, index=ok.index)
    elif undefined.any():
        raise SensitivityError(f"{outcome} is undefined in {int(undefined.sum())} runs")
    means = values.groupby(ok["set"]).mean()
    if len(means) != sets or not np.array_equal(means.index.to_numpy(), np.arange(sets)):
        missing = sorted(set(range(sets)) - set(means.index))[:5]
        raise SensitivityError(
            f"{outcome}: sample rows {missing}... have no successful run; the analysis needs every row of the design "
            "(finish the sweep with --resume, or look at the failures in manifest.parquet)"
        )
    return means.to_numpy(), notes


def noise_decomposition(
    outcomes: pd.DataFrame, outcome: str, replicates: int, common_random_numbers: bool = False
) -> dict:
    """How much of the outcome's variance is noise between replicates rather than parameters.

    ``noise_share_of_runs``: the mean variance within a set over the
    variance of all runs.  ``noise_share_of_means``: the noise left in the
    replicate means over the variance of those means.  Without common random
    numbers that noise is the within-set variance / replicates.  With them
    (replicate k of every set shares its seed), a seed's effect shifts every
    set's mean alike and does not blur differences between sets; only the
    set-by-replicate interaction does, estimated by the residual mean square
    of a two-way (set x replicate) layout, / replicates.
    """
    ok = outcomes[(outcomes["status"] == "ok") & outcomes[outcome].notna()]
    total = float(ok[outcome].var(ddof=1)) if len(ok) > 1 else float("nan")
    within = float(ok.groupby("set")[outcome].var(ddof=1).mean())
    means = ok.groupby("set")[outcome].mean()
    between_means = float(means.var(ddof=1)) if len(means) > 1 else float("nan")
    noise_in_means = within / replicates
    if common_random_numbers and "replicate" in ok.columns:
        noise_in_means = _interaction_variance(ok, outcome, noise_in_means) / replicates
    return {
        "outcome": outcome,
        "run_variance": total,
        "replicate_variance": within,
        "noise_share_of_runs": within / total if total > 0 else float("nan"),
        "noise_share_of_means": noise_in_means / between_means if between_means > 0 else float("nan"),
    }


def _interaction_variance(ok: pd.DataFrame, outcome: str, fallback: float) -> float:
    """Residual mean square of set x replicate (sets with every replicate), or ``fallback`` times replicates."""
    table = ok.pivot_table(index="set", columns="replicate", values=outcome, aggfunc="mean").dropna()
    S, R = table.shape
    if S < 2 or R < 2:
        return fallback * max(R, 1)
    y = table.to_numpy()
    residual = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + y.mean()
    return float((residual**2).sum() / ((S - 1) * (R - 1)))


# --- plain words -------------------------------------------------------------------------


def _overlap(a_value, a_conf, b_value, b_conf) -> bool:
    return a_value - a_conf <= b_value + b_conf


def ranking_sentence(
    table: pd.DataFrame, index: str, top: int = 3, noise_share: float = float("nan"), unit_interval: bool = True
) -> str:
    """Which factors matter most by ``index`` and whether their order is clear.

    Factors whose index or interval is undefined (NaN) are named, never
    ranked.  With ``unit_interval`` (S1, ST, delta: shares in [0, 1]), an
    index whose 95% interval lies wholly outside [0, 1] is flagged as
    impossible and no order is given as clear.  Nor is it when replicate
    noise is :data:`NOISE_LIMIT` or more of the variance analysed
    (``noise_share``): the bootstrap intervals do not include that noise.
    """
    conf = f"{index}_conf"
    defined = table[index].notna() & table[conf].notna()
    undefined = table.loc[~defined, "factor"].tolist()
    t = table[defined].sort_values(index, ascending=False).reset_index(drop=True)
    if t.empty:
        return (
            f"No {index} could be estimated: it is undefined (NaN) for every factor; the sample is too small "
            "or the outcome varies too little. Nothing is ranked."
        )
    parts = [
        f"**{r.factor}** ({index} {getattr(r, index):.2f} ± {getattr(r, conf):.2f})" for r in t.head(top).itertuples()
    ]
    text = "Matter most: " + ", ".join(parts) + "."
    if undefined:
        text += f" Undefined (NaN), not ranked: {', '.join(undefined)}."
    impossible = t[(t[index] - t[conf] > 1.0) | (t[index] + t[conf] < 0.0)]["factor"].tolist() if unit_interval else []
    if impossible:
        return text + (
            f" Impossible values: {', '.join(impossible)} (a share of variance must lie in [0, 1]); "
            "the sample is too small for these indices, so no order can be trusted."
        )
    if len(t) > 1:
        a, b = t.iloc[0], t.iloc[1]
        if _overlap(a[index], a[conf], b[index], b[conf]):
            text += " The order of the first two is not certain: their 95% intervals overlap."
        elif noise_share >= NOISE_LIMIT:
            text += (
                f" The order of the first two is not certain: replicate noise is {noise_share:.0%} of the variance "
                "analysed, which the 95% intervals leave out; add replicates."
            )
        else:
            text += f" {a['factor']} is clearly first: its 95% interval lies above all others'."
    small = t[t[index] + t[conf] < 0.02]["factor"].tolist() if index in ("ST", "S1") else []
    if small:
        text += f" Negligible (upper 95% bound of {index} below 0.02): {', '.join(small)}."
    return text


def convergence_sentence(conv: pd.DataFrame, index: str, top: int = 3) -> str:
    """Whether the indices have settled: the top ranking and the change from half to all samples."""

    def ranking(label: str) -> list[str]:
        values = conv[conv["samples"] == label].set_index("factor")[index]
        return list(values.sort_values(ascending=False).index[:top])

    full = conv[conv["samples"] == "full"].set_index("factor")[index]
    half = conv[conv["samples"] == "half"].set_index("factor")[index]
    change = float((full - half).abs().max())
    text = f"Largest change of {index} between half and all of the samples: {change:.3f}. "
    if ranking("full") != ranking("half"):
        return (
            text + f"The top-{top} ranking still changed between half and all of the samples: more samples would help."
        )
    if ranking("full") != ranking("quarter"):
        return text + f"The top-{top} ranking is the same at half of the samples (not yet at a quarter)."
    return text + f"The top-{top} ranking is already the same at a quarter and at half of the samples."


def noise_sentence(noise: dict, replicates: int) -> str:
    return (
        f"Noise between replicates is {noise['noise_share_of_runs']:.0%} of the run-to-run variance; "
        f"averaged over {replicates} replicates it is {noise['noise_share_of_means']:.1%} of the variance analysed."
    )


def undefined_sentence(notes: dict) -> str:
    bits = []
    if notes.get("failed_runs"):
        bits.append(f"{notes['failed_runs']} of {notes['runs']} runs failed and were left out of their row's mean")
    if notes.get("horizons_vary"):
        bits.append(
            f"the runs' horizons differ, so every run is censored at the shortest: a time beyond "
            f"{notes['censored_at_months'] - 1} months, or no event, counts as {notes['censored_at_months']} months"
        )
    elif notes.get("undefined_runs"):
        bits.append(
            f"undefined in {notes['undefined_runs']} of {notes['runs']} runs (no event within the horizon); "
            f"those count as {notes['censored_at_months']} months (censored at the horizon)"
        )
    return ("Note: " + "; ".join(bits) + ".") if bits else ""
