"""The sign-in service (ideaflow.signin) on a real database, SQLite and PostgreSQL.

Links by e-mail: only keyed hashes are stored, a token works once and only until it expires, the
rate limits count per address and per IP address whether or not the address is known, and the mail
is delivered at once. Sessions: a new id at every sign-in, idle and absolute time-outs, sign-out.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ideaflow.signin import Keys, SignIn, SignInPolicy, installation_secret, places, safe_next
from notifications.delivery import FolderTransport
from notifications.message import Letterhead
from states.errors import BadInput
from states.vocabulary import Language, Role, Stage

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PUBLIC_URL = "https://kommune.dk/ideaflow/"
COORDINATOR = "koordinator@kommune.dk"
POLICY = SignInPolicy(link_valid=timedelta(minutes=15), idle=timedelta(minutes=60), absolute=timedelta(hours=12),
                      per_address=3, per_ip=5, window=timedelta(minutes=15))


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def signin(services, engine, mail_dir) -> SignIn:
    services.add_person(COORDINATOR, "Karin Koordinator", Role.COORDINATOR, T0)
    services.add_person("bedoemmer@kommune.dk", "Bent Bedømmer", Role.REVIEWER, T0, Language.EN)

    def deliver(mail_ids, now):
        return services.deliver_now(mail_ids, now, FolderTransport(mail_dir),
                                     Letterhead("ideaflow <ideaflow@kommune.dk>", PUBLIC_URL))

    return SignIn(engine, Keys(b"s" * 32), POLICY, PUBLIC_URL, deliver)


def plain_text(path: Path) -> str:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    return message.get_body(("plain",)).get_content()


def token_of(engine, mail_dir: Path) -> str:
    """The token in the link of the newest sign-in mail delivered (files are named by Message-ID key)."""
    ((key,),) = rows(engine, "SELECT message_key FROM outbox WHERE status = 'sent' ORDER BY id DESC LIMIT 1")
    return plain_text(mail_dir / f"{key}.eml").split("/login/continue?token=")[1].split()[0]


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(sql))]


def test_a_link_is_mailed_at_once_and_signs_in_once(signin, engine, mail_dir):
    asked = signin.request_link("Koordinator@Kommune.dk", "10.0.0.1", T0, "/ideas/7")
    assert not asked.limited and asked.mail_id is not None
    signin.deliver(asked, T0)
    token = token_of(engine, mail_dir)
    assert f"https://kommune.dk/ideaflow/login/continue?token={token}\n" in plain_text(next(mail_dir.glob("*.eml")))
    # The database holds the keyed hash only, and the sent mail no longer holds the link.
    assert token not in str(rows(engine, "SELECT * FROM signin_tokens"))
    assert token not in str(rows(engine, "SELECT payload FROM outbox"))
    assert rows(engine, "SELECT status FROM outbox") == [("sent",)]

    # Looking at the link spends nothing; the page it opens names its person and speaks their language.
    holder = signin.link_holder(token, T0 + timedelta(minutes=1))
    assert (holder.name, holder.email, holder.lang) == ("Karin Koordinator", COORDINATOR, "da")
    session = signin.redeem(token, T0 + timedelta(minutes=2))
    assert session is not None and session.next_path == "/ideas/7"
    assert session.account.email == COORDINATOR and session.account.name == "Karin Koordinator"
    assert [p.path for p in places(session.account)] == ["/portfolio", "/pools", "/outbox"]
    assert session.session_id not in str(rows(engine, "SELECT * FROM web_sessions"))
    assert signin.redeem(token, T0 + timedelta(minutes=3)) is None, "a token works once"
    assert signin.link_holder(token, T0 + timedelta(minutes=3)) is None


def test_an_expired_or_unknown_token_signs_nobody_in(signin, engine, mail_dir):
    signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", T0), T0)
    token = token_of(engine, mail_dir)
    assert signin.link_holder(token, T0 + timedelta(minutes=15)) is None
    assert signin.redeem(token, T0 + timedelta(minutes=15)) is None
    assert signin.redeem("made-up", T0) is None
    assert signin.redeem(token[:-1] + ("A" if token[-1] != "A" else "B"), T0) is None


def test_two_redeems_racing_for_one_token_give_one_session(signin, engine, mail_dir):
    from concurrent.futures import ThreadPoolExecutor

    signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", T0), T0)
    token = token_of(engine, mail_dir)
    with ThreadPoolExecutor(4) as pool:
        sessions = list(pool.map(lambda _: signin.redeem(token, T0 + timedelta(seconds=5)), range(4)))
    assert sum(s is not None for s in sessions) == 1


def test_an_unknown_address_gets_the_same_outcome_and_no_mail(signin, engine, mail_dir):
    asked = signin.request_link("nobody@example.dk", "10.0.0.1", T0)
    assert asked.limited is False and asked.mail_id is None
    signin.deliver(asked, T0)
    assert not mail_dir.exists() or not list(mail_dir.glob("*.eml"))
    assert rows(engine, "SELECT count(*) FROM outbox") == [(0,)]
    # The attempt still counts towards the address's limit, exactly as a known address's would.
    assert [signin.request_link("nobody@example.dk", "10.0.0.2", T0).limited for _ in range(3)] == [False, False, True]
    assert [signin.request_link(COORDINATOR, "10.0.0.3", T0).limited for _ in range(4)] == [False] * 3 + [True]


def test_asking_again_at_once_sends_no_second_link_while_the_first_is_unused(signin, engine, mail_dir):
    """A double click on "Send", or a reloaded form: one mail, and the same outcome as for an unknown address."""
    signin.policy = replace(POLICY, per_address=10)  # the rate limit is not what this is about
    first = signin.request_link(COORDINATOR, "10.0.0.1", T0)
    signin.deliver(first, T0)
    again = signin.request_link("koordinator@KOMMUNE.dk", "10.0.0.2", T0 + timedelta(seconds=59))
    unknown = signin.request_link("nobody@example.dk", "10.0.0.2", T0 + timedelta(seconds=59))
    assert again == unknown == type(again)(limited=False)
    signin.deliver(again, T0 + timedelta(seconds=59))
    assert rows(engine, "SELECT count(*) FROM outbox") == [(1,)] and len(list(mail_dir.glob("*.eml"))) == 1
    # A minute on, or once the link is used (signed in here, now on the phone), a new one is sent.
    later = signin.request_link(COORDINATOR, "10.0.0.1", T0 + timedelta(seconds=60))
    assert later.mail_id is not None
    signin.deliver(later, T0 + timedelta(seconds=60))
    assert signin.redeem(token_of(engine, mail_dir), T0 + timedelta(seconds=61)) is not None
    assert signin.request_link(COORDINATOR, "10.0.0.1", T0 + timedelta(seconds=62)).mail_id is not None
    # The operator's `ideaflow signin-link` (no rate limits) always gets a link.
    assert signin.request_link(COORDINATOR, "cli", T0 + timedelta(seconds=63), rate_limited=False).mail_id is not None


def test_requests_for_one_address_at_the_same_moment_send_one_link(signin, engine):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        asked = list(pool.map(lambda n: signin.request_link(COORDINATOR, f"10.0.0.{n}", T0), range(4)))
    assert sum(a.mail_id is not None for a in asked) == 1
    assert rows(engine, "SELECT count(*) FROM signin_tokens") == [(1,)]


def test_rate_limits_per_address_and_per_ip_address_with_a_window(signin, engine):
    limited = [signin.request_link(f"p{n}@example.dk", "10.9.9.9", T0 + timedelta(seconds=n)).limited
               for n in range(6)]
    assert limited == [False] * 5 + [True], "per IP address: 5 in the window"
    assert not signin.request_link("p0@example.dk", "10.1.1.1", T0).limited, "another IP is not limited"
    later = T0 + POLICY.window + timedelta(seconds=10)
    assert not signin.request_link("p9@example.dk", "10.9.9.9", later).limited, "the window moves on"
    # Neither the address nor the IP address is stored, only keyed hashes of them.
    stored = str(rows(engine, "SELECT * FROM signin_attempts"))
    assert "example.dk" not in stored and "10.9.9.9" not in stored


def test_something_that_is_no_address_is_bad_input(signin):
    with pytest.raises(BadInput):
        signin.request_link("not an address", "10.0.0.1", T0)


def test_signing_in_starts_a_new_session_and_ends_the_old_one(signin, engine, mail_dir):
    signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", T0), T0)
    first = signin.redeem(token_of(engine, mail_dir), T0)
    later = T0 + timedelta(minutes=1)
    signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", later), later)
    second = signin.redeem(token_of(engine, mail_dir), T0 + timedelta(minutes=1), replacing=first.session_id)
    assert second.session_id != first.session_id
    assert signin.session(first.session_id, T0 + timedelta(minutes=2)) is None
    assert signin.session(second.session_id, T0 + timedelta(minutes=2)).email == COORDINATOR


def test_idle_and_absolute_time_outs_and_sign_out(signin, engine, mail_dir):
    def new_session(at):
        signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", at), at)
        return signin.redeem(token_of(engine, mail_dir), at).session_id

    idle = new_session(T0)
    assert signin.session(idle, T0 + timedelta(minutes=59)) is not None
    assert signin.session(idle, T0 + timedelta(minutes=59, seconds=30) + POLICY.idle) is None, "idle too long"
    assert signin.session(idle, T0 + timedelta(minutes=59)) is None, "an expired session is ended"

    busy = new_session(T0)
    moment = T0
    while moment < T0 + POLICY.absolute - timedelta(minutes=30):  # used every half hour: never idle
        moment += timedelta(minutes=30)
        assert signin.session(busy, moment) is not None, moment
    assert signin.session(busy, T0 + POLICY.absolute) is None, "too old, however busy"

    ended = new_session(T0)
    signin.sign_out(ended, T0 + timedelta(minutes=1))
    assert signin.session(ended, T0 + timedelta(minutes=1)) is None


def test_a_forgotten_person_is_signed_out_and_their_links_stop_working(signin, services, engine, mail_dir):
    signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", T0), T0)
    session = signin.redeem(token_of(engine, mail_dir), T0)
    signin.deliver(signin.request_link(COORDINATOR, "10.0.0.1", T0), T0)
    unused = token_of(engine, mail_dir)
    services.forget_person(COORDINATOR, T0)
    assert signin.session(session.session_id, T0) is None
    assert signin.redeem(unused, T0) is None


def test_each_person_is_led_to_the_places_of_their_roles(services, engine, world):
    world.idea(Stage.PILOTING)  # the follower follows its pilot; the proposer proposed it
    services.grant_role(world.reviewer, Role.ADMINISTRATOR, world.now)
    services.grant_role(world.reviewer, Role.COORDINATOR, world.now, pool=world.pool)
    signin = SignIn(engine, Keys(b"s" * 32), POLICY, "https://kommune.dk/", lambda ids, now: None)

    def paths(address: str) -> list[str]:
        return [p.path for p in places(signin.sign_in_verified(address, world.now, "/home").account)]

    assert paths(world.coordinator) == ["/portfolio", "/pools", "/outbox"]
    assert paths(world.reviewer) == ["/portfolio", "/inbox", "/pools", "/people", "/outbox"]
    assert paths(world.follower) == ["/pilots"]
    assert paths(world.proposer) == ["/my-ideas"]
    services.add_person("it@kommune.dk", "Ida IT", Role.ADMINISTRATOR, world.now)
    assert paths("it@kommune.dk") == ["/portfolio", "/pools", "/people", "/outbox"]  # every pool's portfolio
    assert signin.sign_in_verified("stranger@example.dk", world.now, "/home") is None


def test_language_preference_is_kept_with_the_person(signin, engine, mail_dir):
    signin.deliver(signin.request_link("bedoemmer@kommune.dk", "10.0.0.1", T0), T0)
    assert "You asked to sign in" in plain_text(next(mail_dir.glob("*.eml"))), "English mail for English people"
    session = signin.redeem(token_of(engine, mail_dir), T0)
    assert session.account.lang == "en"
    signin.set_language(session.account, Language.DA, T0)
    assert signin.session(session.session_id, T0).lang == "da"


def test_keys_hash_per_purpose_and_need_a_real_secret():
    keys = Keys(b"k" * 32)
    assert keys.digest("token", "x") != keys.digest("session", "x")
    assert keys.digest("token", "x") != Keys(b"j" * 32).digest("token", "x")
    assert len(keys.digest("token", "x")) == 64
    with pytest.raises(BadInput):
        Keys(b"short")


def test_the_installation_secret_is_drawn_once_and_shared(engine):
    first = installation_secret(engine, T0)
    assert len(first) == 32
    assert installation_secret(engine, T0 + timedelta(days=1)) == first


@pytest.mark.parametrize("path, expected", [
    ("/ideas/7?x=1", "/ideas/7?x=1"), ("", "/home"), (None, "/home"), ("//evil.example/", "/home"),
    ("https://evil.example/", "/home"), ("/\\evil.example", "/home"), ("/a\nb", "/home"), ("x", "/home"),
])
def test_only_pages_of_this_site_are_followed_after_sign_in(path, expected):
    assert safe_next(path) == expected
