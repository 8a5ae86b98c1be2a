"""Make a calibration's posterior medians the model defaults.

    .venv/bin/python scripts/apply_calibration.py results/calibrate_viano2024/calibration/calibrated.toml

Rewrites each calibrated parameter's default in ``sim/schema.py`` (its
source becomes "Calibrated") and regenerates ``scenarios/baseline.toml``,
which lists every default.  Run the tests afterwards: the golden baseline
(``scripts/update_golden.py``), ``docs/ODD.md`` (``python -m
improvesim.describe``) and ``CHANGELOG.md`` must follow.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "sim" / "schema.py"
BASELINE = ROOT / "scenarios" / "baseline.toml"
#: Lines of the baseline's own header, kept above the generated listing.
BASELINE_HEADER_LINES = 12


def set_default(schema: str, name: str, value: float) -> str:
    """``schema`` with parameter ``name``'s default set to ``value`` and its source to Calibrated."""
    start = schema.index(f'        "{name}",\n')
    end = schema.index("\n    ),", start)
    lines = schema[start:end].split("\n")
    lines[1] = f"        {value!r},"
    source = max(i for i, line in enumerate(lines) if re.fullmatch(r'\s+"[A-Za-z0-9-]+",', line))
    lines[source] = '        "Calibrated",'
    return schema[:start] + "\n".join(lines) + schema[end:]


def regenerate_baseline() -> None:
    header = BASELINE.read_text().splitlines()[:BASELINE_HEADER_LINES]
    listing = subprocess.run(
        [sys.executable, "-m", "improvesim", "params", "--format", "toml"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    body = listing[listing.index("") :]  # drop the listing's own three-line header
    BASELINE.write_text("\n".join(header + body) + "\n")


def main(path: str) -> None:
    calibrated = tomllib.loads(Path(path).read_text())
    schema = SCHEMA.read_text()
    for section, values in calibrated.items():
        for key, value in values.items():
            schema = set_default(schema, f"{section}.{key}", float(value))
            print(f"{section}.{key} = {value}")
    SCHEMA.write_text(schema)
    regenerate_baseline()
    print(f"updated {SCHEMA.relative_to(ROOT)} and {BASELINE.relative_to(ROOT)}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
