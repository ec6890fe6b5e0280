"""Mail that is recorded and never answered: spam, mail to a return path, auto-replies.

In-process, on the test's database (either backend); the request timeline is read the way a
coordinator reads it, with `mailflow log --request ID --json` in a process of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.clock import local
from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Request,
)
from mailflow.store.verp import verp_address
from tests.inprocess import close_context, mail_bytes, open_context, store_and_process

BAKER = "Je voudrais rencontrer une boulangère près de Caen."
MARIE = "amb1@pros.test"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path)
    close_context()


def timeline(ctx: Context, request_id: int) -> list[dict]:
    """`mailflow log --request ID --json`, as a coordinator runs it."""
    result = subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(ctx.cfg.source), "log"]
        + ["--request", str(request_id), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ctx.cfg.source.parent,
    )
    assert result.returncode == 0, result.stderr
    (request,) = json.loads(result.stdout)["requests"]
    return request["timeline"]


def offered(ctx: Context) -> Conversation:
    assert store_and_process(ctx, mail_bytes(BAKER)) == {"request-offered": 1}
    conv = Conversation.get()
    assert conv.ambassador.email == MARIE
    return conv


def mails_after(count: int) -> list[tuple[str, str]]:
    rows = OutboundMail.select().order_by(OutboundMail.id).offset(count)
    return [(r.purpose, r.recipient_role) for r in rows]


# -- return paths -----------------------------------------------------------------------------


def test_unmarked_autoresponder_writing_to_a_return_path_is_recorded_never_answered(
    ctx: Context,
) -> None:
    conv = offered(ctx)
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    before = OutboundMail.select().count()
    robot = mail_bytes(
        "Merci pour votre message, nous vous répondrons rapidement.",
        sender="Accueil <accueil@pros.test>",
        to=verp_address(intro.envelope_from, intro.id),
        subject="Re: Une demande pour vous",
    )
    assert store_and_process(ctx, robot) == {"to-return-path": 1}
    assert mails_after(before) == []  # no help mail, no request, nothing
    assert Request.select().count() == 1
    row = InboundMessage.get(InboundMessage.outcome == "to-return-path")
    assert (row.request_id, row.conversation_id, row.role) == (conv.request_id, conv.id, "stranger")
    entries = timeline(ctx, conv.request_id)
    noted = [e for e in entries if e["type"] == "to-return-path"]
    assert len(noted) == 1 and f"intro mail #{intro.id}" in noted[0]["cause"]
    assert "never answered" in noted[0]["cause"]
    assert any(e.get("outcome") == "to-return-path" for e in entries)


def test_a_forged_return_path_is_recorded_too_and_attached_to_nothing(ctx: Context) -> None:
    offered(ctx)
    before = OutboundMail.select().count()
    forged = mail_bytes(
        "Bonjour, je voudrais rencontrer un plombier à Bayeux.",
        sender="Paul <paul@users.test>",
        to="relay+b-1-7nj-aaaaaaaaaa@mailflow.test",
    )
    assert store_and_process(ctx, forged) == {"to-return-path": 1}
    assert mails_after(before) == []
    row = InboundMessage.get(InboundMessage.outcome == "to-return-path")
    assert row.request_id is None and row.sender == "paul@users.test"
    assert "forged or expired" in Event.get(Event.kind == "to-return-path").cause


# -- spam -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X_Spam_Flag": "YES"},
        {"X_Spam_Status": "Yes, score=15.2 required=5.0 tests=BAYES_99"},
        {"X_Spam": "Yes"},
        {"X_Spam_Score": "5.0"},
        {"X_Rspamd_Score": "11.40"},
    ],
)
def test_spam_is_recorded_never_answered_nor_offered(ctx: Context, headers: dict[str, str]) -> None:
    spam = mail_bytes(
        "Bonjour, je voudrais rencontrer un plombier à Bayeux. Cliquez ici pour gagner.",
        sender="promo@spam.test",
        **headers,
    )
    assert store_and_process(ctx, spam) == {"spam": 1}
    assert OutboundMail.select().count() == 0 and Request.select().count() == 0
    row = InboundMessage.get()
    assert (row.status, row.outcome, row.sender) == ("processed", "spam", "promo@spam.test")
    assert "flagged as spam" in Event.get(Event.kind == "spam").cause


@pytest.mark.parametrize(
    "headers",
    [
        {"X_Spam_Flag": "NO", "X_Spam_Status": "No, score=-0.1 required=5.0"},
        {"X_Spam_Score": "4.9"},
        {"X_Rspamd_Score": "-1.2", "X_Spam": "No"},
    ],
)
def test_a_filter_saying_no_leaves_an_ordinary_request(
    ctx: Context, headers: dict[str, str]
) -> None:
    assert store_and_process(ctx, mail_bytes(BAKER, **headers)) == {"request-offered": 1}


def test_spam_from_a_party_through_the_relay_is_not_relayed_and_shows_on_the_request(
    ctx: Context,
) -> None:
    conv = offered(ctx)
    before = OutboundMail.select().count()
    spam = mail_bytes(
        "Regardez ce site : http://abuse.test/gagner",
        sender="Léa Martin <lea@users.test>",
        to=ctx.cfg.relay.token_address(conv.person_token),
        X_Spam_Flag="YES",
    )
    assert store_and_process(ctx, spam) == {"spam": 1}
    assert mails_after(before) == []
    kinds = [e["type"] for e in timeline(ctx, conv.request_id)]
    assert "spam" in kinds


# -- an ambassador's out-of-office through the relay ------------------------------------------


def test_ambassador_out_of_office_through_the_relay_shows_on_the_request_and_reassigns(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    conv = offered(ctx)
    before = OutboundMail.select().count()
    oof = mail_bytes(
        "Bonjour,\nJe suis en congés. Je serai de retour le 20/03/2027.\nMarie",
        sender=f"Marie <{MARIE}>",
        to=ctx.cfg.relay.token_address(conv.ambassador_token),
        subject="Réponse automatique : Une demande pour vous",
        Auto_Submitted="auto-replied",
    )
    assert store_and_process(ctx, oof) == {"auto-reply": 1}
    assert mails_after(before) == []  # never relayed, never answered
    row = InboundMessage.get(InboundMessage.outcome == "auto-reply")
    assert (row.conversation_id, row.request_id) == (conv.id, conv.request_id)
    assert row.role == "ambassador"
    request = Request.get()
    assert request.state == "offered" and request.first_answer_at is None  # not an answer
    assert Conversation.get_by_id(conv.id).ambassador_answered_at is None
    away = Ambassador.get(Ambassador.email == MARIE).absent_until  # stored UTC: back at
    assert local(away, ctx.cfg.schedule.zone) == datetime(2027, 3, 20)  # Paris midnight

    noted = [e for e in timeline(ctx, conv.request_id) if e["type"] == "auto-reply"]
    assert len(noted) == 1
    assert "auto-reply from the ambassador" in noted[0]["cause"]
    assert "return date 2027-03-20" in noted[0]["cause"]

    # The follow-up policy: away past the reassignment deadline, handed over at once.
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T10:00:00")
    assert run_followups(ctx)["reassigned"] == 1
    entries = timeline(ctx, conv.request_id)
    closed = [e for e in entries if e["type"] == "closed"]
    assert closed and "ambassador away until 20/03/2027" in closed[0]["cause"]
    assert [e["to"] for e in entries if e["type"] == "state"][-2:] == ["reassigned", "offered"]


def test_out_of_office_without_a_date_is_recorded_and_changes_nothing(ctx: Context) -> None:
    conv = offered(ctx)
    oof = mail_bytes(
        "Je suis en congés, je répondrai à mon retour.",
        sender=f"Marie <{MARIE}>",
        to=ctx.cfg.relay.token_address(conv.ambassador_token),
        subject="Automatic reply: Une demande pour vous",
        X_Auto_Response_Suppress="All",
    )
    assert store_and_process(ctx, oof) == {"auto-reply": 1}
    assert Ambassador.get(Ambassador.email == MARIE).absent_until is None
    noted = [e for e in timeline(ctx, conv.request_id) if e["type"] == "auto-reply"]
    assert len(noted) == 1 and "no return date found" in noted[0]["cause"]
    assert run_followups(ctx)["reassigned"] == 0
