"""Adopt a calibration: its joint point becomes the defaults, its posterior a bundled name.

    python scripts/adopt_calibration.py RESULTS_FOLDER [--name viano2024] [--repo .] [--force]

RESULTS_FOLDER is what ``improvesim calibrate`` wrote.  Writes
``sim/calibrated.toml`` (the joint KDE mode and its provenance; read by
sim/schema.py) and ``scenarios/posteriors/NAME.parquet`` (so that
``--posterior NAME`` finds it).  Then regenerate the ODD's parameter table
and the baseline scenario, which lists every default
(``python -m improvesim.describe``), and the golden baseline
(``python scripts/update_golden.py``), and commit them with the two files.
Bad input: one message, exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from improvesim.calibrate import AdoptionError, adopt
from improvesim.sim.params import ParameterError, one_line


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a folder written by improvesim calibrate")
    parser.add_argument("--name", default="viano2024", help="the bundled posterior's name (default viano2024)")
    parser.add_argument("--repo", type=Path, default=Path(__file__).resolve().parent.parent, help="the checkout")
    parser.add_argument("--force", action="store_true", help="replace a bundled posterior of that name")
    args = parser.parse_args(argv)
    try:
        schema, bundled = adopt(args.folder, args.repo, args.name, args.force)
    except (AdoptionError, ParameterError) as exc:
        print(f"adopt_calibration: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    print(f"wrote {schema} and {bundled}; now run: python -m improvesim.describe && python scripts/update_golden.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
