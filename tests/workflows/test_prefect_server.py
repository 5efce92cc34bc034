"""The deployments for real: `prefect server start`, `prefect deploy --all`, process workers, `ideaflow serve`.

These run the commands of the README's "Running on a Prefect server" as separate processes on free
local ports, with Prefect's own database in a temporary PREFECT_HOME. The scale-out test points two
workers at one shared PostgreSQL database (SQLite where no PostgreSQL server can be started).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import func, select, text

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from ideaflow.processes import stop_gracefully
from states.vocabulary import Stage
from storage.migrate import upgrade
from storage.tables import HistoryRow, TimerRow
from workflows.deployments import DEPLOYMENT_NAME, WORK_POOL, deployments, digest_cron
from workflows.local_server import local_prefect_server

from mailtest import ALL_SCORES, Cast, free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def test_prefect_yaml_declares_what_ideaflow_serve_serves():
    declared = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
    served = deployments(Settings(_env_file=None))
    assert [d["entrypoint"] for d in declared] == [d.entrypoint for d in served]
    for yaml_deployment, deployment in zip(declared, served, strict=True):
        assert yaml_deployment["name"] == DEPLOYMENT_NAME
        assert yaml_deployment["work_pool"]["name"] == WORK_POOL
        assert yaml_deployment["description"] == deployment.description
        schedules = [{k: getattr(s, k) for k in ("cron", "interval", "timezone") if getattr(s, k, None)}
                     for s in deployment.schedules]
        for schedule in schedules:
            if "interval" in schedule:
                schedule["interval"] = int(schedule["interval"].total_seconds())
        assert yaml_deployment["schedules"] == schedules
    assert "/work/" not in (REPO / "prefect.yaml").read_text() and "/home/" not in (REPO / "prefect.yaml").read_text()


def test_served_schedules_follow_the_settings():
    settings = Settings(_env_file=None, digest_weekday=6, digest_time=clock_time(8, 30), sweep_every_s=60,
                        deliver_every_s=30)
    sweep, deliver, digests, _ = (d.schedules for d in deployments(settings))
    assert (sweep[0].interval, deliver[0].interval) == (timedelta(seconds=60), timedelta(seconds=30))
    assert (digests[0].cron, digests[0].timezone) == ("30 8 * * 0", "Europe/Copenhagen")  # Sunday is 0 in cron
    assert digest_cron(Settings(_env_file=None)) == "0 7 * * 1"


def test_the_plain_commands_do_not_import_prefect():
    probe = "import sys, ideaflow.cli; assert 'prefect' not in sys.modules, 'prefect imported'"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- one shared database and a Prefect server ---------------------------------------------------------


@pytest.fixture
def shared_db_url(request, tmp_path) -> str:
    server, why_not = request.getfixturevalue("postgres_server")
    if server is None:
        return f"sqlite:///{tmp_path / 'ideaflow.db'}"
    name = f"scaleout_{os.getpid()}_{time.monotonic_ns()}"
    with server.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT").execute(text(f'CREATE DATABASE "{name}"'))
    return server.url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def prefect_env(tmp_path, prefect_home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDEAFLOW_", "PREFECT_"))}
    env.update(PREFECT_HOME=str(prefect_home(tmp_path / "prefect-home")), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               HOME=str(tmp_path), PYTHONDONTWRITEBYTECODE="1")
    return env


@pytest.fixture
def prefect_server(prefect_env, monkeypatch):
    monkeypatch.setenv("PREFECT_HOME", prefect_env["PREFECT_HOME"])
    with local_prefect_server(free_port()) as url:
        prefect_env["PREFECT_API_URL"] = url
        yield url


def prefect(env: dict[str, str], *args: str, timeout: float = 180) -> str:
    done = subprocess.run([str(BIN / "prefect"), *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"prefect {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def run_deployment(env: dict[str, str], name: str, *args: str) -> str:
    """`prefect deployment run NAME`; returns the new flow run's id."""
    output = prefect(env, "deployment", "run", name, *args)
    return re.search(r"UUID: ([0-9a-f-]{36})", output)[1]


