"""The pipeline on stored messages, without servers: outcomes, outbox, quarantine."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.inbound.pipeline import parse
from mailflow.store.models import Event, InboundMessage, OutboundMail, Request
from mailflow.transport.ingest import store
from tests.inprocess import close_context, open_context
from tests.inprocess import mail_bytes as mail
from tests.inprocess import store_and_process as run


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path)
    close_context()


BAKER = "Je voudrais rencontrer une boulangère près de Caen."


def test_first_name_from_display_name_when_not_signed(ctx: Context) -> None:
    assert run(ctx, mail(BAKER)) == {"request-offered": 1}
    request = Request.get()
    assert request.first_name == "Léa"
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    assert str(parse(bytes(intro.raw))["From"]).startswith("Léa via Ambassadeurs <relay+")
    assert b"lea@users.test" not in intro.raw


@pytest.mark.parametrize(
    ("headers", "sender", "outcome"),
    [
        ({"Auto_Submitted": "auto-replied"}, "Léa <lea@users.test>", "auto-reply"),
        ({"X_Autoreply": "yes"}, "Léa <lea@users.test>", "auto-reply"),
        ({"Precedence": "bulk"}, "Léa <lea@users.test>", "auto-reply"),
        ({"List_Id": "<news.example.org>"}, "News <news@example.org>", "mailing-list"),
        ({}, "MAILER-DAEMON@mail.example.org", "bounce"),
        ({"X_Mailflow_Loop": "relay@mailflow.test"}, "Léa <lea@users.test>", "own-loop"),
        ({}, "relay@mailflow.test", "own-address"),
    ],
)
def test_automated_mail_is_never_answered(
    ctx: Context, headers: dict[str, str], sender: str, outcome: str
) -> None:
    assert run(ctx, mail(BAKER, sender=sender, **headers)) == {outcome: 1}
    assert OutboundMail.select().count() == 0
    assert Request.select().count() == 0


def test_same_message_id_twice_is_recorded_once(ctx: Context) -> None:
    raw = mail(BAKER)
    again = raw.replace(b"Subject: Demande", b"Subject: Demande (renvoi)")
    assert run(ctx, raw, again) == {"request-offered": 1}
    assert InboundMessage.select().where(InboundMessage.outcome == "duplicate").count() == 1
    assert store(raw, "INBOX", 1, None) is None  # identical bytes: not even stored
    assert OutboundMail.select().count() == 2


def _with_id(sender: str, body: str, message_id: str, received: str = "") -> bytes:
    raw = mail(body, sender=sender)
    raw = re.sub(rb"Message-ID: <[^>]*>", f"Message-ID: {message_id}".encode(), raw)
    return (f"Received: {received}\n".encode() + raw) if received else raw


def test_another_message_reusing_a_message_id_is_processed_and_the_collision_logged(
    ctx: Context,
) -> None:
    first = _with_id("Léa <lea@users.test>", BAKER, "<1@localhost>")
    other = _with_id("Paul <paul@other.test>", "Je cherche un plombier à Bayeux.", "<1@localhost>")
    assert run(ctx, first) == {"request-offered": 1}
    outcomes = run(ctx, other)
    assert outcomes and "duplicate" not in outcomes, outcomes
    rows = list(InboundMessage.select().order_by(InboundMessage.id))
    assert [r.message_id for r in rows] == ["<1@localhost>", "<1@localhost>"]
    assert rows[1].status == "processed" and rows[1].sender == "paul@other.test"
    assert rows[1].request_id is not None and rows[1].request_id != rows[0].request_id
    assert OutboundMail.select().where(OutboundMail.recipient == "paul@other.test").exists()
    collision = Event.get(Event.kind == "message-id-collision")
    assert collision.inbound_id == rows[1].id and f"message #{rows[0].id}" in collision.cause


def test_a_second_delivery_of_one_mail_with_other_trace_headers_is_a_duplicate(
    ctx: Context,
) -> None:
    first = _with_id("Léa <lea@users.test>", BAKER, "<2@localhost>", "from a by b")
    again = _with_id("Léa <lea@users.test>", BAKER, "<2@localhost>", "from c by d")
    assert first != again
    assert run(ctx, first, again) == {"request-offered": 1}
    assert [r.outcome for r in InboundMessage.select().order_by(InboundMessage.id)] == [
        "request-offered",
        "duplicate",
    ]
    assert not Event.select().where(Event.kind == "message-id-collision").exists()


def test_message_that_breaks_processing_is_quarantined_not_lost(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mailflow.inbound.pipeline as pipeline

    def explode(*_: object) -> str:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pipeline, "handle_new_request", explode)
    assert run(ctx, mail(BAKER)) == {"quarantined": 1}
    row = InboundMessage.get()
    assert row.status == "quarantined" and "disk on fire" in row.reason
    assert bytes(row.raw).startswith(b"From:") or b"Message-ID" in bytes(row.raw)
    assert Request.select().count() == 0  # the half-done decision was rolled back
    assert OutboundMail.select().count() == 0


def test_mail_without_sender_is_recorded_not_answered(ctx: Context) -> None:
    raw = b"To: relay@mailflow.test\r\nSubject: ?\r\n\r\nboulanger Caen\r\n"
    assert run(ctx, raw) == {"no-sender": 1}
    assert OutboundMail.select().count() == 0
