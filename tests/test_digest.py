"""The coordinator's digest on a known data set: every figure, then the rendered mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailflow.compose import render
from mailflow.config import PROJECT_ROOT
from mailflow.db import open_database
from mailflow.digest import (
    Bounce,
    DigestData,
    Escalation,
    Quarantined,
    collect_digest,
    digest_view,
    shorten,
)
from mailflow.models import InboundMessage, Person, Request, database

NOW = datetime(2026, 3, 10, 9, 0)  # a Tuesday, naive UTC
H = timedelta(hours=1)
D = timedelta(days=1)
S = timedelta(seconds=1)
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


BAKER = {"code_rome": "D1102", "rome_label": "Boulanger"}
CARE = {"code_rome": "J1501", "rome_label": "Aide-soignant"}


@pytest.fixture
def known(db: None) -> None:
    """16 open requests, 3 finished ones, 8 inbound messages; expected figures in the tests."""
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

    add_inbound(
        101,
        2 * H,
        outcome="bounce",
        status="processed",
        sender="MAILER-DAEMON@mail.example.org",
        subject="Undelivered Mail Returned to Sender",
    )
    add_inbound(102, 25 * H, outcome="bounce", status="processed", sender="old@example.org")
    add_inbound(103, 24 * H, outcome="bounce", status="processed", sender="edge@example.org")
    add_inbound(104, 1 * H, outcome="auto-reply", status="processed", sender="lea@users.test")
    add_inbound(
        105,
        23 * H,
        outcome="bounce",
        status="processed",
        sender="postmaster@example.net",
        subject="Delivery Status Notification",
    )
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


@pytest.fixture
def data(known: None) -> DigestData:
    return collect_digest(NOW)


def test_day(data: DigestData) -> None:
    assert data.day == date(2026, 3, 10)


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


def test_new_requests_in_the_last_24_hours(data: DigestData) -> None:
    # 1, 9 and 14 (closed since); 16 and 17 are exactly 24 h old: outside the window.
    assert data.new_last_24h == 3


def test_escalations_of_the_last_24_hours(data: DigestData) -> None:
    # 8 escalated exactly 24 h ago and 7 two weeks ago: outside. 14 is closed but was escalated.
    assert data.escalations == [
        Escalation(9, "dresseur de chevaux", "département 61", "unmatched", NOW - 24 * H + S),
        Escalation(14, "Boulanger", "lieu non précisé", "closed", NOW - 2 * H),
        Escalation(10, "inconnu", "lieu non précisé", "unmatched", NOW - 1 * H),
    ]
    assert data.unmatched_total == 8


def test_unmet_demand_grouped_by_trade_and_place(data: DigestData) -> None:
    assert data.unmet_demand == [
        ("Aide-soignant", "Lyon", 2),
        ("Boulanger", "Caen", 2),
        ("inconnu", "lieu non précisé", 2),  # 10 (NULLs) and 19 (empty strings)
        ("Boulanger", "département 14", 1),
        ("dresseur de chevaux", "département 61", 1),
    ]


def test_bounces_of_the_last_24_hours(data: DigestData) -> None:
    # 102 (25 h) and 103 (exactly 24 h) are outside; 104 is an auto-reply.
    assert data.bounces == [
        Bounce(105, NOW - 23 * H, "postmaster@example.net", "Delivery Status Notification"),
        Bounce(
            101,
            NOW - 2 * H,
            "MAILER-DAEMON@mail.example.org",
            "Undelivered Mail Returned to Sender",
        ),
    ]


def test_every_quarantined_message_whatever_its_age(data: DigestData) -> None:
    shortened = "ValueError: " + "x" * 107 + "…"
    assert len(shortened) == 120
    assert data.quarantined == [
        Quarantined(106, NOW - 3 * D, "tom@users.test", "Bonjour", shortened),
        Quarantined(107, NOW - 1 * H, "zoe@users.test", "Stage", "KeyError: 'x'"),
    ]


def test_shorten() -> None:
    assert shorten(None) == ""
    assert shorten("a  b\n c") == "a b c"
    assert shorten("abcdef", 4) == "abc…"
    assert shorten("abcd", 4) == "abcd"


def test_empty_database(db: None) -> None:
    data = collect_digest(NOW)
    assert data.open_by_state == {}
    assert data.open_total == 0
    assert list(data.open_by_age.values()) == [0, 0, 0, 0]
    assert (data.escalations, data.unmet_demand, data.bounces, data.quarantined) == ([], [], [], [])
    assert data.unmatched_total == data.new_last_24h == 0
    mail = render(PROJECT_ROOT / "templates" / "mails", "digest", digest_view(data))
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
    ):
        assert line in mail.text


def test_rendered_mail(data: DigestData) -> None:
    mail = render(PROJECT_ROOT / "templates" / "mails", "digest", digest_view(data))
    assert mail.subject == (
        "[mailflow] Synthèse du 10/03/2026 : 16 demandes ouvertes, 8 sans ambassadeur, "
        "3 escalades, 2 erreurs d'envoi, 2 en quarantaine"
    )
    lines = mail.text.splitlines()
    for expected in (
        "Voici la synthèse de mailflow du 10/03/2026 à 09:00 (heure UTC).",
        "DEMANDES OUVERTES : 16",
        "  - nouvelle, pas encore traitée : 1",
        "  - proposée, sans réponse de l'ambassadeur : 2",
        "  - sans ambassadeur : 8",
        "  - moins de 3 jours : 6",
        "  - 3 à 7 jours : 4",
        "  - 8 à 14 jours : 3",
        "  - plus de 14 jours : 3",
        "Nouvelles demandes en 24 h : 3",
        "ESCALADES EN 24 H : 3",
        "  - n°9 dresseur de chevaux, département 61 : escaladée le 09/03/2026 09:00, "
        "état actuel : sans ambassadeur",
        "  - n°14 Boulanger, lieu non précisé : escaladée le 10/03/2026 07:00, état actuel : close",
        "Demandes toujours sans ambassadeur : 8",
        "  - Aide-soignant, Lyon : 2",
        "  - Boulanger, département 14 : 1",
        "ERREURS D'ENVOI (MESSAGES REVENUS EN ERREUR) EN 24 H : 2",
        "  - 10/03/2026 07:00, de MAILER-DAEMON@mail.example.org : "
        "« Undelivered Mail Returned to Sender »",
        "MESSAGES EN QUARANTAINE (À EXAMINER) : 2",
        "  - message n°106 reçu le 07/03/2026 09:00, de tom@users.test : « Bonjour »",
        "    motif : KeyError: 'x'",
    ):
        assert expected in lines, expected
    # Lines in the digest's order: unmet demand sorted by count, then by label.
    unmet = [line for line in lines if line.startswith("  - ") and line.endswith((": 2", ": 1"))]
    assert unmet.index("  - Aide-soignant, Lyon : 2") < unmet.index("  - Boulanger, Caen : 2")
    for empty in ("Aucune escalade.", "Aucune erreur d'envoi.", "Aucun message en quarantaine."):
        assert empty not in mail.text
    assert "x" * 108 not in mail.text  # the long reason is shortened
