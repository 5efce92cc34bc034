"""Helpers for the browser tests (the fixtures that use them are in tests/web/conftest.py).

- Debian's Chromium driven by Playwright's sync API (`playwright install` cannot download here);
- axe-core (bundled by axe-playwright-python) with the WCAG 2.1 A and AA rules;
- `ideaflow web` started as a process on a free port, by its contract line;
- a real OpenID Connect provider (npm `oidc-provider`, tests/web/oidc/provider.mjs) on loopback.

A piece the machine truly lacks (Chromium, node, the provider's npm packages) skips its tests with the
reason and the command that installs it; under CI (`CI` set, as `.ci/run` runs) it fails instead,
because `.ci/run` installs all of them and a skipped browser test there would be a green lie.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe

CHROMIUM = Path(os.environ.get("IDEAFLOW_TEST_CHROMIUM", "/usr/bin/chromium"))
# Without the network flags Chromium keeps calling Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
WCAG_21_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
IDEAFLOW = Path(sys.executable).with_name("ideaflow")
OIDC_DIR = Path(__file__).parent / "oidc"
WEB_CONSOLE_LINE = re.compile(r"^ideaflow web console: (http://[^\s/]+:(\d+)/)$")


def unavailable(reason: str) -> None:
    """Skip (a developer's machine without the piece), or fail under CI, where `.ci/run` installs it."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — but this is CI, where .ci/run should have installed it", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SessionBrowser:
    """A browser kept for the whole session whose Playwright event loop is hidden between uses.

    Playwright's sync API leaves its loop marked as this thread's running loop after every call
    (playwright/_impl/_greenlets.py, wait_for_future), so asyncio.run() and Prefect would refuse to
    run in other tests. Nothing runs that loop while no Playwright call is made, so it is unmarked
    after launching and marked again only `in_use()`.
    """

    def __init__(self, browser) -> None:
        self.browser = browser
        self._loop = asyncio._get_running_loop()
        asyncio._set_running_loop(None)

    @contextmanager
    def in_use(self):
        asyncio._set_running_loop(self._loop)
        try:
            yield self.browser
        finally:
            asyncio._set_running_loop(None)

    def close(self) -> None:
        """Close the browser and leave the loop marked, as Playwright's own stop() expects it."""
        asyncio._set_running_loop(self._loop)
        self.browser.close()


class LocalSite:
    """A tiny HTTP server on a free loopback port for the self-tests: `pages` maps a path to
    (HTML, extra headers); every request's path and query is recorded in `requests`."""

    def __init__(self, pages: dict[str, tuple[str, dict[str, str]]]) -> None:
        self.pages = pages
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
                site.requests.append(self.path)
                body, headers = site.pages.get(urlsplit(self.path).path, ("<h1>not found</h1>", {}))
                self.send_response(200 if urlsplit(self.path).path in site.pages else 404)
                for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- axe-core -------------------------------------------------------------------------------------------

_AXE = Axe()


def axe_violations(page, *, tags: list[str] | None = None) -> list[dict]:
    """axe-core's violations on the page as it is now, for the WCAG 2.1 A and AA rules (or `tags`).

    Each violation is axe's own dictionary: `id`, `impact`, `help`, `helpUrl`, and `nodes` with each
    offending element's `target` selector and `failureSummary`.
    """
    options = {"runOnly": {"type": "tag", "values": tags or WCAG_21_A_AA}, "resultTypes": ["violations"]}
    return _AXE.run(page, options=options).response["violations"]


def describe_violations(violations: list[dict]) -> str:
    """One paragraph per violation: rule, impact, what it means, and every offending element."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} — {violation['helpUrl']}")
        for node in violation["nodes"]:
            summary = " ".join(node.get("failureSummary", "").split())
            lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
    return "\n".join(lines)


def assert_no_axe_violations(page, *, tags: list[str] | None = None) -> None:
    """Fail with a readable list (rule, impact, help link, elements) if axe finds any violation."""
    violations = axe_violations(page, tags=tags)
    assert not violations, f"axe-core found {len(violations)} violation(s) on {page.url}:\n" + \
        describe_violations(violations)


#: The words (runs of letters and digits) in the page's tables that the browser broke over two lines (not
#: counting screen-reader-only text, which is 1 px wide on purpose, or typed text, `.keep-lines`, which
#: must wrap in its cell). A line may still end after a slash or a dash, as text does.
BROKEN_WORDS = """() => {
  const broken = [];
  for (const table of document.querySelectorAll("main table, main dl")) {
    const walker = document.createTreeWalker(table, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const node = walker.currentNode;
      if (node.parentElement.closest(".sr-only, .keep-lines")) continue;
      for (const word of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].map(rect => Math.round(rect.top)));
        if (lines.size > 1) broken.push(word[0]);
      }
    }
  }
  return broken;
}"""


def assert_reflows(page, width: int) -> None:
    """WCAG 1.4.10 at `width` px (set by the caller): the page does not scroll sideways, and its tables
    scroll in their own region (and its lists of terms stack) rather than squeezing their columns until
    words break letter by letter."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{page.url} scrolls sideways at {width}"
    broken = page.evaluate(BROKEN_WORDS)
    assert not broken, f"{page.url} at {width} px breaks words in its tables or term lists: {broken[:10]}"


