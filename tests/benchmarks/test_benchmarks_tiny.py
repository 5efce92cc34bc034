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


def test_the_benchmarks_run_at_tiny_sizes_and_end_with_one_json_line_of_every_figure(tmp_path):
    """`run.py --json` as a process (one run: the data sets are built once): the table, then the last
    line is the JSON object with every figure of the goals, each measured."""
    probe = ("import sys, runpy; sys.argv = ['run.py', '--json', '--no-prefect'];"
             "from benchmarks import cases; cases.FULL = cases.QUICK = cases.TINY;"
             "runpy.run_path('benchmarks/run.py', run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    *table, last = done.stdout.strip().splitlines()
    figures = json.loads(last)
    sys.path.insert(0, str(REPO))
    try:
        from benchmarks import cases, run
    finally:
        sys.path.remove(str(REPO))
    for key in run.GOALS:
        if key != "prefect_overhead_ratio":
            assert isinstance(figures[key], float) and figures[key] > 0, (key, figures[key])
    assert figures["prefect_overhead_ratio"] is None  # skipped on request, and said so
    assert set(figures["digest_per_recipient_ms_by_ideas"]) == {str(n) for n in cases.TINY.digest_ideas}
    assert figures["sweep_due"] == cases.TINY.sweep_due
    assert any(line.startswith("transition_ratio") for line in table), done.stdout[-2000:]
