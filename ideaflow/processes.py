"""Child processes that never outlive ideaflow: SIGINT and SIGTERM stop it cleanly at any moment.

`ideaflow serve` and `ideaflow demo` run a Prefect server as a child process, in a session of its
own so that a Ctrl-C in the terminal reaches ideaflow alone, which then stops its children in order.
Python's default SIGTERM ends a process where it stands, without running `finally` blocks: a child
started a moment before would keep running on its port, and the next `serve` would be refused it.

A parent that is killed outright (SIGKILL, the OOM killer) runs no `finally`: on Linux its children
are started with the kernel's parent-death signal (prctl PR_SET_PDEATHSIG, SIGKILL), so they die with it
and free their ports; elsewhere they must be stopped by hand (the README says how).

Under `stop_signals()`, SIGINT and SIGTERM raise `Stopped` in the main thread instead, so every
`finally` runs. While a child is being started or stopped, a signal is held back until that is done:
otherwise it could strike between the fork and the moment the child is remembered, or in the middle
of stopping it, and leave it running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Stopped(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived. A KeyboardInterrupt, so code that handles Ctrl-C handles it too."""


class _Signals:
    def __init__(self) -> None:
        self.active = False
        self.holding = 0
        self.pending: int | None = None

    def handle(self, signum: int, frame: object) -> None:
        if self.holding:
            self.pending = signum
            return
        raise Stopped(signal.Signals(signum).name)

    def install(self) -> None:
        for signum in SIGNALS:
            signal.signal(signum, self.handle)


_signals = _Signals()


@contextmanager
def stop_signals() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM raise `Stopped` (main thread only); then the old handlers return."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    _signals.install()
    _signals.active = True
    try:
        yield
    finally:
        _signals.active = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_to_asyncio() -> Iterator[None]:
    """For a block that runs an event loop (asyncio.run): SIGINT gets Python's default handler back, so
    that asyncio.run cancels its main task and lets it clean up, and SIGTERM is passed on as SIGINT.

    An exception raised by a signal handler strikes wherever the main thread is, and inside a library's
    async code it may be swallowed: seen here, a `Stopped` raised inside Prefect's runner became a
    serialisation error of one flow run, and serve kept running. Afterwards the previous handlers return.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in SIGNALS}
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, as_sigint)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def as_sigint(signum: int, frame: object) -> None:
    """A signal handler: treat this signal as SIGINT (Ctrl-C), whoever handles that now."""
    signal.raise_signal(signal.SIGINT)


@contextmanager
def _held(*, then_raise: bool) -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block runs; afterwards raise `Stopped` if one came and
    `then_raise`. Outside `stop_signals()` this changes nothing."""
    if not _signals.active or threading.current_thread() is not threading.main_thread():
        yield
        return
    _signals.install()  # a library may have put its own handler in ours' place meanwhile (Prefect's runner does)
    _signals.holding += 1
    try:
        yield
    finally:
        _signals.holding -= 1
    if not _signals.holding and _signals.pending is not None:
        signum, _signals.pending = _signals.pending, None
        if then_raise:
            raise Stopped(signal.Signals(signum).name)


@contextmanager
def child_process(args: Sequence[str], *, log: Path, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    """Run `args` in a session of its own while the block runs, output appended to `log`; it is stopped
    on the way out, however the block ends."""
    process: subprocess.Popen | None = None
    try:
        with _held(then_raise=True):
            with log.open("ab") as output:
                process = subprocess.Popen(dies_with_parent(args), stdout=output, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        yield process
    finally:
        if process is not None:
            with _held(then_raise=False):
                stop_gracefully(process)


#: Run in the child's own process before it becomes the command (exec keeps the parent-death signal):
#: set it, and end at once if the parent died before it was set (the child then has another parent).
_DIE_WITH_PARENT = ("import ctypes, os, sys\n"
                    "if ctypes.CDLL(None, use_errno=True).prctl(1, 9, 0, 0, 0) != 0: sys.exit('prctl failed')\n"
                    "if os.getppid() != int(sys.argv[1]): sys.exit('the parent is gone')\n"
                    "os.execv(sys.argv[2], sys.argv[2:])")


def dies_with_parent(args: Sequence[str]) -> list[str]:
    """`args` as a command that is SIGKILLed when the thread that started it dies (Linux: PR_SET_PDEATHSIG
    = 1, SIGKILL = 9), through a moment of Python that sets it and then execs `args[0]` (a path);
    elsewhere `args` unchanged. Start it from a thread that lives as long as the child should: the
    kernel sends the signal when that thread ends (the main thread, in ideaflow)."""
    if sys.platform != "linux":
        return list(args)
    return [sys.executable, "-I", "-S", "-c", _DIE_WITH_PARENT, str(os.getpid()), *args]


def stop_gracefully(process: subprocess.Popen, timeout_s: float = 30) -> None:
    """SIGINT, as Ctrl-C would (a Prefect worker whose server is gone ignores SIGTERM), then SIGKILL."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
