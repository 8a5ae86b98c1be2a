"""``improvesim sensitivity``: run a Sobol' or Morris study and write its analysis.

    improvesim sensitivity EXPERIMENT [--out DIR] [--workers N] [--resume] [--force] [--dask-local N | --scheduler ADDRESS]
    improvesim sensitivity --from STORE            # delta and PAWN indices of any sweep store

The sweep store is DIR (default ``results/<experiment name>/``); the
analysis goes to ``DIR/sensitivity/`` (``STORE/sensitivity-from/`` for
``--from``), written whole into a staging folder and swapped into place:

    report.md                     plain-words findings per outcome, with the figures
    indices.csv / morris.csv      every index with its 95% interval, per outcome
    s2-<outcome>.csv              second-order indices (Sobol' with second_order)
    convergence.csv               indices at a quarter, half and all of the samples
    noise.csv                     replicate noise against parameter-driven variance
    figures/*.png                 indices with error bars, S2 heatmaps, mu* against sigma, convergence
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from improvesim.analysis import plots
from improvesim.analysis import sensitivity as sa
from improvesim.experiments.output import staged_folder
from improvesim.experiments.store import read_parts
from improvesim.experiments.sweep import run_calls


def _announce_replace(folder: Path) -> None:
    if folder.exists():
        print(f"replacing the previous analysis in {folder}/", file=sys.stderr)


def _outcome_table(store: Path, meta: dict) -> pd.DataFrame:
    """One row per computed run: run_id, set, replicate, horizon_months (the run's own), status, error, outcomes.

    Only the plan's columns used are read (a million runs of 199 factors took 5-6 s to read whole)."""
    path = store / "plan.parquet"
    wanted = ["run_id", "set", "replicate", "run.years"]
    plan = pd.read_parquet(path, columns=[c for c in wanted if c in pq.read_schema(path).names])
    if "run.years" in plan.columns:
        horizon = plan["run.years"].astype(int) * 12
    else:
        horizon = pd.Series(int(meta["horizon_months"]), index=plan.index)
    plan = plan[["run_id", "set", "replicate"]].assign(horizon_months=horizon)
    return plan.merge(read_parts(store, "outcomes"), on="run_id", how="inner")


def _meta(store: Path) -> dict:
    return json.loads((store / "experiment.json").read_text())


def analyse_study(store: Path, processes: int = 1) -> tuple[Path, int]:
    """Sobol' or Morris analysis of every outcome of a sampled store, the indices computed on
    ``processes`` processes (:func:`_indices`).

    Returns the analysis folder and how many outcomes were analysed (the
    others are listed in the report with the reason).  Raises
    :class:`~improvesim.analysis.sensitivity.SensitivityError` for a store
    that is not a Sobol' or Morris design, or one too small to analyse.
    """
    study = sa.read_study(store)
    sa.check_sample_size(study.method, study.base_samples, where=f"{store}: samples")
    meta = _meta(store)
    crn = bool(meta.get("common_random_numbers"))
    outcomes = _outcome_table(store, meta)
    folder = store / "sensitivity"
    _announce_replace(folder)
    skipped: list[str] = []
    means = {}
    for outcome in study.outcomes:
        analysable = _analysable(outcomes, outcome, len(study.X), study.horizon_months, skipped)
        if analysable is not None:
            means[outcome] = analysable
    indices = _indices(study, {outcome: Y for outcome, (Y, _) in means.items()}, processes)
    light = replace(study, X=study.X[:0])  # what the report needs of the study, without the sample matrix
    with staged_folder(folder, force=True) as stage:
        (stage / "figures").mkdir()
        calls = [
            (
                _outcome_section,
                (stage, outcome, light, *indices[outcome], notes, _noise_columns(outcomes, outcome), crn),
            )
            for outcome, (_, notes) in means.items()
        ]
        finished = run_calls(calls, processes)  # (figures and noise: about 1 s an outcome on one core)
        tables = [table.assign(outcome=outcome) for outcome, (table, _, _) in indices.items()]
        convs = [conv.assign(outcome=outcome) for outcome, (_, _, conv) in indices.items()]
        noises = [noise for noise, _ in finished]
        _write_tables(stage, study.method, tables, convs, noises)
        (stage / "report.md").write_text(_report(store, study, [section for _, section in finished], skipped))
    return folder, len(finished)


def _noise_columns(outcomes: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """The columns of the outcome table :func:`~improvesim.analysis.sensitivity.noise_decomposition` reads."""
    return outcomes[[c for c in ("set", "replicate", "status", outcome) if c in outcomes.columns]]


def _outcome_section(
    stage: Path, outcome: str, study: sa.Study, table, s2, conv, notes: dict, outcomes: pd.DataFrame, crn: bool
) -> tuple[dict, str]:
    """An outcome's figures (written into ``stage/figures``), its noise decomposition and its section of
    the report (text); runs on any process."""
    index = "ST" if study.method == "sobol" else "mu_star"
    figures = []
    if study.method == "sobol":
        figures.append(_save(plots.sobol_bars(table, outcome), stage, f"{outcome}-indices.png"))
        if s2 is not None:
            s2.to_csv(stage / f"s2-{outcome}.csv")
            figures.append(_save(plots.s2_heatmap(s2, outcome), stage, f"{outcome}-s2.png"))
    else:
        figures.append(_save(plots.morris_scatter(table, outcome), stage, f"{outcome}-morris.png"))
    figures.append(_save(plots.convergence_lines(conv, outcome, index), stage, f"{outcome}-convergence.png"))
    noise = sa.noise_decomposition(outcomes, outcome, study.replicates, crn)
    return noise, _section(outcome, table, index, conv, noise, notes, figures, study)


def _indices(study: sa.Study, means: dict[str, np.ndarray], processes: int) -> dict[str, tuple]:
    """Each outcome's indices table, S2 matrix (or None) and convergence table, from its replicate
    means ``means[outcome]`` (in sample order).

    Every SALib call (an outcome's indices on all its samples, then on the first quarter and half:
    :func:`~improvesim.analysis.sensitivity.convergence_prefixes`) is independent, so they are shared
    out among ``processes`` worker processes, the longest first (``sobol_all.toml``: 24 calls, about
    53 s on one core); each call is the one a single process makes, so the numbers are the same.
    """
    keys, calls = [], []
    for outcome, Y in means.items():
        prefixes = sa.convergence_prefixes(
            study.method, study.problem, study.X, Y, study.second_order, study.levels, study.seed
        )
        for label, base_samples, function, arguments in prefixes:
            if label == "full":  # the outcome's own indices (second order kept), reused by the convergence table
                function, arguments = _full_indices(study, Y)
            keys.append((outcome, label, base_samples))
            calls.append((function, arguments))
    order = sorted(range(len(calls)), key=lambda i: -keys[i][2])
    results = run_calls([calls[i] for i in order], processes)
    done = {keys[i][:2]: result for i, result in zip(order, results, strict=True)}
    indices = {}
    for outcome, Y in means.items():
        full = done[outcome, "full"]
        table, s2 = full if study.method == "sobol" else (full, None)
        smaller = {label: done[outcome, label] for label, _ in sa.PREFIXES if label != "full"}
        conv = sa.convergence(
            study.method,
            study.problem,
            study.X,
            Y,
            study.second_order,
            study.levels,
            study.seed,
            full=table,
            tables=smaller,
        )
        indices[outcome] = (table, s2, conv)
    return indices


def _full_indices(study: sa.Study, Y: np.ndarray) -> tuple:
    """(function, arguments) of an outcome's indices on all its samples."""
    if study.method == "sobol":
        return sa.sobol_indices, (study.problem, Y, study.second_order, study.seed, study.base_samples)
    return sa.morris_indices, (study.problem, study.X, Y, study.levels, study.seed)


def _analysable(outcomes: pd.DataFrame, outcome: str, sets: int, horizon: int, skipped: list[str]):
    """(replicate means, notes) for an outcome, or None, with the reason added to ``skipped``."""
    try:
        Y, notes = sa.set_means(outcomes, outcome, sets, horizon)
    except sa.SensitivityError as exc:
        skipped.append(f"- **{outcome}**: not analysed: {exc}.")
        return None
    if np.ptp(Y) == 0:
        skipped.append(f"- **{outcome}**: not analysed: it takes the same value in every parameter set.")
        return None
    return Y, notes


def _save(fig, stage: Path, name: str) -> str:
    fig.savefig(stage / "figures" / name)
    return f"figures/{name}"


def _write_tables(stage: Path, method: str, tables, convs, noises) -> None:
    if not tables:
        return
    name = "indices.csv" if method == "sobol" else "morris.csv"
    _first(pd.concat(tables, ignore_index=True), "outcome").to_csv(stage / name, index=False)
    _first(pd.concat(convs, ignore_index=True), "outcome").to_csv(stage / "convergence.csv", index=False)
    pd.DataFrame(noises).to_csv(stage / "noise.csv", index=False)


def _first(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    return frame[[column] + [c for c in frame.columns if c != column]]


def _section(outcome, table, index, conv, noise, notes, figures, study) -> str:
    ranking = sa.ranking_sentence(
        table, index, noise_share=noise["noise_share_of_means"], unit_interval=study.method == "sobol"
    )
    lines = [f"## {outcome}", "", ranking, ""]
    if study.method == "sobol":
        interactions = float((table["ST"] - table["S1"]).clip(lower=0).sum())
        lines += [
            f"First-order effects add up to {table['S1'].sum():.2f} of the variance; the totals exceed them "
            f"by {interactions:.2f} in all, the part due to interactions.",
            "",
        ]
    else:
        nonlinear = table[table["sigma"] > table["mu_star"]]["factor"].tolist()
        if nonlinear:
            lines += [
                f"Effects that vary a lot across the space (sigma > mu*, non-linear or interacting): "
                f"{', '.join(nonlinear)}.",
                "",
            ]
    lines += [sa.convergence_sentence(conv, index), "", sa.noise_sentence(noise, study.replicates), ""]
    note = sa.undefined_sentence(notes)
    if note:
        lines += [note, ""]
    lines += [f"![{outcome}]({f})" for f in figures] + [""]
    lines += [_markdown_table(table.sort_values(index, ascending=False).head(12)), ""]
    return "\n".join(lines)


def _markdown_table(frame: pd.DataFrame) -> str:
    cols = list(frame.columns)
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        rows.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(rows)


def _report(store: Path, study, sections, skipped) -> str:
    meta = _meta(store)
    base = meta["samples"]
    what = (
        f"Sobol' indices (Saltelli sampling, N = {base}, second order {'on' if study.second_order else 'off'})"
        if study.method == "sobol"
        else f"Morris elementary effects ({base} trajectories, {study.levels} levels)"
    )
    header = [
        f"# Sensitivity analysis: {meta['experiment']}",
        "",
        f"{what}; {meta['sets']} sample rows x {study.replicates} replicates = {meta['runs']} runs; "
        f"factors: {', '.join(sa.factor_names(study.problem))}.",
        "",
        "Each sample row's outcome is the **mean over its replicates**: the indices describe what drives the "
        "expected outcome a district can plan for, and the noise between replicates is reported beside them. "
        "Intervals are 95% bootstrap intervals. Sample rows are analysed in the design's order, with the "
        "design's own second-order setting, read from the store.",
        "",
    ]
    header += [uncertainty_sentence(meta), ""]
    if skipped:
        header += ["Outcomes not analysed:", "", *skipped, ""]
    return "\n".join(header + sections)


def uncertainty_sentence(meta: dict) -> str:
    """What the replicate means, the noise share and the intervals include, in words, from a store's metadata.

    Without a posterior: replicate noise only.  With one: which of its
    constants each replicate drew (the others kept the scenario's or the
    design's value), and, under common random numbers, that every sample
    row averages over the same draws, so the intervals do not include which
    draws were made.  Raises :class:`~improvesim.sim.params.ParameterError`
    when the posterior file can no longer be read.
    """
    from improvesim.sim.params import from_mapping
    from improvesim.sim.posterior import load_posterior, pinned_constants, posterior_label

    if not meta.get("posterior"):
        return "Every run used the scenario's constants (no `--posterior`): replicate noise only."
    source = Path(meta["posterior"])
    posterior = load_posterior(source)
    base = from_mapping(meta["base"], where="experiment.json", name=meta.get("base_name", "scenario"))
    pinned = pinned_constants(posterior, base, [f["name"] for f in meta["factors"]])
    drawn = [c for c in posterior.constants if c not in pinned]
    name = posterior_label(source)
    text = (
        f"Each replicate drew {len(drawn)} constants ({', '.join(drawn)}) from the posterior {name} "
        "(`--posterior`): each sample row's mean averages over parameter uncertainty as well as replicate noise, "
        "and the noise between replicates reported beside the indices includes both."
    )
    if pinned:
        text += f" {', '.join(sorted(pinned))} kept the scenario's or the design's value."
    replicates = int(meta["replicates"])
    if meta.get("common_random_numbers"):
        return text + (
            f" With common random numbers, replicate r of every sample row drew the same particle: every row "
            f"averages over the same {replicates} draws. The 95% intervals, taken over the sample rows, include how "
            f"the draws' effect differs between rows, not which {replicates} draws were made."
        )
    return text + " Every replicate of every row drew its own particle: the 95% intervals include both."


# --- sampling-free analysis of any store -------------------------------------------------------------


def analyse_any(store: Path) -> tuple[Path, int]:
    """Delta and PAWN indices of any sweep store (grid, lhs, list, sobol, morris).

    Returns the analysis folder and how many outcomes were analysed.  Raises
    :class:`~improvesim.analysis.sensitivity.SensitivityError` when no
    parameter varies or there are fewer than
    :data:`~improvesim.analysis.sensitivity.MIN_SETS_FROM_STORE` parameter sets.
    """
    meta = _meta(store)
    plan = pd.read_parquet(store / "plan.parquet")
    factors = [c for c in plan.columns if c not in ("run_id", "set", "replicate", "seed")]
    per_set = plan.groupby("set")[factors].first().sort_index()
    X, names = _numeric_design(per_set)
    if not names:
        raise sa.SensitivityError(f"{store}: no parameter varies in this sweep")
    if len(per_set) < sa.MIN_SETS_FROM_STORE:
        raise sa.SensitivityError(
            f"{store}: {len(per_set)} parameter sets; delta and PAWN indices need at least "
            f"{sa.MIN_SETS_FROM_STORE} (fewer give undefined indices)"
        )
    problem = {
        "num_vars": len(names),
        "names": names,
        "bounds": [[float(X[:, j].min()), float(X[:, j].max())] for j in range(len(names))],
    }
    outcomes = _outcome_table(store, meta)
    folder = store / "sensitivity-from"
    _announce_replace(folder)
    sections, tables, skipped = [], [], []
    with staged_folder(folder, force=True) as stage:
        (stage / "figures").mkdir()
        for outcome in meta["outcomes"]:
            analysable = _analysable(outcomes, outcome, len(per_set), meta["horizon_months"], skipped)
            if analysable is None:
                continue
            Y, notes = analysable
            table = sa.delta_indices(problem, X, Y, meta["seed"]).merge(
                sa.pawn_indices(problem, X, Y, meta["seed"]), on="factor"
            )
            fig = plots.delta_bars(table, outcome)
            fig.savefig(stage / "figures" / f"{outcome}-delta.png")
            tables.append(table.assign(outcome=outcome))
            noise = sa.noise_decomposition(
                outcomes, outcome, meta["replicates"], bool(meta.get("common_random_numbers"))
            )
            lines = [
                f"## {outcome}",
                "",
                sa.ranking_sentence(table, "delta", noise_share=noise["noise_share_of_means"]),
                "",
                sa.noise_sentence(noise, meta["replicates"]),
                "",
                sa.undefined_sentence(notes),
                "",
                f"![{outcome}](figures/{outcome}-delta.png)",
                "",
                _markdown_table(table.sort_values("delta", ascending=False)),
                "",
            ]
            sections.append("\n".join(lines))
        if tables:
            _first(pd.concat(tables, ignore_index=True), "outcome").to_csv(stage / "indices.csv", index=False)
        header = [
            f"# Sampling-free sensitivity analysis: {meta['experiment']}",
            "",
            f"Borgonovo's delta and PAWN indices from the {meta['design']} sweep's {len(per_set)} parameter sets "
            f"(replicate means), with 95% intervals for delta. These indices need no special design, so they "
            "suit any sweep; on a coarse grid they are rough.",
            "",
            uncertainty_sentence(meta),
            "",
        ]
        if skipped:
            header += ["Outcomes not analysed:", "", *skipped, ""]
        (stage / "report.md").write_text("\n".join(header + sections))
    return folder, len(sections)


def _numeric_design(per_set: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Factor values as numbers (categories as codes), dropping factors that never vary."""
    columns, names = [], []
    for name in per_set.columns:
        values = per_set[name]
        if values.nunique() < 2:
            continue
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            # categories (object or pandas' str dtype) as codes in sorted order
            codes = {v: i for i, v in enumerate(sorted(values.unique()))}
            values = values.map(codes)
        columns.append(values.to_numpy(dtype=float))
        names.append(name)
    return (np.column_stack(columns) if columns else np.empty((len(per_set), 0))), names
