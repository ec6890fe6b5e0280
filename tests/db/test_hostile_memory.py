"""Memory per message, without a mail server: the pieces that keep it bounded.

The character map of masking/text_view.py gives the same spans as one entry per character did;
parsing stops at the parts cap; the text to scrub and an attachment's size are counted
without decoding; the caps are refused like an oversize message
(tests/e2e/test_hostile_memory_e2e.py measures the whole daemon).
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from mailflow.config import ConfigError, LimitsConfig, parse_config
from mailflow.context import Context
from mailflow.inbound.limits import TooManyParts, _size, heavy_reason, text_bytes
from mailflow.inbound.pipeline import parse
from mailflow.masking.text_view import _Map, text_view
from mailflow.store.models import Conversation, InboundMessage, OutboundMail
from tests.db.test_config import with_value
from tests.inprocess import close_context, mail_bytes, open_context, store_and_process

PIECES = ["a", "B", "é", "ﬁ", "\u200b", "&amp;", "&amp;#64;", "&#64;", "%40", "%2540", "<span>"]
PIECES += [
    "<br>",
    "<!-- c -->",
    "\n ",
    "\r\n\t",
    " ",
    "@",
    ".",
    "ß",
    "＠",
    "&nbsp;",
    "=?utf-8?q?x=40y?=",
]


def spans_one_by_one(text: str, untag: bool, unfold: bool) -> list[tuple[int, int]]:
    """What the view's map answers for each of its characters."""
    view = text_view(text, untag, unfold)
    return [view.span(i, i + 1) for i in range(len(view.text))]


def test_the_map_is_runs_not_one_entry_per_character() -> None:
    text = ("Bonjour Léa, à demain. " * 20_000) + "jean&#64;x.org"
    view = text_view(text)
    assert view.where is not None and len(view.where.view) < 3 * 20_000 + 10
    at = view.text.index("jean@x.org")
    assert text[slice(*view.span(at, at + len("jean@x.org")))] == "jean&#64;x.org"


def test_files_scrubbed_as_text_count_as_text() -> None:
    """RTF, SVG, XML and JSON files are scrubbed like text (masking/body.py): they cost what
    text costs, whatever their type says (an SVG passes as image/*)."""
    msg = EmailMessage()
    msg.set_content("Bonjour\n")
    body = b"<svg>" + b"<text>x</text>" * 1000 + b"</svg>"
    msg.add_attachment(body, maintype="image", subtype="svg+xml", filename="plan.svg")
    msg.add_attachment(b"{\\rtf1 " + b"a" * 5000 + b"}", maintype="application",
                       subtype="rtf", filename="lettre.rtf")  # fmt: skip
    msg.add_attachment(b"<a/>" * 1000, maintype="application", subtype="octet-stream",
                       filename="donnees.xml")  # fmt: skip
    assert text_bytes(parse(bytes(msg))) >= len(body) + 5000 + 4000


@pytest.mark.parametrize("seed", range(3))
def test_each_character_maps_back_to_where_it_came_from(seed: int) -> None:
    """Each character of the view maps to the stretch of the original it was decoded from:
    itself, or the whole entity, escape, encoded word or tag (twice decoded included)."""
    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 25)))
        for untag in (False, True):
            view = text_view(text, untag).text
            spans = spans_one_by_one(text, untag, False)
            assert [start for start, _ in spans] == sorted(start for start, _ in spans)
            for (start, end), char in zip(spans, view, strict=True):
                assert 0 <= start < end <= len(text)
                if end - start == 1 and text[start].isascii():  # itself, lower-cased
                    assert char == text[start].lower()


def test_twice_decoded_escapes_map_to_the_whole_escape() -> None:
    text = "ab&amp;#64;cd"
    view = text_view(text)
    assert view.text == "ab@cd"
    assert [view.span(i, i + 1) for i in range(5)] == [(0, 1), (1, 2), (2, 11), (11, 12), (12, 13)]


def test_map_runs_merge_when_they_continue() -> None:
    where = _Map()
    where.linear(0, 5)
    where.linear(5, 3)  # continues: one run
    where.constant(8, 13, 1)
    where.linear(13, 2)
    assert list(where.view) == [0, 8, 9] and where.length == 11
    assert (where.start_of(7), where.end_of(7)) == (7, 8)
    assert (where.start_of(8), where.end_of(8)) == (8, 13)
    assert (where.start_of(10), where.end_of(10)) == (14, 15)


def many_parts(count: int) -> bytes:
    parts = "".join(f"--b1\r\nContent-Type: text/plain\r\n\r\nmot {i}\r\n" for i in range(count))
    head = "From: a@users.test\r\nTo: relay@mailflow.test\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
    return f"{head}Content-Type: multipart/mixed; boundary=b1\r\n\r\n{parts}--b1--\r\n".encode()


