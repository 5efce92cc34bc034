"""The benchmark code at tiny sizes, so it cannot rot. No timing is asserted: figures on a shared
2-core machine mean something only as `benchmarks/run.py` reports them, never as a test."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_the_benchmarks_run_at_tiny_sizes_and_report_every_figure(tmp_path):
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks import cases, run
    finally:
        sys.path.remove(str(REPO))
    results = run.measure(cases.TINY, tmp_path, prefect=False, log=lambda line: None)
    for key in run.GOALS:
        if key != "prefect_overhead_ratio":
            assert isinstance(results[key], float) and results[key] > 0, (key, results[key])
    assert set(results["digest_per_recipient_ms_by_ideas"]) == {str(n) for n in cases.TINY.digest_ideas}
    assert results["sweep_due"] == cases.TINY.sweep_due
    assert "transition_ratio" in run.table(results)


def test_the_command_line_ends_with_one_json_line(tmp_path):
    """`run.py --json` as a process: the last line is the JSON object with the contract's keys."""
    probe = ("import sys, runpy; sys.argv = ['run.py', '--json', '--no-prefect'];"
             "from benchmarks import cases; cases.FULL = cases.QUICK = cases.TINY;"
             "runpy.run_path('benchmarks/run.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"transition_ratio", "sweep_ratio", "sweep_empty_ms", "digest_per_recipient_ms", "prefect_overhead_ratio",
            "cli_show_s", "sweep_peak_memory_mb"} <= set(figures)
    assert figures["prefect_overhead_ratio"] is None  # skipped on request, and said so
