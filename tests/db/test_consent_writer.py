"""The hook for an adult writing for a young person (issue 14's other part fills
`Request.writer_role`): under the default policy the writer is asked directly, with one
mail explaining the programme, and no mail goes to a child we have no address for. Run
in-process, with the real `[minors]` policy back (tests/shared_rules.guardian_rules)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest

from mailflow.context import Context
from mailflow.core import lifecycle as lc
from mailflow.store.models import Consent, OutboundMail, Request
from tests.inprocess import close_context, mail_bytes, open_context, store_and_process
from tests.shared_rules import guardian_rules

TEACHER = "Mme Dupont <m.dupont@ac-caen.fr>"
LETTER = (
    "Bonjour,\n\nJe suis professeure principale d'une classe de 5e à Caen. Une de mes élèves, "
    "12 ans, voudrait rencontrer une boulangère pour son projet d'orientation.\n\n"
    "Bien cordialement,\nC. Dupont"
)


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    context = open_context(tmp_path, trusted=True)  # a STOP acts at once
    try:
        yield dataclasses.replace(context, rules=guardian_rules(context.rules))
    finally:
        close_context()


def test_an_adult_writer_is_asked_directly_and_no_child_is_mailed(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Request, "writer_role", "enseignant", raising=False)  # the column to come
    outcomes = store_and_process(ctx, mail_bytes(LETTER, sender=TEACHER))
    assert outcomes == {"request-awaiting-consent": 1}
    [request] = Request.select()
    assert request.state == lc.AWAITING_CONSENT and request.minor
    [consent] = Consent.select()
    assert consent.writer_is_adult and consent.adult_address == "m.dupont@ac-caen.fr"
    assert consent.child_token is None
    sent = [(m.purpose, m.recipient) for m in OutboundMail.select().order_by(OutboundMail.id)]
    assert ("consent_adult_ask", "m.dupont@ac-caen.fr") in sent
    assert not [p for p, _ in sent if p.startswith("consent_child") or p in ("intro", "ack")]
    [asked] = [m for m in OutboundMail.select() if m.purpose == "consent_adult_ask"]
    body = message_from_bytes(bytes(asked.raw), policy=default).get_body(("plain",))
    assert "Vous nous avez écrit pour un jeune" in body.get_content()


def test_without_the_role_the_young_person_is_asked_for_an_adult(ctx: Context) -> None:
    child = "Léa <lea.martin@users.test>"
    store_and_process(ctx, mail_bytes("jai 12 ans je veux voir une boulangere a caen", child))
    sent = [m.purpose for m in OutboundMail.select()]
    assert sent == ["consent_child_ask"]
    assert [r.state for r in Request.select()] == [lc.AWAITING_CONSENT]


def test_the_writer_consents_by_replying_and_the_exchange_is_theirs(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Request, "writer_role", "parent", raising=False)
    store_and_process(ctx, mail_bytes(LETTER, sender=TEACHER))
    [consent] = Consent.select()
    to = ctx.cfg.relay.token_address(consent.token)
    assert store_and_process(ctx, mail_bytes("Oui bien sûr", sender=TEACHER, to=to)) == {
        "consent-given": 1
    }
    [request] = Request.select()
    assert request.state == lc.OFFERED
    consent = Consent.get_by_id(consent.id)
    assert consent.state == "given" and not consent.guardian_copy  # the party, not a copy
    sent = [(m.purpose, m.recipient) for m in OutboundMail.select().order_by(OutboundMail.id)]
    assert ("ack", "m.dupont@ac-caen.fr") in sent and ("intro", "amb1@pros.test") in sent


def test_a_child_who_writes_stop_while_held_ends_the_consent_too(ctx: Context) -> None:
    child = "Léa <lea.martin@users.test>"
    store_and_process(ctx, mail_bytes("jai 12 ans je veux voir une boulangere a caen", child))
    assert store_and_process(ctx, mail_bytes("STOP", child)) == {"person-stop": 1}
    [request] = Request.select()
    [consent] = Consent.select()
    assert request.state == lc.WITHDRAWN
    assert (consent.state, consent.decided_by) == ("withdrawn", "request ended")
