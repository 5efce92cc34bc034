"""The Prefect server the flows of this process talk to: PREFECT_API_URL's, or one ideaflow starts.

Prefect's own local (ephemeral) mode starts a temporary server silently inside the first flow run
and gives it 20 s; on these shared machines it needed 15–50 s, so `ideaflow demo` failed now and
then with "Timed out while attempting to connect to ephemeral Prefect API server". That mode also
runs no scheduler, so schedules served against it never produce a run. So `ideaflow serve` and
`ideaflow demo` start `prefect server start` themselves, on the loopback interface, with Prefect's
own SQLite under PREFECT_HOME (apart from ideaflow's database): they say what they wait for while it
starts, notice at once if it dies, and stop it on the way out, also on SIGINT or SIGTERM (see
ideaflow/processes.py). `serve`'s server also runs Prefect's scheduler and UI (the gate-review form).

Nothing here imports Prefect: the settings Prefect reads at import must be in the environment first.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ideaflow.processes import child_process

Announce = Callable[[str], None]


class ServerDidNotStart(RuntimeError):
    pass


@contextmanager
def prefect_api(announce: Announce, *, port: int | None = None, ui: bool = False, services: bool = False,
                startup_timeout_s: float = 300) -> Iterator[str]:
    """PREFECT_API_URL while the block runs: the server it names, or one started on 127.0.0.1:`port`
    (a free port if None) and stopped afterwards. Yields the API URL; call before Prefect is imported."""
    if url := os.environ.get("PREFECT_API_URL"):
        if not _healthy(url):
            raise ServerDidNotStart(f"the Prefect server at PREFECT_API_URL={url} does not answer")
        announce(f"using the Prefect server at {url}")
        yield url
        return
    with local_prefect_server(port or free_port(), announce, ui=ui, services=services,
                              startup_timeout_s=startup_timeout_s) as url:
        # Prefect reads these once, at import. Without a UI, no "View at <url>" for each flow run.
        settings = {"PREFECT_API_URL": url, **({} if ui else {"PREFECT_UI_URL": ""})}
        for name, value in settings.items():
            os.environ[name] = value
        try:
            yield url
        finally:
            drain_prefect_clients()
            for name in settings:
                del os.environ[name]


def drain_prefect_clients() -> None:
    """Send the logs and events Prefect still buffers while its server is up: left for the exit of
    the process, they would meet a stopped server and be retried for about a minute."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=10)


@contextmanager
def local_prefect_server(port: int, announce: Announce = lambda line: None, *, ui: bool = True,
                         services: bool = True, startup_timeout_s: float = 300) -> Iterator[str]:
    """Run `prefect server start` on 127.0.0.1:`port` while the block runs; yields its API URL.

    The UI is told the API's address explicitly: Prefect builds it from PREFECT_SERVER_API_PORT, not
    from `--port`, so a UI served on another port would talk to a server on 4200, or to none.
    """
    url = f"http://127.0.0.1:{port}/api"
    if _healthy(url):
        raise ServerDidNotStart(f"port {port} already has a Prefect server; set PREFECT_API_URL={url} to use it, "
                                f"or IDEAFLOW_PREFECT_PORT to start another")
    home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))
    home.mkdir(parents=True, exist_ok=True)
    log = home / "ideaflow-server.log"
    env = {**os.environ, "PREFECT_SERVER_API_HOST": "127.0.0.1", "PREFECT_SERVER_API_PORT": str(port)}
    if not (env.get("PREFECT_SERVER_UI_API_URL") or env.get("PREFECT_UI_API_URL")):
        env["PREFECT_SERVER_UI_API_URL"] = url
    env.pop("PREFECT_API_URL", None)  # neither the server nor its UI may talk to another server
    command = [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1",
               "--port", str(port), "--ui" if ui else "--no-ui", *([] if services else ["--no-services"])]
    announce(f"starting Prefect's server on 127.0.0.1:{port} (can take a minute on a slow machine)…")
    started = time.monotonic()
    with child_process(command, log=log, env=env) as server:
        next_word = started + 15
        while not _healthy(url):
            waited = time.monotonic() - started
            if server.poll() is not None:
                raise ServerDidNotStart(f"the Prefect server on port {port} stopped while starting "
                                        f"(exit code {server.returncode}); see {log}")
            if waited > startup_timeout_s:
                raise ServerDidNotStart(f"the Prefect server on port {port} did not answer within "
                                        f"{startup_timeout_s:.0f} s; see {log}")
            if time.monotonic() > next_word:
                announce(f"still waiting for Prefect's server ({waited:.0f} s)…")
                next_word += 15
            time.sleep(0.5)
        announce(f"Prefect's server is up ({time.monotonic() - started:.0f} s)")
        yield url


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
