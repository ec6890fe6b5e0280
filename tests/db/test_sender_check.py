"""Forged senders, with `[mailbox] authserv_id` set: a party's mail through a relay address
and an ambassador's command need the receiving server's SPF/DKIM/DMARC pass."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.admin import quarantine
from mailflow.context import Context
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Request,
)
from tests.inprocess import close_context, open_context
from tests.inprocess import mail_bytes as authenticated_mail
from tests.inprocess import store_and_process as run

TRUSTED = "mx.mailflow.test"
PERSON = "lea@users.test"
BAKER = "Je voudrais rencontrer une boulangère près de Caen."
PASS = f"{TRUSTED}; spf=pass smtp.mailfrom={{d}}; dkim=pass header.d={{d}}; dmarc=pass"
FAIL = f"{TRUSTED}; spf=softfail smtp.mailfrom=x@attacker.test; dmarc=fail header.from={{d}}"
NONE = f"{TRUSTED}; spf=none smtp.mailfrom=attacker.test; dkim=none; dmarc=none header.from={{d}}"
OTHER = f"{TRUSTED}; dkim=pass header.d=attacker.test; spf=pass smtp.mailfrom=attacker.test"


def mail_bytes(*args: str, **headers: str) -> bytes:
    """Mail as it comes without the trusted server's header: each test writes its own."""
    return authenticated_mail(*args, authenticated=False, **headers)


def configured(ctx: Context, **mailbox: object) -> Context:
    """The same context with other [mailbox] settings (the check is a pure config matter)."""
    cfg = ctx.cfg
    return dataclasses.replace(
        ctx, cfg=dataclasses.replace(cfg, mailbox=dataclasses.replace(cfg.mailbox, **mailbox))
    )


@pytest.fixture
def plain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path)
    close_context()


@pytest.fixture
def ctx(plain: Context) -> Context:
    return configured(plain, authserv_id=(TRUSTED,))


def signed(raw: bytes, *results: str) -> bytes:
    """`raw` as the receiving server hands it over: its headers prepended, topmost first."""
    return b"".join(f"Authentication-Results: {r}\n".encode() for r in results) + raw


def offered(ctx: Context) -> Conversation:
    """Léa's request, offered to the baker; a new request is never checked."""
    assert run(ctx, mail_bytes(BAKER, sender=f"Léa <{PERSON}>")) == {"request-offered": 1}
    return Conversation.get()


def reply_of(conv: Conversation, *results: str, body: str = "Avec plaisir !") -> bytes:
    """The ambassador's answer through the relay address she knows the person by."""
    amb = conv.ambassador.email
    to = f"relay+{conv.ambassador_token}@mailflow.test"
    raw = mail_bytes(body, sender=f"Marie <{amb}>", to=to, subject="Re: Votre demande")
    return signed(raw, *(r.format(d=amb.split("@")[1]) for r in results))


def to_sender(address: str) -> list[str]:
    query = OutboundMail.select().where(OutboundMail.recipient == address)
    return [m.purpose for m in query]


def relayed() -> int:
    return OutboundMail.select().where(OutboundMail.purpose == "relay").count()


FORGED = {
    "no header": (),
    "another server's pass": ("mx.attacker.test; dkim=pass header.d={d}; dmarc=pass",),
    "dmarc=fail": (FAIL,),
    "pass below the real one": (NONE, PASS),
    "no aligned pass": (OTHER,),
}  # fmt: skip


@pytest.mark.parametrize("results", FORGED.values(), ids=FORGED.keys())
def test_a_forged_reply_through_a_relay_address_is_kept_not_relayed(
    ctx: Context, results: tuple[str, ...]
) -> None:
    conv = offered(ctx)
    assert run(ctx, reply_of(conv, *results)) == {"unauthenticated": 1}
    assert relayed() == 0
    assert to_sender(conv.ambassador.email) == ["intro"]  # nothing answered to the forged From
    row = InboundMessage.get(InboundMessage.outcome == "unauthenticated")
    assert (row.status, row.role, row.conversation_id) == ("quarantined", "ambassador", conv.id)
    assert (
        row.reason.startswith("unauthenticated (") and "claims to be the ambassador" in row.reason
    )
    event = Event.get(Event.kind == "unauthenticated")
    assert event.inbound_id == row.id and event.request_id == conv.request_id
    assert "kept in quarantine" in event.cause and "nobody answered" in event.cause
    assert [e.id for e in quarantine.list_quarantine()] == [row.id]
    assert Request.get().state == "offered"  # the forgery did not count as an answer
    [notice] = OutboundMail.select().where(OutboundMail.purpose == "unauthenticated_coordinator")
    assert notice.recipient == ctx.cfg.coordinator.email
    assert f"quarantine retry {row.id}" in bytes(notice.raw).decode()


def test_a_genuine_reply_is_relayed(ctx: Context) -> None:
    conv = offered(ctx)
    assert run(ctx, reply_of(conv, PASS)) == {"relayed": 1}
    assert relayed() == 1 and Request.get().state == "answered"
    assert not Event.select().where(Event.kind == "unauthenticated").exists()