def final_states(api: str, run_ids: list[str]) -> list[str] | None:
    """The runs' final state types, once every one of them has finished."""
    states = [httpx.get(f"{api}/flow_runs/{run_id}", timeout=10).json()["state"]["type"] for run_id in run_ids]
    return states if all(s in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") for s in states) else None


def wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_on_a_prefect_server_sweep_a_shared_database_once_and_take_a_gate_decision(
        shared_db_url, prefect_env, prefect_server, tmp_path):
    app = bootstrap(Settings(_env_file=None, database_url=shared_db_url))
    engine, services = app.engine, app.services
    upgrade(engine)
    cast = Cast(services, now=datetime.now(UTC) - timedelta(days=60))
    overdue = [cast.submit(f"Idé {n}", cast.proposer, datetime.now(UTC) - timedelta(days=40)) for n in range(150)]
    decided = cast.submit("Fælles kørselsordning", cast.proposer, datetime.now(UTC))
    services.review(decided, cast.reviewer, ALL_SCORES, datetime.now(UTC))

    prefect(prefect_env, "work-pool", "create", WORK_POOL, "--type", "process")
    deployed = prefect(prefect_env, "--no-prompt", "deploy", "--all")
    for flow_name in ("sweep-deadlines", "deliver-outbox", "send-digests", "gate-review"):
        assert f"{flow_name}/{DEPLOYMENT_NAME}" in deployed
    worker_env = {**prefect_env, "IDEAFLOW_DATABASE_URL": shared_db_url, "IDEAFLOW_MAIL_DIR": str(tmp_path / "mail")}
    workers = [subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", WORK_POOL, "--name", f"w{n}"],
                                cwd=tmp_path, env=worker_env, stdout=(tmp_path / f"worker{n}.log").open("w"),
                                stderr=subprocess.STDOUT)
               for n in range(2)]
    try:
        # Two sweeps at once (as when two schedules or two coordinators overlap), one per worker.
        sweeps = [run_deployment(prefect_env, f"sweep-deadlines/{DEPLOYMENT_NAME}") for _ in range(2)]
        form = {"review": {"idea": decided, "by": Cast.coordinator, "gate": "screening", "action": "decide",
                           "decision": "go", "reason": "Besluttet i Prefect"}}
        gate = run_deployment(prefect_env, f"gate-review/{DEPLOYMENT_NAME}", "--params", json.dumps(form))

        assert wait_for(lambda: final_states(prefect_server, sweeps), 240, "both sweeps") == ["COMPLETED"] * 2
        assert wait_for(lambda: final_states(prefect_server, [gate]), 120, "the gate decision") == ["COMPLETED"]
    finally:
        for worker in workers:
            stop_gracefully(worker)

    with engine.connect() as connection:
        escalations = dict(connection.execute(
            select(HistoryRow.idea_id, func.count()).where(HistoryRow.action == "escalate")
            .group_by(HistoryRow.idea_id)).all())
        fired = connection.execute(select(TimerRow.id, func.count()).where(TimerRow.fired_at.is_not(None))
                                   .group_by(TimerRow.id)).all()
        still_due = connection.execute(select(func.count()).select_from(TimerRow).where(
            TimerRow.fired_at.is_(None), TimerRow.cancelled_at.is_(None),
            TimerRow.due_at <= datetime.now(UTC))).scalar_one()
    assert escalations == {idea: 1 for idea in overdue}  # every overdue idea escalated exactly once
    assert still_due == 0 and len(fired) >= len(overdue)
    from ideaflow.views import idea_view

    view = idea_view(engine, decided)
    assert view.stage == Stage.SCREENED and view.history[-1].reason == "Besluttet i Prefect"
    app.close()


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def serve_env(prefect_env, tmp_path) -> dict[str, str]:
    """`ideaflow serve`'s environment: a database, mail folder and Prefect port of this test's own, and
    none of the Prefect settings ideaflow itself is meant to set."""
    env = {k: v for k, v in prefect_env.items() if k != "PREFECT_SERVER_ANALYTICS_ENABLED"}
    env.update(IDEAFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'ideaflow.db'}", IDEAFLOW_PREFECT_PORT=str(free_port()),
               IDEAFLOW_WEB_PORT=str(free_port()), IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"), PYTHONUNBUFFERED="1")
    return env


