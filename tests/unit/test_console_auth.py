"""The console's sign-in pieces without a server: argon2 hashes, the limits on attempts
(rules/console.toml), the signed session cookie and its lifetime on MAILFLOW_NOW's clock,
the CSRF token, and the [web] configuration section."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailflow.clock import now
from mailflow.config import WebConfig, load_config
from mailflow.core.console_rules import ConsoleRules, load_console_rules
from mailflow.errors import ConfigError, RulesError
from mailflow.web.auth import (
    check_password,
    hash_password,
    new_password,
    password_problem,
    refusal,
)
from mailflow.web.sessions import Sessions
from tests.testconfig import write_config

RULES = Path(__file__).resolve().parents[2] / "rules"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_password_is_checked_against_its_argon2_hash_only() -> None:
    stored = hash_password("la boulangerie de Caen")
    assert stored.startswith("$argon2id$")
    assert "boulangerie" not in stored
    assert check_password(stored, "la boulangerie de Caen")
    assert not check_password(stored, "la boulangerie de caen")
    assert not check_password(stored, "")
    assert not check_password(None, "la boulangerie de Caen")
    assert not check_password("not a hash", "la boulangerie de Caen")  # damaged: just wrong
    assert hash_password("x" * 12) != hash_password("x" * 12)  # salted


def test_generated_passwords_are_long_and_short_ones_refused() -> None:
    first, second = new_password(), new_password()
    assert first != second and len(first) >= 16 and password_problem(first) is None
    assert "12 caractères" in (password_problem("motdepasse") or "")


def test_ten_wrong_passwords_lock_the_account_for_a_while() -> None:
    rules = ConsoleRules()  # 10 in a row, 15 minutes
    failures = [T0 + timedelta(seconds=i) for i in range(9)]
    assert refusal(failures, [], T0 + timedelta(seconds=10), rules) is None
    failures.append(T0 + timedelta(seconds=9))
    message = refusal(failures, [], T0 + timedelta(seconds=10), rules)
    assert message and "bloqué pendant encore 15 minutes" in message
    # the lock ends 15 min after the last failure (9 s): 4 min 9 s left, said as 5
    assert "5 minutes" in (refusal(failures, [], T0 + timedelta(minutes=11), rules) or "")
    assert refusal(failures, [], T0 + timedelta(minutes=16), rules) is None  # the lock is over


def test_one_client_address_trying_many_accounts_is_refused() -> None:
    rules = ConsoleRules(address_failures=3, address_window=timedelta(minutes=15))
    seen = [T0, T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    message = refusal([], seen, T0 + timedelta(minutes=3), rules)
    assert message and "depuis votre adresse" in message and "12 minutes" in message
    assert refusal([], seen, T0 + timedelta(minutes=16), rules) is None  # outside the window
    assert refusal([], seen[:2], T0 + timedelta(minutes=3), rules) is None


def test_the_shipped_limits_load_and_a_wrong_one_is_named(tmp_path: Path) -> None:
    assert load_console_rules(RULES) == ConsoleRules()
    text = (RULES / "console.toml").read_text(encoding="utf-8")
    (tmp_path / "console.toml").write_text(
        text.replace("account_failures = 10", "account_failures = 0"), encoding="utf-8"
    )
    with pytest.raises(RulesError, match=r"console.toml: signin.account_failures must be"):
        load_console_rules(tmp_path)
    (tmp_path / "console.toml").write_text("[signin]\n[todo]\n", encoding="utf-8")
    with pytest.raises(RulesError, match="signin.account_failures"):
        load_console_rules(tmp_path)


SESSIONS = Sessions("secret-of-this-installation", timedelta(minutes=480), secure=True)


def test_the_session_cookie_is_signed_and_strict() -> None:
    session = SESSIONS.fresh().signed_in(7, 2, T0)
    text = SESSIONS.encode(session)
    assert SESSIONS.decode(text) == session
    other = Sessions("another installation", timedelta(minutes=480), secure=False)
    assert other.decode(text) is None
    assert SESSIONS.decode(text[:-2] + ("AA" if text[-2:] != "AA" else "BB")) is None
    assert SESSIONS.decode("") is None and SESSIONS.decode("garbage.value") is None
    assert SESSIONS.cookie() == {
        "max_age": 480 * 60,
        "httponly": True,
        "samesite": "strict",
        "secure": True,
        "path": "/",
    }
    assert other.cookie()["secure"] is False


def test_a_session_ends_after_its_lifetime_on_mailflows_clock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    session = SESSIONS.fresh().signed_in(7, 0, now())
    assert not SESSIONS.expired(session, now())
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T16:59:00")
    assert not SESSIONS.expired(session, now())
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T17:00:00")
    assert SESSIONS.expired(session, now())
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T08:00:00")  # issued in the future: refused
    assert SESSIONS.expired(session, now())


def test_the_csrf_token_belongs_to_one_session_and_changes_at_sign_in() -> None:
    visitor = SESSIONS.fresh()
    token = SESSIONS.csrf_token(visitor)
    assert SESSIONS.csrf_ok(visitor, token)
    assert not SESSIONS.csrf_ok(visitor, None) and not SESSIONS.csrf_ok(visitor, "")
    assert not SESSIONS.csrf_ok(SESSIONS.fresh(), token)
    signed = visitor.signed_in(1, 0, T0)
    assert not SESSIONS.csrf_ok(signed, token)  # a token seen before sign-in is worth nothing
    assert not SESSIONS.csrf_ok(signed.signed_out(), SESSIONS.csrf_token(signed))


def test_the_web_section_has_defaults_and_names_a_wrong_key(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    assert cfg.web == WebConfig()
    assert cfg.web.url == "http://127.0.0.1:8025" and not cfg.web.secure
    cfg = load_config(
        write_config(tmp_path, '\n[web]\npublic_url = "https://console.region.fr/"\n')
    )
    assert cfg.web.url == "https://console.region.fr" and cfg.web.secure
    for extra, error in (
        ("port = 0", "web.port must be a port number"),
        ('port = "8025"', "web.port must be int"),
        ("session_lifetime_minutes = 0", "web.session_lifetime_minutes must be at least 1 minute"),
        ('public_url = "console.region.fr"', "web.public_url must be an http:// or https://"),
        ('bind = ""', "web.bind must not be empty"),
        ("colour = 1", "unknown key web.colour"),
    ):
        with pytest.raises(ConfigError, match=error):
            load_config(write_config(tmp_path, f"\n[web]\n{extra}\n"))
