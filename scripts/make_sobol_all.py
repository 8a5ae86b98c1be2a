"""Write experiments/sobol_all.toml and experiments/sobol_all_families.toml from the schema.

The all-parameter Sobol' study (issue 18): first- and total-order indices of
every parameter whose role is an uncertainty, a lever or a behavioural
constant, and second-order indices between the schema's families (SALib
groups).  SALib samples either parameters or groups, so the study is two
experiment files sharing the same parameters and ranges:

* ``sobol_all.toml``: every parameter, N = 1024, no second order,
  N x (D + 2) parameter sets, 5 replicates;
* ``sobol_all_families.toml``: the same parameters moved by family
  (``groups = "families"``), second order, N x (2G + 2) sets, 5 replicates.

Which parameters and what ranges (the rule is here, once):

* left out, as settings of the study rather than conditions, levers or
  coefficients: ``run.*``; ``district.schools`` and ``district.team_size``
  (the shape of the district: the study is of the 40-school baseline); the
  roll-out's ``initial_schools``, ``cohort_size`` and
  ``cohort_interval_months`` (tied to the number of schools; the baseline
  invites every school at the start, where cohorts do nothing);
* the 20 conditions and levers of ``sobol_full.toml`` keep its ranges;
* every other number spans its default x [0.5, 1.5] (a default of 0 spans the
  lower half of its allowed range), clipped to its allowed range, integers
  rounded inward (at least two values); a choice spans all its choices.

    .venv/bin/python scripts/make_sobol_all.py           # rewrite both files
    .venv/bin/python scripts/make_sobol_all.py --check   # exit 1 if they are stale
"""

from __future__ import annotations

import argparse
import math
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from improvesim.sim.schema import PARAMETERS, Param  # noqa: E402

EXPERIMENTS = ROOT / "experiments"
#: Settings of the study, not sampled (see the module docstring).
LEFT_OUT = {
    "district.schools",
    "district.team_size",
    "rollout.initial_schools",
    "rollout.cohort_size",
    "rollout.cohort_interval_months",
}
ROLES = ("uncertainty", "lever", "constant")
SAMPLES, REPLICATES, SEED = 1024, 5, 2028
OUTCOMES = (
    '["institutionalized_share_y5", "institutionalized_share_y10", "authentic_share", "faded_share",\n'
    '            "share_with_6mo_disengagement", "time_to_first_institutionalization", "engaged_share", "cost_total"]'
)


def sampled() -> list[Param]:
    """The parameters the study samples, in schema order."""
    return [p for p in PARAMETERS if p.role in ROLES and p.section != "run" and p.name not in LEFT_OUT]


def value_range(p: Param, given: dict) -> str:
    """The TOML range of ``p``: sobol_full.toml's when it has one, else the rule of the module docstring."""
    if p.name in given:
        spec = given[p.name]
        if "choices" in spec:
            return "{ choices = [" + ", ".join(f'"{c}"' for c in spec["choices"]) + "] }"
        return f"{{ min = {spec['min']!r}, max = {spec['max']!r} }}"
    if p.kind == "choice":
        return "{ choices = [" + ", ".join(f'"{c}"' for c in p.choices) + "] }"
    if p.default == 0:
        low, high = p.low, p.low + (p.high - p.low) / 2
    else:
        low, high = max(p.low, 0.5 * p.default), min(p.high, 1.5 * p.default)
    if p.kind == "int":
        low, high = math.ceil(low), math.floor(high)
        if high <= low:
            low, high = (low, low + 1) if low + 1 <= p.high else (low - 1, low)
        return f"{{ min = {low}, max = {high} }}"
    return f"{{ min = {float(f'{low:.6g}')!r}, max = {float(f'{high:.6g}')!r} }}"


def body(given: dict) -> str:
    lines, section = [], None
    for p in sampled():
        if p.section != section:
            section = p.section
            lines.append(f"# {section}")
        lines.append(f'"{p.name}" = {value_range(p, given)}')
    return "\n".join(lines) + "\n"


def files() -> dict[Path, str]:
    given = tomllib.loads((EXPERIMENTS / "sobol_full.toml").read_text())["parameters"]
    params = sampled()
    d, g = len(params), len({p.family for p in params})
    head = (
        "# Written by scripts/make_sobol_all.py from the schema (do not edit by hand; rerun it).\n"
        f"# {d} parameters: every uncertainty, lever and behavioural constant but the study's settings\n"
        "# (run.*, the district's shape, the roll-out tied to it); ranges: sobol_full.toml's for its 20,\n"
        "# default x [0.5, 1.5] within the allowed range for the rest.\n"
    )
    common = f'scenario = "baseline"\ndesign = "sobol"\nsamples = {SAMPLES}\nreplicates = {REPLICATES}\nseed = {SEED}\n'
    common += f"chunk = 2048\noutcomes = {OUTCOMES}\n"
    per_param = (
        head + f"# First- and total-order indices: N = {SAMPLES} x (D + 2) = {SAMPLES * (d + 2):,} sets x "
        f"{REPLICATES} replicates = {SAMPLES * (d + 2) * REPLICATES:,} runs.\n#\n"
        "#   improvesim sensitivity experiments/sobol_all.toml --workers 2   (resumable: --resume)\n"
        'description = "Every condition, lever and behavioural constant: which matter, alone and with others?"\n'
        + common
        + "second_order = false\n\n[parameters]\n"
        + body(given)
    )
    families = (
        head + f"# Second order between the {g} families (SALib groups): N = {SAMPLES} x (2G + 2) = "
        f"{SAMPLES * (2 * g + 2):,} sets x {REPLICATES} replicates = {SAMPLES * (2 * g + 2) * REPLICATES:,} runs.\n#\n"
        "#   improvesim sensitivity experiments/sobol_all_families.toml --workers 2   (resumable: --resume)\n"
        'description = "Every family of conditions, levers and constants: which matter, and in which pairs?"\n'
        + common
        + 'second_order = true\ngroups = "families"\n\n[parameters]\n'
        + body(given)
    )
    return {EXPERIMENTS / "sobol_all.toml": per_param, EXPERIMENTS / "sobol_all_families.toml": families}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file differs from what would be written")
    args = parser.parse_args()
    stale = []
    for path, text in files().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        sys.exit(f"stale: {', '.join(stale)}; run scripts/make_sobol_all.py")


if __name__ == "__main__":
    main()
