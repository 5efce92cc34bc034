"""`ideaflow serve`: what runs until SIGINT or SIGTERM, started in order and stopped in reverse.

Each part is a context manager: it starts its piece, yields while it runs, and stops it on the way
out. Under `stop_signals()` a signal at any moment unwinds them all, so no child outlives serve, and
serve exits 0 (the contract for both signals). The web console comes first (it is ready in a second,
while Prefect's server may take a minute), served from a thread; the scheduled flows come last and
block the main thread, which takes the signals.
"""

from __future__ import annotations

from collections.abc import Callable

from ideaflow.bootstrap import Container
from ideaflow.processes import stop_signals


def serve_until_stopped(container: Container, host: str, port: int, announce: Callable[[str], None]) -> None:
    settings = container.settings
    try:
        with stop_signals():
            from web.app import create_app
            from web.server import running

            with running(create_app(container), host, port, announce):
                announce(f"public idea form: {settings.public_url}")
                from workflows.local_server import prefect_api

                with prefect_api(announce, port=settings.prefect_port, ui=True, services=True) as url:
                    announce(f"Prefect server and UI: {url.removesuffix('/api')}")
                    from workflows.deployments import serve

                    serve(settings, announce)
    except KeyboardInterrupt:  # SIGINT or SIGTERM (processes.Stopped), everything started is stopped
        announce("stopped")
