"""A calibration's posterior, carried into runs: each replicate draws its constants from it.

A posterior file is a table of weighted particles (Parquet, or CSV), one
row per particle, as ``improvesim calibrate`` writes it
(``posterior.parquet``): one column per constant it carries (its full name,
e.g. ``sensemaking.pause_rate``: the calibrated constants and, from a
calibration with one simulated case per particle, the nuisance constants
each particle drew, so that runs draw them jointly), ``weight`` (the particle's normalised
ABC-SMC importance weight, prior over proposal density: the weights sum to
one), and optionally ``population`` and ``distance`` (ignored here).
Bundled posteriors live in ``scenarios/posteriors/NAME.parquet`` and are
found by NAME (``--posterior viano2024``).

Each run draws one particle by weighted resampling with a uniform that is a
pure function of the run's own seed (:func:`improvesim.sim.rng.derive_seeds`
with the salt ``"posterior"``), so the same seed gives the same constants
whatever the workers or the batch, and replicate r of every scenario, plan
or design point of one seed draws the same particle (common random numbers
extend to the parameter uncertainty).

What wins: a constant that a design varies, or that the scenario or
``--set`` gives a value other than its default, keeps that value; the
posterior fills in the others (:func:`pinned_constants`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd

from improvesim.sim import rng
from improvesim.sim.params import ParameterError, Params, coerce, suggest
from improvesim.sim.schema import BY_NAME

#: Columns of a posterior file that are not constants.
WEIGHT = "weight"
EXTRA_COLUMNS = ("population", "distance")
#: How far the weights' sum may be from one (they are normalised floats).
WEIGHT_TOLERANCE = 1e-6
#: The salt of the draw's stream (derived from each run's seed).
SALT = "posterior"


@dataclass(frozen=True)
class Posterior:
    """Weighted particles: ``values`` (particles, constants), ``weights`` (particles,), summing to one."""

    source: str
    constants: tuple[str, ...]
    values: np.ndarray
    weights: np.ndarray

    def draw(self, seed: int) -> dict[str, object]:
        """The constants of the particle run ``seed`` draws (weighted resampling), as ``{name: value}``."""
        u = rng.derive_seeds(seed, 1, salt=SALT)[0] / 2.0**63
        index = int(np.searchsorted(np.cumsum(self.weights), u * float(self.weights.sum()), side="right"))
        index = min(index, len(self.weights) - 1)
        return {name: _native(name, self.values[index, j]) for j, name in enumerate(self.constants)}


def _native(name: str, value: float):
    return int(round(value)) if BY_NAME[name].kind == "int" else float(value)


def posterior_folder() -> Path:
    return Path(str(files("improvesim.scenarios"))) / "posteriors"


def bundled_posteriors() -> list[str]:
    """Names of the bundled posteriors (``viano2024``, ...), sorted."""
    folder = posterior_folder()
    return sorted(p.stem for p in folder.glob("*.parquet")) if folder.is_dir() else []


def resolve_posterior(name: str | Path) -> Path:
    """A posterior file: an existing path, else a bundled posterior's name; ParameterError otherwise."""
    path = Path(name)
    if path.is_file():
        return path
    bundled = posterior_folder() / f"{Path(str(name)).stem}.parquet"
    if path.suffix in ("", ".parquet") and path.parent == Path(".") and bundled.is_file():
        return bundled
    names = bundled_posteriors()
    allowed = ", ".join(names) if names else "none is bundled yet"
    raise ParameterError(
        f"no such file, and not a bundled posterior; allowed: a posterior file (.parquet or .csv, as improvesim "
        f"calibrate writes it) or a bundled name ({allowed})",
        str(name),
        "--posterior",
    )


def load_posterior(name: str | Path) -> Posterior:
    """Read and check a posterior file or bundled name.

    Raises :class:`ParameterError` naming the file and the column when the
    file is missing or unreadable, has no ``weight`` column, a column that is
    not a parameter of the schema, a value out of the parameter's range, no
    particle, or weights that are negative, not finite or do not sum to one.
    """
    path = resolve_posterior(name)
    where = str(path)
    try:
        table = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    except Exception as exc:  # any reader error is bad input
        raise ParameterError(
            f"cannot be read as a table ({type(exc).__name__}); allowed: Parquet or CSV", where, "--posterior"
        ) from None
    return posterior_from_table(table, where)


