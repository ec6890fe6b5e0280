"""Hiding real addresses (and optionally names) in relayed text, and finding any left.

The replacement side builds one regular expression per secret that matches the address in
the raw text, whatever way a mail client or a person wrote it: any letter percent-encoded or
written as an HTML entity, "@" as " at " / "(at)" / "[at]" / "arobase", "." as " dot " /
"point", with line breaks and "> " quote markers between words.

The detection side (`find_leaks`) shares none of that code: it decodes the text first
(entities, %XX, accents, quote markers, at/dot words, tags, spaces), then searches plain
strings, so that a bug in one is caught by the other.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.entities import codepoint2name
from urllib.parse import unquote

from .textnorm import fold


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


# ---------------------------------------------------------------- replacement


_AT_WORDS = r"(?:at|arobase|arrobase)"
_DOT_WORDS = r"(?:dot|point)"
_OPEN, _CLOSE = r"[(\[{]", r"[)\]}]"
# Spaces, including a line break followed by "> " quote markers (a quote-wrapped line).
_SP_TEXT = r"(?:[^\S\r\n]|\r?\n(?:[ \t]*>)*)"
# In HTML a no-break space or a tag may separate the words too.
_SP_HTML = r"(?:\s|&nbsp;|&#160;|&#xa0;|<[^<>]*>)"
_ANGLE = r"(?:<|&lt;)"


def _char(c: str, html_mode: bool) -> str:
    """One character as itself, %XX, or a numeric (or named) HTML entity, either case."""
    forms = {f for f in (c, c.lower(), c.upper()) if len(f) == 1}  # "ß".upper() is "SS"
    # One literal only: with IGNORECASE "j" and "J" would both match and double the
    # backtracking at every letter (exponential on a failed match).
    alts = {re.escape(c.lower() if len(c.lower()) == 1 else c)}
    for f in forms:
        code = ord(f)
        alts.add(f"&\\#0*{code};")
        alts.add(f"&\\#x0*{code:x};")
        if code < 128:
            alts.add(f"%{code:02x}")
        elif html_mode and code in codepoint2name:
            alts.add(f"&{codepoint2name[code].lower()};")  # &Eacute; / &eacute;: one form
    folded = fold(c)
    if folded != c.lower() and folded.isascii():
        alts.add(re.escape(folded))
    return "(?:" + "|".join(sorted(alts, key=len, reverse=True)) + ")"


def _word(text: str, html_mode: bool) -> str:
    return "".join(_char(c, html_mode) for c in text)


def _separator(symbol: str, entities: str, words: str, sp: str) -> str:
    """The at sign or dot as written in an address, or spelled out as a word between spaces."""
    plain = rf"(?:{symbol}|{entities})"
    return (
        rf"(?:{sp}*(?:{_OPEN}{sp}*)?{plain}(?:{sp}*{_CLOSE})?{sp}*"
        rf"|{sp}*{_OPEN}{sp}*{words}{sp}*{_CLOSE}{sp}*"
        rf"|{sp}+{words}{sp}+)"
    )


def _address_pattern(address: str, html_mode: bool) -> str:
    sp = _SP_HTML if html_mode else _SP_TEXT
    at = _separator("@", r"%40|&\#0*64;|&\#x0*40;|&commat;", _AT_WORDS, sp)
    dot_plain = r"(?:\.|%2e|&\#0*46;|&\#x0*2e;|&period;)"
    if html_mode:  # a tag may close or open around the dot: example</span>.org
        dot_plain = rf"{sp}*{dot_plain}{sp}*"
    dot = rf"(?:{dot_plain}|{sp}*{_OPEN}{sp}*{_DOT_WORDS}{sp}*{_CLOSE}{sp}*|{sp}+{_DOT_WORDS}{sp}+)"
    local, _, domain = address.strip().rpartition("@")

    def dotted(part: str) -> str:
        return dot.join(_word(label, html_mode) for label in part.split("."))

    # Not inside a longer address: no address character just before or just after. A dot
    # after is allowed: "jean@x.org.vcf" or "x.org.Merci" leak more often than "x.org.uk" exists.
    return rf"(?<![\w.+-]){dotted(local)}{at}{dotted(domain)}(?![\w-])"


def _name_pattern(name: str, html_mode: bool) -> str:
    sp = _SP_HTML if html_mode else _SP_TEXT
    words = re.split(r"[\s\-]+", name.strip())
    joined = rf"(?:{sp}+|-)".join(_word(w, html_mode) for w in words if w)
    return rf"(?<!\w){joined}(?!\w)"


@dataclass(frozen=True)
class _Compiled:
    address: re.Pattern[str]
    names: tuple[re.Pattern[str], ...]
    display_before: re.Pattern[str] | None
    replacement: str


@lru_cache(maxsize=256)
def _compile(secret: Secret, html_mode: bool) -> _Compiled:
    flags = re.IGNORECASE
    replacement = html.escape(secret.replacement) if html_mode else secret.replacement
    names = [n for n in secret.names if n.strip()]
    sp = _SP_HTML if html_mode else _SP_TEXT
    name_alt = "|".join(_name_pattern(n, html_mode) for n in names)
    display = None
    if names:  # 'Jean Dupont <addr>' -> '<replacement>': the name is dropped, not doubled
        quote = r"(?:\"|&quot;)?"
        display = re.compile(
            rf"{quote}(?:{name_alt}){quote}{sp}*(?={_ANGLE}{re.escape(replacement)})", flags
        )
    return _Compiled(
        address=re.compile(_address_pattern(secret.address, html_mode), flags),
        names=tuple(re.compile(_name_pattern(n, html_mode), flags) for n in names),
        display_before=display,
        replacement=replacement,
    )


def _scrub(text: str, secrets: Sequence[Secret], html_mode: bool) -> str:
    for secret in secrets:
        compiled = _compile(secret, html_mode)
        # A function, not a template: the replacement is literal text.
        text = compiled.address.sub(lambda _m, r=compiled.replacement: r, text)
        if compiled.display_before is not None:
            text = compiled.display_before.sub("", text)
        for name in compiled.names:
            text = name.sub(lambda _m, r=compiled.replacement: r, text)
    return text


def scrub_text(text: str, secrets: Sequence[Secret]) -> str:
    """Plain text (or a header value) with every written form of each secret replaced."""
    return _scrub(text, secrets, html_mode=False)


def scrub_html(source: str, secrets: Sequence[Secret]) -> str:
    """HTML source, attributes included (mailto: links), with each secret replaced.

    The replacement is HTML-escaped so that a label such as "l'ambassadeur" cannot break an
    attribute.
    """
    return _scrub(source, secrets, html_mode=True)


# ---------------------------------------------------------------- detection


_QUOTE_MARKS = re.compile(r"(?m)^[ \t]*(?:>[ \t]*)+")
_TAG = re.compile(r"</?[a-z!][^<>@]*>")
_WORD_AT = re.compile(
    r"\s*[(\[{]\s*(?:at|arobase|arrobase|@)\s*[)\]}]\s*|\s+(?:at|arobase|arrobase)\s+|\s*@\s*"
)
_WORD_DOT = re.compile(r"\s*[(\[{]\s*(?:dot|point|\.)\s*[)\]}]\s*|\s+(?:dot|point)\s+")
_SPACES = re.compile(r"\s+")


def _decoded(text: str) -> str:
    """Entities (twice, for double escaping), %XX, accents and case, quote markers folded."""
    text = html.unescape(html.unescape(text))
    text = unquote(text, errors="replace")
    text = _QUOTE_MARKS.sub(" ", fold(text))
    text = _WORD_AT.sub("@", text)
    return _WORD_DOT.sub(".", text)


def _views(text: str) -> list[str]:
    """The decoded text as written, without tags, and without any space (split lines)."""
    decoded = _decoded(text)
    untagged = _TAG.sub("", decoded)
    spaced = _SPACES.sub(" ", _TAG.sub(" ", decoded))
    return [spaced, _SPACES.sub(" ", untagged), _SPACES.sub("", untagged)]


def _hits(view: str, needle: str, label: str) -> list[str]:
    pattern = re.compile(rf"(?<![a-z0-9_+\-]){re.escape(needle)}(?![a-z0-9\-])")
    return [
        f"{label}: ...{view[max(0, m.start() - 30) : m.end() + 30]}..."
        for m in pattern.finditer(view)
    ]


def find_leaks(text: str, secrets: Sequence[Secret]) -> list[str]:
    """Every place a secret address (or name) still shows, as 'secret: ...context...'.

    Errs towards reporting: an address followed by more domain labels is reported too.
    """
    found: list[str] = []
    views = _views(text)
    for secret in secrets:
        needles = [fold(secret.address.strip())]
        needles += [" ".join(fold(n).split()) for n in secret.names if n.strip()]
        for needle in needles:
            for view in views if "@" in needle else views[:2]:
                found += [h for h in _hits(view, needle, needle) if h not in found]
    return found
