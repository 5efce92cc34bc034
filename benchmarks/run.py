"""ideaflow's benchmarks: `python benchmarks/run.py [--quick] [--json]`.

Every figure that matters is a ratio against the database alone, measured in the same run, or a
goal-bound absolute (a sweep with nothing due, `ideaflow show` as a new process). Data sets are
generated deterministically into a temporary folder. See benchmarks/README.md for figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import cases, public_form, web_pages  # noqa: E402

GOALS = {  # key: (goal, higher is better)
    "transition_ratio": (0.25, True),
    "sweep_ratio": (0.5, True),
    "sweep_empty_ms": (50, False),
    "digest_per_recipient_ms": (5, False),
    "prefect_overhead_ratio": (1.2, False),
    "cli_show_s": (0.5, False),
    "sweep_peak_memory_mb": (300, False),
    "public_form_ratio": (0.3, True),
    "portfolio_p95_ratio": (5, False),
    "idea_page_p95_ratio": (5, False),
}


def measure(sizes: cases.Sizes, work: Path, *, prefect: bool = True, log=print) -> dict:
    results: dict = {}

    def step(name: str, run):
        log(f"… {name}")
        started = time.perf_counter()
        figures = run()
        log(f"  done in {time.perf_counter() - started:.1f} s")
        return figures

    t = step(f"transitions: {sizes.transitions} audited stage changes",
             lambda: cases.transitions(work, sizes.transitions))
    results.update(transition_ratio=t["transition_ratio"], transitions_per_s=t["ideaflow_per_s"],
                   raw_transitions_per_s=t["raw_per_s"])
    s = step(f"sweep: {sizes.sweep_due} due among {sizes.sweep_ideas} ideas",
             lambda: cases.sweep(work, sizes.sweep_ideas, sizes.sweep_due))
    results.update(sweep_ratio=s["sweep_ratio"], sweep_s=s["ideaflow_s"], raw_sweep_s=s["raw_s"],
                   sweep_empty_ms=s["sweep_empty_ms"], sweep_peak_memory_mb=s["sweep_peak_memory_mb"],
                   sweep_ideas=sizes.sweep_ideas, sweep_due=sizes.sweep_due)
    results.update(step("ideaflow show ID --json as a new process", lambda: cases.cli_show(s["portfolio"].url)))
    small, large = (step(f"digests: {sizes.digest_recipients} recipients over {n} ideas",
                         lambda n=n: cases.digests(work, n, sizes.digest_recipients)) for n in sizes.digest_ideas)
    results.update(digest_per_recipient_ms=large["per_recipient_ms"],
                   digest_per_recipient_ms_by_ideas={str(small["ideas"]): small["per_recipient_ms"],
                                                     str(large["ideas"]): large["per_recipient_ms"]})
    results.update(step(f"public form: {sizes.public_form_rounds} rounds of {sizes.public_form} submissions and "
                        "confirmations from 50 clients through ideaflow web vs a bare route",
                        lambda: public_form.in_a_process_of_its_own(work, sizes.public_form,
                                                                    rounds=sizes.public_form_rounds,
                                                                    warm_up=sizes.public_form_warm_up)))
    results.update(step(f"web pages: portfolio, idea page and review POST over {sizes.web_ideas} ideas, "
                        f"{sizes.web_clients} clients, vs a bare route on the same server",
                        lambda: web_pages.web_pages(work, sizes.web_ideas, sizes.web_requests, sizes.web_clients)))
    if prefect:
        p = step(f"Prefect: the {sizes.prefect_due}-timer sweep as the sweep-deadlines flow",
                 lambda: cases.prefect_overhead(work, sizes.prefect_due))
        results.update(prefect_overhead_ratio=p["prefect_overhead_ratio"],
                       prefect_overhead_ratio_server_up=p["prefect_overhead_ratio_server_up"],
                       flow_sweep_s=p["flow_s"], bare_sweep_s=p["bare_s"])
    else:
        results["prefect_overhead_ratio"] = None
    return results


def table(results: dict) -> str:
    lines = [f"{'figure':28} {'value':>14}   goal", "-" * 56]
    for key, value in results.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v:.2f}" for k, v in value.items())
            lines.append(f"{key:28} {value:>14}")
            continue
        goal = GOALS.get(key)
        shown = "–" if value is None else f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        verdict = ""
        if goal and value is not None:
            target, higher = goal
            met = value >= target if higher else value <= target
            verdict = f"{'≥' if higher else '≤'} {target}  {'met' if met else 'NOT met'}"
        lines.append(f"{key:28} {shown:>14}   {verdict}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data sets (a few minutes)")
    parser.add_argument("--json", action="store_true", help="end with one JSON object on its own line")
    parser.add_argument("--no-prefect", action="store_true", help="skip the Prefect case")
    args = parser.parse_args()
    sizes = cases.QUICK if args.quick else cases.FULL
    with tempfile.TemporaryDirectory(prefix="ideaflow-bench-") as work:
        results = measure(sizes, Path(work), prefect=not args.no_prefect,
                          log=lambda line: print(line, file=sys.stderr, flush=True))
    print(table(results))
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
