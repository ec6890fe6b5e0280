"""kill -9 the real daemon: nothing lost, nothing processed or sent twice.

Two tests, both on the real Postfix + Dovecot, each followed by a drain (`run --once` until
nothing is left) and the same checks, from the database and the recipients' real inboxes:

* every mail the test sent is stored exactly once, and processed exactly once;
* every outgoing row is `sent`, except those a kill caught between handing them to SMTP and
  recording the server's answer: those are `unconfirmed` (transport/send.py), never sent again;
* every `sent` row is in its recipient's inbox exactly once, an `unconfirmed` one at most
  once, and no inbox holds any Message-ID twice.

1. Named crash points (mailflow/crashpoints.py): the daemon kills itself (SIGKILL) at each
   commit boundary in turn, a fresh batch of requests waiting each time; each kill is
   checked to have interrupted work (the database shows what it left half-way: a message
   stored but not processed, a row `sending`, a row `handed`...), then mailflow is
   restarted (`run --once`) and finishes it before the next point.
   The `handed` point (the final "." never written) must leave an `unconfirmed` mail that
   never arrived; the `accepted` point (250 read, `sent` not committed) an `unconfirmed`
   mail that arrived once. `mailflow log` shows both as `unconfirmed`.
2. Random kills: a few hundred requests (and, half-way, persons' replies through their
   relay addresses), killed after seeded random amounts of work until no work is left. A
   kill counts as effective when work was still pending at that instant; at least
   MIN_EFFECTIVE kills must be, so the test cannot pass by killing an idle daemon.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from email.utils import parseaddr
from pathlib import Path

from mailflow.crashpoints import POINTS, VARIABLE
from tests.deployment import RELAY, Deployment, query, start_daemon
from tests.mailstack import message_ids, send_batch, text_message, wait_count, wait_queue_empty

SEED = int(os.environ.get("MAILFLOW_CRASH_SEED", "20260302"))  # another seed: other kill points
REQUESTS = 240
RELAYED = 40
MAX_LIVES = 60  # random kills: a bound on the loop, far above what the work needs
MIN_EFFECTIVE = 10
PROGRESS_PER_LIFE = (5, 50)  # units of work (_progress) a life does before its kill: small
# enough that a cycle overshooting its target (up to 100 messages) still leaves many lives
PER_POINT = 3  # new requests waiting when the daemon is started towards a crash point
ASKS = [
    "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.",
    "Bonjour, je suis au chômage et je cherche un plombier près de Bayeux.",
    "Bonjour, je voudrais faire une VAE d'aide-soignante dans la Manche.",
    "Bonjour, je suis en terminale, le CAP pâtissier à Caen m'intéresse.",
    "Bonjour, je voudrais parler avec un développeur web à Cherbourg.",
    # 16, not 14: a child's request now waits for a parent's consent (test_consent_e2e.py)
    "Bonjour, j'aimerais rencontrer une coiffeuse à Caen, j'ai 16 ans.",
    "Bonjour, je suis salarié et je voudrais devenir infirmier, vers Alençon.",
    "Bonjour, je cherche quelqu'un qui fait le BTS domotique à Évreux.",
    "Bonjour, je voudrais devenir pilote de ligne à Marseille.",
]
UNFINISHED = "('queued', 'sending', 'handed')"


def _requests(rng: random.Random, count: int, first: int = 0) -> list[tuple[str, str, object]]:
    batch = []
    for n in range(first, first + count):
        person = f"person{n % 9 + 1}@users.test"
        body = f"{rng.choice(ASKS)}\nMerci ! (demande {n})"
        batch.append((person, RELAY, text_message(person, RELAY, f"Demande {n}", body)))
    return batch


def _send(dep: Deployment, batch: list[tuple[str, str, object]]) -> list[str]:
    """Submit the batch and wait until it is in the shared inbox; its Message-IDs."""
    before = dep.stack.imap_count(RELAY)
    send_batch(dep.stack, batch)
    wait_count(dep.stack, RELAY, before + len(batch), timeout=60)
    return [str(msg["Message-ID"]) for _, _, msg in batch]


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


def _count(dep: Deployment, sql: str) -> int:
    return int(query(dep, sql)[0][0])


def _work_left(dep: Deployment) -> str:
    """What is still pending, in words; "" when everything is done."""
    parts = {
        "in the shared inbox": dep.stack.imap_count(RELAY),
        "stored, not processed": _count(
            dep, "SELECT count(*) FROM inbound_message WHERE status = 'stored'"
        ),
        "processed, not moved": _count(
            dep,
            "SELECT count(*) FROM inbound_message WHERE status <> 'stored' AND NOT server_done",
        ),
        "outgoing unfinished": _count(
            dep, f"SELECT count(*) FROM outbound_mail WHERE status IN {UNFINISHED}"
        ),
    }
    return ", ".join(f"{n} {what}" for what, n in parts.items() if n)


def _wait(what: str, done: Callable[[], bool], timeout: float, report: Callable[[], str]) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s\n{report()}"
        time.sleep(0.1)


def _wait_connected(log_file: Path, starts: int, timeout: float = 30.0) -> None:
    """Until the daemon started `starts` times has logged its connection (bounded)."""
    _wait(
        "daemon connected",
        lambda: log_file.read_text(errors="replace").count("connected to the mailbox") >= starts,
        timeout,
        lambda: log_file.read_text(errors="replace")[-3000:],
    )


def _drain(dep: Deployment) -> None:
    """`run --once` until nothing is left (each run is bounded, and so is the loop)."""
    for _ in range(10):
        dep.run_once()
        if not _work_left(dep):
            return
    raise AssertionError(f"work left after 10 runs: {_work_left(dep)}")


def _check_outcome(dep: Deployment, sent_ids: list[str]) -> dict[str, int]:
    """The checks of the module docstring; returns figures for the report."""
    mail = dep.stack
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
    assert _count(dep, "SELECT count(*) FROM inbound_message WHERE outcome = 'duplicate'") == 0

    outbound = query(dep, "SELECT id, recipient, message_id, status FROM outbound_mail")
    by_status = Counter(s for *_, s in outbound)
    assert set(by_status) <= {"sent", "unconfirmed"}, by_status
    unconfirmed_events = {
        i for (i,) in query(dep, "SELECT outbound_id FROM event WHERE kind = 'send-unconfirmed'")
    }
    assert unconfirmed_events == {i for i, *_, s in outbound if s == "unconfirmed"}
    sent_to: dict[str, list[str]] = {}
    for _, recipient, mid, status in outbound:
        if status == "sent":
            sent_to.setdefault(recipient, []).append(mid)
    for recipient, expected in sent_to.items():
        wait_count(mail, recipient, len(expected), timeout=60)
    # An `unconfirmed` mail that arrived counts towards those numbers too, so a `sent` one
    # may still be in Postfix's queue (and so may a duplicate): only an empty queue makes
    # the inboxes final.
    wait_queue_empty(mail, timeout=60)
    duplicates, missing, unconfirmed_arrived = [], [], 0
    held = {r: Counter(message_ids(mail, r)) for r in {r for _, r, _, _ in outbound}}
    for _, recipient, mid, status in outbound:
        n = held[recipient][mid]
        duplicates += [mid] if n > 1 else []
        missing += [mid] if status == "sent" and n == 0 else []
        unconfirmed_arrived += status == "unconfirmed" and n == 1
    figures = {
        "inbound": len(sent_ids),
        "outbound": len(outbound),
        "sent": by_status["sent"],
        "unconfirmed": by_status["unconfirmed"],
        "unconfirmed that arrived": unconfirmed_arrived,
        "send-recovered": _count(dep, "SELECT count(*) FROM event WHERE kind = 'send-recovered'"),
        "duplicates": len(duplicates),
    }
    assert not missing, f"{figures}; sent but never delivered (lost): {missing}"
    assert not duplicates, f"{figures}; delivered twice: {duplicates}"
    return figures


# -- 1. named crash points ------------------------------------------------------------------


def _interrupted(dep: Deployment, point: str) -> tuple[str, int | None]:
    """What the kill at `point` left half-way (asserted), and the outgoing row it caught."""
    stored = _count(dep, "SELECT count(*) FROM inbound_message WHERE status = 'stored'")
    queued = _count(dep, "SELECT count(*) FROM outbound_mail WHERE status = 'queued'")
    rows = {
        s: [i for (i,) in query(dep, "SELECT id FROM outbound_mail WHERE status = ?", (s,))]
        for s in ("sending", "handed")
    }
    unmoved = [
        uid
        for (uid,) in query(
            dep, "SELECT uid FROM inbound_message WHERE status = 'processed' AND NOT server_done"
        )
    ]
    if point == "stored":
        assert stored > 0, "nothing stored and unprocessed at the kill"
        return f"{stored} message(s) stored, not processed", None
    if point == "decided":
        assert queued > 0 and unmoved, "no decision committed with its mails still queued"
        return f"{len(unmoved)} decided, {queued} mail(s) queued, nothing sent or moved", None
    if point == "moved":
        with dep.stack.imap(RELAY) as client:
            client.select_folder("INBOX", readonly=True)
            still = set(client.search(["UID", ",".join(map(str, unmoved))])) if unmoved else set()
        gone = [uid for uid in unmoved if uid not in still]
        assert gone, "no message moved on the server without `server_done`"
        return f"{len(gone)} message(s) moved on the server, not recorded as moved", None
    if point == "sending":
        assert len(rows["sending"]) == 1 and not rows["handed"], rows
        return f"mail #{rows['sending'][0]} `sending`, {queued} more queued", rows["sending"][0]
    assert point in ("handed", "accepted") and len(rows["handed"]) == 1, rows
    return f"mail #{rows['handed'][0]} `handed`, {queued} more queued", rows["handed"][0]


def _timeline_statuses(dep: Deployment) -> dict[int, str]:
    """Outgoing mail id -> status, as `mailflow log --json` shows it in the timelines."""
    data = json.loads(dep.cli("log", "--json").stdout)
    return {
        e["id"]: e["status"]
        for r in data["requests"]
        for e in r["timeline"]
        if e["type"] == "message" and e["direction"] == "out"
    }


def test_kill_9_at_each_named_crash_point_loses_nothing_and_sends_nothing_twice(
    deployment: Deployment, tmp_path: Path
) -> None:
    dep = deployment
    rng = random.Random(SEED)
    sent_ids: list[str] = []
    caught: dict[str, int | None] = {}
    report: list[str] = []
    log_file = tmp_path / "daemon.log"
    for n, point in enumerate(POINTS):
        sent_ids += _send(dep, _requests(rng, PER_POINT, first=n * PER_POINT))
        start = len(log_file.read_text(errors="replace")) if log_file.exists() else 0
        daemon = start_daemon(dep, log_file, {VARIABLE: f"{point}:1"})
        try:
            daemon.wait(timeout=90)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait(timeout=30)
            raise AssertionError(
                f"crash point {point} never reached:\n{log_file.read_text()[start:][-3000:]}"
            ) from None
        output = log_file.read_text(errors="replace")[start:]
        assert daemon.returncode == -signal.SIGKILL, (daemon.returncode, output[-3000:])
        assert f"crash point {point}:1 reached, SIGKILL" in output, output[-3000:]
        assert "Traceback" not in output, output[-3000:]
        what, caught[point] = _interrupted(dep, point)
        report.append(f"{point}: {what}")
        _drain(dep)  # restarted: it finishes what the kill left, before the next point

    figures = _check_outcome(dep, sent_ids)
    summary = f"{len(POINTS)} kills -9, one per point: " + "; ".join(report) + f"; {figures}"
    print(summary)
    status = dict(query(dep, "SELECT id, status FROM outbound_mail"))
    handed, accepted = caught["handed"], caught["accepted"]
    assert status[caught["sending"]] == "sent", summary  # DATA never began: sent again, once
    assert status[handed] == status[accepted] == "unconfirmed", summary
    assert figures["unconfirmed"] == 2, summary  # those two, and no other
    recipient, mid = query(
        dep, "SELECT recipient, message_id FROM outbound_mail WHERE id = ?", (handed,)
    )[0]
    assert mid not in message_ids(dep.stack, recipient), "the '.' never went: not delivered"
    recipient, mid = query(
        dep, "SELECT recipient, message_id FROM outbound_mail WHERE id = ?", (accepted,)
    )[0]
    assert message_ids(dep.stack, recipient).count(mid) == 1, "the 250 came: delivered once"
    shown = _timeline_statuses(dep)
    assert shown[handed] == shown[accepted] == "unconfirmed", "mailflow log must show it"


# -- 2. random kills --------------------------------------------------------------------------


def _progress(dep: Deployment) -> int:
    """Units of work done so far: messages processed, messages moved, mails handed over."""
    return _count(
        dep,
        "SELECT (SELECT count(*) FROM inbound_message WHERE status <> 'stored')"
        " + (SELECT count(*) FROM inbound_message WHERE server_done)"
        " + (SELECT count(*) FROM outbound_mail WHERE status IN ('sent', 'unconfirmed'))",
    )


def test_kill_9_at_random_points_loses_nothing_and_sends_nothing_twice(
    deployment: Deployment, tmp_path: Path
) -> None:
    """Each life is killed after a seeded random amount of work (measured in the database,
    so a loaded machine does not turn the kills into kills of an idle or starting daemon),
    plus a random fraction of a tick."""
    dep = deployment
    rng = random.Random(SEED)
    sent_ids = _send(dep, _requests(rng, REQUESTS))
    log_file = tmp_path / "daemon.log"
    lives = effective = 0
    replied = False
    while lives < MAX_LIVES:
        if not _work_left(dep):
            replies = [] if replied else _relay_replies(dep, RELAYED)
            if not replies:
                break
            replied = True  # all done before the replies were sent: they come now
            sent_ids += _send(dep, replies)
        lives += 1
        daemon = start_daemon(dep, log_file)
        try:
            _wait_connected(log_file, lives)
            target = _progress(dep) + rng.randint(*PROGRESS_PER_LIFE)
            _wait(
                f"life {lives}: progress to {target}",
                lambda t=target: _progress(dep) >= t or not _work_left(dep),
                60,
                lambda: f"{_work_left(dep)}\n{log_file.read_text(errors='replace')[-3000:]}",
            )
            time.sleep(rng.uniform(0, 0.05))  # where within the work: seeded, not a wait
        finally:
            daemon.kill()  # SIGKILL: no cleanup at all
            daemon.wait(timeout=30)
        if _work_left(dep):
            effective += 1
        replies = [] if replied or effective < MIN_EFFECTIVE // 2 else _relay_replies(dep, RELAYED)
        if len(replies) >= RELAYED // 4:  # half-way, once persons hold enough relayed mail
            replied = True
            sent_ids += _send(dep, replies)
    assert replied, "no person ever received mail from a relay address"
    assert not _work_left(dep), f"{MAX_LIVES} lives were not enough: {_work_left(dep)}"
    _drain(dep)  # nothing left: a last run proves it and sends nothing new
    figures = _check_outcome(dep, sent_ids)
    summary = f"{lives} kills -9, {effective} with work in progress; {figures}"
    print(summary)
    assert effective >= MIN_EFFECTIVE, f"too few kills interrupted work: {summary}"
    assert "Traceback" not in log_file.read_text(errors="replace"), summary
