"""Malformed mail a hostile sender builds (issue 10, item 5), without the mail stack.

Parts nested too deeply to parse are refused from the raw bytes; a uuencoded block, an RTF
and an SVG file carry no address through; a party's address written with spaces is masked.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from email.utils import make_msgid
from pathlib import Path

import pytest

from mailflow.config import LimitsConfig
from mailflow.context import Context
from mailflow.ingest import store
from mailflow.limits import depth_reason
from mailflow.mime_depth import deeper_than
from mailflow.models import Event, InboundMessage, OutboundMail
from mailflow.pipeline import parse, process_pending
from tests.inprocess import close_context, open_context

HEAD = (
    "From: Léa <lea@users.test>\r\nTo: relay@mailflow.test\r\nSubject: Profond\r\n"
    "MIME-Version: 1.0\r\n"
).encode()


def deep_multipart(levels: int) -> bytes:
    """`levels` multiparts, each the only part of the one around it, a text at the bottom."""
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(levels)
    )
    closing = b"".join(b"--b%d--\r\n" % i for i in reversed(range(levels)))
    text = b"Content-Type: text/plain\r\n\r\nJe voudrais rencontrer une boulangere.\r\n"
    return HEAD + opening + text + closing


def deep_forward(levels: int) -> bytes:
    """A message forwarded inside a message, `levels` times."""
    nested = b"".join(
        b"Content-Type: message/rfc822\r\n\r\nSubject: Tr %d\r\nMIME-Version: 1.0\r\n" % i
        for i in range(levels)
    )
    return HEAD + nested + b"Content-Type: text/plain\r\n\r\nBonjour.\r\n"


def deep_digest(levels: int) -> bytes:
    """multipart/digest children are messages by default: two levels per Content-Type."""
    opening = b"".join(
        b'Content-Type: multipart/digest; boundary="d%d"\r\n\r\n--d%d\r\n\r\n' % (i, i)
        for i in range(levels)
    )
    return HEAD + opening + b"Bonjour.\r\n"


# -- the depth, read from the bytes ----------------------------------------------------------


@pytest.mark.parametrize("build", [deep_multipart, deep_forward])
def test_depth_counts_every_level(build) -> None:  # type: ignore[no-untyped-def]
    assert not deeper_than(build(50), 50)
    assert deeper_than(build(51), 50)
    assert deeper_than(build(1500), 50)


def test_digest_children_count_as_messages() -> None:
    assert not deeper_than(deep_digest(25), 50)  # 50 levels with 25 Content-Type headers
    assert deeper_than(deep_digest(26), 50)


def test_an_enclosing_boundary_ends_inner_parts() -> None:
    """Siblings are not nested: 100 multiparts side by side are 2 levels deep."""
    parts = b"".join(
        b'--top\r\nContent-Type: multipart/mixed; boundary="in%d"\r\n\r\n'
        b"--in%d\r\nContent-Type: text/plain\r\n\r\nx\r\n" % (i, i)  # never closed
        for i in range(100)
    )
    raw = HEAD + b'Content-Type: multipart/mixed; boundary="top"\r\n\r\n' + parts + b"--top--\r\n"
    assert len(parse(raw).get_payload()) == 100
    assert not deeper_than(raw, 2) and deeper_than(raw, 1)


def test_headers_without_a_blank_line_still_open_the_body() -> None:
    raw = (
        HEAD
        + b'Content-Type: multipart/mixed; boundary="a"\r\n--a\r\n'
        + deep_multipart(3)[len(HEAD) :]
    )
    assert deeper_than(raw, 3) and not deeper_than(raw, 4)


def test_the_corpus_is_shallow() -> None:
    corpus = Path(__file__).parent / "corpus"
    assert all(not deeper_than(p.read_bytes(), 10) for p in corpus.glob("*.eml"))


def test_depth_reason_reads_the_limit() -> None:
    assert depth_reason(deep_forward(5), LimitsConfig(max_mime_depth=4)) == (
        "MIME nesting deeper than 4 levels"
    )
    assert depth_reason(deep_forward(4), LimitsConfig(max_mime_depth=4)) is None


def test_the_scan_grows_linearly() -> None:
    """No work per line beyond the enclosing boundaries, bounded by the limit: a body of
    many boundary-like lines is read once (counted in lines, not timed)."""
    import mailflow.mime_depth as mime_depth

    calls = {"n": 0}
    original = mime_depth._Scan.line

    def counted(self, line):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        return original(self, line)

    for size in (1000, 4000):
        calls["n"] = 0
        raw = deep_multipart(60)[: -len(b"--b0--\r\n") * 60] + b"--b5\r\n" * size
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(mime_depth._Scan, "line", counted)
            mime_depth._depth(raw, 1000)
        assert calls["n"] <= 250 + size


# -- in the pipeline -------------------------------------------------------------------------


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path, "")
    close_context()


def run(ctx: Context, raw: bytes) -> dict[str, int]:
    raw = raw.replace(
        b"Subject:", f"Message-ID: {make_msgid(domain='users.test')}\r\nSubject:".encode(), 1
    )
    store(raw, "INBOX", 1, None)
    return process_pending(ctx)


@pytest.mark.parametrize("raw", [deep_multipart(1500), deep_forward(200), deep_digest(400)])
def test_too_deep_is_quarantined_in_one_line_and_the_sender_told(
    ctx: Context, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        assert run(ctx, raw) == {"too-deep": 1}
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
    row = InboundMessage.get()
    assert row.status == "quarantined" and row.reason == "MIME nesting deeper than 50 levels"
    [answer] = OutboundMail.select()
    assert answer.purpose == "too_deep" and answer.recipient == "lea@users.test"
    text = parse(bytes(answer.raw)).get_body(("plain",)).get_content()
    assert "n'a été transmis à" in text
    assert Event.select().where(Event.kind == "quarantine").count() == 1


def test_too_deep_automated_mail_is_never_answered(ctx: Context) -> None:
    raw = deep_forward(200).replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:")
    outcome = run(ctx, raw)
    assert list(outcome) == ["auto-reply"]
    assert OutboundMail.select().count() == 0


def test_at_the_limit_the_mail_goes_on(ctx: Context) -> None:
    """50 levels are parsed and taken as a request, as any other."""
    assert run(ctx, deep_multipart(50)) == {"request-offered": 1}
