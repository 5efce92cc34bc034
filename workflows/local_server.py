"""A Prefect server of ideaflow's own, for `ideaflow serve` on one machine.

Prefect's ephemeral mode runs no scheduler (3.8.8 runs only its telemetry and vacuum services
there), so schedules served against it never produce a run. `ideaflow serve` therefore starts
`prefect server start` on the loopback interface, with Prefect's own SQLite under PREFECT_HOME,
apart from ideaflow's database, and stops it again on the way out. It also gives the coordinators
the Prefect UI, with the gate-review form. Nothing here imports Prefect: the settings Prefect reads
at import must be in the environment first.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ideaflow.config import Settings


class ServerDidNotStart(RuntimeError):
    pass


def serve_until_stopped(settings: Settings, announce: Callable[[str], None]) -> None:
    """`ideaflow serve`: the deployments on the server in PREFECT_API_URL, or on one of our own."""
    own_server = not os.environ.get("PREFECT_API_URL")
    with local_prefect_server(settings.prefect_port) if own_server else nullcontext() as url:
        if url:
            os.environ["PREFECT_API_URL"] = url  # before Prefect is imported: it reads it once
            announce(f"Prefect server and UI: {url.removesuffix('/api')}")
        from workflows.deployments import serve

        serve(settings)


def prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect"))


@contextmanager
def local_prefect_server(port: int, startup_timeout_s: float = 120) -> Iterator[str]:
    """Run a Prefect server on 127.0.0.1:`port` while the block runs; yields its API URL."""
    url = f"http://127.0.0.1:{port}/api"
    if _healthy(url):
        raise ServerDidNotStart(f"port {port} already has a Prefect server; set PREFECT_API_URL={url} to use it, "
                                f"or IDEAFLOW_PREFECT_PORT to start another")
    prefect_home().mkdir(parents=True, exist_ok=True)
    log_path = prefect_home() / "ideaflow-server.log"
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("prefect")), "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ServerDidNotStart(f"the Prefect server did not start on port {port}; see {log_path}")
            time.sleep(0.5)
        yield url
    finally:
        stop_gracefully(server)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def stop_gracefully(process: subprocess.Popen) -> None:
    """SIGINT, as Ctrl-C would (a Prefect worker whose server is gone ignores SIGTERM), then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
