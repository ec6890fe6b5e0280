"""Finding any real address (or name) left in a relayed text: the check on scrub.py.

Its code shares nothing with scrub.py but the list of written forms (address_variants.py):
it decodes a copy of the whole text at once (encoded words, entities, RTF escapes, %XX,
compatibility forms, accents and case, quote markers, at/dot words, tags, spaces), adds what
uuencoded blocks hold, then searches plain strings. Tests use it to check every relayed
copy; it errs towards reporting.
"""

from __future__ import annotations

import binascii
import html
import re
import unicodedata
from collections.abc import Sequence
from email.header import decode_header, make_header
from urllib.parse import unquote

from mailflow.core.textnorm import fold
from mailflow.masking.address_variants import (
    AT_SYMBOLS,
    AT_WORDS,
    CLOSE,
    DOT_SYMBOLS,
    DOT_WORDS,
    OPEN,
    any_of,
)
from mailflow.masking.scrub import Secret
from mailflow.masking.text_view import linear_for_email_header, replace_encoded_words

_QUOTE_MARKS = re.compile(r"(?m)^[ \t]*(?:>[ \t]*)+")
_DETECT_TAG = re.compile(r"</?[a-z!][^<>@]*>")
# Spaces before are taken from the start of their run only ((?<!\s)): tried from every
# space of a long run, the scan over the rest of the run would make the work quadratic.
_LEAD, _LEAD1 = r"(?:(?<!\s)\s+)?", r"(?<!\s)\s+"
_WORD_AT = re.compile(
    rf"{_LEAD}{OPEN}\s*(?:{any_of(AT_WORDS)}|{any_of(AT_SYMBOLS)})\s*{CLOSE}\s*"
    rf"|{_LEAD1}{any_of(AT_WORDS)}\s+|{_LEAD}{any_of(AT_SYMBOLS)}\s*"
)
_WORD_DOT = re.compile(
    rf"{_LEAD}{OPEN}\s*(?:{any_of(DOT_WORDS)}|{any_of(DOT_SYMBOLS)})\s*{CLOSE}\s*"
    rf"|{_LEAD1}{any_of(DOT_WORDS)}\s+|{_LEAD1}\.\s+|=2e"
)
_SPACES = re.compile(r"\s+")
_RTF_HEX = re.compile(r"\\'([0-9a-fA-F]{2})")
_RTF_UNICODE = re.compile(r"\\u(-?[0-9]{1,6}) ?")
_UU_BEGIN = re.compile(r"^begin[ \t]+[0-7]+[ \t]")


def _decode_word(word: str) -> str:
    try:
        if not linear_for_email_header(word):  # heads with no end: as broken
            raise ValueError("hostile encoded words")
        return str(make_header(decode_header(word)))
    except Exception:  # a broken encoded word: its Q-encoded bytes, read as Latin-1
        return re.sub(r"=([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), word)


def _decoded(text: str) -> str:
    """Entities (twice), %XX, compatibility forms, invisible characters, accents and case,
    quote markers, at/dot words: all folded."""
    text = replace_encoded_words(text, _decode_word)
    text = _RTF_HEX.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _RTF_UNICODE.sub(lambda m: chr(int(m.group(1)) % 65536), text)
    text = html.unescape(html.unescape(text))
    text = unquote(text, errors="replace")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = _QUOTE_MARKS.sub(" ", fold(text))
    text = _WORD_AT.sub("@", text)
    return _WORD_DOT.sub(".", text)


def _uudecoded(text: str) -> str:
    """What every "begin ... end" block decodes to, line by line, leniently."""
    found: list[bytes] = []
    inside = False
    for line in text.splitlines():
        if _UU_BEGIN.match(line):
            inside = True
        elif inside and line.strip() == "end":
            inside = False
        elif inside:
            try:
                found.append(binascii.a2b_uu(line.strip()))
            except (binascii.Error, ValueError):
                continue
    data = b"".join(found)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _views(text: str) -> list[str]:
    """The decoded text as written, without tags, and without any space (split lines)."""
    decoded = _decoded(text)
    untagged = _DETECT_TAG.sub("", decoded)
    spaced = _SPACES.sub(" ", _DETECT_TAG.sub(" ", decoded))
    return [spaced, _SPACES.sub(" ", untagged), _SPACES.sub("", untagged)]


def _hits(view: str, needle: str, label: str) -> list[str]:
    # Nothing checked after: "x.org.uk", "x.orgMerci" are reported too (errs towards reporting)
    pattern = re.compile(rf"(?<![a-z0-9_+\-]){re.escape(needle)}")
    return [
        f"{label}: ...{view[max(0, m.start() - 30) : m.end() + 30]}..."
        for m in pattern.finditer(view)
    ]


def find_leaks(text: str, secrets: Sequence[Secret]) -> list[str]:
    """Every place a secret address (or name) still shows, as 'secret: ...context...'.

    Errs towards reporting: an address followed by more domain labels is reported too.
    """
    found: list[str] = []
    views = _views(f"{text}\n{_uudecoded(text)}" if "begin" in text else text)
    for secret in secrets:
        needles = [fold(secret.address.strip())]
        needles += [" ".join(fold(n).split()) for n in secret.names if n.strip()]
        for needle in needles:
            for view in views if "@" in needle else views[:2]:
                found += [h for h in _hits(view, needle, needle) if h not in found]
    return found
