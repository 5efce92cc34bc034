"""`ideaflow web` as the automation contract says: the line once it accepts requests, exit 0 on
SIGINT and on SIGTERM, and pages served meanwhile."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

IDEAFLOW = Path(sys.executable).with_name("ideaflow")


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_web_prints_its_address_serves_and_stops_cleanly(cli, db_url, tmp_path, stop):
    assert cli("init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"))
    process = subprocess.Popen([str(IDEAFLOW), "web", "--port", "0"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("ideaflow web console: http://127.0.0.1:"), line
        address = line.removeprefix("ideaflow web console: ")
        assert address.endswith("/") and not address.endswith(":0/")
        with urllib.request.urlopen(address + "login", timeout=10) as response:  # accepting at once
            assert response.status == 200
            assert 'name="email"' in response.read().decode()
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()


@pytest.mark.parametrize("command", ["web", "serve"])
def test_a_local_sender_with_smtp_is_refused_before_anything_starts(db_url, tmp_path, command):
    """Without this the console would say "check your mail" for sign-in links that can never leave."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"),
               IDEAFLOW_SMTP_HOST="127.0.0.1", IDEAFLOW_MAIL_FROM="ideaflow <ideaflow@localhost>")
    result = subprocess.run([str(IDEAFLOW), command], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode != 0 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "IDEAFLOW_MAIL_FROM" in line and "ideaflow@localhost" in line


def test_links_in_mail_follow_the_consoles_port_unless_the_public_address_is_set():
    """Someone who only moves the console (--port, IDEAFLOW_WEB_PORT) gets mail links to where it is;
    a public address set behind a reverse proxy is kept whatever the console listens on."""
    from ideaflow.config import Settings

    assert Settings(_env_file=None).public_url == "http://127.0.0.1:8000/"
    assert Settings(_env_file=None, web_port=8100).public_url == "http://127.0.0.1:8100/"
    assert Settings(_env_file=None).for_console("0.0.0.0", 8200).public_url == "http://0.0.0.0:8200/"
    assert Settings(_env_file=None).for_console("::1", 8200).public_url == "http://[::1]:8200/"
    behind_proxy = Settings(_env_file=None, public_url="https://ideer.kommune.dk/")
    assert behind_proxy.for_console("127.0.0.1", 8200).public_url == "https://ideer.kommune.dk/"
    assert behind_proxy.for_console("127.0.0.1", 8200).for_console("127.0.0.1", 8300).public_url \
        == "https://ideer.kommune.dk/"


PRIVACY_WARNINGS = [
    "ideaflow: warning: the privacy notice names no controller but 'Kommunen' (GDPR art. 13(1)(a)): "
    "set IDEAFLOW_PRIVACY_CONTROLLER",
    "ideaflow: warning: the privacy notice gives no contact details for the controller (GDPR art. 13(1)(a)): "
    "set IDEAFLOW_PRIVACY_CONTACT",
    "ideaflow: warning: the privacy notice gives no contact details for the data protection officer "
    "(GDPR art. 13(1)(b)): set IDEAFLOW_PRIVACY_DPO",
]


@pytest.mark.slow
def test_web_warns_at_start_up_of_each_contact_detail_the_privacy_notice_lacks(tmp_path):
    """GDPR art. 13(1)(a)-(b): one line on stderr per missing detail, naming the setting that gives it; the
    console starts all the same (the pages show a marked placeholder), and says nothing once all are set.
    (On SQLite alone: the warning does not depend on the database.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(IDEAFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'ideaflow.db'}", IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"))
    assert subprocess.run([str(IDEAFLOW), "init"], cwd=tmp_path, env=env, capture_output=True).returncode == 0
    given = {"IDEAFLOW_PRIVACY_CONTROLLER": "Roskilde Kommune", "IDEAFLOW_PRIVACY_CONTACT": "kommunen@roskilde.dk",
             "IDEAFLOW_PRIVACY_DPO": "dpo@roskilde.dk"}
    for extra, expected in (({}, PRIVACY_WARNINGS), ({"IDEAFLOW_PRIVACY_CONTROLLER": "Roskilde Kommune"},
                                                      PRIVACY_WARNINGS[1:]), (given, [])):
        process = subprocess.Popen([str(IDEAFLOW), "web", "--port", "0"], cwd=tmp_path, env={**env, **extra},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = process.stdout.readline().strip()
            assert line.startswith("ideaflow web console: http://127.0.0.1:"), line
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=30) == 0
        finally:
            if process.poll() is None:
                process.kill()
            stdout, stderr = process.communicate()
        assert [line for line in stderr.splitlines() if "privacy" in line] == expected, stderr
        assert "privacy" not in stdout


def test_serve_warns_of_them_too_before_anything_starts(cli, db_url, tmp_path):
    """`ideaflow serve` starts the console the same way; with a Prefect server that does not answer it then
    stops at once (exit 1), which keeps this test from starting one."""
    assert cli("init").returncode == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDEAFLOW_", "PREFECT_"))}
    env.update(IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"),
               IDEAFLOW_PRIVACY_CONTACT="kommunen@roskilde.dk", PREFECT_HOME=str(tmp_path / "prefect"),
               PREFECT_API_URL="http://127.0.0.1:9/api")  # the discard port: nothing answers
    result = subprocess.run([str(IDEAFLOW), "serve", "--port", "0"], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=180)
    lines = result.stderr.splitlines()
    assert lines[:2] == [PRIVACY_WARNINGS[0], PRIVACY_WARNINGS[2]], result.stderr
    assert result.returncode == 1 and "PREFECT_API_URL" in lines[-1], result.stderr
