"""Understanding a person's mail: what they ask (trade, training, VAE), where, who they are.

understand() is a pure function: subject and body in, ParsedRequest out. The keywords live in
rules/understanding.toml (load_understanding_rules), the reference data in Referential.
Form fields ("Métier : boulanger") win over guesses from free text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from mailflow.core.textnorm import fold, words
from mailflow.core.values import ParsedRequest
from mailflow.understand.english_trades import merge_hits
from mailflow.understand.fields import (
    Found,
    find_diploma,
    find_kind,
    training_held,
    with_digits,
)
from mailflow.understand.first_names import first_name_or_none
from mailflow.understand.language import ENGLISH, detect
from mailflow.understand.person import find_age, find_situation
from mailflow.understand.place_text import find_place
from mailflow.understand.referential import Referential
from mailflow.understand.rules import UnderstandingRules, load_understanding_rules
from mailflow.understand.text import Split, intro_name, parse_form, signature_name, split_message
from mailflow.understand.tokens import clean
from mailflow.understand.trade_index import TradeHit
from mailflow.understand.wanted import choose, unlisted
from mailflow.understand.writer import Writer, find_writer

__all__ = ["understand", "load_understanding_rules", "UnderstandingRules"]

_INT = re.compile(r"\b(\d{1,2})\b")
# A request is a few hundred words; past this much, the rest is not read for understanding
# (linear, but some 20 µs a character: a 300 KB mail would spend most of the CPU budget per
# message here, pipeline.py). The whole mail stays stored, and the ambassador only ever gets
# the start of it anyway.
READ_AT_MOST = 20_000
# The notes telling that the trade or the kind was read in the quoted earlier mails.
_QUOTED_NOTE = {"trade": "the trade of the earlier mail", "kind": "the kind of the earlier mail"}


@dataclass(frozen=True)
class _Ask:
    """What is asked: kind, the words, the ROME match, the diploma."""

    kind: str | None
    trade_text: str | None
    hit: TradeHit | None
    diploma: str | None
    notes: tuple[str, ...]
    unlisted: bool = False  # trade_text names a trade ROME lacks ("astronaute")


def understand(
    subject: str,
    body: str,
    ref: Referential,
    rules: UnderstandingRules,
    today: date | None = None,
) -> ParsedRequest:
    """Read one mail; every field may stay None when the mail does not say it. `today` is
    the day a birth date ("née en 2011") is counted from; without it, a birth date gives no
    age (the callers pass the day the mail is read, from mailflow.clock)."""
    notes: list[str] = []
    if len(body) > READ_AT_MOST:
        notes.append(f"read the first {READ_AT_MOST} characters of {len(body)}")
        body = body[:READ_AT_MOST]
    subject, body = clean(subject[:READ_AT_MOST]), clean(body)
    split = split_message(body, rules, subject)
    # the body first: a reply's subject is ours ("Re: Pour trouver votre ambassadeur...")
    lang = detect(f"{split.message}\n{subject}", rules.language)
    if lang == ENGLISH and rules.english is not None:  # the French words, and English ones
        notes.append("language: English")
        rules = rules.english
        split = split_message(body, rules, subject)
    form = parse_form(split.message, rules)
    fields = form.fields
    text = f"{subject}\n{form.free_text}".strip()
    asked = text  # the trade is not read in the lines signing the mail (the writer's job)
    if split.unsigned != split.message:
        asked = f"{subject}\n{parse_form(split.unsigned, rules).free_text}".strip()
    ask = _from_form(fields, ref, rules, lang) or _from_text(asked, ref, rules, lang)
    if split.forwarded and ask.hit is not None:
        ask = _forwarded_trade(ask, split.forwarded, ref, rules, lang)
    earlier = split.quoted  # a reply: the quoted mails say what the new text does not
    if earlier:
        ask = _with_earlier(ask, text, earlier, ref, rules, lang)
    notes += ask.notes
    quoted: set[str] = set()  # the fields only the quoted earlier mails gave
    if earlier:  # _with_earlier's notes say when the trade or the kind came from a quote
        quoted.update(n for n in ("trade", "kind") if f"quoted: {_QUOTED_NOTE[n]}" in ask.notes)
    place = (
        _field_place(fields, ref, notes)
        or (_note(find_place(split.forwarded, ref, rules), notes) if split.forwarded else None)
        or _note(find_place(asked, ref, rules), notes)
        or (_quoted("place", find_place(earlier, ref, rules), notes, quoted) if earlier else None)
        # else the signature block: "--\nJean Dupont\n12 rue des Lilas\n14000 Caen"
        or (
            _note(find_place(split.signature, ref, rules, signed=True), notes)
            if split.signature
            else None
        )
        or _signature_place(split.signatures, ref, rules, notes)
    )
    # A forward: the forwarded mail speaks for the young person ("j'ai 14 ans", "je suis
    # en 3e") first.
    inner = split.forwarded
    age = (
        _field_age(fields, rules, notes)
        or (_note(find_age(inner, rules, today), notes) if inner else None)
        or _note(find_age(text, rules, today), notes)
        or (_quoted("age", find_age(earlier, rules, today), notes, quoted) if earlier else None)
    )
    jobs = ref.trades.starts_a_title
    if lang == ENGLISH and ref.english is not None:
        english = ref.english
        jobs = lambda word: english.starts_a_title(word) or ref.trades.starts_a_title(word)  # noqa: E731
    situation = (
        _field_situation(fields, rules, notes, jobs)
        or (_note(find_situation(inner, rules, jobs), notes) if inner else None)
        or _note(find_situation(text, rules, jobs), notes)
        or (
            _quoted("situation", find_situation(earlier, rules, jobs), notes, quoted)
            if earlier
            else None
        )
    )
    first_name = _first_name(fields, split.signature, form.free_text, ref, rules, notes)
    domain = None if ask.hit else _domain(text, rules, notes)
    writer = _writer(form.free_text, split, rules, notes)
    return ParsedRequest(
        kind=ask.kind,
        trade_text=ask.trade_text,
        trade=ask.hit.trade if ask.hit else None,
        place=place,  # type: ignore[arg-type]
        age=age,  # type: ignore[arg-type]
        situation=situation,  # type: ignore[arg-type]
        first_name=first_name,
        message=fields.get("message") or split.message,
        diploma=ask.diploma,
        notes=tuple(notes),
        domain=domain,
        trade_unlisted=ask.unlisted,
        lang=lang,
        quoted=frozenset(quoted),
        writer_role=writer.role.value if writer.role else None,  # type: ignore[arg-type]
        young_address=writer.young_address,
    )


def _writer(free_text: str, split: Split, rules: UnderstandingRules, notes: list[str]) -> Writer:
    """Who wrote (writer.py), read in the writer's own lines: a forwarded mail is the young
    person's; the lines signing the mail say the writer's job ("Conseillère en insertion")."""
    own = free_text.replace(split.forwarded, "\n") if split.forwarded else free_text
    closing = split.message[len(split.unsigned) :] if split.unsigned else ""
    signed = "\n".join(part for part in (closing, split.signature, split.signatures) if part)
    writer = find_writer(own, signed, split.forwarded, rules)
    if writer.role is not None:
        notes.append(writer.role.note)
    if writer.for_class:
        notes.append(f"writer: a class ('{writer.for_class}'): several pupils, one request")
    return writer


def _forwarded_trade(
    ask: _Ask, forwarded: str, ref: Referential, rules: UnderstandingRules, lang: str
) -> _Ask:
    """A forward: the forwarded mail is the person's own request, so the trade it names wins
    over one in the forwarder's lines or the subject (their job title "Conseillère France
    Travail", "dans le domaine de l'aide à domicile" above "la VAE du titre ADVF", "TR: VAE
    ASH -> AS" above "je voudrais faire la VAE aide-soignante")."""
    inner = _from_text(forwarded, ref, rules, lang)
    if inner.hit is None or ask.hit is None or inner.hit.trade == ask.hit.trade:
        return ask
    notes = (*ask.notes, "forwarded: the trade of the forwarded mail wins", *inner.notes)
    diploma = inner.diploma or ask.diploma
    return _Ask(ask.kind, inner.trade_text, inner.hit, diploma, notes, inner.unlisted)


