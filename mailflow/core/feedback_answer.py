"""The person's answer to the feedback request: a score from 1 to 5 and 'did you meet?'.

Read from the person's own words only: the reply stops at a signature ("-- ") or at the
quoted request ("Le ... a écrit :", "> ..."), which itself says "1 à 5" and "oui / non".
The score is the number tied to a marker ("note : 4", "je mets 5", "4/5", "quatre sur
cinq") or standing alone on its line ("4, oui"); failing those, the one number that is
neither a date, an age, a duration nor a count ("le 2 mars", "15 ans", "3e B"). Two
different scores of the same strength are ambiguous: nothing is guessed, the person is asked
once more. Every word is in rules/feedback.toml.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import fold, words

RULES_FILE = "feedback.toml"
LONE_MAX = 64  # tokens: a longer line holds no score "alone on its line"
_TOKEN = re.compile(r"\d+(?:[.,:h]\d+)*|[a-z]+|/")
Phrase = tuple[str, ...]


@dataclass(frozen=True)
class FeedbackRules:
    signature_starts: tuple[str, ...]  # folded line starts
    quote_headers: tuple[re.Pattern[str], ...]  # on a folded, stripped line
    lowest: int
    highest: int
    numbers: Mapping[str, int]  # number words -> value
    only_when_marked: frozenset[str]
    before: tuple[Phrase, ...]  # token sequences right before a sure score
    after: tuple[Phrase, ...]  # ... right after it
    not_after: frozenset[str]
    not_before: tuple[Phrase, ...]
    politeness: re.Pattern[str]  # on words()
    yes: re.Pattern[str]  # on words()
    no: re.Pattern[str]


@dataclass(frozen=True)
class FeedbackAnswer:
    score: int | None
    met: bool | None
    ambiguous: bool = False  # two different scores given: none is recorded

    @property
    def understood(self) -> bool:
        return not self.ambiguous and (self.score is not None or self.met is not None)


def load_feedback_rules(rules_dir: Path) -> FeedbackRules:
    path = Path(rules_dir) / RULES_FILE
    data = read_toml(path)
    try:
        return build_feedback_rules(data)
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc


def _tokens(text: str) -> Phrase:
    return tuple(_TOKEN.findall(fold(text)))


def _phrases(items: list[str]) -> re.Pattern[str]:
    keys = sorted({words(i) for i in items if words(i)}, key=len, reverse=True)
    alternatives = "|".join(re.escape(k) for k in keys) or "(?!)"
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")


def build_feedback_rules(data: dict) -> FeedbackRules:
    reply_, score, met = data["reply"], data["score"], data["met"]
    lowest, highest = int(score["lowest"]), int(score["highest"])
    if not 0 <= lowest < highest <= 9:
        raise ValueError("score.lowest < score.highest, both 0..9")
    numbers = {words(k): int(v) for k, v in score["words"].items()}
    return FeedbackRules(
        signature_starts=tuple(fold(s).strip() for s in reply_["signature_starts"]),
        quote_headers=tuple(re.compile(p) for p in reply_["quote_headers"]),
        lowest=lowest,
        highest=highest,
        numbers=numbers,
        only_when_marked=frozenset(words(w) for w in score["only_when_marked"]),
        before=tuple(_tokens(m) for m in score["before"] if _tokens(m)),
        after=tuple(_tokens(m) for m in score["after"] if _tokens(m)),
        not_after=frozenset(words(w) for w in score["not_after"]),
        not_before=tuple(_tokens(m) for m in score["not_before"] if _tokens(m)),
        politeness=_phrases(score["politeness"]),
        yes=_phrases(met["yes"]),
        no=_phrases(met["no"]),
    )


def own_words(text: str, rules: FeedbackRules) -> str:
    """The folded reply above a signature or the quoted feedback request."""
    lines = fold(text).splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        here = line.strip()
        joined = f"{here} {lines[i + 1].strip()}" if i + 1 < len(lines) else here
        if here.startswith(rules.signature_starts) or any(
            p.match(here) or (here.startswith("le ") and p.match(joined))
            for p in rules.quote_headers
        ):
            break
        kept.append(line)
    return "\n".join(kept)


def _ends_with(tokens: Phrase, i: int, phrases: tuple[Phrase, ...]) -> bool:
    """Whether one of `phrases` ends right before tokens[i]."""
    return any(i >= len(p) and tokens[i - len(p) : i] == p for p in phrases)


def _starts_at(tokens: Phrase, i: int, phrases: tuple[Phrase, ...]) -> bool:
    return any(tokens[i : i + len(p)] == p for p in phrases)


def _lone(tokens: Phrase, i: int, rules: FeedbackRules) -> bool:
    """Whether tokens[i] stands alone on its line, but for yes/no words and politeness. (A
    line of more than LONE_MAX tokens never does: read again for each of its numbers, a line
    of thousands would make the work quadratic.)"""
    if len(tokens) > LONE_MAX:
        return False
    rest = " ".join(t for j, t in enumerate(tokens) if j != i and t != "/")
    for pattern in (rules.no, rules.yes, rules.politeness):
        rest = pattern.sub(" ", rest)
    return not rest.strip()


def _scores(own: str, rules: FeedbackRules) -> tuple[set[int], set[int]]:
    """(sure, plain) scores: tied to a marker or alone on a line; any other number."""
    sure: set[int] = set()
    plain: set[int] = set()
    for line in own.splitlines():
        tokens = _tokens(line)
        for i, token in enumerate(tokens):
            if token.isdigit() and not (len(token) > 1 and token.startswith("0")):
                value = int(token)
            elif token in rules.numbers:
                value = rules.numbers[token]
            else:
                continue
            marked_after = _starts_at(tokens, i + 1, rules.after)
            nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
            if not marked_after and (nxt == "/" or nxt in rules.not_after):
                continue  # a date (2/3), an age, a duration, a count
            if i and tokens[i - 1] in ("/", "sur"):
                continue  # the "5" of "4/5", a date's month
            if marked_after or _ends_with(tokens, i, rules.before):
                found = sure
            elif _ends_with(tokens, i, rules.not_before):
                continue  # "le 2", "depuis 3"
            elif _lone(tokens, i, rules):
                found = sure
            elif token in rules.only_when_marked:
                continue  # "un bon échange"
            else:
                found = plain
            if rules.lowest <= value <= rules.highest:
                found.add(value)
    return sure, plain


def _met(own: str, rules: FeedbackRules) -> bool | None:
    """Yes or no; when both are said, the first one (a "yes" inside a "no" phrase, as
    "rencontré" in "pas rencontré", does not count)."""
    text = words(own)
    nos = [m.span() for m in rules.no.finditer(text)]
    yeses = [
        m.span()
        for m in rules.yes.finditer(text)
        if not any(a < m.end() and m.start() < b for a, b in nos)
    ]
    if not yeses and not nos:
        return None
    first_yes = yeses[0][0] if yeses else len(text) + 1
    first_no = nos[0][0] if nos else len(text) + 1
    return first_yes < first_no


def parse_feedback(text: str, rules: FeedbackRules) -> FeedbackAnswer:
    own = own_words(text, rules)
    sure, plain = _scores(own, rules)
    candidates = sure or plain
    score = next(iter(candidates)) if len(candidates) == 1 else None
    return FeedbackAnswer(score, _met(own, rules), ambiguous=len(candidates) > 1)