def readme_screenshot(page, name: str, fallback: Path) -> None:
    """A full-page screenshot for the README, `NAME.png`: written where IDEAFLOW_SCREENSHOTS says
    (`docs/screenshots` renews the README's), else under `fallback`, so that a page that no longer
    renders fails its test."""
    folder = Path(os.environ.get("IDEAFLOW_SCREENSHOTS") or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 20_000, f"{page.url} looks empty"


# -- a process that announces its address on stdout ------------------------------------------------------


class AnnouncedProcess:
    """A subprocess whose output is read line by line in a thread (so its pipe never fills)."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        self.argv = argv
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self.process = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str] | None:
        """The first output line that matches, or None if the process ended or `timeout` passed first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines:
                    if found := pattern.match(line):
                        return found
                if self.process.poll() is not None or time.monotonic() >= deadline:
                    return None
                self._changed.wait(min(0.5, max(0.0, deadline - time.monotonic())))

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        """Send `sig` and wait for the exit code; kill (and raise) if it does not stop within `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise AssertionError(f"{self.argv[:2]} did not stop within {timeout} s of {sig!r}:\n"
                                     f"{self.output}") from None
        return self.process.returncode


# -- ideaflow web -----------------------------------------------------------------------------------------


def web_env(db_url: str, home: Path, **settings: object) -> dict[str, str]:
    """This environment without any IDEAFLOW_* setting, pointed at `db_url`, mail files under `home`/mail,
    and `settings` as IDEAFLOW_* variables (smtp_port=2525 -> IDEAFLOW_SMTP_PORT=2525)."""
    # PYTHONUNBUFFERED goes too: a console that does not flush its announcement must fail here as it
    # would under a service manager, not pass on a machine where the variable happens to be set.
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDEAFLOW_") and k != "PYTHONUNBUFFERED"}
    env.update(IDEAFLOW_DATABASE_URL=db_url, IDEAFLOW_MAIL_DIR=str(home / "mail"), HOME=str(home),
               PYTHONDONTWRITEBYTECODE="1")
    env.update({f"IDEAFLOW_{key.upper()}": str(value) for key, value in settings.items()})
    return env


@dataclass
class WebServer:
    """A running `ideaflow web`: `url` ends with '/', `env` is what it was started with."""

    url: str
    env: dict[str, str]
    announced: AnnouncedProcess = field(repr=False)

    @property
    def output(self) -> str:
        return self.announced.output

    def logged(self, needle: str, timeout: float = 15) -> bool:
        """Whether a line containing `needle` appears within `timeout`. The server writes its log before
        the answer reaches the test, but the thread reading its pipe may not have read the line yet."""
        return self.announced.wait_for(re.compile(".*" + re.escape(needle)), timeout) is not None

    def stop(self, sig: int = signal.SIGINT) -> int:
        return self.announced.stop(sig)


def start_web_server(env: dict[str, str], cwd: Path, *, timeout: float = 90, attempts: int = 3) -> WebServer:
    """`ideaflow web --host 127.0.0.1 --port P` on a free port, returned once it printed the contract line
    `ideaflow web console: http://127.0.0.1:P/`. IDEAFLOW_PUBLIC_URL is set to that address.

    A free port can be taken by another process between choosing it and binding it: if the server
    exits before announcing itself and says the address is in use, it is started again on another.
    """
    for _ in range(attempts):
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        run_env = {**env, "IDEAFLOW_PUBLIC_URL": url}
        announced = AnnouncedProcess([str(IDEAFLOW), "web", "--host", "127.0.0.1", "--port", str(port)],
                                     env=run_env, cwd=cwd)
        found = announced.wait_for(WEB_CONSOLE_LINE, timeout)
        if found is not None:
            assert found[1] == url, f"announced {found[1]!r}, started as {url!r}"
            return WebServer(url, run_env, announced)
        announced.stop(signal.SIGKILL)
        if "address already in use" not in announced.output.lower():
            break
    raise AssertionError(
        f"`ideaflow web` did not print 'ideaflow web console: {url}' within {timeout} s (the line must be "
        f"flushed: stdout is a pipe here); exit code {announced.process.returncode}, output:\n{announced.output}")


# -- an OpenID Connect provider on loopback ----------------------------------------------------------------


def node_missing() -> str | None:
    """Why the OIDC provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (.ci/run installs Debian's nodejs and npm)"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return f"the provider's npm packages are not installed (run `npm ci` in {OIDC_DIR}; .ci/run does)"
    return None


@dataclass
class OidcClient:
    """The one client the provider knows. A redirect URI on http://127.0.0.1 matches any port."""

    client_id: str = "ideaflow-console"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    redirect_uris: tuple[str, ...] = ("http://127.0.0.1/auth/oidc/callback",)


@dataclass
class OidcProvider:
    issuer: str
    client: OidcClient
    announced: AnnouncedProcess = field(repr=False)

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def sign_in(self, page, email: str) -> None:
        """On the provider's sign-in page (where a login redirected `page`): sign in as `email`.

        The account's `email` claim is `email`, verified; its `sub` is derived from it.
        """
        page.get_by_label("E-mail").fill(email)
        page.get_by_role("button", name="Sign in").click()


PROVIDER_LINE = re.compile(r"^oidc provider: (http://127\.0\.0\.1:\d+)$")


def start_oidc_provider(client: OidcClient, cwd: Path, *, claims_in_userinfo_only: bool = False,
                        timeout: float = 60) -> OidcProvider:
    # `--option=value`: a value that begins with "-" (a random secret may: 1 in 64) is then no option.
    argv = ["node", str(OIDC_DIR / "provider.mjs"), f"--client-id={client.client_id}",
            f"--client-secret={client.client_secret}"]
    if claims_in_userinfo_only:
        argv.append("--claims-in-userinfo-only")
    argv += [f"--redirect-uri={uri}" for uri in client.redirect_uris]
    announced = AnnouncedProcess(argv, env={**os.environ, "NODE_ENV": "test"}, cwd=cwd)
    found = announced.wait_for(PROVIDER_LINE, timeout)
    if found is None:
        announced.stop(signal.SIGKILL)
        raise AssertionError(f"the OIDC provider did not start within {timeout} s:\n{announced.output}")
    return OidcProvider(found[1], client, announced)
