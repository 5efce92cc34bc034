"""Serving the console with uvicorn: `ideaflow web` (and `ideaflow serve`, beside the flows).

Both print `ideaflow web console: http://HOST:PORT/` once the socket accepts connections (the
automation contract: scripts and tests wait for that line). `run()` (`ideaflow web`) returns when
SIGINT or SIGTERM stops the server after in-flight requests finish; uvicorn handles both signals.
`running()` (`ideaflow serve`) serves from a thread while the block runs, so the main thread can run
the scheduled flows and take the signals; leaving the block stops the console the same way.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

READY = "ideaflow web console: http://{host}:{port}/"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None]) -> None:
        super().__init__(config)
        self.on_ready = on_ready

    def handle_exit(self, sig, frame) -> None:
        # uvicorn re-raises a captured SIGINT/SIGTERM once it has shut down, so the process would die
        # of the signal; stopping by signal is how the console is meant to end: exit 0 (the contract).
        super().handle_exit(sig, frame)
        self._captured_signals.clear()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            host, port = self.servers[0].sockets[0].getsockname()[:2]
            self.on_ready(READY.format(host=f"[{host}]" if ":" in host else host, port=port))


class _NoTokensInLog(logging.Filter):
    """Access log lines show paths with their query; a sign-in link's token has no place in a log."""

    TOKEN = re.compile(r"(token=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self.TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        return True


def run(app: FastAPI, host: str, port: int, on_ready: Callable[[str], None]) -> None:
    """Serve `app` until stopped by SIGINT or SIGTERM (port 0: any free port, named in the line)."""
    _Server(_config(app, host, port), on_ready).run()


def _config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    config = uvicorn.Config(app, host=host, port=port, log_level="info", server_header=False,
                            date_header=True, proxy_headers=True)
    logging.getLogger("uvicorn.access").addFilter(_NoTokensInLog())
    # uvicorn's start-up chatter ("Started server process", "Uvicorn running on …") would come before,
    # and say less than, the contract's line; its warnings and errors still show, and the access log.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    return config


class ConsoleDidNotStart(RuntimeError):
    pass


@contextmanager
def running(app: FastAPI, host: str, port: int, on_ready: Callable[[str], None]) -> Iterator[None]:
    """Serve `app` from a thread while the block runs; the line is announced before the block starts.

    uvicorn takes no signals outside the main thread, so the caller's signal handling stays in
    charge; on the way out the server finishes its in-flight requests and the thread is joined.
    """
    announced = threading.Event()

    def announce(line: str) -> None:
        on_ready(line)
        announced.set()

    server = _Server(_config(app, host, port), announce)
    thread = threading.Thread(target=server.run, name="ideaflow-web", daemon=True)
    thread.start()
    try:
        while not announced.wait(0.05):
            if not thread.is_alive():  # uvicorn logged why (e.g. the address is in use) and gave up
                raise ConsoleDidNotStart(f"the web console could not listen on {host}:{port} (see the log above)")
        yield
    finally:
        server.should_exit = True
        thread.join()