def test_the_persons_reply_is_checked_too(ctx: Context) -> None:
    conv = offered(ctx)
    to = f"relay+{conv.person_token}@mailflow.test"
    forged = mail_bytes("Merci", sender=f"Léa <{PERSON}>", to=to)
    assert run(ctx, forged) == {"unauthenticated": 1}
    genuine = signed(
        mail_bytes("Merci !", sender=f"Léa <{PERSON}>", to=to), PASS.format(d="users.test")
    )
    assert run(ctx, genuine) == {"relayed": 1}


def test_without_the_key_nothing_is_checked(plain: Context) -> None:
    conv = offered(plain)
    assert run(plain, reply_of(conv), reply_of(conv, FAIL, body="Encore")) == {"relayed": 2}
    assert not Event.select().where(Event.kind == "unauthenticated").exists()


def test_retry_from_quarantine_lets_the_mail_through_without_the_check(ctx: Context) -> None:
    conv = offered(ctx)
    run(ctx, reply_of(conv))
    row = InboundMessage.get(InboundMessage.outcome == "unauthenticated")
    quarantine.retry(row.id)
    assert run(ctx) == {"relayed": 1}  # the coordinator vouched for it
    assert relayed() == 1
    causes = [e.cause for e in Event.select().where(Event.kind == "unauthenticated")]
    assert len(causes) == 2 and "released from quarantine by the coordinator" in causes[1]


def test_refuse_policy_records_without_quarantine_or_answer(ctx: Context) -> None:
    ctx = configured(ctx, unauthenticated="refuse")
    conv = offered(ctx)
    assert run(ctx, reply_of(conv, FAIL), reply_of(conv, body="Encore")) == {"unauthenticated": 2}
    rows = InboundMessage.select().where(InboundMessage.outcome == "unauthenticated")
    assert {r.status for r in rows} == {"processed"}
    assert quarantine.list_quarantine() == [] and relayed() == 0
    assert to_sender(conv.ambassador.email) == ["intro"]
    assert "refused" in Event.get(Event.kind == "unauthenticated").cause
    # the coordinator hears of it once a day, not once per forged mail
    assert to_sender(ctx.cfg.coordinator.email) == ["unauthenticated_coordinator"]


def test_a_stranger_is_refused_as_before(ctx: Context) -> None:
    conv = offered(ctx)
    to = f"relay+{conv.ambassador_token}@mailflow.test"
    assert run(ctx, mail_bytes("Son adresse ?", sender="x@else.test", to=to)) == {
        "refused-stranger": 1
    }


def _command(ctx: Context, address: str, word: str, *results: str) -> dict[str, int]:
    raw = mail_bytes(word, sender=f"Marie <{address}>", subject=word)
    return run(ctx, signed(raw, *(r.format(d=address.split("@")[1]) for r in results)))


def test_a_forged_ambassador_stop_is_not_applied(ctx: Context) -> None:
    conv = offered(ctx)
    address = conv.ambassador.email
    assert _command(ctx, address, "STOP") == {"unauthenticated": 1}
    assert _command(ctx, address, "STOP", NONE, PASS) == {"unauthenticated": 1}
    amb = Ambassador.get(Ambassador.email == address)
    assert amb.active and amb.left_at is None
    assert Conversation.get().state == "open" and Request.get().state == "offered"
    assert to_sender(address) == ["intro"]  # no confirmation to the real ambassador
    assert _command(ctx, address, "STOP", PASS) == {"ambassador-stop": 1}
    assert not Ambassador.get(Ambassador.email == address).active


def test_a_forged_pause_is_not_applied(ctx: Context) -> None:
    address = Ambassador.select().order_by(Ambassador.id).first().email
    assert _command(ctx, address, "PAUSE", FAIL) == {"unauthenticated": 1}
    assert not Ambassador.get(Ambassador.email == address).paused
    assert _command(ctx, address, "PAUSE", PASS) == {"ambassador-pause": 1}


def test_a_forged_person_stop_is_not_applied(ctx: Context) -> None:
    offered(ctx)
    stop = mail_bytes("STOP", sender=f"Léa <{PERSON}>", subject="STOP")
    assert run(ctx, stop) == {"unauthenticated": 1}
    assert Request.get().state == "offered"
    genuine = signed(mail_bytes("STOP", sender=PERSON, subject="STOP"), PASS.format(d="users.test"))
    assert run(ctx, genuine) == {"person-stop": 1}
    assert Request.get().state == "withdrawn"


def test_a_forged_out_of_office_sets_no_absence(ctx: Context) -> None:
    address = Ambassador.select().order_by(Ambassador.id).first().email
    raw = mail_bytes(
        "Je suis absente jusqu'au 20/03/2026.",
        sender=address,
        subject="Absente",
        Auto_Submitted="auto-replied",
    )
    assert run(ctx, raw) == {"auto-reply": 1}
    assert Ambassador.get(Ambassador.email == address).absent_until is None
    assert "not set from an automatic reply" in Event.get(Event.kind == "unauthenticated").cause
    genuine = mail_bytes(
        "Je suis absente jusqu'au 20/03/2026, merci.",
        sender=address,
        subject="Absente",
        Auto_Submitted="auto-replied",
    )
    assert run(ctx, signed(genuine, PASS.format(d=address.split("@")[1]))) == {"auto-reply": 1}
    assert Ambassador.get(Ambassador.email == address).absent_until is not None
