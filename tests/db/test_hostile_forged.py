"""Forged senders without `[mailbox] authserv_id` (issue 10, item 3): the envelope must
align with From, and a command from unproven mail waits for a confirmation by mail."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.admin import quarantine
from mailflow.config import load_config
from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.inbound.pipeline import parse
from mailflow.inbound.sender_check import unchecked_warning
from mailflow.services.confirm import expire_pending
from mailflow.services.sender_proof import envelope_sender, envelope_verdict
from mailflow.store.models import Ambassador, Event, InboundMessage, PendingCommand, Request
from tests.db.test_ambassador_mail import BAKER, NOW, REQUEST, sent
from tests.db.test_handover import LEA, relay
from tests.inprocess import close_context, mail_bytes, open_context, write_config
from tests.inprocess import store_and_process as run

INTRUDER = "intrus@attacker.test"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    """The default configuration: no authserv_id."""
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def delivered(envelope: str | None, subject: str, body: str = "\n", **kw: str) -> bytes:
    """A mail as the delivering server stores it: its Return-Path on top (none: None)."""
    raw = mail_bytes(body, subject=subject, authenticated=False, **kw)
    return (f"Return-Path: <{envelope}>\n".encode() if envelope is not None else b"") + raw


def offered() -> Request:
    return Request.get()


def ask_baker(ctx: Context) -> None:
    assert run(ctx, delivered(LEA, "Demande", REQUEST, sender=f"Léa <{LEA}>")) == {
        "request-offered": 1
    }


def confirm_token(address: str) -> str:
    [pending] = PendingCommand.select().where(PendingCommand.address == address)
    return pending.token


# -- reading the envelope --------------------------------------------------------------------


def test_the_topmost_return_path_is_the_envelope() -> None:
    raw = b"Return-Path: <real@pros.test>\nReturn-Path: <forged@x.test>\n" + mail_bytes("x")
    assert envelope_sender(parse(raw)) == "real@pros.test"
    assert envelope_sender(parse(b"Return-Path: <>\n" + mail_bytes("x"))) == ""
    assert envelope_sender(parse(mail_bytes("x"))) is None


@pytest.mark.parametrize(
    ("envelope", "status"),
    [
        ("amb1@pros.test", "aligned"),
        ("bounces+123@mail.pros.test", "aligned"),  # a subdomain of the From domain
        (INTRUDER, "failed"),
        ("amb1@pros.test.attacker.test", "failed"),
        ("", "failed"),  # the null path of a bounce, on a mail that is no bounce
    ],
)
def test_alignment_is_relaxed_by_subdomain(envelope: str, status: str) -> None:
    raw = f"Return-Path: <{envelope}>\n".encode() + mail_bytes("x", sender=BAKER)
    found = envelope_verdict(parse(raw))
    assert found is not None and found.status == status


def test_a_return_path_forged_inside_the_message_does_not_count(ctx: Context) -> None:
    ask_baker(ctx)
    to = relay(Request.get().conversations.get().ambassador_token)
    inner = delivered(BAKER, "Re: demande", "Bonjour", sender=BAKER, to=to)
    assert run(ctx, f"Return-Path: <{INTRUDER}>\n".encode() + inner) == {"unauthenticated": 1}
    row = InboundMessage.get(InboundMessage.outcome == "unauthenticated")
    assert row.status == "quarantined" and INTRUDER in row.reason
    assert not sent("relay")


def test_an_aligned_relay_reply_is_relayed(ctx: Context) -> None:
    ask_baker(ctx)
    to = relay(Request.get().conversations.get().ambassador_token)
    assert run(ctx, delivered(BAKER, "Re: demande", "Avec plaisir", sender=BAKER, to=to)) == {
        "relayed": 1
    }


# -- confirmation of commands ----------------------------------------------------------------


def test_a_pause_waits_for_the_confirmation_then_acts_once(ctx: Context) -> None:
    assert run(ctx, delivered(BAKER, "PAUSE", sender=BAKER)) == {"confirmation-asked": 1}
    assert not Ambassador.get(Ambassador.email == BAKER).paused
    [(to, text)] = sent("confirm_command")
    assert to == BAKER and "« PAUSE »" in text and "répondez simplement" in text
    token = confirm_token(BAKER)
    # Another forged PAUSE meanwhile: no second mail to Marie.
    assert run(ctx, delivered(INTRUDER, "PAUSE", sender=BAKER)) == {"unauthenticated": 1}
    assert run(ctx, delivered(BAKER, "Re: PAUSE", "pause", sender=BAKER)) == {
        "confirmation-asked": 1
    }
    assert len(sent("confirm_command")) == 1
    # Someone else answering the token changes nothing.
    stranger = delivered("x@users.test", "Re", "OUI", sender="x@users.test", to=relay(token))
    assert run(ctx, stranger) == {"refused-unknown-token": 1}
    assert not Ambassador.get(Ambassador.email == BAKER).paused
    # Marie's answer applies it, once.
    answer = delivered(BAKER, "Re: Pour confirmer", "OUI", sender=BAKER, to=relay(token))
    assert run(ctx, answer) == {"ambassador-pause": 1}
    assert Ambassador.get(Ambassador.email == BAKER).paused
    again = delivered(BAKER, "Re: Pour confirmer", "oui !", sender=BAKER, to=relay(token))
    assert run(ctx, again) == {"confirmation-repeated": 1}
    assert len(sent("ambassador_pause")) == 1
    causes = [e.cause for e in Event.select().where(Event.kind == "confirmation")]
    assert any("pending" in c for c in causes) and any("confirmed" in c for c in causes)


def test_an_unconfirmed_command_expires_and_never_acts(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(ctx, delivered(BAKER, "STOP", sender=BAKER)) == {"confirmation-asked": 1}
    token = confirm_token(BAKER)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-11-26T09:00:00")  # 6 days: still pending
    assert "confirmation-expired" not in run_followups(ctx)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-11-27T09:01:00")  # past 7 days
    assert run_followups(ctx)["confirmation-expired"] == 1
    assert PendingCommand.get().state == "expired"
    causes = [e.cause for e in Event.select().where(Event.kind == "confirmation")]
    assert "expired unconfirmed: never applied" in causes[-1]
    late = delivered(BAKER, "Re: Pour confirmer", "OUI", sender=BAKER, to=relay(token))
    assert run(ctx, late) == {"confirmation-expired": 1}
    assert Ambassador.get(Ambassador.email == BAKER).active
    assert [to for to, _ in sent("confirm_expired")] == [BAKER]


def test_expiry_on_the_reply_itself(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    """The reply may come before any follow-up run marked the command expired."""
    assert run(ctx, delivered(BAKER, "PAUSE", sender=BAKER)) == {"confirmation-asked": 1}
    token = confirm_token(BAKER)
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-01T09:00:00")
    late = delivered(BAKER, "Re", "OUI", sender=BAKER, to=relay(token))
    assert run(ctx, late) == {"confirmation-expired": 1}
    assert PendingCommand.get().state == "expired"
    assert expire_pending(PendingCommand.get().expires_at) == 0  # expired once, not twice
    assert not Ambassador.get(Ambassador.email == BAKER).paused


def test_a_persons_stop_waits_for_her_confirmation(ctx: Context) -> None:
    ask_baker(ctx)
    assert run(ctx, delivered(LEA, "STOP", sender=LEA)) == {"confirmation-asked": 1}
    assert offered().state == "offered"
    [(to, text)] = sent("confirm_command")
    assert to == LEA and "arrêter votre demande" in text
    answer = delivered(LEA, "Re", "OUI", sender=LEA, to=relay(confirm_token(LEA)))
    assert run(ctx, answer) == {"person-stop": 1}
    assert offered().state == "withdrawn"
    assert [to for to, _ in sent("person_stop")] == [LEA]


def test_a_feedback_answer_that_closes_waits_for_the_confirmation(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    ask_baker(ctx)
    conv = Request.get().conversations.get()
    answer = delivered(BAKER, "Re", "Avec plaisir", sender=BAKER, to=relay(conv.ambassador_token))
    assert run(ctx, answer) == {"relayed": 1}
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-10T10:00:00")
    assert run_followups(ctx)["feedback-asked"] == 1
    token = Request.get().feedback_token
    said = delivered(LEA, "Re: avis", "5, oui", sender=LEA, to=relay(token))
    assert run(ctx, said) == {"confirmation-asked": 1}
    assert Request.get().state == "feedback_asked" and Request.get().feedback_score is None
    yes = delivered(LEA, "Re", "OUI", sender=LEA, to=relay(confirm_token(LEA)))
    assert run(ctx, yes) == {"feedback-recorded": 1}
    assert Request.get().feedback_score == 5 and Request.get().state == "closed"


def test_a_mail_the_coordinator_released_acts_at_once(ctx: Context) -> None:
    assert run(ctx, delivered(INTRUDER, "PAUSE", sender=BAKER)) == {"unauthenticated": 1}
    quarantine.retry(InboundMessage.get(InboundMessage.outcome == "unauthenticated").id)
    assert run(ctx) == {"ambassador-pause": 1}  # the coordinator vouched for it
    assert Ambassador.get(Ambassador.email == BAKER).paused


def test_a_stop_from_someone_who_never_wrote_is_only_recorded(ctx: Context) -> None:
    assert run(ctx, delivered("tom@users.test", "STOP", sender="tom@users.test")) == {
        "person-stop": 1
    }
    assert not sent("person_stop") and not sent("confirm_command")


# -- the warning at start ----------------------------------------------------------------------


def test_the_daemon_warns_when_a_remote_mailbox_is_unchecked(tmp_path: Path) -> None:
    cfg = load_config(write_config(tmp_path))
    assert unchecked_warning(cfg) is None  # 127.0.0.1: the local test stack
    remote = dataclasses.replace(cfg, mailbox=dataclasses.replace(cfg.mailbox, host="imap.x.fr"))
    assert "authserv_id is not set for imap.x.fr" in (unchecked_warning(remote) or "")
    trusted = dataclasses.replace(
        remote, mailbox=dataclasses.replace(remote.mailbox, authserv_id=("mx.x.fr",))
    )
    assert unchecked_warning(trusted) is None


def test_an_undecodable_return_path_is_held_not_a_crash(ctx: Context) -> None:
    """Found by tests/db/test_property.py: 8-bit bytes in Return-Path reached the stored reason."""
    ask_baker(ctx)
    to = relay(Request.get().conversations.get().ambassador_token)
    reply = mail_bytes("Bonjour", sender=BAKER, to=to, subject="Re", authenticated=False)
    assert run(ctx, b"Return-Path: <amb1@\xc3\xbd\xf1\x97.test>\r\n" + reply) == {
        "unauthenticated": 1
    }
    assert "\ufffd" in InboundMessage.get(InboundMessage.outcome == "unauthenticated").reason
