"""`ideaflow demo`, the main job, run as a person would run it: the installed command in an empty folder."""

import json
import re
import socket
import sqlite3
import subprocess
import sys
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

IDEAFLOW = str(Path(sys.executable).with_name("ideaflow"))


def run(*args, cwd):
    return subprocess.run([IDEAFLOW, *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)})


@pytest.mark.long
def test_demo_runs_the_portfolio_through_the_lifecycle_and_can_run_again(tmp_path):
    first = run("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    # it says what it waits for, and its Prefect server is gone with it
    waiting, up = first.stdout.splitlines()[0], re.search(r"Prefect's server is up \((\d+) s\)", first.stdout)
    port = re.fullmatch(r"starting Prefect's server on 127\.0\.0\.1:(\d+) \(can take a minute .*\)…", waiting)[1]
    print(f"Prefect's server started in {up[1]} s")
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(port)), timeout=2).close()
    assert (tmp_path / "ideaflow.db").exists()
    for text in ("Tværgående sagsbehandling", "Gundsømagle", "Én indgang for unge", "Samskabelse",
                 "5.000.000 kr.", "history of #2", "pilot started", "escalated"):
        assert text in first.stdout
    # the sweeps, digests and mail went through the Prefect flows, and the mail landed in mail/
    assert "Flow run" in first.stderr and "sweep-deadlines" in first.stderr and "send-digests" in first.stderr
    sent = int(re.search(r"mail: written (\d+) as \.eml files to mail/ \(no IDEAFLOW_SMTP_HOST set\), 0 still pending",
                         first.stdout)[1])
    assert sent == len(list((tmp_path / "mail").glob("*.eml"))) > 0
    assert re.search(r"digests queued: \d+ × coordinator", first.stdout)

    ideas = {i["title"]: i for i in json.loads(run("list", "--json", cwd=tmp_path).stdout)}
    assert ideas["Tværgående sagsbehandling"]["stage"] == "evaluated"
    assert ideas["ZebraByer: landsbyer der deler hverdagens opgaver"]["stage"] == "evaluated"
    assert ideas["Én indgang for unge"]["stage"] == "piloting"
    assert ideas["Droner til tagrendeinspektion"]["stage"] == "rejected"
    assert ideas["Robotplæneklippere i parkerne"]["stage"] == "submitted"

    zebra = json.loads(run("show", str(ideas["ZebraByer: landsbyer der deler hverdagens opgaver"]["id"]), "--json",
                           cwd=tmp_path).stdout)
    assert [(h["from"], h["to"]) for h in zebra["history"]] == [
        (None, "submitted"), ("submitted", "submitted"), ("submitted", "submitted"), ("submitted", "screened"),
        ("screened", "funded"), ("funded", "funded"), ("funded", "piloting"), ("piloting", "piloting"),
        ("piloting", "evaluated"),
    ]  # the two screening reviews and the pilot plan are recorded (who, not the scores)
    assert zebra["pilot"]["sites"] == ["Gundsømagle", "Viby"]
    with closing(sqlite3.connect(tmp_path / "ideaflow.db")) as db:  # every person has a name, not an address's
        assert db.execute("SELECT name FROM people WHERE email = ?", (zebra["proposer"],)).fetchone() == (
            "Birgitte Holm",)
        assert db.execute("SELECT count(*) FROM people WHERE email LIKE name || '@%'").fetchone() == (0,)
    assert len(zebra["pilot"]["followers"]) == 4
    # The story ends now, not months ahead: the history has happened and the youth pilot runs today.
    now, today = datetime.now(UTC), date.today()
    assert now - timedelta(days=10) < datetime.fromisoformat(zebra["history"][-1]["at"]) <= now
    with closing(sqlite3.connect(tmp_path / "ideaflow.db")) as db:
        last = datetime.fromisoformat(db.execute("SELECT max(at) FROM history").fetchone()[0])
    assert last.replace(tzinfo=last.tzinfo or UTC) <= now
    young = json.loads(run("show", str(ideas["Én indgang for unge"]["id"]), "--json", cwd=tmp_path).stdout)["pilot"]
    assert date.fromisoformat(young["start"]) <= today <= date.fromisoformat(young["end"])

    second = run("demo", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "(demo 2)" in second.stdout
    assert len(json.loads(run("list", "--json", cwd=tmp_path).stdout)) == 12
