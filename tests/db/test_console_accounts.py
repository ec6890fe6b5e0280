"""The console's accounts in the database: adding and disabling, the attempts counted per
account, and the mailed sign-in link (good once, for 15 minutes, one a minute at most), on
MAILFLOW_NOW's clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.core.console_rules import ConsoleRules
from mailflow.errors import MailflowError
from mailflow.store.models import Event, WebAccount, WebSignin
from mailflow.web import accounts
from tests.inprocess import close_context, open_context

RULES = ConsoleRules()
EMAIL = "Lea.Durand@Region-Normandie.test"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path, directory=False)
    close_context()


def test_accounts_are_added_once_and_disabled(db) -> None:  # noqa: ANN001
    account = accounts.add_account(EMAIL, "coordinator", "une phrase assez longue")
    assert account.email == "lea.durand@region-normandie.test"
    assert account.password_hash.startswith("$argon2id$")
    for email, role, password, error in (
        (EMAIL.upper(), "coordinator", "une phrase assez longue", "exists already"),
        ("autre@region.test", "admin", "une phrase assez longue", "one of coordinator"),
        ("autre@region.test", "observer", "court", "12 caractères"),
        ("pas une adresse", "observer", "une phrase assez longue", "not a valid address"),
    ):
        with pytest.raises(MailflowError, match=error):
            accounts.add_account(email, role, password)
    disabled = accounts.disable_account(EMAIL)
    assert not disabled.active and disabled.generation == account.generation + 1
    assert accounts.signed_in_account(account.id, account.generation) is None
    with pytest.raises(MailflowError, match="already disabled"):
        accounts.disable_account(EMAIL)
    kinds = [e.cause for e in Event.select().where(Event.kind == "web-account")]
    assert kinds == [
        "console account lea.durand@region-normandie.test added (coordinator)",
        "console account lea.durand@region-normandie.test disabled",
    ]


def test_a_good_sign_in_starts_the_count_again(db) -> None:  # noqa: ANN001
    accounts.add_account(EMAIL, "coordinator", "une phrase assez longue")
    for _ in range(9):
        assert accounts.attempt(EMAIL, "faux", "192.0.2.1", RULES).refused == accounts.WRONG
    assert accounts.attempt(EMAIL, "une phrase assez longue", "192.0.2.1", RULES).account
    for _ in range(9):  # nine more: not ten in a row
        accounts.attempt(EMAIL, "faux", "192.0.2.1", RULES)
    assert accounts.attempt(EMAIL, "une phrase assez longue", "192.0.2.1", RULES).account
    assert WebSignin.select().where(WebSignin.ok).count() == 2
    assert WebSignin.select().count() == 20


def test_a_mailed_link_signs_in_once_within_its_lifetime(
    db,
    monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
) -> None:
    account = accounts.add_account(EMAIL, "coordinator", "une phrase assez longue")
    assert accounts.issue_link("personne@region.test", RULES) is None
    issued = accounts.issue_link(EMAIL, RULES)
    assert issued is not None
    _, token = issued
    stored = WebAccount.get_by_id(account.id)
    assert stored.link_hash and token not in stored.link_hash  # only its digest is kept
    assert accounts.issue_link(EMAIL, RULES) is None  # one a minute
    assert accounts.use_link(token + "x", "192.0.2.1") is None
    assert accounts.use_link(token, "192.0.2.1").id == account.id
    assert accounts.use_link(token, "192.0.2.1") is None  # good once

    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:02:00")
    _, late = accounts.issue_link(EMAIL, RULES)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:17:00")
    assert accounts.use_link(late, "192.0.2.1") is None  # 15 minutes are over

    _, last = accounts.issue_link(EMAIL, RULES)
    accounts.disable_account(EMAIL)
    assert accounts.use_link(last, "192.0.2.1") is None
    assert accounts.issue_link(EMAIL, RULES) is None
