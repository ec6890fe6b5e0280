"""Whom a mail is about, and that person's age and situation.

A parent or a counsellor writes for someone else ("ma fille de 14 ans", "un jeune de 17
ans"): the age and the situation asked are then that person's, not the writer's ([who] in
rules/understanding.toml). Pure: the day a birth date is counted from is given by the caller.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import date

from mailflow.core.textnorm import fold, words
from mailflow.understand.fields import Found, with_digits
from mailflow.understand.rules import Situation, UnderstandingRules, Who

_SENTENCE = re.compile(r"[.;!?\n]")
_CLAUSE = re.compile(r"[.;:!?\n()\"]|,| et | mais | car | donc | puis | sinon ")
_CLAUSE_KEPT = re.compile(f"({_CLAUSE.pattern})")  # the same, each separator kept
_WRITERS = ("person", "soon", "birth")  # the groups of age patterns about the writer
_SCHOOL = ("collegien", "lyceen", "etudiant")  # a teacher's school says the pupil's
_AGE_ASIDE = re.compile(r" \d{1,2} ans ")  # a clause that is only an age: ", 35 ans,"
# "un jeune que j'accompagne, Lucas, 18 ans": "j" there is no subject of the sentence.
_RELATIVE = re.compile(r" (?:que|qu) (?:je|j) ")
_PUPIL_WORDS = frozenset({"eleve", "en", "au", "a", "dans"})  # "je suis élève au lycée"
# Since when a job is held: "depuis 14 ans", "depuis 2016", "depuis sept ans", "(12 ans
# d'expérience)".
_SINCE = re.compile(
    r"\bdepuis (?:plus de |pres de |environ )?(?:\d|(?:19|20)\d\d\b|[a-z]+ ans\b)"
    r"|\b(?:\d{1,2}|[a-z]+) ans d experience\b"
)


def writes_for_other(text: str, who: Who) -> bool:
    """The mail names someone it is written for ("ma fille", "un jeune"), not as the writer
    ("je suis une jeune fille") nor as the one to meet ("parler avec un élève")."""
    return bool(named_for(f" {words(text)} ", who, who.for_other))


def named_for(padded: str, who: Who, phrases: tuple[str, ...]) -> str | None:
    """The first of `phrases` said as someone the mail is for, in the padded words."""
    for phrase in phrases:
        at = padded.find(f" {phrase} ")
        while at >= 0:
            before = padded[:at].split()[-2:]
            last = before[-1] if before else ""
            intro = last in who.self_intro or " ".join(before) in who.self_intro
            if not intro and last not in who.object_before:
                return phrase
            at = padded.find(f" {phrase} ", at + 1)
    return None


def find_age(text: str, rules: UnderstandingRules, today: date | None = None) -> Found | None:
    """The age of the one the mail is for: "j'ai 15 ans", "ma fille de 14 ans", "elle a 14
    ans", "née en 2011", "j'ai bientôt 15 ans" (14); never "depuis 10 ans". A Found with the
    value None only carries a note: an age seen but not the request's."""
    folded = _blank(with_digits(fold(text), rules), rules.age_never)
    for_other = writes_for_other(text, rules.who)
    groups = {
        "child": rules.age_child,
        "other": rules.age_other,
        "person": rules.age_person,
        "soon": rules.age_soon,
        "birth": rules.age_birth,
        "at": rules.age_at,
    }
    order = ("child", "other", *_WRITERS) if for_other else ("child", *_WRITERS, "other", "at")
    left: Found | None = None
    for label in order:
        for match in (m for pattern in groups[label] for m in pattern.finditer(folded)):
            found = _age(label, match, folded, rules, today)
            if found is None:
                continue
            if for_other and label in _WRITERS and _about_writer(folded, match, rules.who):
                said = match.group(0).strip(" ,;:(\n")
                note = f"age: '{said}' is the writer's; the mail is for someone else"
                left = left or Found(None, note)
                continue
            if found.value is not None:
                return found
            left = left or found
    return left


