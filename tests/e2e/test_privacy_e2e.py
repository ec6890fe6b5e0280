"""Erasure end to end, on the real mail stack: after `person forget` or the daemon's
retention, no folder of the shared mailbox holds the person's mail any more, and the
daemon's retention leaves no old row version behind in the database's files."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parseaddr

from imapclient import IMAPClient

from mailflow.store.models import ALL_MODELS
from tests.deployment import RELAY, Deployment, query, set_config
from tests.mailstack import MailStack, free_port
from tests.privacy_support import file_traces
from tests.testdb import POSTGRESQL

PERSON = "person1@users.test"
OTHER = "person2@users.test"
STRANGER = "stranger@users.test"
MARIE = "amb1@pros.test"
# 16, not 13: a child's request now waits for a parent's consent (test_consent_e2e.py)
ASK = "Bonjour, j'ai 16 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
ASK_OTHER = "Bonjour, j'ai 17 ans, je voudrais rencontrer un plombier près de Bayeux.\nTom"
PILOT = "Bonjour, j'ai 17 ans et je voudrais rencontrer un pilote de ligne à Rouen."
UNKNOWN_TOKEN = "relay+" + "a" * 24 + "@mailflow.test"


def _folders(client: IMAPClient) -> list[str]:
    return [
        name
        for flags, _, name in client.list_folders()
        if not {b"\\Noselect", b"\\NonExistent"} & set(flags)
    ]


def on_server(stack: MailStack, *criteria: str) -> dict[str, int]:
    """How many messages of the shared mailbox match, per folder (every folder there is)."""
    with stack.imap(RELAY) as client:
        found = {}
        for folder in _folders(client):
            client.select_folder(folder, readonly=True)
            found[folder] = len(client.search(list(criteria)))
        return found


def total_on_server(stack: MailStack) -> int:
    return sum(on_server(stack, "ALL").values())


def nowhere(stack: MailStack, *criteria: str) -> bool:
    return not any(on_server(stack, *criteria).values())


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


def test_forget_removes_the_persons_mail_from_every_server_folder(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    with dep.config.open("a", encoding="utf-8") as config:  # a big mail goes to quarantine
        config.write("\n[limits]\nmax_message_bytes = 6000\n")
    sent = [mail.send_text(f"Léa <{PERSON}>", RELAY, "Demande", ASK)]
    mail.send_text(OTHER, RELAY, "Demande", ASK_OTHER)
    dep.deliver_and_run(count=2)
    [intro] = mail.wait_for(MARIE)
    answer = mail.send_text(MARIE, parseaddr(str(intro["From"]))[1], "Re", "Avec plaisir")
    dep.deliver_and_run()
    sent.append(mail.send_text(PERSON, RELAY, "Photos", "Voici mes photos.\n" + "x" * 8000))
    dep.deliver_and_run()
    sent.append(mail.send_text(PERSON, RELAY, "Encore moi", "Vous avez reçu ?"))
    mail.wait_for(RELAY)  # waits in the inbox, not read yet
    before = on_server(mail, "FROM", PERSON)
    assert before["mailflow/processed"] and before["mailflow/quarantine"] and before["INBOX"]
    assert sum(on_server(mail, "HEADER", "Message-ID", answer).values()) == 1
    count = total_on_server(mail)

    out = dep.cli("person", "forget", PERSON).stdout
    removed = int(out.split("server: ")[1].split(" ")[0])
    assert removed == count - total_on_server(mail) == 4  # her 3, and Marie's answer to her
    assert "INBOX, mailflow/processed, mailflow/quarantine" in out
    assert nowhere(mail, "FROM", PERSON) and nowhere(mail, "TEXT", PERSON)
    for message_id in [*sent, answer]:
        assert nowhere(mail, "HEADER", "Message-ID", message_id)
    assert on_server(mail, "FROM", OTHER)["mailflow/processed"] == 1  # someone else's: kept
    assert rows_holding(dep, PERSON) == []
    # Done: nothing is left to do, and the command says it knows nobody by that address.
    again = dep.cli("person", "forget", PERSON, check=False)
    assert again.returncode == 2 and "no person or ambassador" in again.stderr


def test_forget_with_the_mailbox_down_is_finished_by_running_it_again(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PERSON, RELAY, "Demande", ASK)
    dep.deliver_and_run()
    set_config(dep, "mailbox", "port", str(free_port()))  # nothing listens there

    down = dep.cli("person", "forget", PERSON, check=False)
    assert down.returncode == 1 and "person #1 forgotten" in down.stdout
    [line] = down.stderr.strip().splitlines()[-1:]
    assert line.startswith("mailflow: copies of this mail remain on the server")
    assert f"mailflow person forget {PERSON}` again" in line
    assert rows_holding(dep, PERSON) == []  # the database part is done all the same
    assert on_server(mail, "FROM", PERSON)["mailflow/processed"] == 1

    set_config(dep, "mailbox", "port", str(mail.imap_port))  # the mailbox is back
    out = dep.cli("person", "forget", PERSON).stdout
    assert "no person or ambassador holds" in out and "server: 1 message(s) removed" in out
    assert nowhere(mail, "FROM", PERSON)
    events = query(dep, "SELECT count(*) FROM event WHERE kind = 'person-forgotten'")
    assert events == [(1,)]


T0 = "2026-03-02T09:00:00"
EXPIRY = "2026-05-04T09:00:00"  # [unmatched] expire_after_days = 60 (rules/followup.toml)
A_YEAR_ON = "2027-05-05T09:00:00"  # retention_days = 365 (the default) after the expiry


def test_daemon_retention_removes_server_copies_and_leaves_no_old_row_version(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PERSON, RELAY, "Demande", PILOT)  # unmatched: nobody flies
    assert "request-unmatched: 1" in dep.deliver_and_run(now=T0)
    # 60 days unmatched: the request expires and the person is told; a stranger writes.
    mail.send_text(STRANGER, UNKNOWN_TOKEN, "Coucou", "Qui est derrière cette adresse ?")
    out = dep.deliver_and_run(now=EXPIRY)
    assert "refused-unknown-token: 1" in out and "expired-unmatched: 1" in out
    mail.send_text(OTHER, RELAY, "Demande", ASK_OTHER)
    dep.deliver_and_run(now="2027-05-03T09:00:00")  # live at the purge
    assert rows_holding(dep, PERSON) and rows_holding(dep, STRANGER)
    assert on_server(mail, "FROM", PERSON)["mailflow/processed"] == 1
    started = datetime.now(UTC)
    files = relfilenodes(dep) if POSTGRESQL else {}

    out = dep.run_once(A_YEAR_ON)  # the daemon's cycle: follow-ups, retention included
    assert "anonymised: 1" in out and "server copies of erased mail removed 2" in out
    assert nowhere(mail, "FROM", PERSON) and nowhere(mail, "FROM", STRANGER)
    assert on_server(mail, "FROM", OTHER)["mailflow/processed"] == 1
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