@pytest.mark.long
def test_ideaflow_serve_runs_the_schedules_on_its_own_prefect_server_and_stops_on_sigterm(serve_env, tmp_path):
    """SIGTERM once the flows are served: Prefect's own handler (sys.exit() wherever the main thread is)
    was swallowed inside its runner here; serve hands it to asyncio as Ctrl-C, which stops cleanly."""
    app = bootstrap(Settings(_env_file=None, database_url=serve_env["IDEAFLOW_DATABASE_URL"]))
    engine, services = app.engine, app.services
    upgrade(engine)
    cast = Cast(services, now=datetime.now(UTC) - timedelta(days=60))
    overdue = cast.submit("Forsinket idé", cast.proposer, datetime.now(UTC) - timedelta(days=40))
    env = {**serve_env, "IDEAFLOW_SWEEP_EVERY_S": "10", "IDEAFLOW_DELIVER_EVERY_S": "10"}
    port = env["IDEAFLOW_PREFECT_PORT"]
    log = (tmp_path / "serve.log").open("w+")
    serve = subprocess.Popen([str(BIN / "ideaflow"), "serve"], cwd=tmp_path, env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        def escalated():
            from ideaflow.views import idea_view

            return idea_view(engine, overdue).history[-1].action == "escalate"

        wait_for(escalated, 300, "a scheduled sweep-deadlines run")
        wait_for(lambda: list((tmp_path / "mail").glob("*.eml")), 60, "a scheduled deliver-outbox run")
        ui_settings = httpx.get(f"http://127.0.0.1:{port}/ui-settings", timeout=10).json()
        server_settings = httpx.get(f"http://127.0.0.1:{port}/api/admin/settings", timeout=10).json()["server"]
        contacted = hosts_a_browser_contacts(f"http://127.0.0.1:{port}/", tmp_path) if CHROMIUM.exists() else None
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=120) == 0
    finally:
        stop_and_clean_up(serve, port)
        log.seek(0)
        output = log.read()
        app.close()
    assert "sweep-deadlines/ideaflow" in output and f"Prefect server and UI: http://127.0.0.1:{port}" in output
    assert output.rstrip().endswith("stopped"), output[-3000:]
    assert "screening deadline passed; escalated" in output, output[-3000:]
    # The UI talks to the server on the port chosen, not to Prefect's default 4200.
    assert ui_settings["api_url"] == f"http://127.0.0.1:{port}/api"
    # No analytics: the server sends none, and the UI served at / is the one without Amplitude (Prefect's
    # "v2" UI initialises Amplitude whatever analytics_enabled says; see workflows/__init__.py).
    assert server_settings["analytics_enabled"] is False
    assert server_settings["ui"]["show_promotional_content"] is False
    assert ui_settings["default_ui"] == "v1"
    # the Prefect server that `serve` started is gone with it
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2)
    if contacted is None:
        pytest.skip(f"everything else passed; {CHROMIUM} is not installed to check which hosts the UI contacts")
    assert contacted == {f"127.0.0.1:{port}"}, contacted


def hosts_a_browser_contacts(url: str, tmp_path: Path) -> set[str]:
    """Open `url` in headless Chromium until the page settles; the hosts the page made requests to.

    Read from Chromium's network log: the requests made for the page carry its site in their network
    isolation key; Chromium's own (updates, Google accounts) carry none, and are left out.
    """
    net_log = tmp_path / "chromium-net.json"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
                    f"--user-data-dir={tmp_path / 'chromium'}", f"--log-net-log={net_log}",
                    "--virtual-time-budget=20000", "--dump-dom", url],
                   capture_output=True, timeout=180, check=True)
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    site = "{0.scheme}://{0.hostname}".format(urlsplit(url))
    return {urlsplit(e["params"]["url"]).netloc for e in log["events"]
            if e["type"] == start_job and e.get("params", {}).get("network_isolation_key", "").split(" ")[0] == site}