def posterior_from_table(table: pd.DataFrame, where: str) -> Posterior:
    """Check a table of weighted particles (see :func:`load_posterior`) and return it as a :class:`Posterior`."""
    if WEIGHT not in table.columns:
        raise ParameterError(
            f"no {WEIGHT!r} column; allowed columns: the calibrated constants, {WEIGHT}, " + ", ".join(EXTRA_COLUMNS),
            where,
            WEIGHT,
        )
    constants = [c for c in table.columns if c not in (WEIGHT, *EXTRA_COLUMNS)]
    for c in constants:
        if c not in BY_NAME or BY_NAME[c].section == "run" or BY_NAME[c].kind == "choice":
            raise ParameterError(
                "not a numeric model parameter" + suggest(str(c), BY_NAME) + f"; allowed columns: numeric "
                f"parameters (improvesim params), {WEIGHT}, " + ", ".join(EXTRA_COLUMNS),
                where,
                str(c),
            )
    if not constants:
        raise ParameterError("no constant column; allowed: one column per calibrated constant", where, "columns")
    if len(table) == 0:
        raise ParameterError("no particle (the table is empty)", where, "rows")
    weights = pd.to_numeric(table[WEIGHT], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ParameterError("weights must be finite and at least 0", where, WEIGHT)
    if abs(weights.sum() - 1.0) > WEIGHT_TOLERANCE:
        raise ParameterError(
            f"weights sum to {weights.sum():.6g}; allowed: normalised weights that sum to 1 (within "
            f"{WEIGHT_TOLERANCE:g})",
            where,
            WEIGHT,
        )
    values = np.empty((len(table), len(constants)))
    for j, c in enumerate(constants):
        column = pd.to_numeric(table[c], errors="coerce").to_numpy(dtype=float)
        if not np.all(np.isfinite(column)):
            raise ParameterError("every value must be a number", where, c)
        for v in (column.min(), column.max()):
            coerce(c, int(round(v)) if BY_NAME[c].kind == "int" else float(v), where)  # range check
        values[:, j] = column
    return Posterior(where, tuple(constants), values, weights)


def posterior_label(source: str | Path) -> str:
    """How reports name a posterior file: a bundled one by its name (``viano2024``), any other by its path."""
    path = Path(source)
    return path.stem if path.parent == posterior_folder() else str(source)


def uncertainty_note(posterior: Posterior | None, pinned: Collection[str] = ()) -> str:
    """What the run's intervals show, in words (for summary.json and reports)."""
    if posterior is None:
        return "replicate noise only: every replicate runs the same constants (no --posterior)"
    drawn = [c for c in posterior.constants if c not in pinned]
    note = (
        f"replicate noise and parameter uncertainty: each replicate draws {', '.join(drawn) or 'nothing'} from the "
        f"posterior {posterior_label(posterior.source)}"
    )
    if pinned:
        note += f"; {', '.join(sorted(pinned))} kept the scenario's or design's value (replicate noise only for them)"
    return note


def fingerprint(posterior: Posterior | None) -> str | None:
    """A hash of the particles and weights (None without a posterior): a store's runs depend on it."""
    if posterior is None:
        return None
    import hashlib

    digest = hashlib.sha256(repr(posterior.constants).encode())
    digest.update(np.ascontiguousarray(posterior.values).tobytes())
    digest.update(np.ascontiguousarray(posterior.weights).tobytes())
    return digest.hexdigest()


def pinned_constants(posterior: Posterior, params: Params, design: Collection[str] = ()) -> set[str]:
    """Constants of ``posterior`` that keep ``params``' value: design factors, and values other than the default."""
    return {c for c in posterior.constants if c in design or params[c] != BY_NAME[c].default}


def replicate_params(
    params: Params, seeds: Sequence[int], posterior: Posterior | None, pinned: Collection[str] = ()
) -> list[Params]:
    """One Params per run seed: ``params`` with the constants that seed draws from ``posterior``.

    Constants in ``pinned`` keep ``params``' values.  Without a posterior,
    ``params`` for every seed.
    """
    if posterior is None:
        return [params] * len(seeds)
    return [params.with_overrides(posterior_overrides(posterior, seed, pinned), where="--posterior") for seed in seeds]


def params_per_replicate(
    posterior: str | Path | Posterior, params: Params, replicates: int, seed: int, design: Collection[str] = ()
) -> list[Params]:
    """One Params per replicate of ``replicates`` runs from ``seed``, constants drawn from ``posterior``.

    ``posterior`` is a file, a bundled name or a :class:`Posterior`.
    Replicate i runs with seed ``derive_seeds(seed, replicates)[i]``, as
    ``run_replicates`` and ``improvesim run`` give it, and draws the particle
    that seed picks; constants in ``design`` or changed from their defaults
    in ``params`` keep ``params``' values.  Raises :class:`ParameterError`
    for a bad posterior file.
    """
    post = posterior if isinstance(posterior, Posterior) else load_posterior(posterior)
    seeds = rng.derive_seeds(seed, replicates)
    return replicate_params(params, seeds, post, pinned_constants(post, params, design))


def posterior_overrides(posterior: Posterior, seed: int, pinned: Collection[str] = ()) -> dict[str, object]:
    """The constants run ``seed`` draws from ``posterior``, without those in ``pinned``."""
    return {k: v for k, v in posterior.draw(seed).items() if k not in pinned}
