"""Signed return paths: each one names one outgoing mail, and nothing else passes for one."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.config import RelayConfig
from mailflow.core.addresses import TOKEN_PATTERN, new_token, relay_token
from mailflow.store.db import open_database
from mailflow.store.models import Setting, database
from mailflow.store.verp import SECRET_KEY, looks_like_verp, parse_verp, verp_address

RELAY = RelayConfig(address="relay@mailflow.test")


@pytest.fixture
def db(tmp_path: Path, database_url: str) -> Iterator[None]:
    handle = open_database(database_url, tmp_path)
    yield
    handle.close()
    database.initialize(None)


def test_round_trip_and_shape(db: None) -> None:
    for outbound_id in (1, 35, 36, 123456789):
        address = verp_address(RELAY, outbound_id)
        assert address.startswith("relay+b-") and address.endswith("@mailflow.test")
        assert address == address.lower()
        assert parse_verp(address, RELAY) == outbound_id
        assert parse_verp(address.upper(), RELAY) == outbound_id  # case-proof
        assert parse_verp(f"<{address}>", RELAY) == outbound_id
    assert verp_address("relay@mailflow.test", 7) == verp_address(RELAY, 7)


def test_secret_is_created_once_and_kept(db: None) -> None:
    first = verp_address(RELAY, 42)
    secret = Setting.get_by_id(SECRET_KEY).value
    assert len(secret) == 64
    assert verp_address(RELAY, 42) == first
    assert Setting.get_by_id(SECRET_KEY).value == secret


def test_forged_or_altered_addresses_map_to_nothing(db: None) -> None:
    address = verp_address(RELAY, 12)
    local, domain = address.split("@")
    body, signature = local.rsplit("-", 1)
    other = "a" * 10 if signature != "a" * 10 else "b" * 10
    assert parse_verp(f"{body}-{other}@{domain}", RELAY) is None  # wrong signature
    ident = body.split("-")[1]
    altered = address.replace(f"b-{ident}-", "b-d-", 1)  # another outbound id
    assert parse_verp(altered, RELAY) is None
    assert parse_verp(address.replace("mailflow.test", "other.test"), RELAY) is None
    assert parse_verp("relay@mailflow.test", RELAY) is None
    assert parse_verp("relay+b-c@mailflow.test", RELAY) is None
    assert looks_like_verp(f"{body}-{other}@{domain}", RELAY)
    assert not looks_like_verp("relay+abc@mailflow.test", RELAY)


def test_a_new_installation_secret_invalidates_old_addresses(db: None) -> None:
    address = verp_address(RELAY, 5)
    Setting.update(value="0" * 64).where(Setting.key == SECRET_KEY).execute()
    assert parse_verp(address, RELAY) is None


def test_expiry(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    address = verp_address(RELAY, 9, valid_days=10)
    forever = verp_address(RELAY, 9, valid_days=None)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-12T23:00:00")
    assert parse_verp(address, RELAY) == 9  # the last valid day
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-13T00:00:00")
    assert parse_verp(address, RELAY) is None
    assert parse_verp(forever, RELAY) == 9


def test_a_return_path_is_never_taken_for_a_conversation_token(db: None) -> None:
    """Tokens are exactly 24 letters [a-z2-7]; a return path carries '-', so a DSN
    delivered to it never lands in a conversation."""
    address = verp_address(RELAY, 2**40)
    assert "-" in address.split("@")[0]
    msg = EmailMessage()
    msg["From"] = "MAILER-DAEMON@mail.pros.test"
    msg["To"] = address
    msg["Delivered-To"] = address
    assert relay_token(msg, RELAY) is None
    token = new_token()
    assert len(token) == 24
    msg["Cc"] = f"relay+{token}@mailflow.test"
    assert relay_token(msg, RELAY) == token
    assert TOKEN_PATTERN == r"[a-z2-7]{24}"
