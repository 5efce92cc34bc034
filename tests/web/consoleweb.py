"""What the console's browser test modules share: one `ideaflow web` on a seeded database per module,
people signed in once each, and the record read back.

    @pytest.fixture(scope="module")
    def console(tmp_path_factory):
        with running_console(tmp_path_factory.mktemp("reviews"), _seed) as console:
            yield console

    @pytest.fixture(scope="module")
    def signed_in(chromium, console):
        yield from signed_in_people(chromium, console)

A module's own `_seed(app)` sets the scene through the service layer and returns the ids its tests
look up by a short key (ideas, pools); they are `console.ids`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

from ideaflow.bootstrap import Container, bootstrap
from ideaflow.config import Settings
from ideaflow.views import idea_view
from storage.migrate import upgrade

from signinweb import continue_with, sign_in
from webtest import IDEAFLOW, WebServer, start_web_server, web_env


@dataclass
class Console:
    server: WebServer
    app: Container
    ids: dict[str, int]

    @property
    def engine(self):
        return self.app.engine

    @property
    def services(self):
        return self.app.services

    def show(self, idea_id: int) -> dict:
        """What `ideaflow show ID --json` prints, built in this process by the view the command prints."""
        return idea_view(self.engine, idea_id).model_dump(mode="json", by_alias=True)

    def show_command(self, idea_id: int) -> dict:
        """`ideaflow show ID --json` itself, run as a separate process against the console's database."""
        done = subprocess.run([str(IDEAFLOW), "show", str(idea_id), "--json"], env=self.server.env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def refusals(self, email: str) -> list[tuple[str, int | None]]:
        """The refusals audit's (command, idea) rows of this person, oldest first."""
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(
                "SELECT r.command, r.idea_id FROM refusals r JOIN people p ON p.id = r.person_id "
                "WHERE p.email = :email ORDER BY r.id"), {"email": email})]


@contextmanager
def running_console(home: Path, seed: Callable[[Container], dict[str, int]], **settings: object) -> Iterator[Console]:
    """`ideaflow web` on a SQLite database in `home` that `seed` filled; `settings` as IDEAFLOW_* for
    both (smtp_port=… and so on). The console must exit 0 on SIGINT."""
    url = f"sqlite:///{home / 'ideaflow.db'}"
    with bootstrap(Settings(_env_file=None, database_url=url, mail_dir=home / "mail", **settings)) as app:
        upgrade(app.engine)
        ids = seed(app)
        server = start_web_server(web_env(url, home, **settings), home)
        yield Console(server, app, ids)
        assert server.stop() == 0, "`ideaflow web` exits 0 on SIGINT"


@dataclass
class SignedIn:
    """`signed_in(email)`: that person's page, signed in once per module through the link in the mail
    the console delivered. Every dialog a page opens (an `alert` hostile text would run) is kept."""

    chromium: Any
    console: Console
    #: How a person gets in: through /login and the mail it delivered (default), or `by_link`.
    by_link: Callable[[str], str] | None = None
    pages: dict[str, Any] = field(default_factory=dict)
    dialogs: list[str] = field(default_factory=list)

    def __call__(self, email: str):
        if email not in self.pages:
            context = self.chromium.browser.new_context(
                locale="da-DK", timezone_id="Europe/Copenhagen", viewport={"width": 1280, "height": 800},
                accept_downloads=True)
            page = context.new_page()
            page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
            if self.by_link is None:
                sign_in(page, self.console.server, email)
            else:
                continue_with(page, self.by_link(email))
            self.pages[email] = page
        return self.pages[email]


def signed_in_people(chromium, console: Console, by_link: Callable[[str], str] | None = None) -> Iterator[SignedIn]:
    """The body of a module's `signed_in` fixture: closes every context, and fails if hostile text ran."""
    people = SignedIn(chromium, console, by_link)
    yield people
    with chromium.in_use():
        for page in people.pages.values():
            page.context.close()
    assert people.dialogs == [], f"hostile text ran as script: {people.dialogs}"


def post_status(page, click: Callable[[], object]) -> int:
    """The status of the POST that `click` sends (a 422 form, a 409 refusal, a 303 after success)."""
    with page.expect_response(lambda r: r.request.method == "POST") as response:
        click()
    return response.value.status


def tab_to(page, name: str, limit: int = 120) -> None:
    """Press Tab until the focus is on a field called `name`, as a keyboard user moves through the page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.name") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")
