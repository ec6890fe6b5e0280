"""Hiding real addresses (and optionally names) in relayed text, and finding any left.

Both sides read one list of the ways "@" and "." are written around an address
(address_variants.py), so they cannot drift apart; the code that uses it is separate, so
that a bug in one is caught by the other: replacement here, detection in leaks.py.

The replacement side first builds a normalised view of the text that remembers where each
of its characters came from: HTML entities and %XX decoded (twice, for double escaping),
compatibility forms folded (full-width "＠"), case and accents folded, invisible characters
(zero-width space, soft hyphen, bidi marks) dropped. It searches that view for each secret,
written any of the listed ways, with spaces, line breaks and "> " quote markers between the
words, then replaces the matching stretch of the original text: the rest stays byte for
byte. HTML is searched twice, with its tags as spaces, then with its tags removed (an
address cut by `<span>`), and the tags inside a replaced stretch are kept. Optionally any
other address (a third party's) is masked the same way.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
import unicodedata
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .address_variants import (
    AT_SYMBOLS,
    AT_WORDS,
    CLOSE,
    DOT_SYMBOLS,
    DOT_WORDS,
    OPEN,
    OTHER_AT_WORDS,
    any_of,
)
from .textnorm import fold

MASK = "[adresse masquée]"


@dataclass(frozen=True)
class Secret:
    """A real address to hide, what to show instead, and real names to hide with it."""

    address: str
    replacement: str
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(self.names))  # hashable, for the regex cache
        local, _, domain = self.address.strip().rpartition("@")
        if not local or not domain:
            raise ValueError(f"not an e-mail address: {self.address!r}")


@dataclass(frozen=True)
class Others:
    """Mask every address except these (folded, compared whole) with `mask`."""

    keep: frozenset[str]
    mask: str = MASK

    @classmethod
    def keeping(cls, addresses: Collection[str], mask: str = MASK) -> Others:
        return cls(frozenset(fold(a.strip()) for a in addresses if "@" in a), mask)


# ---------------------------------------------------------------- the normalised view

_ENTITY = r"&(?:\#[0-9]{1,7};?|\#[xX][0-9a-fA-F]{1,6};?|[A-Za-z][A-Za-z0-9]{1,31};)"
_PERCENT = r"(?:%[0-9A-Fa-f]{2})+"
# An RFC 2047 encoded word, as found in header blocks pasted into text ("=?utf-8?q?...?=").
# (Leniently, as mail clients and Python's email.header read them: spaces or "?" inside, no
# "?=" at the end.)
ENCODED_WORD = r"=\?[^?\r\n]*?\?[QqBb]\?(?:[^\r\n]*?\?=|[^? \t\r\n]*)"
_TAG = r"<!--.*?-->|<[A-Za-z/!?][^<>]*>"
_FOLD = r"\r?\n[ \t]+"  # a folded line (RFC 5322, 5545): the break is not in the text
_SPECIALS = {
    (untag, unfold): re.compile(
        "|".join([ENCODED_WORD, _ENTITY, _PERCENT] + [_TAG] * untag + [_FOLD] * unfold), re.S
    )
    for untag in (False, True)
    for unfold in (False, True)
}
_TAGS = re.compile(_TAG, re.S)
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
class _View:
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


def _pass(text: str, untag: bool, unfold: bool = False) -> tuple[_View, bool]:
    """One decoding pass; the flag says whether decoding produced another escape."""
    pattern = _SPECIALS[untag, unfold]
    if text.isascii() and not pattern.search(text):
        return _View(text.lower()), False
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
    return _View("".join(out), starts, ends), again


def _view(text: str, untag: bool = False, unfold: bool = False) -> _View:
    first, again = _pass(text, untag, unfold)
    if not again:
        return first
    second, _ = _pass(first.text, False)  # "&amp;#64;": decoded twice
    n = len(second.text)
    starts = [first.origin(second.origin(i)) for i in range(n)]
    ends = [first.span(*second.span(i, i + 1))[1] for i in range(n)]
    return _View(second.text, starts, ends)


# ---------------------------------------------------------------- replacement patterns

# Spaces, including a line break followed by "> " quote markers (a quote-wrapped line).
_SP_TEXT = r"(?:[^\S\r\n]|\r?\n(?:[ \t]*>)*)"
# In HTML a tag may separate the words too (no-break spaces are spaces in the view).
_SP_HTML = r"(?:\s|<[^<>]*>)"


def _separator(
    symbols: Sequence[str], bracketed: Sequence[str], words: Sequence[str], sp: str, spaced: bool
) -> str:
    """The at sign or dot as a symbol (spaces around allowed if `spaced`), a symbol or
    `bracketed` word in brackets, or one of `words` between spaces."""
    sym = any_of(symbols)
    pad = f"{sp}*" if spaced else ""
    forms = [
        f"{pad}{sym}{pad}",
        rf"{sp}*{OPEN}{sp}*(?:{sym}|{any_of(bracketed)}){sp}*{CLOSE}{sp}*",
    ]
    if words:
        forms.append(rf"{sp}+{any_of(words)}{sp}+")
    return "(?:" + "|".join(forms) + ")"


def _literal(text: str) -> str:
    return re.escape(fold(text))


def _address_pattern(address: str, html_mode: bool, after_dot: bool = False) -> str:
    sp = _SP_HTML if html_mode else _SP_TEXT
    at = _separator(AT_SYMBOLS, AT_WORDS, AT_WORDS, sp, spaced=True)
    dot = _separator(DOT_SYMBOLS, DOT_WORDS, DOT_WORDS, sp, spaced=True)
    local, _, domain = address.strip().rpartition("@")

    def dotted(part: str) -> str:
        return dot.join(_literal(label) for label in part.split("."))

    # Not inside a longer address: no address character just before. What comes after is
    # checked in code (_glued): "x.org.Merci" is the address, "x.organic" another one.
    # With other addresses masked too, a dot before is a sentence glued on ("Merci.jean at
    # x.org"): a longer address ("a.jean@x.org") is found from its start, as another one.
    before = r"(?<![\w+-])" if after_dot else r"(?<![\w.+-])"
    return rf"{before}{dotted(local)}{at}{dotted(domain)}"


_LOCAL_CHAR = r"[\w!#$'*+^`{|}~-]"  # no "=", "&", "?", "/", "%": URL query syntax
_LABEL = r"[\w-]+"
_TLD = r"(?:[^\W\d_]{2,}|xn--[\w-]+)"  # letters: not a price (2.50), not a Content-ID


def _any_address_pattern(html_mode: bool) -> str:
    sp = _SP_HTML if html_mode else _SP_TEXT
    at = _separator(AT_SYMBOLS[:1], AT_WORDS, OTHER_AT_WORDS, sp, spaced=False)
    dot = _separator(DOT_SYMBOLS[:1], DOT_WORDS, (), sp, spaced=False)
    local = rf"{_LOCAL_CHAR}+(?:\.{_LOCAL_CHAR}+)*"
    # Not from inside a run of address characters (linear time on long runs), except just
    # after a hyphen ("--a1rh@x.fr" after a boundary marker).
    start = r"(?:(?<![\w!#$'*+^`{|}~.-])|(?<=-)(?=[^\W_]))"
    return rf"{start}{local}{at}{_LABEL}(?:{dot}{_LABEL})*{dot}{_TLD}"


def _name_pattern(name: str, html_mode: bool) -> str:
    sp = _SP_HTML if html_mode else _SP_TEXT
    words = re.split(r"[\s\-]+", name.strip())
    joined = rf"(?:{sp}+|-)".join(_literal(w) for w in words if w)
    return rf"(?<!\w){joined}(?!\w)"


@dataclass(frozen=True)
class _Compiled:
    addresses: re.Pattern[str]  # group sN: secret N; group other: any address
    other: re.Pattern[str] | None  # any address alone
    names: tuple[tuple[re.Pattern[str], int], ...]  # (pattern, secret index)
    displays: tuple[tuple[re.Pattern[str], int], ...]


@lru_cache(maxsize=256)
def _compile(secrets: tuple[Secret, ...], html_mode: bool, others: bool) -> _Compiled:
    alternatives = [
        f"(?P<s{i}>{_address_pattern(s.address, html_mode, others)})" for i, s in enumerate(secrets)
    ]
    if others:
        alternatives.append(f"(?P<other>{_any_address_pattern(html_mode)})")
    names: list[tuple[re.Pattern[str], int]] = []
    displays: list[tuple[re.Pattern[str], int]] = []
    sp = _SP_HTML if html_mode else _SP_TEXT
    for i, secret in enumerate(secrets):
        wanted = [n for n in secret.names if n.strip()]
        if not wanted:
            continue
        name_alt = "|".join(_name_pattern(n, html_mode) for n in wanted)
        # 'Jean Dupont <addr>' -> '<replacement>': the name is dropped, not doubled
        after = rf"(?=<{_literal(secret.replacement)})"
        displays.append((re.compile(rf"\"?(?:{name_alt})\"?{sp}*{after}"), i))
        names += [(re.compile(_name_pattern(n, html_mode)), i) for n in wanted]
    never = r"(?!x)x"
    return _Compiled(
        addresses=re.compile("|".join(alternatives) or never),
        other=re.compile(_any_address_pattern(html_mode)) if others else None,
        names=tuple(names),
        displays=tuple(displays),
    )


def _glued(text: str, view: _View, end: int) -> bool:
    """Does the match end inside a longer word? An upper-case letter right after is a new
    word glued on ("gmail.comMerci"), anything else of a word continues the domain."""
    if end >= len(view.text) or not re.match(r"[\w-]", view.text[end]):
        return False
    original = text[view.origin(end)]
    return not original.isupper()


def _apply(text: str, spans: list[tuple[int, int, str]], keep_tags: bool) -> str:
    if not spans:
        return text
    out, pos = [], 0
    for start, end, replacement in sorted(spans):
        if start < pos:  # overlapping (cannot happen with one finditer): keep the first
            continue
        out += [text[pos:start], replacement]
        if keep_tags:  # "jean<span>@</span>x.org": the replacement, then "<span></span>"
            out += _TAGS.findall(text, start, end)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _replace_addresses(
    text: str,
    view: _View,
    compiled: _Compiled,
    secrets: tuple[Secret, ...],
    others: Others | None,
    html_mode: bool,
    keep_tags: bool,
    unfolded: bool = False,
) -> str:
    escape = html.escape if html_mode else str
    spans: list[tuple[int, int, str]] = []
    for m in compiled.addresses.finditer(view.text):
        group = m.lastgroup or ""
        start, end = view.span(m.start(), m.end())
        if group == "other":
            assert others is not None
            if _canonical(m.group()) in others.keep or _kept_then_glued(text, view, m, others):
                continue
            if view.text[max(0, m.start() - 4) : m.start()] == "cid:":  # an inline image
                continue
            if unfolded and not _cut_by_fold(text[start:end]):
                continue
            replacement = others.mask
        elif _glued(text, view, m.end()):  # a longer address: maybe another one to mask
            other = compiled.other.match(view.text, m.start()) if compiled.other else None
            if other is None or others is None or _canonical(other.group()) in others.keep:
                continue
            start, end = view.span(other.start(), other.end())
            replacement = others.mask
        else:
            replacement = secrets[int(group[1:])].replacement
        spans.append((start, end, escape(replacement)))
    return _apply(text, spans, keep_tags)


def _kept_then_glued(text: str, view: _View, m: re.Match[str], others: Others) -> bool:
    """A kept address with a word glued on ("relay+x@mailflow.testMerci")."""
    for kept in others.keep:
        end = m.start() + len(kept)
        if m.group().startswith(kept) and end < m.end() and text[view.origin(end)].isupper():
            return True
    return False


def _cut_by_fold(original: str) -> bool:
    """Does a fold cut this address before its last label? ("rh@x.test\n bonjour" is an
    address, then a word on the next line: found already, without unfolding.)"""
    parts = re.split(_FOLD, original)
    return len(parts) > 1 and "." in parts[-1]


_CANON_AT = re.compile(rf"{OPEN}\s*(?:{any_of(AT_SYMBOLS)}|{any_of(AT_WORDS)})\s*{CLOSE}")
_CANON_DOT = re.compile(rf"{OPEN}\s*(?:{any_of(DOT_SYMBOLS)}|{any_of(DOT_WORDS)})\s*{CLOSE}")
_CANON_WORD_AT = re.compile(rf"\s+{any_of(AT_WORDS)}\s+")


def _canonical(matched: str) -> str:
    """ "rh [at] x (dot) fr" -> "rh@x.fr", to compare with the addresses to keep."""
    text = _CANON_WORD_AT.sub("@", _CANON_DOT.sub(".", _CANON_AT.sub("@", matched)))
    return re.sub(r"<[^<>]*>|\s+", "", text)


def _replace_names(text: str, secrets: tuple[Secret, ...], html_mode: bool) -> str:
    compiled = _compile(secrets, html_mode, False)
    escape = html.escape if html_mode else str
    view = _view(text)
    for pattern, _ in compiled.displays:  # the names just before a replaced address
        spans = [(*view.span(m.start(), m.end()), "") for m in pattern.finditer(view.text)]
        if spans:
            text = _apply(text, spans, False)
            view = _view(text)
    for pattern, index in compiled.names:
        replacement = escape(secrets[index].replacement)
        found = pattern.finditer(view.text)
        spans = [(*view.span(m.start(), m.end()), replacement) for m in found]
        if spans:
            text = _apply(text, spans, False)
            view = _view(text)
    return text


def _scrub(text: str, secrets: Sequence[Secret], others: Others | None, html_mode: bool) -> str:
    secrets = tuple(secrets)
    if not text or (not secrets and others is None):
        return text
    compiled = _compile(secrets, html_mode, others is not None)
    args = (compiled, secrets, others, html_mode)
    view = _view(text)
    replaced = _replace_addresses(text, view, *args, keep_tags=html_mode)
    if replaced != text:
        text, view = replaced, _view(replaced)
    # An address cut by tags: search again without them (if, cheaply, there is anything).
    if html_mode and "<" in text and compiled.addresses.search(_TAGS.sub("", view.text)):
        text = _replace_addresses(text, _view(text, untag=True), *args, keep_tags=True)
    # An address cut by a folded line ("amb1@pr\r\n os.test"): search again unfolded.
    if not html_mode and re.search(r"\n[ \t]", text):
        unfolded = _view(text, unfold=True)
        if unfolded.text != view.text and compiled.addresses.search(unfolded.text):
            text = _replace_addresses(text, unfolded, *args, keep_tags=False, unfolded=True)
    if any(s.names for s in secrets):
        text = _replace_names(text, secrets, html_mode)
    return text


def scrub_text(text: str, secrets: Sequence[Secret], others: Others | None = None) -> str:
    """Plain text (or a header value) with every written form of each secret replaced, and,
    given `others`, every other address but those it keeps masked."""
    return _scrub(text, secrets, others, html_mode=False)


def scrub_html(source: str, secrets: Sequence[Secret], others: Others | None = None) -> str:
    """HTML source, attributes included (mailto: links), with each secret replaced.

    The replacement is HTML-escaped so that a label such as "l'ambassadeur" cannot break an
    attribute.
    """
    return _scrub(source, secrets, others, html_mode=True)
