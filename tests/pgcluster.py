"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl under a temporary folder.

Each pytest process starts its own (the `postgres_server` session fixture): with pytest-xdist every
worker has a cluster of its own, on its own port, socket folder and data folder, so workers share
nothing and a crashed worker cannot leave another worker's databases half made.

No system service, loopback only, fsync off. PostgreSQL refuses to run as root, so as root the
cluster runs as the `postgres` user that Debian's package creates. `start()` returns None, with the
reason in `why_not`, when no server can be started here (the tests then skip with that reason).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self) -> None:
        self.why_not = ""
        self.folder: Path | None = None
        self.port = 0

    def _run(self, *argv: str) -> subprocess.CompletedProcess:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        return subprocess.run([*prefix, *argv], capture_output=True, text=True, timeout=120)

    def start(self) -> str | None:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not initdb or not pg_ctl:
            self.why_not = "PostgreSQL is not installed (initdb/pg_ctl not found; .ci/run installs it)"
            return None
        self.folder = Path(tempfile.mkdtemp(prefix="ideaflow-pg-"))
        os.chmod(self.folder, 0o777)
        data = self.folder / "data"
        done = self._run(initdb, "-D", str(data), "-U", "ideaflow", "-A", "trust", "-E", "UTF8", "--no-sync")
        if done.returncode:
            self.why_not = f"initdb failed: {done.stderr.strip().splitlines()[-1] if done.stderr else done.returncode}"
            return None
        for _ in range(3):  # another process (a parallel test worker's cluster) may take the port first
            self.port = _free_port()
            options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            done = self._run(pg_ctl, "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w", "start")
            if done.returncode == 0:
                return f"postgresql+psycopg://ideaflow@127.0.0.1:{self.port}/postgres"
            log = self.folder / "log"
            if not log.exists() or "already in use" not in log.read_text(errors="replace"):
                break
        self.why_not = f"pg_ctl start failed: {done.stderr.strip() or done.stdout.strip()}"
        return None

    def stop(self) -> None:
        if self.folder is None:
            return
        pg_ctl = _binary("pg_ctl")
        if pg_ctl and (self.folder / "data" / "postmaster.pid").exists():
            self._run(pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
