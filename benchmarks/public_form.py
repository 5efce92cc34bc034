"""The public idea form under load, against a bare FastAPI route on the same database, in the same run.

`ideaflow web` runs as its own process on a fresh SQLite file (mail written to a folder, rate limits
out of the way); `clients` concurrent HTTP clients (each its own cookies and connection, as browsers
are) submit `n` ideas, then confirm each from the token in its mailed link. A submission counts once
both requests are answered, so its rate is n ÷ (time to submit all + time to confirm all). The
baseline (`benchmarks.bare_route`) is one POST of the same fields that commits one row to another
table of the same database file, made by the same clients. The burst test
(tests/web/test_public_burst.py) drives the same load and checks the outcome; this measures it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
IDEAFLOW = Path(sys.executable).with_name("ideaflow")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CONFIRM_LINK = re.compile(r"/submissions/confirm\?token=([A-Za-z0-9_-]+)")

Job = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A server process started with `argv` that announces `http://127.0.0.1:PORT/` on a line of its output."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> None:
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        deadline = time.monotonic() + timeout
        seen = []
        self.url = ""
        for line in self.process.stdout:
            seen.append(line)
            if found := re.search(r"(http://127\.0\.0\.1:\d+/)", line):
                self.url = found[1]
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"{argv[:2]} did not announce its address:\n{''.join(seen)}")
        # The rest of its output is read and dropped, so a full pipe never stalls the server.
        threading.Thread(target=lambda: [None for _ in self.process.stdout], daemon=True).start()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()


def seed(url: str) -> int:
    """A migrated database with one pool open for ideas; returns the pool's id."""
    from ideaflow.bootstrap import bootstrap
    from ideaflow.config import Settings
    from states.vocabulary import Role

    now = datetime.now(UTC)
    with bootstrap(Settings(_env_file=None, database_url=url)) as app:
        pool = app.services.create_pool("Borgerpuljen", 10_000_000, now.year, now)
        app.services.add_person("koordinator@kommune.dk", "Karin Koordinator", Role.COORDINATOR, now)
        return pool.id


def start_ideaflow(url: str, home: Path, **settings: object) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    port = free_port()
    env.update(IDEAFLOW_DATABASE_URL=url, IDEAFLOW_MAIL_DIR=str(home / "mail"), HOME=str(home),
               IDEAFLOW_PUBLIC_URL=f"http://127.0.0.1:{port}/", IDEAFLOW_SUBMIT_PER_ADDRESS="1000000",
               IDEAFLOW_SUBMIT_PER_EMAIL="1000000")
    env.update({f"IDEAFLOW_{key.upper()}": str(value) for key, value in settings.items()})
    return Server([str(IDEAFLOW), "web", "--host", "127.0.0.1", "--port", str(port)], env, home)


def start_bare(url: str, home: Path) -> Server:
    return Server([sys.executable, "-m", "benchmarks.bare_route", url, str(free_port())],
                  {**os.environ, "PYTHONPATH": str(REPO)}, REPO)


async def drive(base_url: str, jobs: list[Job], clients: int) -> tuple[float, list[float], list[str]]:
    """Run `jobs` spread over `clients` concurrent clients; (wall seconds, each request's seconds, failures)."""
    latencies: list[float] = []
    failures: list[str] = []

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=300) as http:
            token = CSRF.search((await http.get("privacy")).text)
            token = token[1] if token else ""
            for job in jobs[number::clients]:
                started = time.perf_counter()
                answer = await job(http, token)
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    failures.append(f"{answer.request.url.path}: {answer.status_code} {answer.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(client(number) for number in range(clients)))
    return time.perf_counter() - started, latencies, failures


def idea(n: int) -> dict[str, str]:
    return {"title": f"Idé nummer {n}", "description": f"Beskrivelse af idé {n}.\nTo linjer.",
            "name": f"Borger {n}", "email": f"borger{n}@example.dk", "proposer_kind": "citizen"}


def submit_jobs(pool_id: int, n: int) -> list[Job]:
    def job(number: int) -> Job:
        return lambda http, token: http.post(f"pools/{pool_id}/ideas/new", data={"csrf_token": token,
                                                                                    **idea(number)})
    return [job(number) for number in range(n)]


def confirm_jobs(tokens: list[str]) -> list[Job]:
    def job(link_token: str) -> Job:
        return lambda http, token: http.post("submissions/confirm", data={"csrf_token": token, "token": link_token})
    return [job(t) for t in tokens]


def mailed_tokens(mail_dir: Path) -> list[str]:
    """The confirmation tokens in the mail written to `mail_dir`."""
    tokens = []
    for path in mail_dir.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if found := CONFIRM_LINK.search(message.get_body(("plain",)).get_content()):
            tokens.append(found[1])
    return tokens


def p95_ms(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=20)[-1] * 1000 if len(latencies) > 1 else latencies[0] * 1000


def public_form(work: Path, n: int, clients: int = 50) -> dict:
    """Submissions per second (submit + confirm) through `ideaflow web` ÷ rows per second through the bare
    route, and each one's p95 latency under `clients` concurrent clients."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    home = work / "public_form"
    home.mkdir()
    url = f"sqlite:///{home / 'public_form.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    pool_id = seed(url)
    bare = start_bare(url, home)
    try:
        bare_s, bare_latencies, bare_failed = asyncio.run(drive(bare.url, [
            (lambda http, _token, n=n: http.post("rows", data=idea(n))) for n in range(n)], clients))
    finally:
        bare.stop()
    web = start_ideaflow(url, home)
    try:
        submit_s, submit_latencies, submit_failed = asyncio.run(drive(web.url, submit_jobs(pool_id, n), clients))
        tokens = mailed_tokens(home / "mail")
        confirm_s, confirm_latencies, confirm_failed = asyncio.run(drive(web.url, confirm_jobs(tokens), clients))
    finally:
        web.stop()
    failures = bare_failed + submit_failed + confirm_failed
    if failures or len(tokens) != n:
        raise RuntimeError(f"{len(failures)} requests failed, {len(tokens)} of {n} mails: {failures[:3]}")
    per_s = n / (submit_s + confirm_s)
    bare_per_s = n / bare_s
    return {"public_form_ratio": per_s / bare_per_s, "public_form_per_s": per_s, "bare_route_per_s": bare_per_s,
            "public_submit_p95_ms": p95_ms(submit_latencies), "public_confirm_p95_ms": p95_ms(confirm_latencies),
            "bare_route_p95_ms": p95_ms(bare_latencies), "public_form_n": n, "public_form_clients": clients}
