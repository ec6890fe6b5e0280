"""Hiding real addresses (and optionally names) in relayed text, and finding any left.

Both sides read one list of the ways "@" and "." are written around an address
(address_variants.py), so they cannot drift apart; the code that uses it is separate, so
that a bug in one is caught by the other: replacement here, detection in leaks.py.

The replacement side first builds a normalised view of the text (text_view.py) that
remembers where each of its characters came from: HTML entities and %XX decoded (twice, for
double escaping), compatibility forms folded (full-width "＠"), case and accents folded,
invisible characters (zero-width space, soft hyphen, bidi marks) dropped. It searches that
view for each secret, written any of the listed ways, with spaces, line breaks and "> "
quote markers between the words, then replaces the matching stretch of the original text:
the rest stays byte for byte. HTML is searched twice, with its tags as spaces, then with
its tags removed (an address cut by `<span>`), and the tags inside a replaced stretch are
kept. Optionally any other address (a third party's) is masked the same way.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from mailflow.core.textnorm import fold
from mailflow.masking.address_variants import (
    AT_SYMBOLS,
    AT_WORDS,
    CLOSE,
    DOT_SYMBOLS,
    DOT_WORDS,
    OPEN,
    OTHER_AT_WORDS,
    OWN_TEXT_AT_WORDS,
    any_of,
)
from mailflow.masking.text_view import FOLD, TextView, strip_tags, tag_spans, text_view

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
    """Mask every address except these (folded, compared whole) with `mask`.

    `words`: also those written out with words ("sophie point x arobase gmail point com",
    "x at gmail.com"), for a person's own text (a request), where an address of anyone is
    never wanted; in a relayed reply "point" and "at" between words are too often prose."""

    keep: frozenset[str]
    mask: str = MASK
    words: bool = False

    @classmethod
    def keeping(cls, addresses: Collection[str], mask: str = MASK, words: bool = False) -> Others:
        return cls(frozenset(fold(a.strip()) for a in addresses if "@" in a), mask, words)


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


def _any_address_pattern(html_mode: bool, words: bool = False) -> str:
    sp = _SP_HTML if html_mode else _SP_TEXT
    at_words = OWN_TEXT_AT_WORDS if words else OTHER_AT_WORDS
    at = _separator(AT_SYMBOLS[:1], AT_WORDS, at_words, sp, spaced=False)
    dot = _separator(DOT_SYMBOLS[:1], DOT_WORDS, DOT_WORDS if words else (), sp, spaced=False)
    local = rf"{_LOCAL_CHAR}+(?:\.{_LOCAL_CHAR}+)*"
    labels = "*"
    if words:  # "sophie point x": a few words joined by dot words (bounded: linear time)
        local = rf"{local}(?:{sp}+{any_of(DOT_WORDS)}{sp}+{local}){{0,4}}"
        labels = "{0,8}"
    # Not from inside a run of address characters (linear time on long runs), except just
    # after a hyphen ("--a1rh@x.fr" after a boundary marker), and from there only for a first
    # label of at most 64 characters (RFC 5321's whole local part): tried after each hyphen
    # of "a-a-a-...", an unbounded scan to the end of the run would be quadratic.
    start = (
        rf"(?:(?<![\w!#$'*+^`{{|}}~.-])|(?<=-)(?=[^\W_]{_LOCAL_CHAR}{{0,63}}+(?!{_LOCAL_CHAR})))"
    )
    compact = rf"{start}{local}{at}{_LABEL}(?:{dot}{_LABEL}){labels}{dot}{_TLD}"
    return f"(?:{compact}|{_spaced_address_pattern(sp)})"


def _spaced_address_pattern(sp: str) -> str:
    """ "paul . martin @ pros . test", "paul.martin @ pros.test", "rh (at) x . fr": spaces
    around the at sign (or an at word), and " . " dots, both sides spaced or none ("Merci.
    Paul" is two sentences). Tried after the compact form, which wins where it matches
    ("rh@x.fr . Merci"). Linear: a start right after "word . " is inside a chain already
    read from its first word, so each chain is read once."""
    at = _separator(AT_SYMBOLS[:1], AT_WORDS, OTHER_AT_WORDS, sp, spaced=True)
    dot = rf"(?:\.| \. |{sp}*{OPEN}{sp}*(?:\.|{any_of(DOT_WORDS)}){sp}*{CLOSE}{sp}*)"
    local = rf"{_LOCAL_CHAR}+(?:(?:\.| \. ){_LOCAL_CHAR}+)*"
    start = rf"(?<![\w!#$'*+^`{{|}}~.-])(?<!{_LOCAL_CHAR} \. )"
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
def _compile(
    secrets: tuple[Secret, ...], html_mode: bool, others: bool, words: bool = False
) -> _Compiled:
    alternatives = [
        f"(?P<s{i}>{_address_pattern(s.address, html_mode, others)})" for i, s in enumerate(secrets)
    ]
    if others:
        alternatives.append(f"(?P<other>{_any_address_pattern(html_mode, words)})")
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
        other=re.compile(_any_address_pattern(html_mode, words)) if others else None,
        names=tuple(names),
        displays=tuple(displays),
    )


def _glued(text: str, view: TextView, end: int) -> bool:
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
            out += tag_spans(text, start, end)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _replace_addresses(
    text: str,
    view: TextView,
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


def _kept_then_glued(text: str, view: TextView, m: re.Match[str], others: Others) -> bool:
    """A kept address with a word glued on ("relay+x@mailflow.testMerci")."""
    for kept in others.keep:
        end = m.start() + len(kept)
        if m.group().startswith(kept) and end < m.end() and text[view.origin(end)].isupper():
            return True
    return False


def _cut_by_fold(original: str) -> bool:
    """Does a fold cut this address before its last label? ("rh@x.test\n bonjour" is an
    address, then a word on the next line: found already, without unfolding.)"""
    parts = re.split(FOLD, original)
    return len(parts) > 1 and "." in parts[-1]


_CANON_AT = re.compile(rf"{OPEN}\s*(?:{any_of(AT_SYMBOLS)}|{any_of(AT_WORDS)})\s*{CLOSE}")
_CANON_DOT = re.compile(rf"{OPEN}\s*(?:{any_of(DOT_SYMBOLS)}|{any_of(DOT_WORDS)})\s*{CLOSE}")
_CANON_WORD_AT = re.compile(rf"(?<!\s)\s+{any_of(AT_WORDS)}\s+")  # from a run start: linear
_CANON_WORD_DOT = re.compile(rf"(?<!\s)\s+{any_of(DOT_WORDS)}\s+")  # likewise


def _canonical(matched: str) -> str:
    """ "rh [at] x (dot) fr" -> "rh@x.fr", to compare with the addresses to keep."""
    text = _CANON_WORD_AT.sub("@", _CANON_DOT.sub(".", _CANON_AT.sub("@", matched)))
    text = _CANON_WORD_DOT.sub(".", text)
    return re.sub(r"<[^<>]*>|\s+", "", text)


def _replace_names(text: str, secrets: tuple[Secret, ...], html_mode: bool) -> str:
    compiled = _compile(secrets, html_mode, False)
    escape = html.escape if html_mode else str
    view = text_view(text)
    for pattern, _ in compiled.displays:  # the names just before a replaced address
        spans = [(*view.span(m.start(), m.end()), "") for m in pattern.finditer(view.text)]
        if spans:
            text = _apply(text, spans, False)
            view = text_view(text)
    for pattern, index in compiled.names:
        replacement = escape(secrets[index].replacement)
        found = pattern.finditer(view.text)
        spans = [(*view.span(m.start(), m.end()), replacement) for m in found]
        if spans:
            text = _apply(text, spans, False)
            view = text_view(text)
    return text


def _scrub(text: str, secrets: Sequence[Secret], others: Others | None, html_mode: bool) -> str:
    secrets = tuple(secrets)
    if not text or (not secrets and others is None):
        return text
    text = _part_glued(text, secrets)
    compiled = _compile(secrets, html_mode, others is not None, bool(others and others.words))
    args = (compiled, secrets, others, html_mode)
    view = text_view(text)
    replaced = _replace_addresses(text, view, *args, keep_tags=html_mode)
    if replaced != text:
        text, view = replaced, text_view(replaced)
    # An address cut by tags: search again without them (if, cheaply, there is anything).
    if html_mode and "<" in text and compiled.addresses.search(strip_tags(view.text)):
        text = _replace_addresses(text, text_view(text, untag=True), *args, keep_tags=True)
    # An address cut by a folded line ("amb1@pr\r\n os.test"): search again unfolded.
    if not html_mode and re.search(r"\n[ \t]", text):
        unfolded = text_view(text, unfold=True)
        if unfolded.text != view.text and compiled.addresses.search(unfolded.text):
            text = _replace_addresses(text, unfolded, *args, keep_tags=False, unfolded=True)
    if any(s.names for s in secrets):
        text = _replace_names(text, secrets, html_mode)
    return text


_RUN = re.compile(r"[^\s<>()\[\],;:\"']+")  # what one written address can span


def _part_glued(text: str, secrets: tuple[Secret, ...]) -> str:
    """A party's address glued after another address ("person1@users.test28amb1@pros.test",
    found by the property test): a space goes before it, so that each is seen whole. The
    passes below read one address, then a word glued on, and the second party's address
    went through. A real address has one "@": a run with two is never one address, while
    "xjean.dupont@example.org" (one "@") is someone else's and stays as written. Linear:
    each run is searched once per secret, from where the last find ended."""
    if text.count("@") < 2:
        return text
    folded = text.lower()
    if len(folded) != len(text):  # "İ" lowers to two characters: keep offsets aligned
        folded = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    addresses = [s.address.strip().lower() for s in secrets]
    if not any(a in folded for a in addresses):
        return text
    out, pos = [], 0
    for run in _RUN.finditer(folded):
        token = run.group()
        if token.count("@") < 2:
            continue
        cuts: set[int] = set()
        for address in addresses:
            at = token.find(address, 1)
            while at > 0:
                if "@" in token[:at]:
                    cuts.add(at)
                at = token.find(address, at + 1)
        if not cuts:
            continue
        original = text[run.start() : run.end()]
        edges = [0, *sorted(cuts), len(original)]
        out += [text[pos : run.start()], " ".join(original[a:b] for a, b in pairwise(edges))]
        pos = run.end()
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


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
