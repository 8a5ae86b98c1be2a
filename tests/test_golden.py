"""The golden baseline: model output must not change unless on purpose.

If a change is meant to change output, run ``scripts/update_golden.py`` and
record it in CHANGELOG.md under "Changes to model output".
"""

import json
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from update_golden import CASES, GOLDEN, golden  # noqa: E402


@pytest.mark.parametrize("name", sorted(CASES))
def test_output_matches_the_golden_file(name):
    expected = json.loads((GOLDEN / f"{name}.json").read_text())
    actual = golden(*CASES[name])
    assert actual["seeds"] == expected["seeds"]
    for metric, rows in expected["yearly"].items():
        for replicate, row in enumerate(rows):
            assert actual["yearly"][metric][replicate] == pytest.approx(row, rel=1e-9, abs=1e-12), (
                f"{metric} (replicate {replicate}) changed; if intended, run "
                "scripts/update_golden.py and note it in CHANGELOG.md"
            )
