"""`ideaflow serve`: what runs until SIGINT or SIGTERM, started in order and stopped in reverse.

Each part is a context manager: it starts its piece, yields while it runs, and stops it on the way
out. Under `stop_signals()` a signal at any moment unwinds them all, so no child outlives serve, and
serve exits 0 (the contract for both signals). The scheduled flows come last and block.
"""

from __future__ import annotations

from collections.abc import Callable

from ideaflow.config import Settings
from ideaflow.processes import stop_signals


def serve_until_stopped(settings: Settings, announce: Callable[[str], None]) -> None:
    try:
        with stop_signals():
            from workflows.local_server import prefect_api

            with prefect_api(announce, port=settings.prefect_port, ui=True, services=True) as url:
                announce(f"Prefect server and UI: {url.removesuffix('/api')}")
                from workflows.deployments import serve

                serve(settings, announce)
    except KeyboardInterrupt:  # SIGINT or SIGTERM (processes.Stopped), everything started is stopped
        announce("stopped")
