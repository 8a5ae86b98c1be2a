"""The ``improvesim`` command's entry point.

Imports the command line inside a guard: the model reads its adopted
calibration (``sim/calibrated.toml``) when it is imported, before
:func:`improvesim.cli.main` could catch anything, so a damaged file would
otherwise end every command in a traceback.  Here it gives one line naming
the file and the key, and exit status 2.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from improvesim.sim.errors import AdoptedFileError, one_line

#: Exit status of bad input (the command line's EXIT_BAD_INPUT).
EXIT_BAD_INPUT = 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from improvesim.cli import main as command_line
    except AdoptedFileError as exc:
        print(f"improvesim: error: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return command_line(argv)
