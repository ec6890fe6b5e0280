"""The newsletter on the real mail stack: killed half-way, run again, nobody mailed twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.deployment import Deployment, query

AMBASSADORS = [f"amb{n}@pros.test" for n in range(1, 10)]
SUBJECT = "Des nouvelles du réseau des ambassadeurs"


def inbox_counts(dep: Deployment) -> dict[str, int]:
    return {a: dep.stack.imap_count(a) for a in AMBASSADORS}


def campaign_rows(dep: Deployment) -> list[tuple[str, str, str, int]]:
    """(key, recipient, status, message_id) of every newsletter row, read beside mailflow."""
    return query(
        dep,
        "SELECT idempotency_key, recipient, status, message_id FROM outbound_mail"
        " WHERE purpose = 'newsletter' ORDER BY id",
    )


def sent_events(dep: Deployment) -> dict[int, int]:
    rows = query(
        dep,
        "SELECT e.outbound_id, COUNT(*) FROM event e JOIN outbound_mail o"
        " ON o.id = e.outbound_id WHERE e.kind = 'sent' AND o.purpose = 'newsletter'"
        " GROUP BY e.outbound_id",
    )
    return dict(rows)


def test_killed_campaign_resumes_without_mailing_anyone_twice(deployment: Deployment) -> None:
    dep = deployment
    command = [sys.executable, "-m", "mailflow", "--config", str(dep.config)]
    # 60 a minute: one mail a second, slow enough to kill the run in the middle.
    first = subprocess.Popen(
        [*command, "newsletter", "send", "exemple", "--per-minute", "60"],
        cwd=dep.config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(inbox_counts(dep).values()) < 3:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first newsletter mails never arrived"
            time.sleep(0.1)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()

    rows = campaign_rows(dep)
    assert len(rows) == 9  # everything was queued before the first mail left
    sent_before = [r for r in rows if r[2] == "sent"]
    assert 3 <= len(sent_before) < 9, "the run was not killed half-way"
    for _, recipient, _, _ in sent_before:  # what was handed to SMTP does arrive
        dep.stack.wait_for(recipient)

    again = dep.cli("newsletter", "send", "exemple", "--per-minute", "0")
    assert "0 queued now, 9 earlier; 9 sent" in again.stdout

    for ambassador in AMBASSADORS:
        dep.stack.wait_for(ambassador)
    rows = {recipient: message_id for _, recipient, _, message_id in campaign_rows(dep)}
    assert set(rows) == set(AMBASSADORS)
    for ambassador in AMBASSADORS:
        [copy] = dep.stack.fetch_all(ambassador)
        assert copy["Subject"] == SUBJECT and copy["Message-ID"] == rows[ambassador]
        assert copy["Auto-Submitted"] == "auto-generated"
        body = copy.get_body(("plain",)).get_content()
        assert body.startswith("Bonjour ") and "PAUSE" in body
    assert sorted(sent_events(dep).values()) == [1] * 9  # each row handed to SMTP once


def test_only_active_reachable_ambassadors_and_explicit_campaign(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    query(dep, "UPDATE ambassador SET bounce_state = 'failing' WHERE email = 'amb2@pros.test'")
    query(
        dep,
        "UPDATE ambassador SET active = FALSE, left_at = '2026-01-01 00:00:00'"
        " WHERE email = 'amb3@pros.test'",
    )
    query(dep, "UPDATE ambassador SET paused = TRUE WHERE email = 'amb4@pros.test'")
    template = tmp_path / "printemps.txt"
    template.write_text(
        "Subject: Printemps {{ campaign }}\nBonjour {{ ambassador.first_name }} !\n",
        encoding="utf-8",
    )
    out = dep.cli(
        "newsletter", "send", str(template), "--campaign", "spring", "--per-minute", "0"
    ).stdout
    assert "spring: 7 queued now, 0 earlier; 7 sent" in out
    [marie] = dep.stack.wait_for("amb1@pros.test")
    assert marie["Subject"] == "Printemps spring"
    assert "Bonjour Marie !" in marie.get_body(("plain",)).get_content()
    dep.stack.wait_for("amb4@pros.test")  # paused: still part of the network
    out = dep.cli("newsletter", "send", str(template), "--campaign", "spring").stdout
    assert "0 queued now, 7 earlier; 7 sent" in out  # nothing sent twice
    kinds = [
        k for (k,) in query(dep, "SELECT kind FROM event WHERE kind LIKE 'newsletter%' ORDER BY id")
    ]
    assert kinds == ["newsletter", "newsletter-resumed"]
    assert dep.stack.imap_count("amb2@pros.test") == 0
    assert dep.stack.imap_count("amb3@pros.test") == 0
    missing = dep.cli("newsletter", "send", "absente", check=False)
    assert missing.returncode == 2 and "exemple" in missing.stderr
