"""The README's Quickstart leaves a newcomer with the product open: after the demo, its first command
prints a sign-in link for the demo's coordinator and runs `ideaflow serve` (the web console and the
scheduled flows) until Ctrl-C.

This runs that part of the command exactly as the README writes it (the demo itself is
tests/e2e/test_demo.py's), on a database holding the demo's coordinator, with free ports chosen
through the settings a newcomer would not set (IDEAFLOW_WEB_PORT, IDEAFLOW_PREFECT_PORT), and checks
what the contract promises: the console line once the console answers, a link that signs the
coordinator in from a real browser, the public form's address, and Ctrl-C stopping the console and
Prefect's server with exit 0.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ideaflow.bootstrap import bootstrap
from ideaflow.config import Settings
from ideaflow.demo import COORDINATORS
from states.vocabulary import Role
from storage.migrate import upgrade

from signinweb import fetch
from webtest import WEB_CONSOLE_LINE, AnnouncedProcess, free_port

pytestmark = pytest.mark.slow

README = Path(__file__).parents[2] / "README.md"
LINK_LINE = re.compile(r"^sign-in link for (\S+) \(works once, within 15 minutes\): (http://\S+/login/continue\?token=\S+)$")
FORM_LINE = re.compile(r"^public idea form: (http://\S+/)$")
SERVING = re.compile(r"^serving sweep-deadlines/ideaflow, ")
FLOW_RAN = re.compile(r".*Flow run '[^']+' - Finished in state Completed\(\)")


def quickstart_after_the_demo() -> str:
    """What the Quickstart's first command runs after `ideaflow demo`, as the README writes it."""
    block = re.search(r"```bash\n(.*?)```", README.read_text(encoding="utf-8").split("## Quickstart", 1)[1], re.S)[1]
    first = next(line for line in block.splitlines() if "ideaflow demo" in line)
    steps = first.split(" && ")
    rest = steps[next(i for i, step in enumerate(steps) if step.endswith("ideaflow demo")) + 1:]
    assert rest and rest[-1] == ".venv/bin/ideaflow serve", first
    return " && ".join(rest)


@pytest.mark.long
def test_the_quickstart_prints_a_sign_in_link_and_serves_the_console_and_flows_until_ctrl_c(
        page, tmp_path, prefect_home):
    coordinator, name = COORDINATORS["Tårnby"]
    with bootstrap(Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'ideaflow.db'}")) as app:
        upgrade(app.engine)
        app.services.add_person(coordinator, name, Role.COORDINATOR, datetime.now(UTC))
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])  # the README's .venv/bin/ideaflow
    web_port, prefect_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDEAFLOW_", "PREFECT_"))}
    env.update(HOME=str(tmp_path), PREFECT_HOME=str(prefect_home(tmp_path / "prefect-home")),
               PYTHONDONTWRITEBYTECODE="1", IDEAFLOW_WEB_PORT=str(web_port), IDEAFLOW_PREFECT_PORT=str(prefect_port),
               IDEAFLOW_PUBLIC_URL=f"http://127.0.0.1:{web_port}/", IDEAFLOW_DELIVER_EVERY_S="5")
    # bash in a session of its own: Ctrl-C in a terminal signals the whole foreground process group.
    shell = AnnouncedProcess(["bash", "-c", quickstart_after_the_demo()], env=env, cwd=tmp_path)
    try:
        console = shell.wait_for(WEB_CONSOLE_LINE, 90)
        assert console is not None, shell.output
        assert console[1] == f"http://127.0.0.1:{web_port}/"
        link = shell.wait_for(LINK_LINE, 1)
        assert link is not None and link[1] == coordinator, shell.output
        assert shell.wait_for(FORM_LINE, 5)[1] == console[1], shell.output
        # the link was also mailed, as /login mails it
        (mailed,) = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                     for path in (tmp_path / "mail").glob("*.eml")]
        assert mailed["To"].addresses[0].addr_spec == coordinator
        assert link[2] in mailed.get_body(("plain",)).get_content()

        page.goto(link[2])
        page.get_by_role("button", name=re.compile("Fortsæt|Continue")).click()
        expect(page).to_have_url(re.compile(r"/home$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text(name)

        # the scheduled flows run beside the console
        assert shell.wait_for(SERVING, 300) is not None and shell.wait_for(FLOW_RAN, 180) is not None, shell.output
        os.killpg(shell.process.pid, signal.SIGINT)
        assert shell.process.wait(120) == 0, shell.output
    finally:
        if shell.process.poll() is None:
            os.killpg(shell.process.pid, signal.SIGKILL)
            shell.process.wait()
    # serve's own last word, and nothing after it: the flow runs' processes live in sessions of their own
    # (workflows.deployments), so Ctrl-C reaches serve alone and no run still starting prints a traceback.
    assert shell.lines[-1] == "stopped", shell.output
    # both are gone with it
    with pytest.raises(OSError):
        fetch(console[1] + "login")
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{prefect_port}/api/health")


def test_a_sign_in_link_for_nobody_known_is_refused_and_the_operator_is_not_rate_limited(tmp_path):
    """The command is the operator's: unlike /login, which answers alike for everybody, it says so;
    and the web's rate limit (5 links per address in 15 minutes) does not stop a sixth Quickstart."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_")}
    env.update(IDEAFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'ideaflow.db'}", IDEAFLOW_MAIL_DIR=str(tmp_path / "mail"),
               IDEAFLOW_SIGNIN_PER_ADDRESS="1")
    ideaflow = str(Path(sys.executable).with_name("ideaflow"))
    assert subprocess.run([ideaflow, "init"], env=env, capture_output=True).returncode == 0
    done = subprocess.run([ideaflow, "signin-link", "nobody@kommune.dk"], env=env, capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["ideaflow: bad input: unknown person 'nobody@kommune.dk': an administrator "
                                        "adds people under People and roles, or with 'ideaflow person add'"]
    assert not (tmp_path / "mail").exists()

    assert subprocess.run([ideaflow, "person", "add", "karin@kommune.dk", "--name", "Karin", "--role", "coordinator"],
                          env=env, capture_output=True).returncode == 0
    links = [subprocess.run([ideaflow, "signin-link", "karin@kommune.dk"], env=env, capture_output=True, text=True)
             for _ in range(2)]
    assert [done.returncode for done in links] == [0, 0]
    assert len({LINK_LINE.match(done.stdout.strip())[2] for done in links}) == 2, "two links, each of its own"
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 2
