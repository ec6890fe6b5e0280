"""Generated and mutated messages through the parser and the pipeline (hypothesis).

Two properties: the understanding stages never raise on any bytes (so quarantine stays
for real failures, not for odd input), and every message stored ends with an outcome.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mailflow.addresses import relay_token, sender
from mailflow.classify import classify
from mailflow.config import PROJECT_ROOT, load_config
from mailflow.context import Context, load_context
from mailflow.db import open_database
from mailflow.directory import import_file
from mailflow.ingest import store
from mailflow.models import InboundMessage, database
from mailflow.pipeline import parse, process
from mailflow.readable import readable_text, subject_of
from mailflow.understand import understand
from tests import testdb

BASE = (
    b"From: =?utf-8?q?L=C3=A9a?= <person1@users.test>\r\n"
    b"To: relay@mailflow.test\r\n"
    b"Subject: =?iso-8859-1?q?Demande_de_rencontre_=E9t=E9?=\r\n"
    b"Message-ID: <base@users.test>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/alternative; boundary="b1"\r\n'
    b"\r\n--b1\r\n"
    b"Content-Type: text/plain; charset=windows-1252\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"Bonjour, j'ai 15 ans et je voudrais rencontrer une boulang=E8re pr=E8s de Caen.\r\n"
    b"--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    b"PHA+Qm9uam91ciwgYm91bGFuZ8OocmUgw6AgQ2FlbjwvcD4=\r\n--b1--\r\n"
)

HEADER_NAMES = st.sampled_from(
    ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
     "Content-Transfer-Encoding", "Auto-Submitted", "Precedence", "List-Id", "Delivered-To",
     "Return-Path", "X-Mailflow-Loop", "Date", "Reply-To", "X-Autoreply"]
)  # fmt: skip
HEADER_VALUES = st.one_of(
    st.text(max_size=80),
    st.sampled_from(
        ["<>", "auto-replied", "bulk", "relay+aaaaaaaaaaaaaaaaaaaaaaaa@mailflow.test",
         "multipart/mixed; boundary=", "text/plain; charset=x-unknown", "base64",
         "=?utf-8?b?invalid?=", "=?iso-2022-jp?b?GyRCJUYlOSVIGyhC?=", "\"a\\\" <b@c>",
         "Léa <person1@users.test>", "message/rfc822",
         "multipart/report; report-type=delivery-status"]
    ),
)  # fmt: skip


@st.composite
def generated(draw: st.DrawFn) -> bytes:
    headers = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=12))
    lines = [f"{name}: {value}" for name, value in headers]
    body = draw(st.one_of(st.text(max_size=400), st.binary(max_size=400).map(repr)))
    raw = ("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8", errors="surrogateescape")
    return raw + draw(st.binary(max_size=64))


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    raw = bytearray(BASE)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup", "drop"]))
        at = draw(st.integers(0, max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[at] = draw(st.integers(0, 255))
        elif op == "cut":
            del raw[at:]
        elif op == "insert":
            raw[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif op == "dup":
            line_end = raw.find(b"\r\n", at)
            raw[at:at] = raw[at : line_end if line_end > 0 else at + 10]
        elif op == "drop":
            raw = raw.replace(b"\r\n\r\n", b"\r\n", 1)
    return bytes(raw)


MESSAGES = st.one_of(generated(), mutated())


# Inputs that once broke a stage, kept as fixed examples.
KNOWN = (
    b'From: "a\\" <b@c>\r\nFrom: "a\\" <b@c>\r\n\r\nb',
    b"From: L <person1@users.test>\r\nMessage-ID: <base@",
    b'Content-Type: text/plain; charset="utf\x00x"\r\nFrom: a@b.test\r\n\r\nhello',
)


@pytest.fixture(scope="module")
def ctx(
    tmp_path_factory: pytest.TempPathFactory, test_databases: testdb.Databases
) -> Iterator[Context]:
    """One database for the module's examples (the per-test one comes after this fixture)."""
    folder = tmp_path_factory.mktemp("property")
    text = (PROJECT_ROOT / "mailflow.example.toml").read_text(encoding="utf-8")
    path = folder / "mailflow.toml"
    path.write_text(text.replace("db/mailflow.sqlite3", "p.sqlite3"), encoding="utf-8")
    cfg = load_config(path)
    with test_databases.fresh("p.sqlite3") as url:
        db = open_database(url, folder)
        context = load_context(cfg)
        import_file(PROJECT_ROOT / "examples" / "ambassadors.csv", context.ref)
        yield context
        db.close()
        database.initialize(None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=MESSAGES)
@example(raw=KNOWN[0])
@example(raw=KNOWN[1])
@example(raw=KNOWN[2])
def test_understanding_stages_never_raise(raw: bytes) -> None:
    ctx = _CTX[0]
    msg = parse(raw)
    classify(msg, ctx.classify, ctx.loop_marker)
    relay_token(msg, ctx.cfg.relay)
    sender(msg)
    understand(subject_of(msg), readable_text(msg), ctx.ref, ctx.understanding)


_CTX: list[Context] = []


@pytest.fixture(autouse=True)
def _share(ctx: Context) -> Iterator[None]:
    _CTX[:] = [ctx]
    yield


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=MESSAGES)
@example(raw=KNOWN[0])
@example(raw=KNOWN[1])
@example(raw=KNOWN[2])
def test_every_message_ends_with_an_outcome(raw: bytes) -> None:
    ctx = _CTX[0]
    row = store(raw, "INBOX", 1, None)
    if row is None:  # the very same bytes came before: already has its outcome
        return
    if row.status == "stored":
        outcome = process(ctx, row)
        assert outcome and outcome != "quarantined", InboundMessage.get_by_id(row.id).reason
    row = InboundMessage.get_by_id(row.id)
    assert row.status == "processed" and row.outcome
