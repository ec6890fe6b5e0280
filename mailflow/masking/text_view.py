"""A normalised view of a text that remembers where each of its characters came from.

scrub.py searches this view for secrets, then replaces the matching stretch of the
original text, so the rest stays byte for byte. The view decodes what hides an address
from a plain search: HTML entities and %XX (twice, for double escaping), RFC 2047 encoded
words pasted into text, compatibility forms (full-width "＠"), case and accents, invisible
characters (zero-width space, soft hyphen, bidi marks), and optionally tags and folded
lines. masking/header_values.py and leaks.py read encoded words the same way.

Every scan here is linear in the length of the text: what a sender writes must not make the
work grow with its square (tests/unit/test_hostile_redos.py).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from array import array
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain

from mailflow.core.textnorm import fold

_ENTITY = r"&(?:\#[0-9]{1,7};?|\#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)"
_PERCENT = r"(?:%[0-9A-Fa-f]{2})+"
# An RFC 2047 encoded word, as found in header blocks pasted into text ("=?utf-8?q?...?=").
# (Leniently, as mail clients and Python's email.header read them: spaces or "?" inside, no
# "?=" at the end.) The regex finds its head and the word as far as a space or "?"; where it
# goes on to the first "?=" of the line is found in code (_Ahead): a lazy ".*?\?=" would scan
# to the end of the line again from every "=?" of a line that has none (quadratic).
_WORD_HEAD = r"=\?[^?\r\n]*?\?[QqBb]\?"
_WORD = rf"(?P<word>{_WORD_HEAD})[^? \t\r\n]*"
# A tag, or the start of a comment (its end, the first "-->", is found in code likewise).
_TAG = r"(?P<comment><!--)|<[A-Za-z/!?][^<>]*>"
FOLD = r"\r?\n[ \t]+"  # a folded line (RFC 5322, 5545): the break is not in the text
_SPECIALS = {
    (untag, unfold): re.compile(
        "|".join([_WORD, _ENTITY, _PERCENT] + [_TAG] * untag + [FOLD] * unfold), re.S
    )
    for untag in (False, True)
    for unfold in (False, True)
}
_TAG_ONLY = re.compile(_TAG, re.S)
_WORD_ONLY = re.compile(_WORD)
_PLAIN_TAG = re.compile(r"<[A-Za-z/!?][^<>]*>")
_LINE_BREAK = re.compile(r"[\r\n]")


class _Ahead:
    """The first `needle` at or after a position. The positions asked only grow, so the
    text is scanned once however many words or comments start before the same end."""

    def __init__(self, text: str, needle: str | re.Pattern[str]) -> None:
        self.text, self.needle = text, needle
        self.since, self.at = -1, -1  # the answer `at` holds for every position in since..at

    def find(self, pos: int) -> int:
        known = 0 <= self.since <= pos and (self.at == -1 or pos <= self.at)
        if not known:
            if isinstance(self.needle, str):
                self.at = self.text.find(self.needle, pos)
            else:
                found = self.needle.search(self.text, pos)
                self.at = found.start() if found else -1
            self.since = pos
        return self.at


class _Scanner:
    """Matches of a pattern built from _WORD and _TAG, with encoded words and comments
    taken to their real end, each in linear time."""

    def __init__(self, text: str, pattern: re.Pattern[str]) -> None:
        self.text, self.pattern = text, pattern
        self.word_end = _Ahead(text, "?=")
        self.line_end = _Ahead(text, _LINE_BREAK)
        self.comment_end = _Ahead(text, "-->")

    def spans(self) -> Iterator[tuple[int, int]]:
        text, pos = self.text, 0
        while (m := self.pattern.search(text, pos)) is not None:
            start, end = m.span()
            groups = m.groupdict()
            if groups.get("word") is not None:
                end = self._word_end(m.end("word"), end)
            elif groups.get("comment") is not None:
                found = self.comment_end.find(start + 4)
                if found >= 0:
                    end = found + 3
                else:  # not a comment: as a tag, if it is one
                    tag = _PLAIN_TAG.match(text, start)
                    if tag is None:
                        pos = start + 1
                        continue
                    end = tag.end()
            yield start, end
            pos = end if end > start else start + 1

    def _word_end(self, head_end: int, run_end: int) -> int:
        """As far as the first "?=" of the line, else as far as a space or "?"."""
        closing = self.word_end.find(head_end)
        if closing < 0:
            return run_end
        line = self.line_end.find(head_end)
        return closing + 2 if line < 0 or closing < line else run_end


_ANY_HEAD = re.compile(r"=\?[^?]*\?[QqBb]\?")


def linear_for_email_header(value: str) -> bool:
    """Can email.header.decode_header read `value` in linear time? Its pattern scans lazily
    from each encoded word's head to the next "?=" of the line: fine for real headers,
    quadratic for a line of heads with no end. True when those scans add up to a few times
    the length."""
    ends, lines = _Ahead(value, "?="), _Ahead(value, _LINE_BREAK)
    read = 0
    for m in _ANY_HEAD.finditer(value):
        closing, line = ends.find(m.end()), lines.find(m.end())
        stop = [x for x in (closing, line) if x >= 0]
        read += (min(stop) if stop else len(value)) - m.start()
        if read > 8 * len(value) + 1_000:
            return False
    return True


def tag_spans(text: str, start: int = 0, end: int | None = None) -> list[str]:
    """The tags and comments in text[start:end], in order (the ones a scrub keeps)."""
    piece = text[start:end]
    return [piece[a:b] for a, b in _Scanner(piece, _TAG_ONLY).spans()]


def strip_tags(text: str) -> str:
    """The text without its tags and comments."""
    out, pos = [], 0
    for a, b in _Scanner(text, _TAG_ONLY).spans():
        out.append(text[pos:a])
        pos = b
    out.append(text[pos:])
    return "".join(out)


def replace_encoded_words(text: str, decode: Callable[[str], str]) -> str:
    """Each encoded word of `text` replaced by `decode(word)`."""
    out, pos = [], 0
    for a, b in _Scanner(text, _WORD_ONLY).spans():
        out += [text[pos:a], decode(text[a:b])]
        pos = b
    out.append(text[pos:])
    return "".join(out)


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


class _Map:
    """Where each character of a view came from, as runs rather than one entry per
    character (two lists of ints cost about 70 bytes a character: 700 MB for a 10 MB text).

    Run k starts at view index view[k]. A "linear" run (end[k] < 0) maps character i to
    original[orig[k] + i - view[k]], one to one; a "constant" run maps each of its characters
    to the whole stretch original[orig[k]:end[k]] (an entity, an encoded word, a tag)."""

    def __init__(self) -> None:
        self.view, self.orig, self.end = array("q"), array("q"), array("q")
        self.length = 0  # characters of the view mapped so far

    def linear(self, orig: int, count: int) -> None:
        if count <= 0:
            return
        if self.view and self.end[-1] < 0 and self.orig[-1] + self.length - self.view[-1] == orig:
            self.length += count  # continues the last run
            return
        self._run(orig, -1, count)

    def constant(self, orig: int, end: int, count: int) -> None:
        if count <= 0:
            return
        if self.view and self.orig[-1] == orig and self.end[-1] == end:
            self.length += count
            return
        self._run(orig, end, count)

    def _run(self, orig: int, end: int, count: int) -> None:
        self.view.append(self.length)
        self.orig.append(orig)
        self.end.append(end)
        self.length += count

    def _find(self, i: int) -> int:
        return bisect_right(self.view, i) - 1

    def start_of(self, i: int) -> int:
        k = self._find(i)
        return self.orig[k] + i - self.view[k] if self.end[k] < 0 else self.orig[k]

    def end_of(self, i: int) -> int:
        k = self._find(i)
        return self.orig[k] + i - self.view[k] + 1 if self.end[k] < 0 else self.end[k]

    def runs(self, a: int, b: int) -> Iterator[tuple[int, int, int, int]]:
        """(view start, view end, orig, end) of the runs over view[a:b], cut to it."""
        k = max(self._find(a), 0)
        while k < len(self.view) and self.view[k] < b:
            lo = max(self.view[k], a)
            hi = min(self.view[k + 1] if k + 1 < len(self.view) else self.length, b)
            if hi > lo:
                shift = lo - self.view[k] if self.end[k] < 0 else 0
                yield lo, hi, self.orig[k] + shift, self.end[k]
            k += 1


@dataclass
class TextView:
    """Normalised text; character i came from original[span(i, i + 1)] (the same index when
    `where` is None: plain ASCII, only lower-cased)."""

    text: str
    where: _Map | None = None

    def span(self, a: int, b: int) -> tuple[int, int]:
        if self.where is None:
            return a, b
        return self.where.start_of(a), self.where.end_of(b - 1)

    def origin(self, i: int) -> int:
        return i if self.where is None else self.where.start_of(i)


def _pass(text: str, untag: bool, unfold: bool = False) -> tuple[TextView, bool]:
    """One decoding pass; the flag says whether decoding produced another escape."""
    spans = _Scanner(text, _SPECIALS[untag, unfold]).spans()
    first = next(spans, None)  # lazily: a list of every span would cost memory per special
    if text.isascii() and first is None:
        return TextView(text.lower()), False
    found: Iterator[tuple[int, int]] = chain([first], spans) if first is not None else iter(())
    out: list[str] = []
    where = _Map()
    again = False

    def ascii(s: str, offset: int) -> None:
        out.append(s.lower())
        where.linear(offset, len(s))

    def plain(s: str, offset: int) -> None:
        pos = 0
        for m in _NON_ASCII.finditer(s):  # ASCII runs at once, the rest one by one
            if m.start() > pos:
                ascii(s[pos : m.start()], offset + pos)
            for i in range(m.start(), m.end()):
                n = _norm_char(s[i])
                out.append(n)
                if len(n) == 1:
                    where.linear(offset + i, 1)
                else:  # several characters from one ("ﬁ" -> "fi"), or none
                    where.constant(offset + i, offset + i + 1, len(n))
            pos = m.end()
        if pos < len(s):
            ascii(s[pos:], offset + pos)

    def decoded(s: str, start: int, end: int) -> None:
        n = "".join(_norm_char(c) for c in s)
        out.append(n)
        where.constant(start, end, len(n))

    pos = 0
    for start, end in found:
        if start > pos:
            plain(text[pos:start], pos)
        token = text[start:end]
        if token.startswith("<"):  # a tag: dropped inside a line, a space between blocks
            if not _INLINE_TAG.match(token):
                decoded(" ", start, end)
        elif token[0] in "\r\n":  # a fold: dropped
            pass
        elif token.startswith("=?"):
            value = decode_encoded_word(token)
            decoded(value, start, end)
        elif token.startswith("%"):
            value = _percent(token)
            again = again or "%" in value or "&" in value
            decoded(value, start, end)
        else:
            value = html.unescape(token)
            if value == token:
                plain(token, start)
            else:
                again = again or "&" in value or "%" in value
                decoded(value, start, end)
        pos = end
    if pos < len(text):
        plain(text[pos:], pos)
    return TextView("".join(out), where), again


def text_view(text: str, untag: bool = False, unfold: bool = False) -> TextView:
    first, again = _pass(text, untag, unfold)
    if not again:
        return first
    second, _ = _pass(first.text, False)  # "&amp;#64;": decoded twice
    if first.where is None:
        return second
    if second.where is None:  # the same characters: the first map holds
        return TextView(second.text, first.where)
    return TextView(second.text, _compose(first.where, second.where))


def _compose(first: _Map, second: _Map) -> _Map:
    """The map from the second view to the original, through the first view."""
    out = _Map()
    for lo, hi, orig, end in second.runs(0, second.length):
        if end >= 0:  # from one stretch of the first view
            out.constant(first.start_of(orig), first.end_of(end - 1), hi - lo)
            continue
        for a, b, orig2, end2 in first.runs(orig, orig + hi - lo):
            if end2 < 0:
                out.linear(orig2, b - a)
            else:
                out.constant(orig2, end2, b - a)
    return out