def _age(
    label: str, match: re.Match[str], folded: str, rules: UnderstandingRules, today: date | None
) -> Found | None:
    said = match.group(0).strip(" ,;:(\n")
    if label == "birth":
        return _born(match, said, rules, today)
    age = int(match.group(1))
    if label != "soon" and folded[match.end() :].lstrip().startswith(rules.age_not_after):
        return None
    if label == "soon":
        age -= 1
    if not rules.age_min <= age <= rules.age_max:
        return None
    how = {
        "child": " (the one the mail is for)",
        "other": " (the one the mail is for)",
        "soon": f" ({age + 1} soon: {age} today)",
    }.get(label, "")
    return Found(age, f"age: '{said}' -> {age}{how}")


def _born(
    match: re.Match[str], said: str, rules: UnderstandingRules, today: date | None
) -> Found | None:
    """The age on `today` of someone born on the date (or in the month, or the year) said."""
    groups = match.groupdict()
    year = int(groups["year"])
    month = groups.get("month")
    number = None if month is None else int(month) if month.isdigit() else rules.months[month]
    day = int(groups["day"]) if groups.get("day") else None
    try:
        born = date(year, number or 1, day or 1)
    except ValueError:  # "31/02/2010", a month 13: no date
        return None
    if today is None:
        return Found(None, f"age: '{said}' is a birth date, and no day was given to count from")
    age = today.year - year
    if number is not None and (today.month, today.day) < (number, day or 1):
        age -= 1
    if born > today or not rules.age_min <= age <= rules.age_max:
        return None
    when = born.isoformat() if day else f"{year}-{number:02d}" if number else f"in {year}"
    reached = "" if number else ", the age reached this year"
    return Found(age, f"age: '{said}' -> {age} (born {when}, on {today.isoformat()}{reached})")


