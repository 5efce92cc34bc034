"""Fixtures for the web console's tests: a real browser, axe-core, `ideaflow web` as a process, and a
real OpenID Connect provider, all on this machine. Helpers they use are in webtest.py.

Fixtures
- `browser`: Debian's Chromium (/usr/bin/chromium, or IDEAFLOW_TEST_CHROMIUM) driven by Playwright's
  sync API with the flags this closed network needs; launched once per xdist worker (`chromium`).
- `page`: a fresh browser context (own cookies and storage) and page for each test, Danish locale and
  Copenhagen time, 1280×800. If the test fails, a screenshot is saved and its path printed. For
  other settings (an English reader, 320 px) make your own: `browser.new_context(locale="en-GB",
  viewport={"width": 320, "height": 640})`, and close it.
- `web_server(db_url, **settings)`: starts `ideaflow web --host 127.0.0.1 --port <free>` against
  `db_url` (migrate it first, e.g. with the `engine` fixture) and returns a `WebServer` (`url` ends
  with '/'; `env`; `output`) once it printed `ideaflow web console: http://127.0.0.1:PORT/`. Keyword
  settings become IDEAFLOW_* variables (`smtp_host="127.0.0.1", smtp_port=smtp.port` sends mail to
  the `smtp` fixture's server; without them mail lands as files in `<tmp_path>/mail`);
  IDEAFLOW_PUBLIC_URL is the server's own address. Stopped with SIGINT after the test, which must
  make it exit 0 (the contract).
- `oidc_client` (session): the provider's one client (`client_id`, `client_secret`, `redirect_uris`;
  a redirect URI on http://127.0.0.1 matches any port, RFC 8252 §7.3). Override this fixture (it is
  session-scoped) to register another redirect path.
- `oidc_provider` (session): npm `oidc-provider` on a free loopback port (`issuer`,
  `discovery_url`, `client`). `oidc_provider.sign_in(page, email)` fills its sign-in form: the
  account's `email` claim (verified; in the ID token and from the userinfo endpoint) is the address
  the test typed, its `sub` an opaque id derived from it. No consent page.
- `oidc_providers(claims_in_userinfo_only=True)`: a second provider whose ID token carries only
  `sub`, the e-mail coming from the userinfo endpoint alone (OIDC Core 5.4), as some providers do.

Helpers (import from webtest): `assert_no_axe_violations(page)` fails with each WCAG 2.1 A/AA
violation readably; `axe_violations(page)` returns them; `free_port()`.

Playwright's sync API marks its event loop as running in this thread between its calls, so while it
is started asyncio.run() and Prefect's flows refuse to run in this process. The browser is started
once per worker (`chromium`, session) but its loop is marked running only during a test that uses
`browser` or `page`: every other test on the worker runs as if Playwright were not there.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from webtest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OidcClient,
    SessionBrowser,
    node_missing,
    start_oidc_provider,
    start_web_server,
    unavailable,
    web_env,
)


@pytest.fixture(scope="session")
def chromium():
    """Chromium launched once per worker; use it through `browser` or `page` (see the module's docstring)."""
    if not CHROMIUM.exists():
        unavailable(f"Chromium is not installed at {CHROMIUM} (.ci/run installs Debian's `chromium` with apt)")
    with sync_playwright() as playwright:
        session = SessionBrowser(playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS))
        yield session
        session.close()


@pytest.fixture
def browser(chromium):
    """The worker's Chromium (a Playwright `Browser`), for tests that make their own contexts."""
    with chromium.in_use():
        yield chromium.browser


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so `page` can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request, tmp_path):
    context = browser.new_context(locale="da-DK", timezone_id="Europe/Copenhagen",
                                  viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and not page.is_closed():
        shot = tmp_path / "failure.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of {page.url} when the test failed: {shot}")
    context.close()


@pytest.fixture
def web_server(tmp_path):
    servers = []

    def start(db_url: str, **settings: object):
        server = start_web_server(web_env(db_url, tmp_path, **settings), tmp_path)
        servers.append(server)
        return server

    yield start
    codes = [(server.url, server.stop()) for server in servers]
    assert all(code == 0 for _, code in codes), f"`ideaflow web` must exit 0 on SIGINT or SIGTERM: {codes}"


@pytest.fixture(scope="session")
def oidc_client() -> OidcClient:
    return OidcClient()


@pytest.fixture(scope="session")
def oidc_providers(oidc_client, tmp_path_factory):
    """`oidc_providers(claims_in_userinfo_only=False)`: the provider of that kind, started once per worker."""
    started = {}

    def get(*, claims_in_userinfo_only: bool = False):
        if claims_in_userinfo_only not in started:
            if why := node_missing():
                unavailable(why)
            started[claims_in_userinfo_only] = start_oidc_provider(
                oidc_client, tmp_path_factory.mktemp("oidc"), claims_in_userinfo_only=claims_in_userinfo_only)
        return started[claims_in_userinfo_only]

    yield get
    for provider in started.values():
        provider.announced.stop()


@pytest.fixture(scope="session")
def oidc_provider(oidc_providers):
    return oidc_providers()
