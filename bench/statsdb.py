"""Statistics over a big database: `mailflow stats` on 1,000,000 recorded messages.

The database is generated with bulk inserts (sqlite3 executemany, schema from the models):
for each request one inbound request mail, one intro and one ack sent, and in 70% of the
conversations one ambassador answer; the rest of the 1,000,000 messages are further
replies relayed both ways. Events follow: a state event per state change, "stored" and
"processed" per inbound message, "sent" per outbound mail.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from peewee import Model

from mailflow.config import load_config
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

AMBASSADORS = 2_000
START = datetime(2025, 1, 1)
SPAN_DAYS = 700
SITUATIONS = ("collegien", "lyceen", "etudiant", "demandeur_emploi", "salarie", None)
DOMAINS = ("D11", "H29", "K21", "M18", "J11", "F16", "A14", "G18")
RAW = b"Subject: x\r\n\r\n" + b"x" * 80  # the bytes are never read by stats; kept small
MESSAGE = (  # a request's scrubbed text, as long as a typical one: it widens the rows scanned
    "Bonjour, je m'appelle Léa, j'ai 15 ans et je suis en troisième au collège. Je voudrais "
    "découvrir le métier de boulanger et, si possible, rencontrer un professionnel près de "
    "chez moi pendant les vacances. Mes parents sont d'accord. Merci beaucoup !"
)


def _text(moment: datetime) -> str:
    return moment.isoformat(sep=" ")


def _bulk(con: sqlite3.Connection, model: type[Model], rows: Iterable[dict[str, Any]]) -> int:
    """Insert dicts keyed by column name; missing columns get the model's default."""
    fields = model._meta.sorted_fields
    names = [f.column_name for f in fields]
    defaults = [f.default() if callable(f.default) else f.default for f in fields]
    table = model._meta.table_name
    sql = f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join("?" * len(names))})'
    count = 0

    def tuples() -> Iterator[tuple]:
        nonlocal count
        for row in rows:
            count += 1
            yield tuple(row.get(n, d) for n, d in zip(names, defaults, strict=True))

    con.executemany(sql, tuples())
    return count


def generate(path: Path, messages: int) -> dict[str, int]:
    """Requests, conversations, messages and events with `messages` inbound + outbound."""
    rng = random.Random(1)
    requests = int(messages / 4.25)  # about 4.25 messages per request, see _plan
    people = int(requests * 0.8)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    now = _text(START)
    counts: dict[str, int] = {}
    counts["ambassadors"] = _bulk(
        con,
        Ambassador,
        (
            {
                "id": i, "email": f"a{i}@pros.test", "first_name": "A", "last_name": "B",
                "kind": "metier", "title": "Boulanger", "title_words": "boulanger",
                "code_rome": f"{rng.choice(DOMAINS)}0{i % 9 + 1}",
                "department": f"{rng.randint(1, 95):02d}", "created_at": now, "updated_at": now,
            }
            for i in range(1, AMBASSADORS + 1)
        ),
    )  # fmt: skip
    counts["people"] = _bulk(
        con,
        Person,
        ({"id": i, "email": f"p{i}@users.test", "created_at": now} for i in range(1, people + 1)),
    )
    plan = [_plan(rng, rid, people) for rid in range(1, requests + 1)]
    counts["requests"] = _bulk(con, Request, (p["request"] for p in plan))
    counts["conversations"] = _bulk(con, Conversation, (c for p in plan for c in p["convs"]))
    inbound = outbound = 0
    extra = messages - sum(len(p["inbound"]) + len(p["outbound"]) for p in plan)
    for i in range(max(extra, 0)):  # further replies, relayed: one in, one out
        p = plan[rng.randrange(len(plan))]
        if p["convs"]:
            side = "in" if i % 2 == 0 else "out"
            p["inbound" if side == "in" else "outbound"].append(("relay", p["at"]))
    inbound = _bulk(con, InboundMessage, _inbound_rows(plan))
    outbound = _bulk(con, OutboundMail, _outbound_rows(plan))
    counts["inbound_messages"], counts["outbound_mails"] = inbound, outbound
    counts["events"] = _bulk(con, Event, _events(plan))
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return counts


def _plan(rng: random.Random, rid: int, people: int) -> dict[str, Any]:
    at = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
    person = rid if rid <= people else rng.randint(1, people)
    unmatched = rng.random() < 0.05
    answered = not unmatched and rng.random() < 0.7
    domain = rng.choice(DOMAINS)
    request = {
        "id": rid, "person_id": person, "kind": rng.choice(("metier", "formation", "vae")),
        "code_rome": f"{domain}0{rid % 9 + 1}", "rome_label": f"Métier {domain}",
        "department": f"{rng.randint(1, 95):02d}", "age": rng.choice((None, *range(11, 60))),
        "situation": rng.choice(SITUATIONS), "message": MESSAGE, "trade_text": "boulanger",
        "state": "unmatched" if unmatched else ("closed" if answered else "offered"),
        "created_at": _text(at), "updated_at": _text(at),
        "first_answer_at": _text(at + timedelta(hours=rng.randint(1, 200))) if answered else None,
        "feedback_score": rng.choice((None, 1, 2, 3, 4, 5)) if answered else None,
    }  # fmt: skip
    convs = []
    states = ["new", "unmatched"] if unmatched else ["new", "offered"]
    if not unmatched:
        for n in range(2 if rng.random() < 0.1 else 1):  # 10% reassigned once
            convs.append({
                "id": rid * 2 + n, "request_id": rid, "ambassador_id": rng.randint(1, AMBASSADORS),
                "ambassador_token": f"a{rid}x{n}", "person_token": f"p{rid}x{n}",
                "state": "closed" if answered else "open", "created_at": _text(at),
            })  # fmt: skip
        if len(convs) == 2:
            states += ["reassigned", "offered"]
        if answered:
            states += ["answered", "in_conversation", "closed"]
    inbound = [("request", at)] + ([("answer", at)] if answered else [])
    outbound = [] if unmatched else [("intro", at), ("ack", at)]
    if answered:
        outbound.append(("relay", at))
    return {"request": request, "convs": convs, "states": states, "at": at,
            "inbound": inbound, "outbound": outbound}  # fmt: skip


