"""The newsletter on the real mail stack: killed half-way, run again, nobody mailed twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.deployment import Deployment, query
from tests.mailstack import message_ids, wait_queue_empty

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


def sent_events(dep: Deployment, kind: str = "sent") -> dict[str, int]:
    """Message-ID -> how many events of `kind` the newsletter row has."""
    rows = query(
        dep,
        "SELECT o.message_id, COUNT(*) FROM event e JOIN outbound_mail o"
        " ON o.id = e.outbound_id WHERE e.kind = ? AND o.purpose = 'newsletter'"
        " GROUP BY o.message_id",
        (kind,),
    )
    return dict(rows)


def unconfirmed_note(caught: int) -> str:
    """How the summary ends when a kill left `caught` rows unconfirmed: said, never hidden."""
    if not caught:
        return ""
    return (
        f", {caught} unconfirmed (handed to SMTP by a run that stopped before the server's "
        "answer: not sent again, see mailflow log)"
    )


def assert_killed_half_way(dep: Deployment, arrived: int) -> int:
    """What the kill left: every row queued, `arrived` of them at least handed to SMTP, not
    all sent. The sender is serial, so the kill caught at most one row in its SMTP
    transaction: `sending` (sent again on resume) or `handed`, its 250 read or not (never
    sent again: `unconfirmed`, transport/send.py). Returns how many rows were `handed`."""
    rows = campaign_rows(dep)
    assert len(rows) == 9  # everything was queued before the first mail left
    statuses = Counter(status for _, _, status, _ in rows)
    assert set(statuses) <= {"queued", "sending", "handed", "sent"}, statuses
    assert statuses["sending"] + statuses["handed"] <= 1, statuses
    handed = statuses["sent"] + statuses["handed"]
    assert arrived <= handed < 9, f"the run was not killed half-way: {statuses}"
    return statuses["handed"]


def assert_mailed_once(dep: Deployment, kills: int = 1) -> dict[str, int]:
    """Every `sent` newsletter row is in its ambassador's inbox exactly once, handed to SMTP
    once (one `sent` event); a row a kill left `handed` is `unconfirmed` (at most one per
    kill, each with its `send-unconfirmed` event), never sent again, and in its inbox at
    most once. Returns ambassador -> how many newsletters they hold."""
    rows = campaign_rows(dep)
    statuses = Counter(status for _, _, status, _ in rows)
    assert set(statuses) <= {"sent", "unconfirmed"}, statuses
    assert statuses["unconfirmed"] <= kills, statuses
    for _, recipient, status, message_id in rows:
        if status == "sent":
            dep.stack.wait_for(recipient, lambda m, mid=message_id: m["Message-ID"] == mid)
    wait_queue_empty(dep.stack)  # a second copy of anything would be delivered by now
    sent = sent_events(dep)
    unconfirmed = sent_events(dep, "send-unconfirmed")
    held = {a: Counter(message_ids(dep.stack, a)) for a in AMBASSADORS}
    for _, recipient, status, message_id in rows:
        copies = held[recipient][message_id]
        if status == "sent":
            assert copies == 1 and sent.get(message_id) == 1, (recipient, copies, sent)
        else:
            assert copies <= 1 and message_id not in sent, (recipient, copies, sent)
            assert unconfirmed.get(message_id) == 1, (recipient, unconfirmed)
    assert all(n == 1 for counts in held.values() for n in counts.values()), held
    return {a: sum(counts.values()) for a, counts in held.items()}


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

    caught = assert_killed_half_way(dep, arrived=3)
    for _, recipient, status, _ in campaign_rows(dep):  # what SMTP accepted does arrive
        if status == "sent":
            dep.stack.wait_for(recipient)

    again = dep.cli("newsletter", "send", "exemple", "--per-minute", "0")
    assert f"0 queued now, 9 earlier; {9 - caught} sent" in again.stdout
    assert again.stdout.rstrip().endswith("0 failed" + unconfirmed_note(caught))

    rows = {recipient: message_id for _, recipient, _, message_id in campaign_rows(dep)}
    assert set(rows) == set(AMBASSADORS)
    assert_mailed_once(dep)  # each row handed to SMTP once
    for ambassador in AMBASSADORS:
        for copy in dep.stack.fetch_all(ambassador):  # none only for an unconfirmed row
            assert copy["Subject"] == SUBJECT and copy["Message-ID"] == rows[ambassador]
            assert copy["Auto-Submitted"] == "auto-generated"
            body = copy.get_body(("plain",)).get_content()
            assert body.startswith("Bonjour ") and "PAUSE" in body


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
    wait_queue_empty(dep.stack)  # anything sent to them would be delivered by now
    assert dep.stack.imap_count("amb2@pros.test") == 0
    assert dep.stack.imap_count("amb3@pros.test") == 0
    missing = dep.cli("newsletter", "send", "absente", check=False)
    assert missing.returncode == 2 and "exemple" in missing.stderr


def newsletter_at(dep: Deployment, now: str, *args: str) -> subprocess.CompletedProcess[str]:
    return dep.cli("newsletter", "send", "exemple", *args, check=False, env={"MAILFLOW_NOW": now})


def test_a_run_killed_before_midnight_resumes_after_it_without_mailing_anyone_twice(
    deployment: Deployment,
) -> None:
    dep = deployment
    command = [sys.executable, "-m", "mailflow", "--config", str(dep.config)]
    first = subprocess.Popen(
        [*command, "newsletter", "send", "exemple", "--per-minute", "60"],
        cwd=dep.config.parent,
        env={**os.environ, "MAILFLOW_NOW": "2026-03-02T23:59:00"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while sum(inbox_counts(dep).values()) < 2:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first newsletter mails never arrived"
            time.sleep(0.1)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    caught = assert_killed_half_way(dep, arrived=2)

    # the same command two minutes later, on the next day: the same campaign, resumed
    again = newsletter_at(dep, "2026-03-03T00:01:00", "--per-minute", "0")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        "newsletter exemple-2026-03-02: resuming the unfinished campaign of this template, "
        "started 2026-03-02 23:59 UTC",
        f"newsletter exemple-2026-03-02: 0 queued now, 9 earlier; {9 - caught} sent, 0 waiting"
        " for a retry, 0 failed" + unconfirmed_note(caught),
    ]
    first_copies = assert_mailed_once(dep)

    # once more, finished: refused, in one line, nothing queued
    third = newsletter_at(dep, "2026-03-03T00:05:00")
    assert third.returncode == 2 and third.stdout == ""
    assert third.stderr == (
        "mailflow: newsletter exemple-2026-03-02 is finished (its last mail at 2026-03-03 00:01"
        " UTC): to send this template again within 24 hours, name a new campaign with "
        "--campaign NAME\n"
    )
    assert len(campaign_rows(dep)) == 9
    assert assert_mailed_once(dep) == first_copies

    # a month later the same template is a new campaign, for everyone again
    later = newsletter_at(dep, "2026-04-02T09:00:00", "--per-minute", "0")
    assert later.returncode == 0, later.stderr
    assert later.stdout == (
        "newsletter exemple-2026-04-02: 9 queued now, 0 earlier; 9 sent, 0 waiting for a "
        "retry, 0 failed\n"
    )
    assert assert_mailed_once(dep) == {a: n + 1 for a, n in first_copies.items()}
    actions = json.loads(dep.cli("log", "--actions", "--json").stdout)["actions"]
    started = [a["cause"] for a in actions if a["kind"] == "newsletter"]
    assert [c.split(" (")[0] for c in started] == [
        "newsletter exemple-2026-03-02",
        "newsletter exemple-2026-04-02",
    ]


def test_a_mail_left_unconfirmed_by_a_crash_is_in_the_summary_and_not_sent_again(
    deployment: Deployment,
) -> None:
    """Killed (crash point) just after Postfix's 250 for the third mail, before `sent` is
    committed: the resumed run finds that row `unconfirmed`, says so in its summary and
    does not hand it to SMTP again; every ambassador holds one copy."""
    dep = deployment
    crashed = dep.cli(
        "newsletter", "send", "exemple", "--campaign", "crash", "--per-minute", "0",
        check=False, env={"MAILFLOW_CRASH_AT": "accepted:3"},
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed
    again = dep.cli("newsletter", "send", "exemple", "--campaign", "crash", "--per-minute", "0")
    assert again.stdout.splitlines() == [
        "newsletter crash: 0 queued now, 9 earlier; 8 sent, 0 waiting for a retry, 0 failed"
        + unconfirmed_note(1)
    ]
    copies = assert_mailed_once(dep)
    assert sorted(copies.values()) == [1] * 9  # the unconfirmed one did arrive, once