def _with_earlier(
    ask: _Ask, text: str, earlier: str, ref: Referential, rules: UnderstandingRules, lang: str
) -> _Ask:
    """A reply read with the mails it quotes, in order: what the new text says wins; the
    trade comes from the earlier mails when the reply names none ("oui c'est bien ça"), and
    their kind when the reply says no kind of its own (a VAE asked first, "oui c'est pour le
    CAP pâtissier" now)."""
    before = _from_text(earlier, ref, rules, lang)
    if ask.hit is None and ask.trade_text is None and (before.hit or before.trade_text):
        kind = ask.kind or before.kind
        notes = (*ask.notes, f"quoted: {_QUOTED_NOTE['trade']}", *before.notes)
        return _Ask(kind, before.trade_text, before.hit, before.diploma, notes, before.unlisted)
    said = find_kind(text, rules, has_diploma=False)
    silent = said is None or said.value is None  # the reply names no kind of its own
    if (
        before.kind
        and silent
        and before.kind != ask.kind
        and (ask.kind is None or before.kind == "vae")
    ):
        notes = (*ask.notes, f"quoted: {_QUOTED_NOTE['kind']}", f"kind {before.kind}")
        return _Ask(before.kind, ask.trade_text, ask.hit, ask.diploma, notes)
    return ask