def test_parsing_stops_past_the_parts_cap() -> None:
    whole = parse(many_parts(50), max_parts=51)  # the message itself and its 50 parts
    assert len(whole.get_payload()) == 50 and not whole.defects
    assert heavy_reason(whole, LimitsConfig(max_parts=51)) is None
    cut = parse(many_parts(50), max_parts=50)
    assert [type(d) for d in cut.defects] == [TooManyParts]
    assert cut["Subject"] == "x" and not cut.is_multipart()
    assert heavy_reason(cut, LimitsConfig(max_parts=50)) == "too large: more than 50 MIME parts"


def test_chunked_parsing_gives_the_same_message() -> None:
    raw = many_parts(3000)  # several chunks, lines cut at chunk boundaries
    assert parse(raw).as_bytes() == parse(memoryview(raw)).as_bytes()
    assert len(parse(raw).get_payload()) == 3000


def test_text_to_scrub_is_counted_from_encoded_bodies() -> None:
    msg = EmailMessage()
    msg.set_content("é" * 3000 + "\n", cte="quoted-printable")  # 6 kB of UTF-8
    msg.add_alternative("<p>" + "x" * 4000 + "</p>\n", subtype="html", cte="base64")
    msg.add_attachment(b"%PDF" + bytes(100_000), maintype="application", subtype="pdf")
    msg.add_attachment(b"note " * 200, maintype="application", subtype="octet-stream",
                       filename="notes.txt")  # fmt: skip
    counted = text_bytes(parse(bytes(msg)))
    decoded = 6001 + 4008 + 1000  # the PDF is not text: not scrubbed, not counted
    assert decoded <= counted <= decoded * 1.05
    assert heavy_reason(parse(bytes(msg)), LimitsConfig(max_text_bytes=10_000)).startswith(
        "too large: 0 MB of text > 0 MB text cap"
    )
    assert heavy_reason(parse(bytes(msg)), LimitsConfig(max_text_bytes=0)) is None


@pytest.mark.parametrize("seed", range(3))
def test_attachment_size_without_decoding_is_the_decoded_size(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(500):
        body = base64.encodebytes(rng.randbytes(rng.randint(0, 400))).decode()
        if rng.random() < 0.5:  # damaged: an odd character, a cut, padding inside
            i = rng.randint(0, len(body))
            body = body[:i] + rng.choice(["=", "*", "", "A", "\r\n"]) + body[i + 1 :]
        part = EmailMessage()
        part["Content-Type"] = "application/pdf"
        part["Content-Transfer-Encoding"] = rng.choice(["base64", "7bit"])
        part.set_payload(body)
        assert _size(part) == len(part.get_payload(decode=True))


@pytest.mark.parametrize("key", ["max_text_bytes", "max_parts"])
def test_the_caps_are_checked_and_zero_means_none(key: str) -> None:
    with pytest.raises(ConfigError, match=f"limits.{key} must not be negative"):
        parse_config(with_value("limits", key, -1), Path("mailflow.toml"))
    cfg = parse_config(with_value("limits", key, 0), Path("mailflow.toml"))
    assert getattr(cfg.limits, key) == 0


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[Context]:
    yield open_context(tmp_path, "\n[limits]\nmax_text_bytes = 20000\nmax_parts = 40\n")
    close_context()


def test_too_much_text_is_refused_like_an_oversize_message(ctx: Context) -> None:
    assert store_and_process(ctx, mail_bytes("Je voudrais rencontrer une boulangère.")) == {
        "request-offered": 1
    }
    to = f"relay+{Conversation.get().person_token}@mailflow.test"
    assert store_and_process(ctx, mail_bytes("Bonjour Marie.\n" * 2000, to=to)) == {"too-large": 1}
    row = InboundMessage.select().order_by(InboundMessage.id.desc()).get()
    assert row.status == "quarantined" and row.reason.endswith("MB of text > 0 MB text cap")
    [told] = OutboundMail.select().where(OutboundMail.purpose == "too_heavy")
    assert told.recipient == "lea@users.test"
    text = parse(bytes(told.raw)).get_body(("plain",)).get_content()
    assert "Mo de texte" not in text  # it was "0 Mo ..., alors que la limite est de 0 Mo"
    assert "Ko de texte, alors que la limite est de 19,5 Ko" in " ".join(text.split()), text
    assert "transmis à personne" in text
    assert OutboundMail.select().where(OutboundMail.purpose == "relay").count() == 0


def test_too_many_parts_is_refused_from_the_headers(ctx: Context) -> None:
    raw = many_parts(100).replace(b"From: a@users.test", b"From: Zoe <zoe@users.test>")
    assert store_and_process(ctx, raw) == {"too-large": 1}
    row = InboundMessage.get()
    assert row.status == "quarantined" and row.reason == "too large: more than 40 MIME parts"
    [told] = OutboundMail.select()
    assert told.purpose == "too_heavy" and told.recipient == "zoe@users.test"
    text = parse(bytes(told.raw)).get_body(("plain",)).get_content()
    assert "trop de morceaux" in text and "plus de 40" in text
