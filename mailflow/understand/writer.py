"""Who writes: the young person, or an adult writing for them ([writer] in
rules/understanding.toml, issue 14).

"je suis conseillère à la Mission Locale de Caen et je vous écris pour un jeune de 17 ans",
"mon fils de 14 ans voudrait...", "Bonjour, Psy-EN au CIO de Lisieux, j'accompagne un élève":
the writer's role (one of core.values.WRITER_ROLES), read only when the mail is written for
someone else, so that a young person's words about an adult ("ma conseillère m'a dit de vous
écrire", "mon prof principal", "ma mère est infirmière") leave the writer the young person.
The age and the situation of the one written for are read by person.py. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailflow.core.textnorm import fold, words
from mailflow.understand.fields import Found
from mailflow.understand.person import named_for
from mailflow.understand.rules import UnderstandingRules, WriterRole, WriterRules

# Where a clause ends: a title in apposition opens one ("Bonjour, Psy-EN au CIO, j'...").
_CLAUSE = re.compile(r"[.;:!?\n\",\u2013\u2014|/]| - ")  # not brackets: "(Psy-EN) m'a dit"
_SENTENCES = re.compile(r"\n|(?<=[!?])\s|\.\s")  # an address keeps its dots
_ADDRESS = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")


@dataclass(frozen=True)
class Writer:
    """Who wrote, and whether a teacher writes for several pupils at once."""

    role: Found | None  # value: one of WRITER_ROLES; None: the person writes for themselves
    for_class: str | None = None  # the words saying a class ("plusieurs de mes élèves")
    young_address: str | None = None  # "il vous écrira de son adresse : lucas@..."


def find_writer(body: str, signed: str, forwarded: str, rules: UnderstandingRules) -> Writer:
    """The writer's role in `body` (the writer's own lines, without the subject: a subject
    "Éducateur spécialisé" names the trade asked), `signed` (the lines signing the mail)
    and whether a mail of someone else is `forwarded`."""
    w = rules.writer
    padded = f" {words(body)} "
    role = _child(padded, w)
    named = tuple(p for p in (*rules.who.for_other, *w.for_someone) if p not in w.not_for)
    gated = bool(forwarded.strip()) or named_for(padded, rules.who, named) is not None
    if role is None:
        titled = _titled(body, signed, w)
        if titled is not None and not gated:  # "Je suis éducatrice. Je suis un jeune de 17 ans"
            gated = any(f" {phrase} " in padded for phrase in w.follow)
        own = any(f" {phrase} " in padded for phrase in w.own_request)
        if titled is not None and (gated or (titled[0].alone and not own)):
            role = Found(titled[0].name, f"writer: '{titled[1]}' -> {titled[0].name}")
    if role is None and gated:
        role = _placed(body, signed, w) or _for(padded, w) or _someone()
    if role is None:
        return Writer(None)
    said = next((p for p in w.class_words if _several(padded, p)), None)
    return Writer(role, said if role.value == "enseignant" else None, _address(body, w))


def _several(padded: str, phrase: str) -> bool:
    """`phrase` said of several pupils: not "un de mes élèves", "l'une de nos élèves"."""
    at = padded.find(f" {phrase} ")
    while at >= 0:
        if not padded[:at].endswith((" un de", " une de", " un d", " une d")):
            return True
        at = padded.find(f" {phrase} ", at + 1)
    return False


def _address(body: str, w: WriterRules) -> str | None:
    """The first address in a sentence that says it is the young person's own."""
    for sentence in _SENTENCES.split(body):
        padded = f" {words(sentence)} "
        if any(f" {phrase} " in padded for phrase in w.address_before):
            found = _ADDRESS.search(sentence)
            if found:
                return found.group(0).lower()
    return None


def _someone() -> Found:
    return Found("autre", "writer: written for someone else, by an adult not named -> autre")


def _child(padded: str, w: WriterRules) -> Found | None:
    for role in w.roles:
        for phrase in role.children:
            if f" {phrase} " in padded:
                return Found(role.name, f"writer: '{phrase}' -> {role.name}")
    return None


def _titled(body: str, signed: str, w: WriterRules) -> tuple[WriterRole, str] | None:
    """The first role whose title the writer gives as their own, in the body then in the
    signature; the longest title where several start at one place."""
    for text, signature in ((body, False), (signed, True)):
        best: tuple[int, int, int, WriterRole, str] | None = None
        for n, clause in enumerate(_clauses(text)):
            for role in w.roles:
                for title in role.said:
                    at = clause.find(f" {title} ")
                    if at >= 0 and (best is None or (n, at) < best[:2]):
                        best = (n, at, -len(title), role, title)
                for title in role.titles:
                    at = clause.find(f" {title} ")
                    while at >= 0:
                        if _own(clause, at, w, signature):
                            key = (n, at, -len(title))
                            if best is None or key < best[:3]:
                                best = (*key, role, title)
                            break
                        at = clause.find(f" {title} ", at + 1)
        if best is not None:
            return best[3], best[4]
    return None


def _own(clause: str, at: int, w: WriterRules, signature: bool) -> bool:
    """The title at `at` is the writer's: after "je suis" (an article between allowed), at
    the opening of its clause, or in the signature unless someone else's ("ma CPE")."""
    before = clause[:at].split()
    if all(word in w.openers for word in before):
        return True
    said = f" {' '.join(before)} "
    if before[-1] in w.articles:
        said = f" {' '.join(before[:-1])} "
    if any(said.endswith(f" {intro} ") for intro in w.intro):
        return True
    return signature and before[-1] not in w.others


def _placed(body: str, signed: str, w: WriterRules) -> Found | None:
    """A role's place said in a sentence in the first person ("j'accompagne à la Mission
    Locale"), on a line opening with it, or in the signature."""
    for text, signature in ((body, False), (signed, True)):
        for sentence in re.split(r"[.;!?\n]", fold(text)):
            padded = f" {words(sentence)} "
            mine = signature or any(f" {word} " in padded for word in w.first_person)
            for role in w.roles:
                for place in role.places:
                    at = padded.find(f" {place} ")
                    opening = at >= 0 and all(x in w.openers for x in padded[:at].split())
                    if at >= 0 and (mine or opening):
                        return Found(role.name, f"writer: '{place}' -> {role.name}")
    return None


def _for(padded: str, w: WriterRules) -> Found | None:
    for role in w.roles:
        for phrase in role.for_:
            if f" {phrase} " in padded:
                return Found(role.name, f"writer: '{phrase}' -> {role.name}")
    return None


def _clauses(text: str) -> list[str]:
    return [f" {said} " for part in _CLAUSE.split(fold(text)) if (said := words(part))]