def _quoted(name: str, found: object, notes: list[str], quoted: set[str]) -> object:
    """`_note` for a value read in the quoted earlier mails: `name` is recorded as quoted."""
    value = _note(found, notes)
    if value is not None:
        quoted.add(name)
    return value


def _signature_place(
    signatures: str, ref: Referential, rules: UnderstandingRules, notes: list[str]
) -> object:
    """The town of the lines signing the mail below its closing, or of a forwarder's
    signature ("Collège Louis Pasteur, Mont-Saint-Aignan", "Directeur - Transports Girard,
    Saint-Lô"): the weakest clue, read only when the mail gives no other place; the name
    opening a block is never read as one ("Merci,\nMathieu": Mathieu, 14)."""
    for block in signatures.split("\n\n"):
        found = find_place(block, ref, rules, signed=True) if block.strip() else None
        if found is not None:
            notes.append(f"{found.note} (in the signature)")
            return found.value
    return None


def _domain(text: str, rules: UnderstandingRules, notes: list[str]) -> str | None:
    """The first family of trades the text names ("l'informatique"), for the help_unclear
    mail; only read when no trade was found."""
    padded = f" {words(text)} "
    found = [
        (padded.find(f" {phrase} "), domain.name)
        for domain in rules.domains
        for phrase in domain.phrases
        if f" {phrase} " in padded
    ]
    if not found:
        return None
    at, name = min(found)
    notes.append(f"domain: '{padded[at:].split()[0]}' -> {name}")
    return name


def _note(found: Found | None, notes: list[str]) -> object:
    if found is None:
        return None
    notes.append(found.note)
    return found.value


def _from_form(
    fields: dict[str, str], ref: Referential, rules: UnderstandingRules, lang: str = "fr"
) -> _Ask | None:
    """ "Type :", "Métier :", "Formation :", "VAE :", "Métier ou formation :" lines; None when
    there are none. A "Type :" left as the form shows it ("métier (ou formation, ou VAE)")
    says nothing; "Métier ou formation :" is a formation when it names a diploma."""
    kind = _form_kind(fields.get("kind", ""), rules)
    for field, implied in (
        ("training", "formation"),
        ("vae", "vae"),
        ("trade", "metier"),
        ("trade_or_training", None),
    ):
        value = fields.get(field, "").strip()
        if not value:
            continue
        notes = [f"form: '{value}' ({field})"]
        diploma = _note(find_diploma(value, rules, in_form=True), notes)
        name, speciality = diploma if isinstance(diploma, tuple) else (None, value)
        hit = _match(speciality, ref, lang) if speciality else None
        if hit:
            notes.append(_trade_note(hit))
        if implied is None:
            said = find_kind(value, rules, has_diploma=name is not None)
            implied = said.value if said and said.value != "metier" else "metier"
        return _Ask(kind or implied, speciality or value, hit, name, tuple(notes))  # type: ignore[arg-type]
    if kind:
        return _Ask(kind, None, None, None, (f"form: type -> {kind}",))
    return None


def _form_kind(value: str, rules: UnderstandingRules) -> str | None:
    """ "Type : formation" -> formation; a value naming several kinds says nothing."""
    folded = words(value)
    if folded in rules.form_kinds:
        return rules.form_kinds[folded]
    padded = f" {folded} "
    named = {kind for phrase, kind in rules.form_kinds.items() if f" {phrase} " in padded}
    return named.pop() if len(named) == 1 else None


