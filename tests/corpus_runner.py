"""Run one corpus file (tests/corpus/NAME.eml) through the real pipeline and compare.

Each file runs on a fresh SQLite database with the sample ambassadors. Placeholders in the
.eml stand for what only exists at run time (see tests/corpus/README.md): relay tokens of
the conversation opened by `setup = "conversation"`, the signed VERP return paths and the
Message-IDs of the introduction and acknowledgement mailflow queued for it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from mailflow.admin.directory import import_file
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import Context, load_context
from mailflow.core.classify import classify
from mailflow.inbound.pipeline import parse, process_pending
from mailflow.store.db import open_database
from mailflow.store.models import Conversation, InboundMessage, OutboundMail, database
from mailflow.store.verp import verp_address
from mailflow.transport.ingest import store
from tests.testconfig import write_config

CORPUS = Path(__file__).parent / "corpus"
KEYS = {"outcome", "forwarded", "notified", "setup", "xfail", "classified", "description"}
SETUPS = {"conversation"}
OPENING = "Je voudrais rencontrer une boulangère près de Caen."


@dataclass(frozen=True)
class Expected:
    outcome: str
    forwarded: bool
    notified: list[str]
    classified: str | None = None
    setup: str | None = None
    xfail: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Actual:
    outcome: str | None
    status: str
    forwarded: bool
    notified: list[str]
    classified: str
    reason: str | None
    leftover: int  # messages still "stored" after processing


def corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*.eml"))


def load_expected(eml: Path) -> Expected:
    path = eml.with_name(eml.name.removesuffix(".eml") + ".expected.toml")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - KEYS
    if unknown:
        raise ValueError(f"{path.name}: unknown keys {sorted(unknown)}")
    notified = data.get("notified", [])
    if notified != sorted(set(notified)):  # person, ambassador, coordinator, sender, ...
        raise ValueError(f"{path.name}: notified must be sorted, without repeats")
    if data.get("setup") not in {None, *SETUPS}:
        raise ValueError(f"{path.name}: setup must be one of {sorted(SETUPS)}")
    return Expected(
        outcome=data["outcome"],
        forwarded=bool(data["forwarded"]),
        notified=list(notified),
        classified=data.get("classified"),
        setup=data.get("setup"),
        xfail=data.get("xfail"),
        description=data.get("description"),
    )


@contextmanager
def fresh_context(tmp_path: Path) -> Iterator[Context]:
    """A new database with the sample ambassadors, as tests/db/test_pipeline.py builds it."""
    cfg = load_config(write_config(tmp_path))
    db = open_database(cfg.database.url, tmp_path)
    try:
        ctx = load_context(cfg)
        import_file(PROJECT_ROOT / "examples" / "ambassadors.csv", ctx.ref)
        yield ctx
    finally:
        db.close()
        database.initialize(None)


def open_conversation(ctx: Context) -> dict[bytes, bytes]:
    """person1 asks for a baker near Caen (offered to amb1); the placeholders it defines."""
    msg = EmailMessage()
    msg["From"], msg["To"] = "Person One <person1@users.test>", ctx.cfg.relay.address
    msg["Subject"], msg["Message-ID"] = "Demande", make_msgid(domain="users.test")
    msg.set_content(OPENING)
    store(bytes(msg), "INBOX", 1, None)
    outcomes = process_pending(ctx)
    assert outcomes == {"request-offered": 1}, f"setup conversation failed: {outcomes}"
    conv = Conversation.get()
    intro = OutboundMail.get(OutboundMail.purpose == "intro")
    ack = OutboundMail.get(OutboundMail.purpose == "ack")
    relay = ctx.cfg.relay
    pairs = {
        "TOKEN_AMB": conv.ambassador_token,
        "TOKEN_PERSON": conv.person_token,
        "VERP_INTRO": verp_address(intro.envelope_from, intro.id).split("@")[0].split("+")[1],
        "VERP_ACK": verp_address(ack.envelope_from, ack.id).split("@")[0].split("+")[1],
        "MSGID_INTRO": intro.message_id.strip("<>"),
        "MSGID_ACK": ack.message_id.strip("<>"),
        "RELAY_DOMAIN": relay.domain,
    }
    return {k.encode(): v.encode() for k, v in pairs.items()}


def run_file(ctx: Context, eml: Path, expected: Expected) -> Actual:
    raw = eml.read_bytes()
    if expected.setup == "conversation":
        for placeholder, value in open_conversation(ctx).items():
            raw = raw.replace(placeholder, value)
    before = {row.id for row in InboundMessage.select(InboundMessage.id)}
    store(raw, "INBOX", 1, None)
    process_pending(ctx)
    inbound = InboundMessage.select().where(InboundMessage.id.not_in(before)).get()
    caused = list(OutboundMail.select().where(OutboundMail.inbound == inbound))
    leftover = InboundMessage.select().where(InboundMessage.status == "stored").count()
    return Actual(
        outcome=inbound.outcome,
        status=inbound.status,
        forwarded=any(row.purpose == "relay" for row in caused),
        notified=sorted({row.recipient_role for row in caused}),
        classified=classify(parse(raw), ctx.classify, ctx.loop_marker).outcome,
        reason=inbound.reason,
        leftover=leftover,
    )


def differences(expected: Expected, actual: Actual) -> list[str]:
    """One line per mismatch, in the .expected.toml syntax so it can be pasted back."""
    lines = []
    pairs = [
        ("outcome", expected.outcome, actual.outcome),
        ("forwarded", expected.forwarded, actual.forwarded),
        ("notified", expected.notified, actual.notified),
    ]
    if expected.classified is not None:
        pairs.append(("classified", expected.classified, actual.classified))
    for key, want, got in pairs:
        if want != got:
            lines.append(f"  {key}: expected {_toml(want)}, got {_toml(got)}")
    if actual.leftover:
        lines.append(f"  {actual.leftover} message(s) left in status 'stored'")
    return lines


def report(eml: Path, expected: Expected, actual: Actual) -> str:
    lines = differences(expected, actual)
    return "\n".join(
        [f"{eml.name}: differs from {eml.name.removesuffix('.eml')}.expected.toml", *lines]
        + [
            f"  (status {actual.status}; reason: {actual.reason})",
            "  actual, to paste if the new behaviour is right:",
            f"    outcome = {_toml(actual.outcome)}",
            f"    forwarded = {_toml(actual.forwarded)}",
            f"    notified = {_toml(actual.notified)}",
            f"    classified = {_toml(actual.classified)}",
        ]
    )


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return f'"{value}"' if value is not None else '""'
