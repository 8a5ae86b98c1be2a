"""benchmarks/targets.py's verdicts (the benchmark itself is not run here)."""

import importlib.util
import sys

from conftest import ROOT


def _targets():
    spec = importlib.util.spec_from_file_location("benchmark_targets", ROOT / "benchmarks" / "targets.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("benchmark_targets", module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_negative_fixed_cost_is_no_verdict():
    """On a loaded host the fixed cost (wall of a 2,000-run sweep minus 2,000 / the steady rate)
    came out as -3.88 s and was printed as "met"; below 0 it measures only the host's drift."""
    targets = _targets()
    assert targets.fixed_cost_met(-3.88) is None
    assert targets.fixed_cost_met(0.3) is True
    assert targets.fixed_cost_met(1.5) is False