def stop_and_clean_up(serve: subprocess.Popen, port: int | str) -> None:
    """However the test went: stop serve as an operator would, and leave no Prefect server of it
    running (a SIGKILLed serve cannot stop its own, which then loads the machine for the next tests)."""
    stop_gracefully(serve)
    for pid in prefect_servers_on(int(port)):
        os.kill(pid, signal.SIGKILL)


def prefect_servers_on(port: int) -> list[int]:
    """The ids of the running `prefect server start ... --port PORT` processes."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0") if entry.name.isdigit() else []
        except OSError:
            continue
        if b"server" in args and b"start" in args and b"--port" in args and str(port).encode() in args:
            found.append(int(entry.name))
    return found


def start_serve(serve_env, tmp_path) -> subprocess.Popen:
    """`ideaflow serve` on serve_env's database, migrated first (so it starts its servers at once)."""
    app = bootstrap(Settings(_env_file=None, database_url=serve_env["IDEAFLOW_DATABASE_URL"]))
    upgrade(app.engine)
    app.close()
    return subprocess.Popen([str(BIN / "ideaflow"), "serve"], cwd=tmp_path, env=serve_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_serve_starts_its_prefect_server_stops_that_server_and_exits_0(serve_env, tmp_path, signum):
    """systemd, Docker and `kill` send SIGTERM, and people press Ctrl-C, also in serve's first seconds,
    while its Prefect server starts: serve must still stop that server, or the next serve is refused
    the port."""
    port = int(serve_env["IDEAFLOW_PREFECT_PORT"])
    serve = start_serve(serve_env, tmp_path)
    try:
        # serve starts its console first (its line and the web server's log), then the Prefect server
        starting = f"starting Prefect's server on 127.0.0.1:{port}"
        lines = [serve.stdout.readline()]
        while not lines[-1].startswith(starting) and lines[-1] and len(lines) < 20:
            lines.append(serve.stdout.readline())
        assert lines[-1].startswith(starting), lines
        said = [line for line in lines if not line.startswith("ideaflow: warning:")]  # (the privacy notice's)
        assert said[0].startswith("ideaflow web console: http://127.0.0.1:"), lines
        children = wait_for(lambda: prefect_servers_on(port), 10, "serve's Prefect server process")
        time.sleep(0.5)
        assert not httpx_healthy(port), "the server was up already: this would not test its first seconds"
        serve.send_signal(signum)
        assert serve.wait(timeout=60) == 0, serve.stdout.read()
    finally:
        stop_and_clean_up(serve, port)
    assert serve.stdout.read().rstrip().endswith("stopped")
    assert prefect_servers_on(port) == []
    for pid in children:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with socket.socket() as probe:  # the port is free for the next serve
        probe.bind(("127.0.0.1", port))


def httpx_healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal is Linux's (the README says the rest)")
def test_a_serve_killed_outright_takes_its_prefect_server_with_it(serve_env, tmp_path):
    """SIGKILL (the OOM killer, `kill -9`) runs no `finally`: the kernel's parent-death signal stops the
    Prefect server serve started, so the port is free for the next serve."""
    port = int(serve_env["IDEAFLOW_PREFECT_PORT"])
    serve = start_serve(serve_env, tmp_path)
    try:
        children = wait_for(lambda: prefect_servers_on(port), 30, "serve's Prefect server process")
        wait_for(lambda: httpx_healthy(port), 300, "serve's Prefect server to answer")
        serve.kill()
        serve.wait(timeout=10)
        wait_for(lambda: not prefect_servers_on(port) and not httpx_healthy(port), 10,
                 "the Prefect server to die with serve")
    finally:
        serve.stdout.close()
        stop_and_clean_up(serve, port)
    for pid in children:  # gone, or a zombie waiting for its new parent to reap it
        try:
            assert "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            pass
    with socket.socket() as probe:  # the port is free for the next serve: nothing listens on it
        # As the next server binds (uvicorn sets SO_REUSEADDR): the health checks' connections, closed by
        # the killed server, may wait out TIME_WAIT on this port, which only a listener would make fail.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
