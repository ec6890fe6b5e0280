"""kill -9 the real daemon again and again: nothing lost, nothing processed or sent twice.

A subprocess `mailflow run` works through a few hundred requests (and, half-way, persons'
replies through their relay addresses) on the real Postfix + Dovecot. It is killed with
SIGKILL at seeded random points, restarted each time, and a final `run --once` drains what
is left. Then, from the database and the recipients' real inboxes:

* every mail the test sent is stored exactly once, and processed exactly once;
* every outgoing row is `sent`;
* no inbox holds the same Message-ID twice.

send.py never hands a row to SMTP twice: a row found `handed` after a kill (its final "."
may have been read by the server) is not sent again but logged `send-unconfirmed`; a row
found `sending` (DATA not ended, so the server dropped it) is sent again, `send-recovered`.
The kills are not steered away from any window; the test measures both counts, prints them
and names them in any failure. A duplicate fails the test; so does an unconfirmed mail
that never arrived (the loss that at-most-once could cause).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from email.utils import parseaddr
from pathlib import Path

from tests.deployment import RELAY, Deployment, query, start_daemon
from tests.mailstack import message_ids, send_batch, text_message, wait_count

SEED = int(os.environ.get("MAILFLOW_CRASH_SEED", "20260302"))  # another seed: other kill points
REQUESTS = 240
RELAYED = 40
KILLS = 12
ASKS = [
    "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.",
    "Bonjour, je suis au chômage et je cherche un plombier près de Bayeux.",
    "Bonjour, je voudrais faire une VAE d'aide-soignante dans la Manche.",
    "Bonjour, je suis en terminale, le CAP pâtissier à Caen m'intéresse.",
    "Bonjour, je voudrais parler avec un développeur web à Cherbourg.",
    "Bonjour, j'aimerais rencontrer une coiffeuse à Caen, j'ai 14 ans.",
    "Bonjour, je suis salarié et je voudrais devenir infirmier, vers Alençon.",
    "Bonjour, je cherche quelqu'un qui fait le BTS domotique à Évreux.",
    "Bonjour, je voudrais devenir pilote de ligne à Marseille.",
]


def _requests(rng: random.Random) -> list[tuple[str, str, object]]:
    batch = []
    for n in range(REQUESTS):
        person = f"person{n % 9 + 1}@users.test"
        body = f"{rng.choice(ASKS)}\nMerci ! (demande {n})"
        batch.append((person, RELAY, text_message(person, RELAY, f"Demande {n}", body)))
    return batch


def _relay_replies(dep: Deployment, limit: int) -> list[tuple[str, str, object]]:
    """Persons answer the mails that reached them from a masked relay address."""
    replies = []
    for p in range(1, 10):
        person = f"person{p}@users.test"
        for msg in dep.stack.fetch_all(person):
            relay_address = parseaddr(str(msg["From"]))[1]
            if not relay_address.startswith("relay+") or len(replies) >= limit:
                continue
            reply = text_message(person, relay_address, f"Re: {msg['Subject']}", "Merci !")
            reply["In-Reply-To"] = str(msg["Message-ID"])
            replies.append((person, relay_address, reply))
    return replies


def _wait_connected(log_file: Path, starts: int, timeout: float = 30.0) -> None:
    """Until the daemon started `starts` times has logged its connection (bounded)."""
    deadline = time.monotonic() + timeout
    while log_file.read_text(errors="replace").count("connected to the mailbox") < starts:
        assert time.monotonic() < deadline, log_file.read_text(errors="replace")[-3000:]
        time.sleep(0.05)


def test_kill_9_at_random_points_loses_nothing_and_sends_nothing_twice(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep, mail = deployment, deployment.stack
    rng = random.Random(SEED)
    batch = _requests(rng)
    send_batch(mail, batch)
    wait_count(mail, RELAY, REQUESTS, timeout=60)
    sent_ids = [str(msg["Message-ID"]) for _, _, msg in batch]

    log_file = tmp_path / "daemon.log"
    kills = 0
    for life in range(1, KILLS + 1):
        daemon = start_daemon(dep, log_file)
        try:
            _wait_connected(log_file, life)
            time.sleep(rng.uniform(0.3, 1.5))  # the kill point (seeded), not a wait
        finally:
            daemon.kill()  # SIGKILL: no cleanup at all
            daemon.wait(timeout=30)
        kills += 1
        if life == KILLS // 2:  # half-way: persons answer through their relay addresses
            replies = _relay_replies(dep, RELAYED)
            send_batch(mail, replies)
            sent_ids += [str(msg["Message-ID"]) for _, _, msg in replies]

    for _ in range(10):  # drain; each run is bounded, and so is the loop
        dep.run_once()
        left = query(
            dep, "SELECT count(*) FROM outbound_mail WHERE status IN ('queued', 'sending')"
        )[0][0]
        waiting = mail.imap_count(RELAY)
        if not left and not waiting:
            break
    daemon_log = log_file.read_text(errors="replace")

    # Every mail the test sent: stored once, processed once.
    stored = Counter(mid for (mid,) in query(dep, "SELECT message_id FROM inbound_message"))
    assert sorted(stored) == sorted(sent_ids), "stored Message-IDs differ from those sent"
    assert max(stored.values()) == 1, [mid for mid, n in stored.items() if n > 1]
    statuses = Counter(s for (s,) in query(dep, "SELECT status FROM inbound_message"))
    assert statuses == {"processed": len(sent_ids)}, statuses
    processed = Counter(
        i for (i,) in query(dep, "SELECT inbound_id FROM event WHERE kind = 'processed'")
    )
    twice = {i: n for i, n in processed.items() if n != 1}
    assert len(processed) == len(sent_ids) and not twice, f"processed more than once: {twice}"
    duplicates_outcome = query(
        dep, "SELECT count(*) FROM inbound_message WHERE outcome = 'duplicate'"
    )[0][0]
    assert duplicates_outcome == 0

    # Every outgoing row sent, and each recipient holds each Message-ID exactly once.
    outbound = query(dep, "SELECT recipient, message_id, status FROM outbound_mail")
    assert Counter(s for _, _, s in outbound) == {"sent": len(outbound)}
    recovered = query(dep, "SELECT count(*) FROM event WHERE kind = 'send-recovered'")[0][0]
    unconfirmed = query(dep, "SELECT count(*) FROM event WHERE kind = 'send-unconfirmed'")[0][0]
    per_recipient: dict[str, list[str]] = {}
    for recipient, mid, _ in outbound:
        per_recipient.setdefault(recipient, []).append(mid)
    duplicates: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for recipient, expected in per_recipient.items():
        wait_count(mail, recipient, len(expected), timeout=60)
        held = Counter(message_ids(mail, recipient))
        duplicates.update({recipient: [m for m, n in held.items() if n > 1]} if held else {})
        missing[recipient] = [m for m in expected if m not in held]
    duplicates = {r: d for r, d in duplicates.items() if d}
    missing = {r: m for r, m in missing.items() if m}
    figures = (
        f"{kills} kills -9, {len(sent_ids)} inbound mails, {len(outbound)} outgoing mails; "
        f"{recovered} row(s) found 'sending' after a kill and sent again; "
        f"{unconfirmed} found 'handed' (not sent again); "
        f"{sum(len(d) for d in duplicates.values())} duplicate(s) delivered"
    )
    print(figures)
    assert not missing, f"{figures}; never delivered (lost): {missing}"
    assert not duplicates, f"{figures}; duplicates: {duplicates}"
    assert "Traceback" not in daemon_log, daemon_log[-3000:]
