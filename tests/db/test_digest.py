"""The coordinator's digest on a known data set: every figure, then the rendered mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.core.followup_policy import load_policy
from mailflow.followup.digest import (
    DigestData,
    Escalation,
    Quarantined,
    collect_digest,
    digest_view,
    shorten,
)
from mailflow.followup.digest_outbox import OutboxIssue
from mailflow.followup.digest_unwanted import SpamFigures, StrangerFigures
from mailflow.services.compose import render
from mailflow.services.ratelimit import STRANGER_CAP_REACHED
from mailflow.store.db import open_database
from mailflow.store.models import (
    Ambassador,
    Conversation,
    Event,
    InboundMessage,
    OutboundMail,
    Person,
    Request,
    database,
)

NOW = datetime(2026, 3, 10, 9, 0)  # a Tuesday, naive UTC
H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)
PARIS = ZoneInfo("Europe/Paris")  # the default [schedule] timezone: UTC+1 in March
BANDS = load_policy(PROJECT_ROOT / "rules").digest_age_bands
LONG_REASON = "ValueError: " + "x" * 300


@pytest.fixture
def db(tmp_path: Path, database_url: str) -> Iterator[None]:
    handle = open_database(database_url, tmp_path)
    yield
    handle.close()
    database.initialize(None)


def add_request(number: int, state: str, age: timedelta, **fields: Any) -> Request:
    person = Person.create(email=f"p{number}@users.test", created_at=NOW - age)
    return Request.create(
        id=number, person=person, state=state, created_at=NOW - age, updated_at=NOW, **fields
    )


def add_inbound(number: int, age: timedelta, **fields: Any) -> InboundMessage:
    return InboundMessage.create(
        id=number,
        message_id=f"<m{number}@test>",
        sha256=f"{number:064d}",
        raw=b"",
        size=0,
        received_at=NOW - age,
        **fields,
    )


def add_outbound(
    number: int, kind: str, at: datetime, role: str, purpose: str, request: int | None = None
) -> None:
    """A mail that transport/send.py left unconfirmed or failed, with the event it logs at `at`."""
    status = {"send-unconfirmed": "unconfirmed", "send-failed": "failed"}[kind]
    mail = OutboundMail.create(
        id=number,
        idempotency_key=f"{purpose}:{number}",
        purpose=purpose,
        message_id=f"<out{number}@mailflow.test>",
        envelope_from="relay@mailflow.test",
        recipient=f"secret{number}@hidden.test",
        recipient_role=role,
        raw=b"",
        status=status,
        next_attempt_at=at,
        created_at=at - H,
        request=request,
    )
    Event.create(at=at, kind=kind, cause="from transport/send.py", outbound=mail, request=request)


def add_refused(number: int, at: datetime, sender: str, outcome: str, capped: bool) -> None:
    """A stranger's message refused on a relay address; `capped`: the daily cap kept it
    unanswered (relay.py's event), otherwise the coordinator's notice was the one held back."""
    m = add_inbound(number, NOW - at, outcome=outcome, status="processed", sender=sender)
    m.processed_at = at
    m.save()
    cause = STRANGER_CAP_REACHED if capped else "stranger_coordinator not sent"
    Event.create(at=at, kind="rate-limited", cause=f"{cause}: ...", inbound=m)


BAKER = {"code_rome": "D1102", "rome_label": "Boulanger"}
CARE = {"code_rome": "J1501", "rome_label": "Aide-soignant"}


@pytest.fixture
def known(db: None) -> None:
    """16 open requests, 3 finished ones, 4 inbound messages, 6 mails transport/send.py left
    unconfirmed or failed, 6 spam, 6 strangers refused; expected figures in the tests.
    Bounces are not made by hand: see test_bounces_as_the_pipeline_records_them."""
    add_request(1, "new", 1 * H)
    add_request(2, "needs_info", 3 * D - S)
    add_request(3, "offered", 3 * D)
    add_request(4, "offered", 8 * D - S)
    add_request(5, "answered", 8 * D)
    add_request(6, "in_conversation", 15 * D - H)
    add_request(
        7, "unmatched", 15 * D, commune="Caen", department="14", escalated_at=NOW - 14 * D, **BAKER
    )
    add_request(
        8, "unmatched", 2 * D, commune="Caen", department="14", escalated_at=NOW - 24 * H, **BAKER
    )
    add_request(
        9,
        "unmatched",
        23 * H,
        trade_text="dresseur de chevaux",
        department="61",
        escalated_at=NOW - 24 * H + S,
    )
    add_request(10, "unmatched", 30 * D, escalated_at=NOW - 1 * H)
    add_request(11, "unmatched", 5 * D, department="14", **BAKER)
    add_request(12, "reassigned", 10 * D)
    add_request(13, "feedback_asked", 20 * D)
    add_request(14, "closed", 1 * H, escalated_at=NOW - 2 * H, **BAKER)
    add_request(15, "expired", 40 * D)
    add_request(16, "withdrawn", 24 * H)
    add_request(17, "unmatched", 24 * H, commune="Lyon", department="69", **CARE)
    add_request(18, "unmatched", 4 * D, commune="Lyon", department="69", **CARE)
    add_request(19, "unmatched", 1 * D, trade_text="", commune="", department="")

    add_inbound(104, 1 * H, outcome="auto-reply", status="processed", sender="lea@users.test")
    add_inbound(
        106,
        3 * D,
        outcome="quarantined",
        status="quarantined",
        sender="tom@users.test",
        subject="Bonjour",
        reason=LONG_REASON,
    )
    add_inbound(
        107,
        1 * H,
        outcome="quarantined",
        status="quarantined",
        sender="zoe@users.test",
        subject="Stage",
        reason="KeyError:\n  'x'",
    )
    add_inbound(108, 2 * D, outcome="stranger", status="processed", reason="not known")

    # The first digest's period is (NOW - 24 h, NOW]: each kind has a row on both edges.
    add_outbound(201, "send-unconfirmed", NOW - 24 * H, "person", "ack", 3)  # before
    add_outbound(202, "send-unconfirmed", NOW - 24 * H + S, "ambassador", "intro", 3)
    add_outbound(203, "send-failed", NOW, "person", "still_looking")  # no request
    add_outbound(204, "send-failed", NOW + S, "ambassador", "reminder_ambassador", 4)  # after
    add_outbound(205, "send-unconfirmed", NOW - 2 * H, "coordinator", "digest")
    add_outbound(206, "send-failed", NOW - 24 * H, "ambassador", "relay", 5)  # before

    for number, at, request in (
        (301, NOW - 24 * H, None),  # before the period
        (302, NOW - 24 * H + S, None),
        (303, NOW - 3 * H, 6),  # from a party of request 6: attached to it
        (304, NOW - 2 * H, 6),
        (305, NOW, 2),
        (306, NOW + S, 4),  # after
    ):
        spam = add_inbound(number, NOW - at, outcome="spam", status="processed", request=request)
        spam.processed_at = at
        spam.save()

    add_refused(401, NOW - 24 * H, "early@spam.test", "refused-stranger", True)  # before
    add_refused(402, NOW - 24 * H + S, "x@spam.test", "refused-stranger", False)
    add_refused(403, NOW - 5 * H, "X@Spam.test", "refused-stranger", False)  # the same sender
    add_refused(404, NOW - 4 * H, "y@spam.test", "refused-unknown-token", True)
    add_refused(405, NOW, "z@spam.test", "refused-stranger", True)
    add_refused(406, NOW + S, "late@spam.test", "refused-unknown-token", True)  # after


@pytest.fixture
def data(known: None) -> DigestData:
    return collect_digest(NOW, BANDS)


def test_day_and_times_are_local(data: DigestData) -> None:
    view = digest_view(data, PARIS)
    assert (view["day"], view["time"], view["zone"]) == ("10/03/2026", "10:00", "Europe/Paris")
    late = digest_view(collect_digest(datetime(2026, 3, 10, 23, 30), BANDS), PARIS)
    assert (late["day"], late["time"]) == ("11/03/2026", "00:30")


def test_open_requests_by_state_in_life_cycle_order(data: DigestData) -> None:
    assert list(data.open_by_state.items()) == [
        ("new", 1),
        ("needs_info", 1),
        ("offered", 2),
        ("reassigned", 1),
        ("answered", 1),
        ("in_conversation", 1),
        ("feedback_asked", 1),
        ("unmatched", 8),
    ]
    assert data.open_total == 16


def test_open_requests_by_age_band_with_edges(data: DigestData) -> None:
    # < 3 days: 1 (1 h), 2 (3 d - 1 s), 8 (2 d), 9 (23 h), 17 (24 h), 19 (1 d)
    # 3-7 days: 3 (exactly 3 d), 4 (8 d - 1 s), 11 (5 d), 18 (4 d)
    # 8-14 days: 5 (exactly 8 d), 6 (15 d - 1 h), 12 (10 d)
    # > 14 days: 7 (exactly 15 d), 10 (30 d), 13 (20 d)
    assert list(data.open_by_age.items()) == [
        ("moins de 3 jours", 6),
        ("3 à 7 jours", 4),
        ("8 à 14 jours", 3),
        ("plus de 14 jours", 3),
    ]


def test_first_digest_new_requests_in_the_last_24_hours(data: DigestData) -> None:
    # 1, 9 and 14 (closed since); 16 and 17 are exactly 24 h old: outside the window.
    assert data.new_in_period == 3


def test_first_digest_escalations_of_the_last_24_hours(data: DigestData) -> None:
    # 8 escalated exactly 24 h ago and 7 two weeks ago: outside. 14 is closed but was escalated.
    assert data.escalations == [
        Escalation(9, "dresseur de chevaux", "département 61", "unmatched", NOW - 24 * H + S),
        Escalation(14, "Boulanger", "lieu non précisé", "closed", NOW - 2 * H),
        Escalation(10, "inconnu", "lieu non précisé", "unmatched", NOW - 1 * H),
    ]
    assert data.unmatched_total == 8


def add_digest(number: int, at: datetime, status: str) -> None:
    """A digest's outbox row as daily_digest queues it (dated by the end of its period) and
    transport/send.py leaves it: sent, queued, failed or bounced."""
    from mailflow.store.models import OutboundMail

    OutboundMail.create(
        idempotency_key=f"digest:{at.date().isoformat()}",
        purpose="digest",
        message_id=f"<digest{number}@mailflow.test>",
        envelope_from="relay@mailflow.test",
        recipient="coordinator@mailflow.test",
        recipient_role="coordinator",
        raw=b"",
        status=status,
        next_attempt_at=at,
        created_at=at,
    )


def test_period_runs_from_the_last_digest_actually_sent(known: None) -> None:
    """Sent three days ago; yesterday's failed and today's earlier one is still queued:
    the period starts where the sent one stopped, so nothing in between is lost."""
    add_digest(1, NOW - 5 * D, "sent")
    add_digest(2, NOW - 3 * D, "sent")
    add_digest(3, NOW - 1 * D, "failed")
    add_digest(4, NOW - 1 * H, "queued")
    add_digest(5, NOW + 1 * D, "sent")  # after `now` (a clock set back): not a start
    data = collect_digest(NOW, BANDS)
    assert (data.since, data.first) == (NOW - 3 * D, False)
    # created in (now - 3 d, now]: 1, 2 (3 d - 1 s), 8, 9, 14, 16, 17, 19; 3 is exactly 3 d.
    assert data.new_in_period == 8
    assert [e.request_id for e in data.escalations] == [8, 9, 14, 10]
    view = digest_view(data, PARIS)
    mail = render(PROJECT_ROOT / "templates" / "mails", "digest", view)
    assert (
        "Période couverte : du 07/03/2026 10:00 au 10/03/2026 10:00, "
        "depuis la synthèse précédente." in mail.text.splitlines()
    )
    assert "Nouvelles demandes sur la période : 8" in mail.text


def test_an_explicit_start_and_bands_from_other_rules(known: None) -> None:
    bands = ((0, "récentes"), (10, "anciennes"))
    data = collect_digest(NOW, bands, since=NOW - 2 * H)
    assert data.open_by_age == {"récentes": 11, "anciennes": 5}
    assert data.new_in_period == 2  # 1 (1 h) and 14 (1 h)


@pytest.mark.parametrize(
    ("bands", "error"),
    [
        ("age_bands = []", "non-empty list"),
        ('age_bands = [{ from_day = 1, label = "a" }]', "start at 0"),
        ('age_bands = [{ from_day = 0, label = "a" }, { from_day = 0, label = "b" }]', "grow"),
        ('age_bands = [{ from_day = 0, label = "a" }, { from_day = 3, label = "a" }]', "same"),
        ('age_bands = [{ from_day = 0, label = "" }]', "label"),
        ('age_bands = [{ from_day = -1, label = "a" }]', "from_day"),
        ('age_bands = [{ from = 0, label = "a" }]', "each band"),
    ],
)
def test_wrong_age_bands_are_reported_by_name(tmp_path: Path, bands: str, error: str) -> None:
    from mailflow.errors import RulesError

    text = (PROJECT_ROOT / "rules" / "followup.toml").read_text(encoding="utf-8")
    start = text.index("age_bands = [")
    end = text.index("]\n", text.index("plus de 14 jours")) + 2
    (tmp_path / "followup.toml").write_text(text[:start] + bands + "\n" + text[end:])
    with pytest.raises(RulesError, match=f"digest.age_bands.*{error}"):
        load_policy(tmp_path)


def test_unmet_demand_grouped_by_trade_and_place(data: DigestData) -> None:
    assert data.unmet_demand == [
        ("Aide-soignant", "Lyon", 2),
        ("Boulanger", "Caen", 2),
        ("inconnu", "lieu non précisé", 2),  # 10 (NULLs) and 19 (empty strings)
        ("Boulanger", "département 14", 1),
        ("dresseur de chevaux", "département 61", 1),
    ]


def test_every_quarantined_message_whatever_its_age(data: DigestData) -> None:
    shortened = "ValueError: " + "x" * 107 + "…"
    assert len(shortened) == 120
    assert data.quarantined == [
        Quarantined(106, NOW - 3 * D, "tom@users.test", "Bonjour", shortened),
        Quarantined(107, NOW - 1 * H, "zoe@users.test", "Stage", "KeyError: 'x'"),
    ]


def test_unconfirmed_and_failed_mail_of_the_period(data: DigestData) -> None:
    """Told by the event's time: 201 and 206 are exactly 24 h old, 204 comes after now."""
    assert data.outbox_issues == [
        OutboxIssue(202, NOW - 24 * H + S, "unconfirmed", "ambassador", "intro", 3),
        OutboxIssue(205, NOW - 2 * H, "unconfirmed", "coordinator", "digest", None),
        OutboxIssue(203, NOW, "failed", "person", "still_looking", None),
    ]


def test_spam_of_the_period(data: DigestData) -> None:
    # 301 is exactly 24 h old, 306 after now; 303 and 304 are both from request 6.
    assert data.spam == SpamFigures(total=4, request_ids=[2, 6])


def test_strangers_refused_in_the_period(data: DigestData) -> None:
    # 401 is exactly 24 h old, 406 after now: neither counts, nor their capped refusals.
    # 402 and 403 are the same sender; 404 and 405 were left unanswered by the cap.
    assert data.strangers == StrangerFigures(messages=4, unknown_address=1, senders=3, over_cap=2)


def test_shorten() -> None:
    assert shorten(None) == ""
    assert shorten("a  b\n c") == "a b c"
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abcd", 4) == "abcd"


def test_empty_database(db: None) -> None:
    data = collect_digest(NOW, BANDS)
    assert data.open_by_state == {}
    assert data.open_total == 0
    assert list(data.open_by_age.values()) == [0, 0, 0, 0]
    assert (data.escalations, data.unmet_demand, data.bounces, data.quarantined) == ([], [], [], [])
    assert data.outbox_issues == []
    assert data.spam == SpamFigures(0, [])
    assert data.strangers == StrangerFigures(0, 0, 0, 0)
    assert data.unmatched_total == data.new_in_period == 0
    mail = render(PROJECT_ROOT / "templates" / "mails", "digest", digest_view(data, PARIS))
    assert mail.subject == (
        "[mailflow] Synthèse du 10/03/2026 : 0 demande ouverte, 0 sans ambassadeur, "
        "0 escalade, 0 erreur d'envoi, 0 en quarantaine"
    )
    for line in (
        "DEMANDES OUVERTES : 0",
        "Aucune demande ouverte.",
        "Aucune escalade.",
        "Aucune demande sans ambassadeur.",
        "Aucune erreur d'envoi.",
        "Aucun message en quarantaine.",
        "ENVOIS NON CONFIRMÉS SUR LA PÉRIODE : 0",
        "Aucun envoi non confirmé.",
        "ENVOIS EN ÉCHEC (REFUSÉS PAR LE SERVEUR D'ENVOI) SUR LA PÉRIODE : 0",
        "Aucun envoi en échec.",
        "SPAM SUR LA PÉRIODE (SIGNALÉ PAR LE FILTRE DU SERVEUR DE RÉCEPTION) : 0",
        "Aucun spam.",
        "MESSAGES D'INCONNUS REFUSÉS SUR DES ADRESSES RELAIS : 0",
        "Aucun message d'inconnu refusé.",
    ):
        assert line in mail.text.splitlines(), line


def test_rendered_mail(data: DigestData) -> None:
    mail = render(PROJECT_ROOT / "templates" / "mails", "digest", digest_view(data, PARIS))
    assert mail.subject == (
        "[mailflow] Synthèse du 10/03/2026 : 16 demandes ouvertes, 8 sans ambassadeur, "
        "3 escalades, 1 erreur d'envoi, 2 en quarantaine, 2 envois à vérifier"
    )  # an error: refused by the server (or came back); to check: the server's answer lost
    lines = mail.text.splitlines()
    for expected in (
        "Voici la synthèse de mailflow du 10/03/2026 à 10:00 (heures en Europe/Paris).",
        "Période couverte : du 09/03/2026 10:00 au 10/03/2026 10:00 "
        "(les 24 heures qui précèdent : première synthèse).",
        "DEMANDES OUVERTES : 16",
        "  - nouvelle, pas encore traitée : 1",
        "  - proposée, sans réponse de l'ambassadeur : 2",
        "  - sans ambassadeur : 8",
        "  - moins de 3 jours : 6",
        "  - 3 à 7 jours : 4",
        "  - 8 à 14 jours : 3",
        "  - plus de 14 jours : 3",
        "Nouvelles demandes sur la période : 3",
        "ESCALADES SUR LA PÉRIODE : 3",
        "  - n°9 dresseur de chevaux, département 61 : escaladée le 09/03/2026 10:00, "
        "état actuel : sans ambassadeur",
        "  - n°14 Boulanger, lieu non précisé : escaladée le 10/03/2026 08:00, état actuel : close",
        "Demandes toujours sans ambassadeur : 8",
        "  - Aide-soignant, Lyon : 2",
        "  - Boulanger, département 14 : 1",
        "ERREURS D'ENVOI (MESSAGES REVENUS EN ERREUR) SUR LA PÉRIODE : 0",
        "Aucune erreur d'envoi.",
        "MESSAGES EN QUARANTAINE (À EXAMINER) : 2",
        "  - message n°106 reçu le 07/03/2026 10:00, de tom@users.test : « Bonjour »",
        "    motif : KeyError: 'x'",
        "ENVOIS NON CONFIRMÉS SUR LA PÉRIODE : 2",
        "  - envoi n°202 du 09/03/2026 10:00, « intro », à : ambassadeur, demande n°3",
        "    à faire : demander au destinataire s'il l'a reçu ; détail : mailflow log --request 3",
        "  - envoi n°205 du 10/03/2026 08:00, « digest », à : coordination",
        "    à faire : demander au destinataire s'il l'a reçu ; "
        "détail : mailflow message show 205 --outbound",
        "ENVOIS EN ÉCHEC (REFUSÉS PAR LE SERVEUR D'ENVOI) SUR LA PÉRIODE : 1",
        "  - envoi n°203 du 10/03/2026 10:00, « still_looking », à : personne",
        "    à faire : le message n'est pas parti, le dire au destinataire autrement ; "
        "motif et détail : mailflow message show 203 --outbound",
        "SPAM SUR LA PÉRIODE (SIGNALÉ PAR LE FILTRE DU SERVEUR DE RÉCEPTION) : 4",
        "Ni répondu ni relayé ; rangé avec le courrier traité, pas en quarantaine.",
        "demandes n°2, n°6",
        "MESSAGES D'INCONNUS REFUSÉS SUR DES ADRESSES RELAIS : 4",
        "  - expéditeurs différents : 3",
        "  - dont sur une adresse relais qui n'existe pas : 1",
        "  - restés sans réponse, plafond quotidien de refus atteint : 2",
    ):
        assert expected in lines, expected
    for outside in ("n°201", "n°204", "n°206"):
        assert outside not in mail.text
    assert "@hidden.test" not in mail.text  # recipients of mail to check: by role only
    assert "@spam.test" not in mail.text.lower()  # refused strangers: counted, not listed
    # Lines in the digest's order: unmet demand sorted by count, then by label.
    unmet = [line for line in lines if line.startswith("  - ") and line.endswith((": 2", ": 1"))]
    assert unmet.index("  - Aide-soignant, Lyon : 2") < unmet.index("  - Boulanger, Caen : 2")
    for empty in ("Aucune escalade.", "Aucun message en quarantaine."):
        assert empty not in mail.text
    assert "x" * 108 not in mail.text  # the long reason is shortened


# -- bounces, as the pipeline records them ---------------------------------------------------

STACK_NOW = "2026-03-09T09:00:00"  # a Monday


def _at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("MAILFLOW_NOW", when)


def test_bounces_as_the_pipeline_records_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real DSNs (Postfix's shape, tests/db/test_bounces.py) about mails mailflow queued, run
    through the pipeline: each is told by the address that failed and its role. Two mails
    a dead sender left unconfirmed: the one a report is about is told once, as a bounce."""
    from email.message import EmailMessage

    from mailflow.transport.send_recovery import recover
    from tests.db.test_bounces import BAKER, dsn_for, postfix_dsn, request_mail
    from tests.inprocess import close_context, open_context, store_and_process

    _at(monkeypatch, "2026-03-07T09:00:00")  # two days before the period
    ctx = open_context(tmp_path)
    try:
        assert store_and_process(ctx, request_mail(BAKER)) == {"request-offered": 1}
        lea_intro = OutboundMail.get(OutboundMail.purpose == "intro")
        old_dsn = dsn_for(lea_intro, status="4.4.1", action="delayed", diagnostic="smtp; 4.4.1")
        assert store_and_process(ctx, old_dsn) == {"bounce-recorded": 1}

        _at(monkeypatch, "2026-03-09T09:00:00")
        tom = request_mail(BAKER, "Tom <tom@users.test>")
        assert store_and_process(ctx, tom) == {"request-offered": 1}
        tom_ack = OutboundMail.get(
            (OutboundMail.purpose == "ack") & (OutboundMail.recipient == "tom@users.test")
        )
        tom_intro = OutboundMail.get(
            (OutboundMail.purpose == "intro") & (OutboundMail.request == tom_ack.request_id)
        )
        _at(monkeypatch, "2026-03-09T09:30:00")  # the sender died with both handed to SMTP
        OutboundMail.update(status="handed").where(
            OutboundMail.id.in_([tom_ack.id, tom_intro.id])
        ).execute()
        assert recover() == (0, 2)
        _at(monkeypatch, "2026-03-09T10:00:00")  # Marie's address is dead
        assert store_and_process(ctx, dsn_for(lea_intro)) == {"bounce-recorded": 1}
        _at(monkeypatch, "2026-03-09T11:00:00")  # Tom's mailbox is full for now
        full = dsn_for(tom_ack, status="4.2.2", action="delayed", diagnostic="smtp; 452 4.2.2")
        assert store_and_process(ctx, full) == {"bounce-recorded": 1}
        _at(monkeypatch, "2026-03-09T12:00:00")  # delivered after all: no error
        done = dsn_for(tom_ack, status="2.0.0", action="delivered", diagnostic="smtp; 250 ok")
        assert store_and_process(ctx, done) == {"bounce-recorded": 1}
        _at(monkeypatch, "2026-03-09T13:00:00")  # about a mail that is not ours
        stranger = postfix_dsn(
            b"Message-ID: <nobody@elsewhere.test>\r\nSubject: x\r\n\r\n",
            "relay@mailflow.test",
            "someone@elsewhere.test",
        )
        assert store_and_process(ctx, stranger) == {"bounce-unmatched": 1}
        notice = EmailMessage()
        notice["From"] = "MAILER-DAEMON@mx.elsewhere.test"
        notice["To"] = "relay@mailflow.test"
        notice["Subject"] = "Mail delivery failed"
        notice["Message-ID"] = "<notice-1@mx.elsewhere.test>"
        notice["Auto-Submitted"] = "auto-replied"
        notice.set_content("Something went wrong somewhere.")
        assert store_and_process(ctx, bytes(notice)) == {"bounce": 1}

        data = collect_digest(datetime(2026, 3, 10, 8, 0), BANDS)
        lea_request, tom_request = lea_intro.request_id, tom_ack.request_id
        told = [(b.recipient, b.role, b.request_id, b.severity, b.status) for b in data.bounces]
        assert told == [
            ("amb1@pros.test", "ambassador", lea_request, "permanent", "5.1.1"),
            ("tom@users.test", "person", tom_request, "transient", "4.2.2"),
            (None, None, None, "", None),
            (None, None, None, "", None),
        ]
        assert [b.subject for b in data.bounces[2:]] == [
            "Undelivered Mail Returned to Sender",
            "Mail delivery failed",
        ]
        mail = render(PROJECT_ROOT / "templates" / "mails", "digest", digest_view(data, PARIS))
        assert "4 erreurs d'envoi" in mail.subject
        lines = mail.text.splitlines()
        for expected in (
            "ERREURS D'ENVOI (MESSAGES REVENUS EN ERREUR) SUR LA PÉRIODE : 4",
            f"  - 09/03/2026 11:00, amb1@pros.test (ambassadeur, demande n°{lea_request}) : "
            "échec définitif (5.1.1)",
            f"  - 09/03/2026 12:00, tom@users.test (personne, demande n°{tom_request}) : "
            "remise retardée, nouvel essai en cours (4.2.2)",
            "  - 09/03/2026 14:00, rapport rattaché à aucun envoi de mailflow, "
            "de mailer-daemon@mail.elsewhere.test : « Undelivered Mail Returned to Sender »",
            "  - 09/03/2026 14:00, rapport rattaché à aucun envoi de mailflow, "
            "de mailer-daemon@mx.elsewhere.test : « Mail delivery failed »",
        ):
            assert expected in lines, expected
        assert "mailer-daemon@mail.pros.test" not in mail.text.lower()
        assert [(i.outbound_id, i.status) for i in data.outbox_issues] == [
            (tom_intro.id, "unconfirmed")
        ]
        for expected in (
            "ENVOIS NON CONFIRMÉS SUR LA PÉRIODE : 1",
            f"  - envoi n°{tom_intro.id} du 09/03/2026 10:30, « intro », à : ambassadeur, "
            f"demande n°{tom_request}",
        ):
            assert expected in lines, expected
        assert f"envoi n°{tom_ack.id} " not in mail.text  # its bounce line says it all
    finally:
        close_context()


def test_figures_as_the_pipeline_and_the_follow_ups_write_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Requests, an escalation and quarantined messages made by the real code paths (no
    hand-made rows), read back by the digest."""
    import mailflow.inbound.pipeline as pipeline
    from mailflow.daemon import run_followups
    from tests.inprocess import close_context, mail_bytes, open_context, store_and_process

    _at(monkeypatch, "2026-03-02T09:00:00")  # Monday
    ctx = open_context(tmp_path, "\n[limits]\nmax_message_bytes = 5000\n")
    try:
        # Inès as a professional pastry cook: another trade nearby, which the default policy
        # allows (rules/matching.toml); her CAP as well (another kind) it would not.
        Ambassador.update(kind="metier").where(Ambassador.email == "amb3@pros.test").execute()
        baker = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen."
        assert store_and_process(ctx, mail_bytes(baker)) == {"request-offered": 1}
        pilot = mail_bytes("Je voudrais devenir pilote de ligne.", "Tom <tom@users.test>")
        assert store_and_process(ctx, pilot) == {"request-unmatched": 1}
        for day in ("2026-03-11", "2026-03-20", "2026-03-31"):  # Marie, Julien, Inès silent
            _at(monkeypatch, f"{day}T09:00:00")
            run_followups(ctx)
        assert Request.get_by_id(1).state == "unmatched"

        _at(monkeypatch, "2026-03-31T10:00:00")
        big = mail_bytes("x" * 6000, "Zoé <zoe@users.test>", subject="Mon CV")
        assert store_and_process(ctx, big) == {"too-large": 1}

        def explode(*_: object) -> str:
            raise RuntimeError("disk on fire")

        _at(monkeypatch, "2026-03-31T10:30:00")
        with monkeypatch.context() as broken:
            broken.setattr(pipeline, "handle_new_request", explode)
            hurt = mail_bytes(baker, "Paul <paul@users.test>", subject="Stage")
            assert store_and_process(ctx, hurt) == {"quarantined": 1}
        _at(monkeypatch, "2026-03-31T11:00:00")
        assert store_and_process(ctx, mail_bytes(baker, "Ana <ana@users.test>")) == {
            "request-offered": 1
        }

        data = collect_digest(datetime(2026, 3, 31, 12, 0), BANDS)
        assert [(e.request_id, e.state) for e in data.escalations] == [(1, "unmatched")]
        assert data.escalations[0].escalated_at == datetime(2026, 3, 31, 9, 0)
        assert data.new_in_period == 1
        assert data.unmatched_total == 2
        assert data.unmet_demand == [
            ("Boulanger / Boulangère", "Caen", 1),
            ("Pilote de ligne", "lieu non précisé", 1),
        ]
        assert data.open_by_state == {"offered": 1, "unmatched": 2}
        assert [(q.sender, q.subject) for q in data.quarantined] == [
            ("zoe@users.test", "Mon CV"),
            ("paul@users.test", "Stage"),  # read from the message: the rollback kept none
        ]
        assert data.quarantined[0].reason.startswith("too large")
        assert "disk on fire" in data.quarantined[1].reason
    finally:
        close_context()


def test_spam_and_strangers_as_the_pipeline_records_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spam and refused strangers made by the real code paths: seven strangers on relay
    addresses (the default cap answers five), one of them twice, and spam from a party."""
    from tests.db.test_ratelimit import unknown_token
    from tests.inprocess import close_context, mail_bytes, open_context, store_and_process

    _at(monkeypatch, "2026-03-09T08:00:00")  # before the period: not counted
    ctx = open_context(tmp_path)
    try:
        assert store_and_process(ctx, mail_bytes("Je voudrais rencontrer une boulangère.")) == {
            "request-offered": 1
        }
        old = mail_bytes("hello", "old@spam.test", unknown_token(0))
        assert store_and_process(ctx, old) == {"refused-unknown-token": 1}
        _at(monkeypatch, "2026-03-09T10:00:00")
        conv = Conversation.get()
        to_ambassador = f"relay+{conv.person_token}@mailflow.test"
        strangers = [
            mail_bytes(f"Bonjour {i}", f"s{i}@spam.test", unknown_token(i + 1)) for i in range(5)
        ]
        strangers.append(mail_bytes("Bonjour", "S0@spam.test", to_ambassador))
        strangers.append(mail_bytes("Bonjour", "s9@spam.test", to_ambassador))
        assert store_and_process(ctx, *strangers) == {
            "refused-unknown-token": 5,
            "refused-stranger": 2,
        }
        spam = mail_bytes("Promo", "Léa Martin <lea@users.test>", to_ambassador, X_Spam_Flag="YES")
        junk = mail_bytes("Promo", "bulk@spam.test", X_Spam_Flag="YES")
        assert store_and_process(ctx, spam, junk) == {"spam": 2}

        data = collect_digest(datetime(2026, 3, 10, 8, 0), BANDS)
        # the cap (5 in 24 h) counts the refusal sent before the period too
        assert data.strangers == StrangerFigures(
            messages=7, unknown_address=5, senders=6, over_cap=3
        )
        assert data.spam == SpamFigures(total=2, request_ids=[conv.request_id])
        mail = render(PROJECT_ROOT / "templates" / "mails", "digest", digest_view(data, PARIS))
        lines = mail.text.splitlines()
        for expected in (
            "MESSAGES D'INCONNUS REFUSÉS SUR DES ADRESSES RELAIS : 7",
            "  - expéditeurs différents : 6",
            "  - dont sur une adresse relais qui n'existe pas : 5",
            "  - restés sans réponse, plafond quotidien de refus atteint : 3",
            "SPAM SUR LA PÉRIODE (SIGNALÉ PAR LE FILTRE DU SERVEUR DE RÉCEPTION) : 2",
            f"demande n°{conv.request_id}",
        ):
            assert expected in lines, expected
    finally:
        close_context()


def test_rules_written_before_the_time_zone_still_load(tmp_path: Path) -> None:
    """A deployment's own rules folder from before: `hour_utc`, no age bands."""
    text = (PROJECT_ROOT / "rules" / "followup.toml").read_text(encoding="utf-8")
    start = text.index("[digest]")
    end = text.index("[scheduler]")
    old = text[:start] + "[digest]\nhour_utc = 6\n\n" + text[end:]
    (tmp_path / "followup.toml").write_text(old, encoding="utf-8")
    policy = load_policy(tmp_path)
    assert policy.digest_hour == 6
    assert policy.digest_age_bands == BANDS
