"""Which of the trades a mail names is the one WANTED, and a wanted trade ROME lacks (pure).

"je suis aide-soignante et je voudrais rencontrer une infirmière": the trade after a wish
(rencontrer, devenir, faire une VAE de...) beats one held ("je suis", "mon père est"); a trade
refused ("je ne veux pas faire mécanicien", "plutôt cuisinier que serveur") is never chosen.
The phrases are [wishes] in rules/understanding.toml.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter

from mailflow.core.textnorm import words
from mailflow.understand.fields import Found
from mailflow.understand.rules import UnderstandingRules
from mailflow.understand.tokens import Token, tokenize
from mailflow.understand.trade_index import TradeHit

WINDOW = 240  # characters before a trade read for its cues (a wish, a refusal)
_CLAUSE = re.compile(r"[.,;:!?\n]|\bmais\b", re.I)
# A wish is read in the trade's own sentence: the subject "VAE" is no wish for the trade the
# first line names ("VAE\nInfirmière depuis 15 ans, ..."); a line ending in ":" goes on.
_SENTENCE = re.compile(r"[.!?;]|(?<![:,])\n|\bmais\b", re.I)  # "mais" opens a clause of its own
_PART = re.compile(r"[,;.!?]")  # where a signature's closing words end ("Merci, Léa")
_WISH_WORDS = 6  # words before a trade where a wish or a held cue counts
_NAME = re.compile(r"(?:M\.|Mme|Mlle|[A-ZÀ-Ý][a-zà-ÿ'-]+|[A-ZÀ-Ý][A-ZÀ-Ý'-]+)")  # "Le Roux"
_TITLE_CASE = re.compile(r"(?:[A-ZÀ-Ý][a-zà-ÿ'-]+|M\.)")  # "Louis", "Mme": not "BTS"
_CIVILITY = re.compile(r"(?:\bM\.|\b(?:Mme|Mlle|Mr|Dr|Madame|Monsieur)) $")
_NOT_NAMES = frozenset({"Je", "J'ai", "Le", "La", "Les", "Un", "Une", "Mon", "Ma", "En", "Au"})
_AFTER = 80  # characters after a trade read for "depuis 10 ans" and ", je ..."
# How much a trade looks like the one asked for (the highest is chosen). MENTIONED: a person
# the writer knows or is ("ma conseillère", a signature's title); HELD: the job one has;
# COURSE: one's schooling or a relative's job, kept when nothing else is named.
_PREFERRED, _WANTED, _NEUTRAL, _COURSE, _HELD, _MENTIONED = 5, 4, 3, 2, 1, 0
# In a VAE the job held is the one to validate: it ranks above a trade merely named.
_VAE_RANK = {_HELD: 3.5}
_WEAK_METHODS = frozenset({"field", "fuzzy"})  # "en boulangerie", a typo: below a title


def choose(
    text: str, hits: list[TradeHit], rules: UnderstandingRules, kind: str | None = None
) -> tuple[TradeHit | None, list[str]]:
    """The trade asked for, and a note for each trade refused or only held; None when none
    is asked for. A trade the writer holds (the job they have, their signature's title) is
    the one asked for only in a VAE: "je suis secrétaire et je voudrais changer de métier"
    asks for no trade yet (the help mail), not for a secretary."""
    notes: list[str] = []
    scored: list[tuple[float, bool, int, TradeHit]] = []
    breaks = [0, *(m.end() for m in _CLAUSE.finditer(text))] if hits else []
    sentences = [0, *(m.end() for m in _SENTENCE.finditer(text))] if hits else []
    signed = _signature_starts(text, rules) if hits else []
    previous: tuple[TradeHit, int] | None = None
    for i, hit in enumerate(hits):
        before = hits[i - 1] if i else None
        # Bounded windows: a mail naming thousands of "trades" in one clause stays linear.
        start = max(breaks[bisect_right(breaks, hit.start) - 1], hit.start - WINDOW)
        if _refused(text, text[start : hit.start], hit, before, rules):
            notes.append(f"trade: '{hit.text}' refused, not the one asked for")
            continue
        sentence = sentences[bisect_right(sentences, hit.start) - 1]
        if _surname(text, hit, sentence):
            notes.append(f"trade: '{hit.text}' is a name ('collège Louis Pasteur'), no trade")
            continue
        score = _score(text, hit, previous, sentence, signed, rules)
        previous = (hit, score)
        rank = _VAE_RANK.get(score, score) if kind == "vae" else score
        scored.append((rank, hit.method not in _WEAK_METHODS, -hit.start, hit))
    if scored and _looking_elsewhere(text, rules):  # "je ne sais pas quel métier", "changer"
        notes += [f"trade: '{s[3].text}' is no choice yet" for s in scored if s[0] < _WANTED]
        scored = [s for s in scored if s[0] >= _WANTED]
    # Only held (or, in a VAE, only a person named: an adviser's title): no trade asked.
    if scored and all(s[0] <= (_MENTIONED if kind == "vae" else _HELD) for s in scored):
        notes += [f"trade: '{s[3].text}' is held, not asked for" for s in scored]
        scored = []
    scored = _narrowed(scored)
    # On a tie, the trade the mail names most often, then the first named.
    times = Counter((s[0], s[3].trade.code_rome) for s in scored)
    best = max(
        scored, key=lambda s: (*s[:2], times[s[0], s[3].trade.code_rome], s[2]), default=None
    )
    return (best[3] if best else None), notes


def _score(
    text: str,
    hit: TradeHit,
    previous: tuple[TradeHit, int] | None,
    sentence: int,
    signed: list[tuple[int, int]],
    rules: UnderstandingRules,
) -> int:
    """Wanted when the nearest cue before it is a wish, held when it is "je suis"...; with
    no cue, the score of the trade it goes with ("je suis mécanicien chez un
    concessionnaire"), else held when it is the writer's title ("Infirmière depuis 15 ans,
    je ...", a signature), else neutral."""
    since = max(previous[0].end if previous else 0, sentence, hit.start - WINDOW)
    # A diploma's cue may be further ("obtenir par la VAE un diplôme de niveau bac+2 en
    # commerce (BTS MCO)"): its whole stretch since the last trade is read.
    reach = None if hit.method == "diploma" else -_WISH_WORDS
    cue = _cue(words(text[since : hit.start]).split()[reach:], hit, rules)
    if cue is not None:
        return cue
    w = rules.wanted
    if previous and previous[0].end >= sentence:
        gap = words(text[previous[0].end : hit.start]).split()
        if len(gap) <= 4 and all(g in w.links for g in gap):
            return previous[1]
    if any(a <= hit.start < b for a, b in signed) or _under_a_name(text, hit):
        return _MENTIONED
    return _own_title(text, hit, sentence, rules)


def _cue(before: list[str], hit: TradeHit, rules: UnderstandingRules) -> int | None:
    """The score the nearest phrase before the trade gives (the longer on a tie)."""
    w = rules.wanted
    padded = f" {' '.join(before)} "
    if hit.method != "diploma" and any(padded.endswith(f" {r} ") for r in rules.who.relatives):
        return _COURSE  # "mon oncle charpentier": a relative's job, as "mon oncle est"
    if hit.method != "diploma" and before and before[-1] in w.persons:
        return _MENTIONED  # "ma conseillère France Travail", "mon prof": someone one knows
    wishes = (
        rules.wish_phrases
        + rules.kind_phrases["metier"]
        + rules.kind_phrases["vae"]
        + rules.kind_phrases["formation"]
    )
    # One's own schooling ("je suis en bac pro ASSP", "j'ai un BTS compta"): a diploma's words.
    diploma = hit.method == "diploma" or any(
        f" {' '.join(phrase)} " in padded for phrase, _ in rules.diplomas
    )
    course = w.schooling + (rules.diploma_background if diploma else ())
    best: tuple[int, int, int] | None = None  # (end, length, score)
    cues = (
        (wishes, _WANTED),
        (w.held, _HELD),
        (course + w.family, _COURSE),  # one's schooling, someone else's job: kept alone
        (w.neutral, _NEUTRAL),
    )
    for phrases, score in cues:
        for phrase in phrases:
            at = padded.rfind(f" {phrase} ")
            if at >= 0:
                found = (at + len(phrase), len(phrase), score)
                best = found if best is None or found[:2] > best[:2] else best
    if best is None:
        return None
    if best[2] == _WANTED and any(word in w.rather for word in before):
        return _PREFERRED  # "je ne veux pas, je préfère devenir ergothérapeute"
    return best[2]


def _own_title(text: str, hit: TradeHit, sentence: int, rules: UnderstandingRules) -> int:
    """Held when "depuis", "(12 ans d'expérience)" follow the trade in its clause; the
    writer's title when it opens the sentence (after a greeting) and a clause in the first
    person follows ("Conseillère d'orientation au CIO, je reçois"); else neutral."""
    w = rules.wanted
    after = text[hit.end : hit.end + _AFTER].split("\n", 1)[0]
    clause = words(_PART.split(after, maxsplit=1)[0])
    if any(f" {p} " in f" {clause} " for p in w.held_after):
        return _HELD
    opening = words(text[sentence : hit.start]).split()
    if not all(word in w.openers for word in opening):
        return _NEUTRAL
    # Where the writer works comes before the comma ("au CIO de Rouen, je reçois"): a trade
    # right before it is a wish told first ("Vétérinaire, j'en rêve depuis petite").
    parts = after.split(",", 1)
    if len(parts) < 2 or not words(parts[0]):
        return _NEUTRAL
    rest = words(parts[1]).split()[:1]
    return _MENTIONED if rest and rest[0] in rules.who.first_person else _NEUTRAL


def _signature_starts(text: str, rules: UnderstandingRules) -> list[tuple[int, int]]:
    """The spans of signature blocks: from a closing line ("Cordialement,", "Merci, Léa") to
    the next empty line. A trade there is the writer's title, never the one asked for."""
    spans: list[tuple[int, int]] = []
    at = 0
    lines = text.split("\n")
    open_at: int | None = None
    said = False  # closing words close something said: a subject "slt" opens no signature
    for line in lines:
        end = at + len(line) + 1
        if open_at is not None and not line.strip():
            spans.append((open_at, at))
            open_at = None
        elif open_at is None and said and words(_PART.split(line, maxsplit=1)[0]) in rules.closings:
            open_at = at + len(_PART.split(line, maxsplit=1)[0])
        said = said or len(line.split()) >= 4
        at = end
    if open_at is not None:
        spans.append((open_at, len(text)))
    return spans


def _surname(text: str, hit: TradeHit, sentence: int) -> bool:
    """ "au collège Louis Pasteur", "Mme Boucher", "rue Jean Boulanger": a capitalised title
    right after a capitalised name word that does not open its sentence is a surname."""
    first = re.split(r"[\s-]", hit.text, maxsplit=1)[0]
    if not _TITLE_CASE.fullmatch(first) or hit.start < 2 or text[hit.start - 1] != " ":
        return False  # "BP coiffure", "CAP Pâtissier": a diploma, no name
    if _CIVILITY.search(text, max(0, hit.start - 12), hit.start):
        return True  # "M. Bouvier, CPE"
    head = text.rfind(" ", max(sentence, hit.start - 40), hit.start - 1)
    word = text[head + 1 : hit.start - 1]
    if head < sentence or not text[sentence:head].strip():
        return False  # the name word opens the sentence ("Bonjour Boulanger" is unknown)
    return bool(_TITLE_CASE.fullmatch(word)) and word not in _NOT_NAMES


def _under_a_name(text: str, hit: TradeHit) -> bool:
    """A line that opens with the trade, under a line that is only a name ("Hélène Morin" /
    "Conseillère Mission Locale"): a signature without closing words."""
    line_start = text.rfind("\n", 0, hit.start) + 1
    if text[line_start : hit.start].strip() or line_start < 2:
        return False
    above = text[text.rfind("\n", 0, line_start - 1) + 1 : line_start - 1].split()
    return 1 < len(above) <= 3 and all(_NAME.fullmatch(word) for word in above)


def _looking_elsewhere(text: str, rules: UnderstandingRules) -> bool:
    """The mail says the trade is still to find ("je ne sais pas quel métier", "changer de
    métier", "quel diplôme choisir"): only a trade wished for is then the one asked for."""
    padded = f" {words(text)} "
    return any(f" {phrase} " in padded for phrase in rules.wanted.elsewhere)


def _narrowed(scored: list[tuple[float, bool, int, TradeHit]]) -> list:
    """Without the trades a later one of the same score narrows ("je veux bien être
    mécanicien ... rencontrer un mécanicien moto": the moto one)."""
    named = [(s, words(s[3].text).split()) for s in scored]
    prefixes = {(s[0], tuple(w[:n])) for s, w in named for n in range(1, len(w))}
    return [s for s, w in named if (s[0], tuple(w)) not in prefixes]


def _refused(
    text: str, clause: str, hit: TradeHit, previous: TradeHit | None, rules: UnderstandingRules
) -> bool:
    """A refusal since the clause began ("pas", "jamais"), or the "que" of "plutôt X que"."""
    w = rules.wanted
    padded = f" {words(clause)} "
    for phrase in w.unrefusals:
        padded = padded.replace(f" {phrase} ", " _ ")
    if any(f" {phrase} " in padded for phrase in w.refusals):
        return True
    if previous is None:  # "plutôt cuisinier que serveur": serveur is refused
        return False
    between = words(text[max(previous.end, hit.start - WINDOW) : hit.start]).split()
    lead = words(text[max(0, previous.start - 60) : previous.start]).split()[-3:]
    return len(between) == 1 and between[0] in w.than and any(x in w.rather for x in lead)


def unlisted(text: str, rules: UnderstandingRules) -> Found | None:
    """ "je voudrais rencontrer un astronaute" -> "astronaute": the noun a wish verb takes,
    when ROME has no such trade. Never a vague word ("quelqu'un", "un professionnel")."""
    w = rules.wanted
    tokens = tokenize(text)
    keys = [t.key for t in tokens]
    for i in range(len(tokens)):
        for verb in w.object_verbs:
            end = i + len(verb)
            if tuple(keys[i:end]) != verb:
                continue
            noun = _object(tokens, end, verb in w.with_article, rules)
            if noun is not None:
                note = f"trade: '{noun.text}' after '{' '.join(verb)}', not in ROME (unlisted)"
                return Found(noun.text, note, noun.start, noun.end)
            break
    return None


def _object(
    tokens: list[Token], at: int, needs_article: bool, rules: UnderstandingRules
) -> Token | None:
    w = rules.wanted
    if at < len(tokens) and tokens[at].key in w.articles:
        at += 1
    elif needs_article:
        return None
    if at >= len(tokens):
        return None
    token = tokens[at]
    key = token.key
    vague = key in w.not_trades or key in rules.stop_words or key in w.articles
    participle = token.text.lower().endswith(("é", "ée", "és", "ées"))
    if vague or participle or len(key) < 4 or not key.isalpha():
        return None
    return token
