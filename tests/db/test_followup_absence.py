"""An ambassador's out-of-office on an introduction counts for the follow-up policy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.inbound.pipeline import process_pending
from mailflow.store.models import Conversation, OutboundMail, Request
from mailflow.transport.ingest import store
from tests.inprocess import close_context, mail_bytes, open_context

MARIE, JULIEN = "amb1@pros.test", "amb2@pros.test"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path)
    close_context()


def out_of_office(ctx: Context, until: str) -> bytes:
    conv = Conversation.get()
    return mail_bytes(
        f"Bonjour,\nJe suis absente du bureau jusqu'au {until} inclus.\nMarie",
        sender=f"Marie <{MARIE}>",
        to=ctx.cfg.relay.token_address(conv.ambassador_token),
        subject="Réponse automatique : Une demande de rencontre",
        Auto_Submitted="auto-replied",
    )


def test_away_past_the_deadline_reassigns_at_once(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(mail_bytes("Je voudrais rencontrer une boulangère près de Caen."), "INBOX", 1, None)
    process_pending(ctx)
    store(out_of_office(ctx, "27/03/2026"), "INBOX", 1, None)
    assert process_pending(ctx) == {"auto-reply": 1}
    assert not OutboundMail.select().where(OutboundMail.purpose == "relay").exists()
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T10:00:00")
    assert run_followups(ctx)["reassigned"] == 1
    request = Request.get()
    assert request.state == "offered"
    assert request.conversations.order_by(Conversation.id)[-1].ambassador.email == JULIEN
    news = OutboundMail.get(OutboundMail.purpose == "reassigned")
    assert news.recipient == "lea@users.test"


def test_short_absence_keeps_the_normal_policy(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(mail_bytes("Je voudrais rencontrer une boulangère près de Caen."), "INBOX", 1, None)
    process_pending(ctx)
    store(out_of_office(ctx, "04/03/2026"), "INBOX", 1, None)
    process_pending(ctx)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T10:00:00")
    assert "reassigned" not in run_followups(ctx)
    assert Request.get().conversations.count() == 1
