"""A normalised view of a text that remembers where each of its characters came from.

scrub.py searches this view for secrets, then replaces the matching stretch of the
original text, so the rest stays byte for byte. The view decodes what hides an address
from a plain search: HTML entities and %XX (twice, for double escaping), RFC 2047 encoded
words pasted into text, compatibility forms (full-width "＠"), case and accents, invisible
characters (zero-width space, soft hyphen, bidi marks), and optionally tags and folded
lines. relay_header_values.py reads encoded words with the same pattern.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .textnorm import fold

_ENTITY = r"&(?:\#[0-9]{1,7};?|\#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)"
_PERCENT = r"(?:%[0-9A-Fa-f]{2})+"
# An RFC 2047 encoded word, as found in header blocks pasted into text ("=?utf-8?q?...?=").
# (Leniently, as mail clients and Python's email.header read them: spaces or "?" inside, no
# "?=" at the end.)
ENCODED_WORD = r"=\?[^?\r\n]*?\?[QqBb]\?(?:[^\r\n]*?\?=|[^? \t\r\n]*)"
_TAG = r"<!--.*?-->|<[A-Za-z/!?][^<>]*>"
FOLD = r"\r?\n[ \t]+"  # a folded line (RFC 5322, 5545): the break is not in the text
_SPECIALS = {
    (untag, unfold): re.compile(
        "|".join([ENCODED_WORD, _ENTITY, _PERCENT] + [_TAG] * untag + [FOLD] * unfold), re.S
    )
    for untag in (False, True)
    for unfold in (False, True)
}
TAGS = re.compile(_TAG, re.S)
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# Tags that may cut a word without a space showing ("jean<span>@</span>x.org"); any other
# tag (<br>, <div>, <td>, <a>...) separates words.
_INLINE_TAG = re.compile(
    r"<!--|</?(?:span|b|i|u|s|em|strong|font|wbr|small|big|sub|sup|strike|ins|del|mark|abbr|"
    r"code|tt|o:p)\b",
    re.I,
)


@lru_cache(maxsize=4096)
def _norm_char(c: str) -> str:
    """One character as the matchers see it: "" for an invisible one."""
    if unicodedata.category(c) == "Cf":  # zero-width space, soft hyphen, bidi marks, BOM
        return ""
    return fold(c)


_ENCODED_WORD_PARTS = re.compile(r"=\?([^?*\r\n]*?)(?:\*[^?\r\n]*)?\?([QqBb])\?([^\r\n]*?)(?:\?=)?")
_QP_BYTE = re.compile(rb"=([0-9A-Fa-f]{2})")


def decode_encoded_word(token: str) -> str:
    """One RFC 2047 encoded word decoded, leniently, as mail clients do (a missing "?=",
    an unknown charset); the token itself if it cannot be read."""
    m = _ENCODED_WORD_PARTS.fullmatch(token)
    if m is None:
        return token
    charset, encoding, text = m.groups()
    if encoding in "Qq":
        raw = text.replace("_", " ").encode("latin-1", "replace")
        data = _QP_BYTE.sub(lambda b: bytes([int(b.group(1), 16)]), raw)
    else:
        try:
            data = base64.b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return token
    try:
        return data.decode(charset)
    except UnicodeDecodeError:  # bytes of another charset: as Windows-1252, like clients
        return data.decode("cp1252", "replace")
    except (LookupError, ValueError):  # an unknown charset (ValueError: a NUL in its name)
        return data.decode("latin-1")


def _percent(token: str) -> str:
    raw = bytes.fromhex(token.replace("%", ""))
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


@dataclass
class TextView:
    """Normalised text; character i came from original[starts[i]:ends[i]] (the same index
    when `starts` is None: plain ASCII, only lower-cased)."""

    text: str
    starts: list[int] | None = None
    ends: list[int] | None = None

    def span(self, a: int, b: int) -> tuple[int, int]:
        if self.starts is None or self.ends is None:
            return a, b
        return self.starts[a], self.ends[b - 1]

    def origin(self, i: int) -> int:
        return i if self.starts is None else self.starts[i]


def _pass(text: str, untag: bool, unfold: bool = False) -> tuple[TextView, bool]:
    """One decoding pass; the flag says whether decoding produced another escape."""
    pattern = _SPECIALS[untag, unfold]
    if text.isascii() and not pattern.search(text):
        return TextView(text.lower()), False
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    again = False

    def ascii(s: str, offset: int) -> None:
        out.append(s.lower())
        starts.extend(range(offset, offset + len(s)))
        ends.extend(range(offset + 1, offset + len(s) + 1))

    def plain(s: str, offset: int) -> None:
        pos = 0
        for m in _NON_ASCII.finditer(s):  # ASCII runs at once, the rest one by one
            if m.start() > pos:
                ascii(s[pos : m.start()], offset + pos)
            for i in range(m.start(), m.end()):
                n = _norm_char(s[i])
                out.append(n)
                starts.extend([offset + i] * len(n))
                ends.extend([offset + i + 1] * len(n))
            pos = m.end()
        if pos < len(s):
            ascii(s[pos:], offset + pos)

    def decoded(s: str, start: int, end: int) -> None:
        for c in s:
            n = _norm_char(c)
            out.append(n)
            starts.extend([start] * len(n))
            ends.extend([end] * len(n))

    pos = 0
    for m in pattern.finditer(text):
        if m.start() > pos:
            plain(text[pos : m.start()], pos)
        token = m.group()
        if token.startswith("<"):  # a tag: dropped inside a line, a space between blocks
            if not _INLINE_TAG.match(token):
                decoded(" ", m.start(), m.end())
        elif token[0] in "\r\n":  # a fold: dropped
            pass
        elif token.startswith("=?"):
            value = decode_encoded_word(token)
            decoded(value, m.start(), m.end())
        elif token.startswith("%"):
            value = _percent(token)
            again = again or "%" in value or "&" in value
            decoded(value, m.start(), m.end())
        else:
            value = html.unescape(token)
            if value == token:
                plain(token, m.start())
            else:
                again = again or "&" in value or "%" in value
                decoded(value, m.start(), m.end())
        pos = m.end()
    if pos < len(text):
        plain(text[pos:], pos)
    return TextView("".join(out), starts, ends), again


def text_view(text: str, untag: bool = False, unfold: bool = False) -> TextView:
    first, again = _pass(text, untag, unfold)
    if not again:
        return first
    second, _ = _pass(first.text, False)  # "&amp;#64;": decoded twice
    n = len(second.text)
    starts = [first.origin(second.origin(i)) for i in range(n)]
    ends = [first.span(*second.span(i, i + 1))[1] for i in range(n)]
    return TextView(second.text, starts, ends)