def _blank(folded: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    """Spans that are never an age ("depuis 10 ans") as spaces, so offsets stay the same."""
    for pattern in patterns:
        folded = pattern.sub(lambda m: " " * len(m.group(0)), folded)
    return folded


def _about_writer(folded: str, match: re.Match[str], who: Who) -> bool:
    """The sentence, from its last subject to the end of the match, is about the writer."""
    start = max((m.end() for m in _SENTENCE.finditer(folded, 0, match.start())), default=0)
    sentence = _RELATIVE.sub(" que ", f" {words(folded[start : match.end()])} ")
    return _subject(sentence, len(sentence), who) in who.first_person


def find_situation(
    text: str, rules: UnderstandingRules, starts_a_title: Callable[[str], bool] | None = None
) -> Found | None:
    """The first situation, in rules order, said as a fact about the one the mail is for:
    not a wish ("je voudrais être en alternance"), not a relative's ("mon père est boulanger"),
    not the writer's when the mail is for someone else (but a teacher's school is the pupil's
    class). `starts_a_title` (the ROME index) reads "je suis cariste" as a job."""
    who = rules.who
    clauses, commas = _clauses(text)
    padded = f" {words(text)} "
    for_other = writes_for_other(text, who)
    for_pupil = for_other and named_for(padded, who, who.pupils) is not None
    for situation in rules.situations:
        if for_other and situation.name == "parent":
            continue  # the situation asked is the child's
        school = situation.name in _SCHOOL
        for i, clause in enumerate(clauses):
            if any(f" {word} " in clause for word in situation.cancel):
                continue
            found = _mentions(clauses, i, situation, starts_a_title, who, i in commas)
            for at, said, writer in found:
                subject = _subject(clause, at + 1, who)
                mine = (
                    writer or subject in who.first_person or said.split()[0] in (who.first_person)
                )
                if for_other and mine and not (school and for_pupil):
                    continue
                if subject in who.relatives and f" pour {subject} " not in padded:
                    continue
                if said not in situation.even_after_wish and _wished(clause, at, subject, who):
                    continue
                if said in situation.after_being and not _being(clause, at, said, who):
                    continue
                if school and not for_pupil and _works_there(clause, at, who, starts_a_title):
                    continue
                return Found(situation.name, f"situation: '{said}' -> {situation.name}")
    return None


def _clauses(text: str) -> tuple[list[str], frozenset[int]]:
    """The padded words of each clause, and which clauses a comma ends ("Vendeuse à Caen, je
    ..." is an apposition; "Boulanger à Caen" on the subject line, before "Je ...", is not)."""
    parts = _CLAUSE_KEPT.split(fold(text))
    clauses: list[str] = []
    commas: set[int] = set()
    for at in range(0, len(parts), 2):
        said = words(parts[at])
        if not said:
            continue
        if at + 1 < len(parts) and parts[at + 1] == ",":
            commas.add(len(clauses))
        clauses.append(f" {said} ")
    return clauses, frozenset(commas)


def _mentions(
    clauses: list[str],
    i: int,
    situation: Situation,
    starts_a_title: Callable[[str], bool] | None,
    who: Who,
    comma: bool = False,
) -> Iterator[tuple[int, str, bool]]:
    """(offset, words, said by the writer) of each phrase, pattern or job of the situation
    in clause i."""
    clause = clauses[i]
    for phrase in situation.phrases:
        at = clause.find(f" {phrase} ")
        while at >= 0:
            yield at, phrase, False
            at = clause.find(f" {phrase} ", at + 1)
    for pattern in situation.patterns:
        for match in pattern.finditer(clause):
            yield match.start(), match.group(0).strip(), False
    if starts_a_title is None:
        return
    for intro in situation.job_after:
        at = clause.find(f" {intro} ")
        while at >= 0:
            job = clause[at + len(intro) + 2 :].split()[:1]
            if job and job[0] not in situation.not_jobs and starts_a_title(job[0]):
                yield at, f"{intro} {job[0]}", False
            at = clause.find(f" {intro} ", at + 1)
    if situation.job_first:
        job = _job_first(clauses, i, situation, starts_a_title, who, comma)
        if job:
            yield 0, job, True


def _job_first(
    clauses: list[str],
    i: int,
    situation: Situation,
    starts_a_title: Callable[[str], bool],
    who: Who,
    comma: bool,
) -> str | None:
    """The job a clause opens on, in apposition to the writer: "Électricien depuis 14 ans",
    "Employée en parapharmacie à Bayeux, je ...". None when the clause (or the aside after
    it) does not say since when and the clause after is not in the first person; and never
    a job alone on its line, as a subject names the trade asked ("Plombier")."""
    opening = clauses[i].split()
    while opening and opening[0] in who.openers:
        opening = opening[1:]
    if not opening or opening[0] in situation.not_jobs or not starts_a_title(opening[0]):
        return None
    said = " ".join(opening[:4])
    if len(opening) >= 2 and any(_SINCE.search(c) for c in clauses[i : i + 2]):
        return said
    aside = i + 1 < len(clauses) and _AGE_ASIDE.fullmatch(clauses[i + 1]) is not None
    at = i + 2 if aside else i + 1  # "Cuisinier, 35 ans, je ...": past the age
    after = clauses[at].split()[:1] if at < len(clauses) else []
    apposed = comma and after and after[0] in who.first_person
    return said if apposed and (len(opening) >= 3 or aside) else None


def _works_there(
    clause: str, at: int, who: Who, starts_a_title: Callable[[str], bool] | None
) -> bool:
    """A job said before the school in the clause: "je suis surveillante au lycée" works
    there, and is no pupil."""
    before = clause[:at].split()
    return starts_a_title is not None and any(
        word in who.being and after not in _PUPIL_WORDS and starts_a_title(after)
        for word, after in zip(before, before[1:], strict=False)
    )


def _being(clause: str, at: int, said: str, who: Who) -> bool:
    """A form of "être" before `at` in the clause ("je suis en CAP en apprentissage"), or
    nothing but openers, with more said after ("En alternance chez Renault, je ..."; not a
    training's "(DEUST) en apprentissage" left alone after its brackets)."""
    before, after = clause[:at].split(), clause[at:].split()
    opens = all(word in who.openers for word in before) and len(after) > len(said.split())
    return opens or any(word in who.being for word in before)


def _subject(clause: str, end: int, who: Who) -> str:
    """The last subject said before `end` in the padded words: a first-person word, a
    pronoun, someone written for or a relative; "" when none."""
    best, found = -1, ""
    for phrase in (*who.first_person, *who.third_person, *who.for_other, *who.relatives):
        at = clause.rfind(f" {phrase} ", 0, end)
        if at > best or (at == best and len(phrase) > len(found)):
            best, found = at, phrase
    return found


def _wished(clause: str, at: int, subject: str, who: Who) -> bool:
    """A wish word between the clause's last subject and the situation said at `at`."""
    start = clause.rfind(f" {subject} ", 0, at + 1) if subject else 0
    span = clause[max(start, 0) : at + 1]
    return any(f" {wish} " in span for wish in who.wishes)
