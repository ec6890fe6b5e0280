"""Erasure end to end, on the real mail stack: the daemon's retention leaves no old row
version behind in the database's files."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from mailflow.models import ALL_MODELS
from tests.deployment import RELAY, Deployment, query
from tests.privacy_support import file_traces
from tests.testdb import POSTGRESQL

PERSON = "person1@users.test"
OTHER = "person2@users.test"
STRANGER = "stranger@users.test"
MARIE = "amb1@pros.test"
ASK = "Bonjour, j'ai 13 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
ASK_OTHER = "Bonjour, j'ai 17 ans, je voudrais rencontrer un plombier près de Bayeux.\nTom"
PILOT = "Bonjour, j'ai 17 ans et je voudrais rencontrer un pilote de ligne à Rouen."
UNKNOWN_TOKEN = "relay+" + "a" * 24 + "@mailflow.test"


def rows_holding(dep: Deployment, needle: str) -> list[str]:
    """Every table row (text or bytes) holding `needle`, read the way another process would."""
    found = []
    for model in ALL_MODELS:
        table = model._meta.table_name
        for row in query(dep, f"SELECT * FROM {table}"):
            for value in row:
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
                if isinstance(text, str) and needle.lower() in text.lower():
                    found.append(f"{table}: {row[0]}")
    return found


T0 = "2026-03-02T09:00:00"
A_YEAR_ON = "2027-03-03T09:00:00"  # retention_days = 365 (the default)


def test_daemon_retention_leaves_no_old_row_version(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PERSON, RELAY, "Demande", PILOT)  # unmatched: nobody flies
    mail.send_text(STRANGER, UNKNOWN_TOKEN, "Coucou", "Qui est derrière cette adresse ?")
    out = dep.deliver_and_run(count=2, now=T0)
    assert "request-unmatched: 1" in out and "refused-unknown-token: 1" in out
    mail.send_text(OTHER, RELAY, "Demande", ASK_OTHER)
    dep.deliver_and_run(now="2027-03-02T09:00:00")  # live at the purge
    assert rows_holding(dep, PERSON) and rows_holding(dep, STRANGER)
    started = datetime.now(UTC)
    files = relfilenodes(dep) if POSTGRESQL else {}

    out = dep.run_once(A_YEAR_ON)  # the daemon's cycle: follow-ups, retention included
    assert "anonymised: 1" in out
    for needle in (PERSON, STRANGER):
        assert rows_holding(dep, needle) == []
        assert file_traces(dep.config, needle) == []  # no old row version in the files
    assert query(dep, "SELECT state FROM request WHERE id = 1") == [("expired",)]
    if POSTGRESQL:  # VACUUM FULL ran after the retention's commit: tables rewritten
        after = relfilenodes(dep)
        assert all(after[t] != files[t] for t in TABLES), (files, after)
        assert analysed_since(dep, started)


TABLES = ("person", "request", "conversation", "inbound_message", "outbound_mail", "event")


def relfilenodes(dep: Deployment) -> dict[str, int]:
    """PostgreSQL: the file behind each table holding personal data; VACUUM FULL rewrites
    a table into a new file, so a changed node proves it ran."""
    marks = ", ".join("?" for _ in TABLES)
    rows = query(
        dep,
        "SELECT relname, relfilenode FROM pg_class "
        f"WHERE relnamespace = 'public'::regnamespace AND relname IN ({marks})",
        TABLES,
    )
    return dict(rows)


def analysed_since(dep: Deployment, since: datetime, timeout: float = 10.0) -> bool:
    """PostgreSQL: every table holding personal data analysed after `since` (the ANALYZE of
    `VACUUM (FULL, ANALYZE)`). Statistics reach the views shortly after the daemon's
    session ends: polled, with a bound."""
    marks = ", ".join("?" for _ in TABLES)
    deadline = time.monotonic() + timeout
    while True:
        rows = query(
            dep,
            f"SELECT relname, last_analyze FROM pg_stat_user_tables WHERE relname IN ({marks})",
            TABLES,
        )
        if len(rows) == len(TABLES) and all(at is not None and at >= since for _, at in rows):
            return True
        if time.monotonic() >= deadline:
            raise AssertionError(f"not analysed since {since}: {rows}")
        time.sleep(0.2)
