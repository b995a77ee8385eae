"""The benchmark harness works: ``python -m bench --smoke`` runs every scenario end to end.

Only the harness is checked (its own broker and workers come up, every scenario reports,
the files are written); performance is asserted in the bench itself, never here.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from bench.runner import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
BUDGET_S = 120  # the smoke mode's promise; it takes about 50 s on the 2-core machine


def test_smoke_run_reports_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=BUDGET_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    assert results["meta"]["mode"] == "smoke"
    scenarios = results["scenarios"]
    assert set(scenarios) == set(SCENARIOS)
    for name, result in scenarios.items():
        assert result["status"] in {"measured", "not measured"}, (name, result)
        if result["status"] == "not measured":
            assert result["reason"], name
    assert scenarios["webhook"]["status"] == "measured"
    assert scenarios["webhook"]["levels"][0]["at_stream"]["accepted"] > 0
    assert scenarios["e2e"]["rates"][0]["fills_matched"] > 0
    assert scenarios["chain"]["at_stream"]["complete"]
    assert scenarios["chain"]["baseline"]["complete"]
    failover = scenarios["failover"]
    assert [r["standby_replicas"] for r in failover["runs"]] == [0, 1]
    assert all(r["failover_s"] > 0 for r in failover["runs"])
    assert {t["key"] for t in results["targets"]} >= {"webhook_ratio", "chain_rate", "ready"}

    markdown = (out / "BENCHMARKS.md").read_text()
    assert "| Scenario | Figure |" in markdown
    if importlib.util.find_spec("matplotlib") is not None:  # plots are optional
        assert (out / "latency_vs_rate.png").stat().st_size > 0
