"""The console's pages under load, as ratios against a bare route on the same server, in the same run.

One process (`benchmarks.web_server`: ideaflow's application as `ideaflow web` serves it, plus
`GET /bench/static`, a route that renders a static template) over a portfolio of `ideas` submitted
ideas (benchmarks.datasets). `clients` concurrent HTTP clients (each its own connection) ask, round
after round so that the machine's noise falls on every target alike:

- the bare route;
- the coordinator's portfolio, first page (counts per stage over every idea, 25 rows);
- the idea page of an idea (reviews, history, the forms the coordinator may use);
- the review form's POST: a reviewer submits a complete review of an idea (one per request).

Each figure is the p50 and p95 latency in ms; a page's ratios are its p50 and p95 ÷ the bare route's.
On a loaded machine the bare route's p95 is mostly the machine's stalls, so read the p50 ratio too.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from benchmarks.datasets import build
from benchmarks.public_form import REPO, Server, free_port

COORDINATOR, REVIEWER = "person1@bench.example.dk", "person6@bench.example.dk"  # every pool (datasets.build)
SESSION_COOKIE, CSRF = "ideaflow_session", re.compile(r'name="csrf_token" value="([^"]+)"')
#: Every client of a person carries the same CSRF cookie (a browser's, kept across its tabs), so a
#: form read by one client may be posted by another.
CSRF_COOKIE = {"ideaflow_csrf": "benchmark-browser"}

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


def sessions(url: str) -> dict[str, str]:
    """A signed-in session for the coordinator and the reviewer (as the mailed link would start one)."""
    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings

    with bootstrap(Settings(_env_file=None, database_url=url)) as app:
        now = datetime.now(UTC)
        return {email: app.signin.sign_in_verified(email, now, "/home").session_id for email in (COORDINATOR,
                                                                                                  REVIEWER)}


async def _round(base_url: str, ask: Request, first: int, count: int, clients: int, cookie: str,
                 expected: int) -> tuple[list[float], list[str]]:
    """`count` requests (numbered from `first`) spread over `clients` clients: latencies and failures."""
    latencies: list[float] = []
    failures: list[str] = []

    async def client(number: int) -> None:
        jar = {SESSION_COOKIE: cookie, **CSRF_COOKIE}
        async with httpx.AsyncClient(base_url=base_url, timeout=300, cookies=jar) as http:
            for n in range(first + number, first + count, clients):
                started = time.perf_counter()
                answer = await ask(http, n)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != expected:
                    failures.append(f"{answer.request.url.path}: {answer.status_code} {answer.text[:200]}")

    await asyncio.gather(*(client(number) for number in range(clients)))
    return latencies, failures


def percentiles(latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    return cuts[49] * 1000, cuts[94] * 1000


def web_pages(work: Path, ideas: int, requests: int, clients: int = 16) -> dict:
    """p50/p95 of each target and each page's ratios against the bare route (in 4 rounds of requests,
    or 1 when there are fewer than 4 per client)."""
    rounds = 4 if requests >= 4 * clients else 1
    home = work / "web_pages"
    home.mkdir()
    portfolio = build(home / "web.db", ideas=ideas, due=ideas // 100, proposers=max(ideas // 10, 1))
    cookies = sessions(portfolio.url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    server = Server([sys.executable, "-m", "benchmarks.web_server", portfolio.url, str(free_port())],
                    {**env, "PYTHONPATH": str(REPO), "HOME": str(home), "IDEAFLOW_MAIL_DIR": str(home / "mail")},
                    REPO)
    try:
        return asyncio.run(_measure(server.url, cookies, ideas, requests, clients, rounds))
    finally:
        server.stop()


async def _measure(url: str, cookies: dict[str, str], ideas: int, requests: int, clients: int,
                   rounds: int) -> dict:
    forms: dict[int, tuple[str, dict[str, str]]] = {}

    async def read_forms(first: int, count: int) -> None:
        """The review forms of the ideas the next round's POSTs submit (read beforehand, not timed)."""
        jar = {SESSION_COOKIE: cookies[REVIEWER], **CSRF_COOKIE}
        async with httpx.AsyncClient(base_url=url, timeout=300, cookies=jar) as http:
            for idea_id in range(first, first + count):
                page = (await http.get(f"ideas/{idea_id}/review")).text
                fields = {name: "4" for name in re.findall(r'name="(score-\d+)"', page)}
                fields |= {name: "yes" for name in re.findall(r'name="(must-\d+)"', page)}
                forms[idea_id] = (CSRF.search(page)[1], {**fields, "comment": "Gennemarbejdet."})

    async def post_review(http: httpx.AsyncClient, n: int) -> httpx.Response:
        token, fields = forms[n]
        return await http.post(f"ideas/{n}/review", data={"csrf_token": token, **fields})

    targets: dict[str, tuple[Request, str, int]] = {
        "bare": (lambda http, n: http.get("bench/static"), cookies[COORDINATOR], 200),
        "portfolio": (lambda http, n: http.get("portfolio"), cookies[COORDINATOR], 200),
        "idea_page": (lambda http, n: http.get(f"ideas/{n % ideas + 1}"), cookies[COORDINATOR], 200),
        "review_post": (post_review, cookies[REVIEWER], 303),
    }
    latencies: dict[str, list[float]] = {name: [] for name in targets}
    failures: list[str] = []
    per_round = max(requests // rounds, clients)
    for name, (ask, cookie, expected) in targets.items():  # warm up: connections, caches, the first queries
        if name == "review_post":
            await read_forms(ideas - clients + 1, clients)
            _, failed = await _round(url, ask, ideas - clients + 1, clients, clients, cookie, expected)
        else:
            _, failed = await _round(url, ask, 1, clients, clients, cookie, expected)
        failures += failed
    for number in range(rounds):
        first = 1 + number * per_round
        await read_forms(first, per_round)
        for name, (ask, cookie, expected) in targets.items():
            taken, failed = await _round(url, ask, first, per_round, clients, cookie, expected)
            latencies[name] += taken
            failures += failed
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {failures[:3]}")
    figures: dict = {"web_ideas": ideas, "web_clients": clients, "web_requests": per_round * rounds}
    for name, taken in latencies.items():
        figures[f"{name}_p50_ms"], figures[f"{name}_p95_ms"] = percentiles(taken)
    for name in ("portfolio", "idea_page", "review_post"):
        for cut in ("p50", "p95"):
            figures[f"{name}_{cut}_ratio"] = figures[f"{name}_{cut}_ms"] / figures[f"bare_{cut}_ms"]
    return figures