def _from_text(text: str, ref: Referential, rules: UnderstandingRules, lang: str = "fr") -> _Ask:
    notes: list[str] = []
    diploma = find_diploma(text, rules)
    name, speciality = diploma.value if diploma else (None, None)  # type: ignore[misc]
    if diploma:
        notes.append(diploma.note)
    kind = find_kind(text, rules, has_diploma=bool(speciality))
    if kind is not None and kind.value is None:  # "devenir ambassadeur": no trade asked
        return _Ask(None, None, None, None, (kind.note,))
    # Every trade named, the diploma's among them: the one held or studied ("je suis en bac
    # pro ASSP") is not the one asked for ("parler avec une aide-soignante"), wanted.py.
    hits = _trades(_mask_places(text, ref, rules), ref, lang)
    hit, refused = choose(text, hits, rules, kind.value if kind else None)  # type: ignore[arg-type]
    notes += refused
    trade_text = speciality if hit is None or _of_diploma(hit, diploma) else hit.text
    other = None if hit or trade_text else unlisted(text, rules)
    if other:
        notes.append(other.note)
        trade_text = str(other.value)
    if hit:
        notes.append(_trade_note(hit))
    if (
        hit
        and hit.method == "diploma"
        and (kind is None or kind.value == "metier")
        and not training_held(text, hit.text, rules)
    ):
        kind = Found("formation", f"kind: '{hit.text}' is a diploma -> formation")
    if kind is None and (hit is not None or other is not None):
        kind = Found("metier", "kind: a trade is named -> metier")
    if kind:
        notes.insert(0, kind.note)
    kind_value = kind.value if kind else None
    return _Ask(kind_value, trade_text, hit, name, tuple(notes), other is not None)  # type: ignore[arg-type]


def _of_diploma(hit: TradeHit, diploma: Found | None) -> bool:
    """The trade is the diploma's speciality ("CAP Pâtissier"): its words name the training."""
    if diploma is None or not isinstance(diploma.value, tuple) or not diploma.value[1]:
        return False
    return diploma.start <= hit.start <= diploma.end + 1 + len(str(diploma.value[1]))


def _trades(text: str, ref: Referential, lang: str) -> list[TradeHit]:
    """The trades named: in an English mail, English names first, then French ones."""
    if lang == ENGLISH and ref.english is not None:
        return merge_hits(ref.english.find(text), ref.find_trades(text))
    return ref.find_trades(text)


def _match(text: str, ref: Referential, lang: str) -> TradeHit | None:
    """The most specific trade a form field or a diploma's speciality names."""
    hits = _trades(text, ref, lang)
    return max(hits, key=lambda h: (h.size, -h.start)) if hits else None


def _mask_places(text: str, ref: Referential, rules: UnderstandingRules) -> str:
    """Blank the place words so "à Bayeux" is never read as a misspelt trade."""
    found = find_place(text, ref, rules)
    if found is None:
        return text
    return text[: found.start] + " " * (found.end - found.start) + text[found.end :]


def _trade_note(hit: TradeHit) -> str:
    return f"trade: '{hit.text}' -> {hit.trade.code_rome} {hit.trade.label} ({hit.method})"


def _field_place(fields: dict[str, str], ref: Referential, notes: list[str]) -> object:
    value = fields.get("place", "").strip()
    place = ref.match_place(value) if value else None
    if place:
        notes.append(f"place: form '{value}' -> {place}")
    return place


def _field_age(fields: dict[str, str], rules: UnderstandingRules, notes: list[str]) -> int | None:
    match = _INT.search(with_digits(fold(fields.get("age", "")), rules))
    if match and rules.age_min <= int(match.group(1)) <= rules.age_max:
        notes.append(f"age: form '{fields['age']}'")
        return int(match.group(1))
    return None


def _field_situation(
    fields: dict[str, str],
    rules: UnderstandingRules,
    notes: list[str],
    jobs: Callable[[str], bool],
) -> object:
    value = fields.get("situation", "")
    compact = words(value).replace(" ", "_")
    found = find_situation(value, rules, jobs) if value else None
    if value and compact in {s.name for s in rules.situations}:
        found = Found(compact, f"situation: form '{value}'")
    return _note(found, notes)


def _first_name(
    fields: dict[str, str],
    signature: str,
    free_text: str,
    ref: Referential,
    rules: UnderstandingRules,
    notes: list[str],
) -> str | None:
    """Form field, else "je m'appelle Léa", else the signature ("Merci, Léa")."""
    value = fields.get("first_name", "").split()
    if value:
        notes.append(f"first_name: form '{fields['first_name']}'")
        name = value[0].capitalize() if value[0].isupper() or value[0].islower() else value[0]
        if first_name_or_none(name):
            return name
        notes.append("first_name: the form's is no name, ignored")  # "dave@evil.test"
    for found, how in (
        (intro_name(free_text, rules), "intro"),
        (signature_name(free_text, signature, rules), "signature"),  # form lines are no name
    ):
        if found and ref.match_trade(found[0]) is None:
            notes.append(f"first_name: {how} '{found[1]}' -> {found[0]}")
            return found[0]
    return None
