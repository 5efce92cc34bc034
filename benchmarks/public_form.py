"""The public idea form under load, against a bare FastAPI route on the same database, in the same run.

`ideaflow web` runs as its own process on a fresh SQLite file (mail written to a folder, rate limits
out of the way); `clients` concurrent HTTP clients (each its own cookies and connection, as browsers
are) submit `n` ideas, then confirm each from the token in its mailed link. A submission counts once
both requests are answered, so its rate is n ÷ (time to submit all + time to confirm all); each
phase's clock starts once every client is connected and has its CSRF token (see `drive`). The
baseline (`benchmarks.bare_route`) is one POST of the same fields that commits one row to another
table of the same database file, made by the same clients, in alternating rounds after an untimed
warm-up of both (see `public_form`). The burst test
(tests/web/test_public_burst.py) drives the same load and checks the outcome; this measures it.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


async def drive(base_url: str, jobs: list[Job], clients: int,
                started: Callable[[], None] = lambda: None) -> tuple[float, list[float], list[str]]:
    """Run `jobs` spread over `clients` concurrent clients; (wall seconds, each request's seconds, failures).

    Each client first opens its connection and reads a CSRF token from a page (its cookie comes with it),
    as a browser has the form's page before it posts; the clock starts (and `started` is called) once
    every client has, so the seconds are those of the jobs alone, for the form and the bare route alike."""
    latencies: list[float] = []
    failures: list[str] = []
    ready = asyncio.Barrier(clients + 1)

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=300) as http:
            try:
                token = CSRF.search((await http.get("privacy")).text)
            except BaseException:
                await ready.abort()  # the others stop waiting; gather() below raises this one's error
                raise
            token = token[1] if token else ""
            await ready.wait()
            for job in jobs[number::clients]:
                begun = time.perf_counter()
                answer = await job(http, token)
                latencies.append(time.perf_counter() - begun)
                if answer.status_code != 200:
                    failures.append(f"{answer.request.url.path}: {answer.status_code} {answer.text[:300]}")

    tasks = [asyncio.create_task(client(number)) for number in range(clients)]
    try:
        await ready.wait()
    except asyncio.BrokenBarrierError:
        await asyncio.gather(*tasks)
    started()
    begun = time.perf_counter()
    await asyncio.gather(*tasks)
    return time.perf_counter() - begun, latencies, failures


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


def cpu_seconds(pid: int) -> float:
    """The CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Round:
    """One timed pass through one server: how long it took, each request's latency, the server's and this
    process's (the clients') CPU seconds, and what failed."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    failures: list[str] = field(default_factory=list)

    def run(self, server: Server, jobs: list[Job], clients: int) -> Round:
        before: list[float] = []
        seconds, latencies, failures = asyncio.run(drive(
            server.url, jobs, clients, started=lambda: before.extend((cpu_seconds(server.process.pid),
                                                                       own_cpu_seconds()))))
        self.server_cpu += cpu_seconds(server.process.pid) - before[0]
        self.client_cpu += own_cpu_seconds() - before[1]
        self.seconds += seconds
        self.latencies += latencies
        self.failures += failures
        return self


def bare_jobs(first: int, n: int) -> list[Job]:
    return [(lambda http, _token, number=number: http.post("rows", data=idea(number)))
            for number in range(first, first + n)]


def submitted_and_confirmed(web: Server, pool_id: int, mail_dir: Path, first: int, n: int,
                            clients: int) -> tuple[Round, Round]:
    """`n` submissions from `clients` clients, then each one's confirmation from its mailed link; the mail
    folder is emptied after, so that the next round reads only its own links."""
    submitted = Round().run(web, submit_jobs(pool_id, first + n)[first:], clients)
    tokens = mailed_tokens(mail_dir)
    for mail in mail_dir.glob("*.eml"):
        mail.unlink()
    confirmed = Round().run(web, confirm_jobs(tokens), clients)
    if len(tokens) != n:
        confirmed.failures.append(f"{len(tokens)} confirmation mails for {n} submissions")
    return submitted, confirmed


def public_form(work: Path, n: int, clients: int = 50, rounds: int = 3, warm_up: int = 50) -> dict:
    """Submissions per second (submit + confirm) through `ideaflow web` ÷ rows per second through the bare
    route, and each one's p95 latency under `clients` concurrent clients.

    Both servers run side by side for the whole measurement (an idle one takes no CPU) and each first
    serves `warm_up` untimed submissions or rows, so that neither's figure holds its first requests
    (imports on first use, statements compiled, connections opened). Then `rounds` rounds, each the bare
    route's `n` rows followed by the form's `n` submissions and confirmations, so that the machine's
    changing load falls on both alike: a round's ratio compares two measurements minutes apart at most,
    and the figure is the median round's. The servers' CPU per submission or row (from /proc) and the
    clients' CPU per request are reported beside it: they show which side bounds each rate."""
    from storage.db import make_engine
    from storage.migrate import upgrade

    home = work / "public_form"
    home.mkdir()
    url = f"sqlite:///{home / 'public_form.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    pool_id = seed(url)
    mail_dir = home / "mail"
    bare = start_bare(url, home)
    web = None
    try:
        web = start_ideaflow(url, home)
        failures = Round().run(bare, bare_jobs(0, warm_up), clients).failures
        failures += [f for step in submitted_and_confirmed(web, pool_id, mail_dir, 0, warm_up, clients)
                     for f in step.failures]
        bare_rounds, form_rounds = [], []
        for number in range(rounds):
            first = warm_up + number * n
            bare_rounds.append(Round().run(bare, bare_jobs(first, n), clients))
            form_rounds.append(submitted_and_confirmed(web, pool_id, mail_dir, first, n, clients))
    finally:
        bare.stop()
        if web is not None:
            web.stop()
    failures += [f for r in bare_rounds for f in r.failures]
    failures += [f for pair in form_rounds for step in pair for f in step.failures]
    if failures:
        raise RuntimeError(f"{len(failures)} requests failed: {failures[:3]}")
    ratios = [(n / (submitted.seconds + confirmed.seconds)) / (n / bare_round.seconds)
              for bare_round, (submitted, confirmed) in zip(bare_rounds, form_rounds, strict=True)]
    median = sorted(range(rounds), key=lambda i: ratios[i])[rounds // 2]
    bare_round, (submitted, confirmed) = bare_rounds[median], form_rounds[median]
    form_requests = sum(len(s.latencies) + len(c.latencies) for s, c in form_rounds)
    return {
        "public_form_ratio": ratios[median],
        "public_form_ratio_by_round": {str(i + 1): ratio for i, ratio in enumerate(ratios)},
        "public_form_per_s": n / (submitted.seconds + confirmed.seconds),
        "bare_route_per_s": n / bare_round.seconds,
        "public_submit_p95_ms": p95_ms([t for s, _ in form_rounds for t in s.latencies]),
        "public_confirm_p95_ms": p95_ms([t for _, c in form_rounds for t in c.latencies]),
        "bare_route_p95_ms": p95_ms([t for r in bare_rounds for t in r.latencies]),
        "public_form_server_cpu_ms": sum(s.server_cpu + c.server_cpu for s, c in form_rounds) / (rounds * n) * 1000,
        "bare_route_server_cpu_ms": sum(r.server_cpu for r in bare_rounds) / (rounds * n) * 1000,
        "public_form_client_cpu_ms": sum(s.client_cpu + c.client_cpu for s, c in form_rounds) / form_requests * 1000,
        "bare_route_client_cpu_ms": sum(r.client_cpu for r in bare_rounds) / (rounds * n) * 1000,
        "public_form_n": n, "public_form_rounds": rounds, "public_form_clients": clients,
    }


def in_a_process_of_its_own(work: Path, n: int, *, rounds: int, warm_up: int) -> dict:
    """`public_form` run by a fresh Python process (`python -m benchmarks.public_form WORK N ROUNDS WARM_UP`).

    The clients' CPU bounds the bare route's rate, so they run apart from `run.py`'s process and
    whatever it holds by then (its large data sets and their garbage), as the measurements of
    `benchmarks.child` do."""
    argv = [sys.executable, "-m", "benchmarks.public_form", str(work), str(n), str(rounds), str(warm_up)]
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.public_form failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


if __name__ == "__main__":
    work_dir, size, round_count, warm = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    print(json.dumps(public_form(work_dir, size, rounds=round_count, warm_up=warm)))
