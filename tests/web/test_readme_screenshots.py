"""The README's pictures of the staff console: the demo's pools, people and ideas (`ideaflow.demo`), set
at the moments a coordinator, a reviewer and a follow-up group meet them, through the service layer.

Each picture is written where IDEAFLOW_SCREENSHOTS says (`docs/screenshots` renews the README's), else
under the test's own folder; each test also checks that its page shows what the picture is meant to
show, so a page that stops rendering it fails here. To renew them:
`IDEAFLOW_SCREENSHOTS=docs/screenshots pytest tests/web/test_readme_screenshots.py`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect

from ideaflow.demo import ADMINISTRATOR, COORDINATORS, FOLLOWERS, IDEAS, REVIEWERS
from states.criteria import TAARNBY_CRITERIA
from states.vocabulary import Decision, Role

from consoleweb import running_console, signed_in_people
from webtest import readme_screenshot

pytestmark = pytest.mark.slow

POOLS = {"Tårnby": 5_000_000, "Roskilde": 2_000_000, "Gentofte": 1_000_000}
REVIEWER = REVIEWERS["Tårnby"][0][0]


def _seed(app) -> dict[str, int]:
    """Three pools and the demo's six ideas: two past screening at the funding gate (one with its
    funding reviews in), one funded with a pilot that Roskilde's follow-up group follows, one stopped."""
    services, now = app.services, datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    services.add_person(*ADMINISTRATOR, Role.ADMINISTRATOR, now)
    pools = {}
    for municipality, budget in POOLS.items():
        pools[municipality] = services.create_pool(f"{municipality} innovationspulje", budget, now.year, now,
                                                   TAARNBY_CRITERIA).name
        services.add_person(*COORDINATORS[municipality], None, now)
        services.grant_role(COORDINATORS[municipality][0], Role.COORDINATOR, now, pool=pools[municipality])
        for email, name in REVIEWERS[municipality]:
            services.add_person(email, name, None, now)
            services.grant_role(email, Role.REVIEWER, now, pool=pools[municipality])
    for email, name in FOLLOWERS:
        services.add_person(email, name, None, now)
    for spec in IDEAS.values():  # named, as the demo registers them
        services.add_person(spec["proposer"], spec["proposer_name"], None, now)
    ids = {key: services.submit(pool=pools[spec["pool"]], now=now,
                                **{k: v for k, v in spec.items() if k not in ("pool", "proposer_name")})
           for key, spec in IDEAS.items()}

    def review(key: str, scores: tuple[int, ...], comment: str = "") -> None:
        for email, _ in REVIEWERS[IDEAS[key]["pool"]]:
            services.review(ids[key], email, dict(zip((c.name for c in TAARNBY_CRITERIA), scores, strict=True)),
                            now, comment=comment)

    def decide(key: str, decision: Decision, amount: int | None = None, reason: str = "") -> None:
        services.decide(ids[key], decision, COORDINATORS[IDEAS[key]["pool"]][0], now, amount, reason)

    review("sagsbehandling", (5, 4, 5, 4, 4, 3), "Klar gevinst for borgeren")
    review("zebrabyer", (3, 4, 5, 3, 5, 5), "Stærk lokal opbakning")
    review("droner", (2, 2, 2, 3, 2, 2), "Ingen dokumenteret effekt")
    for key in ("sagsbehandling", "zebrabyer"):
        decide(key, Decision.GO)
    decide("droner", Decision.KILL, reason="Uden for puljens formål")
    now += timedelta(days=10)
    review("zebrabyer", (4, 4, 5, 4, 5, 5), "Testbyerne er klar")
    decide("zebrabyer", Decision.GO, 850_000, "Bevilget fuldt ud")
    services.plan_pilot(ids["zebrabyer"], start=(now + timedelta(days=15)).date(),
                        end=(now + timedelta(days=130)).date(), sites=("Gundsømagle", "Viby"),
                        followers=tuple(email for email, _ in FOLLOWERS),
                        measures=("Antal fællesaktiviteter", "Oplevet fællesskab"), now=now,
                        by=COORDINATORS["Roskilde"][0])
    return ids


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    with running_console(tmp_path_factory.mktemp("screenshots"), _seed) as console:
        yield console


@pytest.fixture(scope="module")
def signed_in(chromium, console):
    yield from signed_in_people(chromium, console)


def _picture(page, url: str, name: str, shows: str, folder) -> None:
    page.set_viewport_size({"width": 1100, "height": 800})
    page.goto(url)
    expect(page.locator("main")).to_contain_text(shows)
    readme_screenshot(page, name, folder)


def test_the_portfolio_and_an_idea_at_its_funding_gate(browser, signed_in, console, tmp_path):
    url = console.server.url
    _picture(signed_in(ADMINISTRATOR[0]), url + "portfolio?sort=title", "portfolio",
             IDEAS["samskabelse"]["title"], tmp_path)
    _picture(signed_in(COORDINATORS["Tårnby"][0]), url + f"ideas/{console.ids['sagsbehandling']}", "idea",
             "Klar gevinst for borgeren", tmp_path)


def test_a_reviewers_form_and_a_followers_pilot(browser, signed_in, console, tmp_path):
    url = console.server.url
    _picture(signed_in(REVIEWER), url + f"ideas/{console.ids['sagsbehandling']}/review", "review",
             IDEAS["sagsbehandling"]["title"], tmp_path)
    _picture(signed_in(FOLLOWERS[0][0]), url + f"pilots/{console.ids['zebrabyer']}", "pilot", "Gundsømagle",
             tmp_path)