def _inbound_rows(plan: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    n = 0
    for p in plan:
        rid, conv = p["request"]["id"], (p["convs"][-1]["id"] if p["convs"] else None)
        for outcome, at in p["inbound"]:
            n += 1
            p.setdefault("inbound_ids", []).append(n)
            yield {
                "id": n, "message_id": f"<i{n}@users.test>", "sha256": f"{n:064x}",
                "folder": "INBOX", "raw": RAW, "size": len(RAW), "received_at": _text(at),
                "status": "processed", "outcome": outcome, "request_id": rid,
                "conversation_id": None if outcome == "request" else conv,
                "server_done": 1, "processed_at": _text(at),
            }  # fmt: skip


def _outbound_rows(plan: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    n = 0
    for p in plan:
        rid, conv = p["request"]["id"], (p["convs"][-1]["id"] if p["convs"] else None)
        for purpose, at in p["outbound"]:
            n += 1
            p.setdefault("outbound_ids", []).append(n)
            yield {
                "id": n, "idempotency_key": f"k{n}", "purpose": purpose,
                "message_id": f"<o{n}@mailflow.test>", "envelope_from": "relay@mailflow.test",
                "recipient": "x@users.test", "recipient_role": "person", "subject": "s",
                "raw": RAW, "status": "sent", "next_attempt_at": _text(at),
                "created_at": _text(at), "sent_at": _text(at), "request_id": rid,
                "conversation_id": conv,
            }  # fmt: skip


def _events(plan: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in plan:
        at, rid = _text(p["at"]), p["request"]["id"]
        old = None
        for state in p["states"]:
            yield {"at": at, "kind": "state", "request_id": rid, "old_state": old,
                   "new_state": state, "cause": "bench"}  # fmt: skip
            old = state
        for inbound_id in p.get("inbound_ids", []):
            for kind in ("stored", "processed"):
                yield {"at": at, "kind": kind, "inbound_id": inbound_id, "cause": "bench"}
        for outbound_id in p.get("outbound_ids", []):
            yield {"at": at, "kind": "sent", "outbound_id": outbound_id, "request_id": rid,
                   "cause": "bench"}  # fmt: skip


def _config(workdir: Path, url: str) -> Path:
    path = workdir / "mailflow.toml"
    path.write_text(
        '[mailbox]\nhost = "127.0.0.1"\nport = 1\nusername = "relay@mailflow.test"\n'
        'password = "x"\n[smtp]\nhost = "127.0.0.1"\nport = 1\n'
        '[relay]\naddress = "relay@mailflow.test"\n'
        '[coordinator]\nemail = "coordinator@mailflow.test"\n'
        f'[database]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


def _cli(config: Path, *args: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mailflow", "--config", str(config), "stats", *args],
        cwd=config.parent,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return time.perf_counter() - start


def _counts(path: Path) -> dict[str, int]:
    """The row counts of an existing database, as generate() returns them."""
    con = sqlite3.connect(path)
    tables = {
        "ambassadors": Ambassador, "people": Person, "requests": Request,
        "conversations": Conversation, "inbound_messages": InboundMessage,
        "outbound_mails": OutboundMail, "events": Event,
    }  # fmt: skip
    counts = {
        name: con.execute(f'SELECT COUNT(*) FROM "{m._meta.table_name}"').fetchone()[0]
        for name, m in tables.items()
    }
    con.close()
    return counts


def run(workdir: Path, messages: int, say: Any, keep: Path | None = None) -> dict[str, Any]:
    """Generate the database (or reuse `keep` when it exists, else generate it there), time."""
    from mailflow.review.stats import collect

    workdir.mkdir(parents=True, exist_ok=True)
    path = keep.resolve() if keep else workdir / "stats.sqlite3"
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{path}"
    if keep and path.exists():
        open_database(url, workdir)  # upgrades its schema (new indexes) before timing
        database.close()
        counts, generated_s = _counts(path), 0.0
        say(f"stats: reusing {path}: {counts}")
    else:
        open_database(url, workdir)  # the schema, indexes included
        database.close()
        start = time.perf_counter()
        counts = generate(path, messages)
        generated_s = time.perf_counter() - start
        say(f"stats: generated in {generated_s:.0f} s: {counts}")
    config = _config(workdir, url)
    zone = load_config(config).schedule.zone  # as the CLI: the default, Europe/Paris
    open_database(url, workdir)
    start = time.perf_counter()
    doc = collect(None, zone)
    collect_s = time.perf_counter() - start
    database.close()
    return {
        "messages": counts["inbound_messages"] + counts["outbound_mails"],
        "counts": counts,
        "generated": ", ".join(f"{v:,} {k}" for k, v in counts.items()),
        "generate_seconds": generated_s,
        "collect": collect_s,
        "cli": _cli(config),
        "cli_year": _cli(config, "--year", "2026"),
        "requests_counted": doc["total"]["requests"],
    }
