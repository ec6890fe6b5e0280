"""The keywords of rules/understanding.toml, folded and compiled once into a frozen value."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import fold, words
from mailflow.core.values import KINDS, SITUATIONS, WRITER_ROLES
from mailflow.understand.language import LanguageRules, language_rules, merged

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Situation:
    name: str  # one of SITUATIONS
    phrases: tuple[str, ...]  # folded words
    patterns: tuple[re.Pattern[str], ...]  # on folded words
    even_after_wish: frozenset[str] = frozenset()  # phrases that count after a wish word too
    job_after: tuple[str, ...] = ()  # "je suis": then a word starting a ROME title
    not_jobs: frozenset[str] = frozenset()  # words after job_after that are no job ("prete")
    after_being: frozenset[str] = frozenset()  # phrases counted only after "suis", "est"...
    job_first: bool = False  # "Électricien depuis 14 ans, ...": a clause opening on a job
    cancel: tuple[str, ...] = ()  # a clause with one of these is not it ("a la retraite")


@dataclass(frozen=True)
class Who:
    """[who]: whom a mail is about (the writer, or someone a parent or counsellor names)."""

    for_other: tuple[str, ...] = ()  # folded words: "ma fille", "un jeune"
    self_intro: frozenset[str] = frozenset()  # "je suis" before "une jeune": the writer
    first_person: frozenset[str] = frozenset()  # subjects that are the writer ("je", "j")
    third_person: tuple[str, ...] = ()  # subjects that are someone else ("il", "elle")
    wishes: tuple[str, ...] = ()  # before a situation in its clause: a wish, not a fact
    relatives: tuple[str, ...] = ()  # before a situation in its clause: someone else's
    object_before: frozenset[str] = frozenset()  # "avec un eleve": the one to meet, not for
    pupils: tuple[str, ...] = ()  # for_other that are a teacher's pupils ("un de mes eleves")
    openers: frozenset[str] = frozenset()  # "bonjour", "madame": before a job in apposition
    being: frozenset[str] = frozenset()  # "suis", "est": before after_being phrases


@dataclass(frozen=True)
class WriterRole:
    """One of [[writer.roles]]: the words that say an adult of this role writes."""

    name: str  # one of core.values.WRITER_ROLES
    titles: tuple[str, ...] = ()  # folded: the writer's own job ("psy en", "cpe")
    said: tuple[str, ...] = ()  # say the role alone ("j enseigne")
    places: tuple[str, ...] = ()  # where the role works ("mission locale")
    children: tuple[str, ...] = ()  # the writer's child ("mon fils"): parent
    for_: tuple[str, ...] = ()  # someone the role writes for ("mon neveu", "mes eleves")
    alone: bool = False  # the title is enough, even with no one named


@dataclass(frozen=True)
class WriterRules:
    """[writer]: who writes, when an adult writes for a young person (writer.py)."""

    roles: tuple[WriterRole, ...] = ()
    intro: tuple[str, ...] = ()  # before a title: the writer's own ("je suis")
    articles: frozenset[str] = frozenset()  # skipped after intro ("je suis la maman de")
    others: frozenset[str] = frozenset()  # before a title: someone else's ("ma conseillere")
    openers: frozenset[str] = frozenset()  # before a title opening a clause ("bonjour")
    for_someone: tuple[str, ...] = ()  # beyond [who] for_other: the mail is for someone else
    not_for: frozenset[str] = frozenset()  # of [who] for_other, too weak alone
    address_before: tuple[str, ...] = ()  # "il vous ecrira de son adresse": the youth's own
    follow: tuple[str, ...] = ()  # after a title, "je suis un jeune": "I follow"
    first_person: tuple[str, ...] = ()  # a sentence of the writer's own ("je", "nous")
    own_request: tuple[str, ...] = ()  # "me parler": the writer asks for themselves
    class_words: tuple[str, ...] = ()  # a teacher writes for several pupils


@dataclass(frozen=True)
class KindReading:
    """[kinds] beyond the phrases: trainings wished or held, orientation, negations."""

    orientation: tuple[str, ...] = ()  # "sais pas quoi faire": metier
    not_requests: tuple[str, ...] = ()  # "devenir ambassadeur": no kind
    negations: tuple[str, ...] = ()  # "sans diplome": the phrase is not met
    trainings: tuple[str, ...] = ()  # [kinds.training] words: "ifsi", "bts", "pass"
    wish: tuple[str, ...] = ()  # before a training: wished ("je veux integrer")
    held: tuple[str, ...] = ()  # before a training: the person's own ("je suis en")
    other: tuple[str, ...] = ()  # before a training: another wish ("devenir", "rencontrer")


@dataclass(frozen=True)
class Domain:
    """A big family of trades ([[domains]]), offered to someone who does not know yet."""

    name: str
    label: str  # what the person reads
    phrases: tuple[str, ...]  # folded words
    rome: tuple[str, ...]  # ROME code prefixes


@dataclass(frozen=True)
class Wanted:
    """How the trade asked for is told from one held, refused or unlisted ([wishes])."""

    held: tuple[str, ...] = ()  # folded phrases before a trade the person has or mentions
    refusals: tuple[str, ...] = ()
    unrefusals: tuple[str, ...] = ()
    rather: frozenset[str] = frozenset()
    than: frozenset[str] = frozenset()
    object_verbs: tuple[Phrase, ...] = ()  # longest first
    with_article: frozenset[Phrase] = frozenset()
    articles: frozenset[str] = frozenset()
    not_trades: frozenset[str] = frozenset()
    schooling: tuple[str, ...] = ()  # before one's own training: "je suis en", not held
    held_after: tuple[str, ...] = ()  # after a trade held: "depuis", "ans d experience"
    openers: frozenset[str] = frozenset()  # words before a title opening a mail: "bonjour"
    links: frozenset[str] = frozenset()  # between two trades of one phrase: "chez un"
    elsewhere: tuple[str, ...] = ()  # the trade is still to find: "quel metier"
    persons: frozenset[str] = frozenset()  # right before a trade, a person: "ma conseillère"
    family: tuple[str, ...] = ()  # before someone else's job: "mon pere est", "est"
    neutral: tuple[str, ...] = ()  # nearer than a cue, no cue: "dans le domaine de", "c est"


@dataclass(frozen=True)
class UnderstandingRules:
    """Everything understand() needs to know that a coordinator may change."""

    stop_words: frozenset[str]
    form_keys: Mapping[str, str]  # folded key -> field name
    form_kinds: Mapping[str, str]  # folded value -> kind
    kind_phrases: Mapping[str, tuple[str, ...]]  # kind -> folded phrases
    wish_phrases: tuple[str, ...]  # before the trade asked for, when several are named
    wanted: Wanted  # held, refused, unlisted trades ([wishes])
    diplomas: tuple[tuple[Phrase, str], ...]  # (folded words, display name), longest first
    diploma_uppercase: frozenset[str]
    diploma_background: tuple[str, ...]
    speciality_stop: frozenset[str]
    situations: tuple[Situation, ...]  # in priority order
    age_min: int
    age_max: int
    age_child: tuple[re.Pattern[str], ...]
    age_person: tuple[re.Pattern[str], ...]
    age_not_after: tuple[str, ...]
    numbers: Mapping[str, int]  # "dix sept" -> 17, "vingt et un" -> 21 (folded words)
    number_starts: frozenset[str]  # first words of those spellings, for a quick check
    commune_before: tuple[Phrase, ...]
    area_before: tuple[Phrase, ...]
    code_before: tuple[Phrase, ...]
    lowercase_min_population: int
    not_after_code: frozenset[str]
    of_words: frozenset[str]  # "de", "du": the town of a trade or a school, the weakest clue
    of_min_population: int
    not_before_of: tuple[Phrase, ...]  # "rue des Lilas", "la fille de Mathieu"
    everyday_names: frozenset[str]  # folded commune names that are everyday words ("eu")
    pays_before: tuple[Phrase, ...]  # commune and area words: before a pays
    signature_starts: tuple[str, ...]
    reply_headers: tuple[re.Pattern[str], ...]
    closings: tuple[str, ...]  # folded words, longest first
    name_intros: tuple[Phrase, ...]
    not_names: frozenset[str]
    domains: tuple[Domain, ...] = ()  # in the order they are offered
    forward_markers: tuple[re.Pattern[str], ...] = ()  # a forwarded mail starts (text.py)
    forward_subjects: frozenset[str] = frozenset()  # first word of a forward's subject
    forward_header_keys: frozenset[str] = frozenset()  # its header lines, skipped
    forward_subject_keys: frozenset[str] = frozenset()  # ... but for their subject's words
    original_markers: tuple[re.Pattern[str], ...] = ()  # Outlook's, a forward under TR:
    own_mail_phrases: tuple[str, ...] = ()  # a quoted mail of ours that is no one's words
    own_sentence_words: frozenset[str] = frozenset()  # "je", "voudrais": no signature line
    age_never: tuple[re.Pattern[str], ...] = ()  # blanked first: durations, children's ages
    age_other: tuple[re.Pattern[str], ...] = ()  # "il a 16 ans", "elle a 14 ans"
    age_soon: tuple[re.Pattern[str], ...] = ()  # "j'ai bientôt 15 ans": one year less
    age_birth: tuple[re.Pattern[str], ...] = ()  # groups year, month, day
    age_at: tuple[re.Pattern[str], ...] = ()  # "si a 36 ans c est realiste": the last resort
    months: Mapping[str, int] = field(default_factory=dict)  # "mars" -> 3
    who: Who = Who()
    writer: WriterRules = WriterRules()
    kind_reading: KindReading = KindReading()
    # words skipped before a diploma's speciality ("CAP en cuisine", "a CAP in cooking")
    speciality_skip: frozenset[str] = frozenset({"en", "de", "d", "du", "option"})
    # rules/english.toml: how a mail in English is told, and these rules with its English
    # words added (None when the file is missing; the English rules hold no `english`)
    language: LanguageRules | None = None
    english: UnderstandingRules | None = None
    # places (place_text.py): see rules/understanding.toml [places]
    address_words: frozenset[str] = frozenset()  # "rue", "avenue": "j'habite rue de Paris"
    weak_before: tuple[Phrase, ...] = ()  # "depuis", "france travail": like "de"
    alone_min_population: int = 0  # a commune alone ("Nadia, Caen") outside the home région
    alternatives: frozenset[str] = frozenset()  # "ou", "ou de": "à Lille ou Roubaix"
    contrasts: frozenset[str] = frozenset()  # "mais": "j'habite à Paris mais ... à Caen"
    demonym_after: frozenset[str] = frozenset()  # "region": "la région caennaise"
    products: frozenset[str] = frozenset()  # "camembert": a cheese when alone or after "de"
    origin_before: tuple[str, ...] = ()  # "nee a", "originaire de": a birthplace
    company_before: frozenset[str] = frozenset()  # "chez": "chez Renault Cléon"
    home_before: tuple[str, ...] = ()  # "j habite a": where the person lives wins
    lowercase_article_min_population: int = 0  # "au port" is no Le Port (974)

    def domain(self, name: str | None) -> Domain | None:
        return next((d for d in self.domains if d.name == name), None)


def load_understanding_rules(rules_dir: Path) -> UnderstandingRules:
    """Read rules/understanding.toml; a missing key or bad regex is a RulesError."""
    path = Path(rules_dir) / "understanding.toml"
    data = read_toml(path)
    try:
        rules = _build(data)
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc
    return _with_english(rules, data, Path(rules_dir) / "english.toml")


def _with_english(
    rules: UnderstandingRules, data: dict[str, Any], path: Path
) -> UnderstandingRules:
    """The rules, knowing English too when rules/english.toml is there."""
    english = read_toml(path, optional=True)
    if not english:
        return rules
    try:
        language = language_rules(english.get("language", {}))
        added = _build(merged(data, english.get("understanding", {})))
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc
    return replace(rules, language=language, english=replace(added, language=language))


def _build(d: dict[str, Any]) -> UnderstandingRules:
    numbers = _numbers(d["age"]["numbers"]) if "numbers" in d["age"] else {}
    ref, form, dip, age, places, msg = (
        d["referential"],
        d["form"],
        d["diplomas"],
        d["age"],
        d["places"],
        d["message"],
    )
    return UnderstandingRules(
        stop_words=frozenset(words(w) for w in ref["stop_words"]),
        form_keys=_inverse(form["keys"]),
        form_kinds=_inverse(form["kinds"], allowed=KINDS),
        kind_phrases=MappingProxyType(
            {k: _words(d["kinds"][k]) for k in ("vae", "formation", "metier")}
        ),
        wish_phrases=_words(d.get("wishes", {}).get("phrases", [])),
        wanted=_wanted(d.get("wishes", {})),
        diplomas=tuple(
            sorted(
                ((tuple(words(w).split()), name) for name, ws in dip["names"].items() for w in ws),
                key=lambda item: -len(item[0]),
            )
        ),
        diploma_uppercase=frozenset(words(w) for w in dip["uppercase_only"]),
        diploma_background=_words(dip["background"]),
        speciality_stop=frozenset(words(w) for w in dip["speciality_stop"]),
        speciality_skip=frozenset(
            words(w) for w in dip.get("speciality_skip", ["en", "de", "d", "du", "option"])
        ),
        situations=tuple(_situation(s) for s in d["situations"]),
        age_min=int(age["min"]),
        age_max=int(age["max"]),
        age_child=tuple(re.compile(p) for p in age["child"]),
        age_person=tuple(re.compile(p) for p in age["person"]),
        age_not_after=tuple(fold(w) for w in age["not_after"]),
        age_never=_regexes(age.get("never", [])),
        age_other=_regexes(age.get("other", [])),
        age_soon=_regexes(age.get("soon", [])),
        age_birth=_birth_patterns(age.get("birth", []), age.get("months", [])),
        age_at=_regexes(age.get("at", [])),
        months=MappingProxyType({words(m): i for i, m in enumerate(age.get("months", []), 1)}),
        who=_who(d.get("who", {})),
        writer=_writer(d.get("writer", {})),
        kind_reading=_kind_reading(d["kinds"]),
        numbers=MappingProxyType(numbers),
        number_starts=frozenset(phrase.split()[0] for phrase in numbers),
        commune_before=_phrases(places["commune_before"]),
        area_before=_phrases(places["area_before"]),
        code_before=_phrases(places["code_before"]),
        lowercase_min_population=int(places["lowercase_min_population"]),
        not_after_code=frozenset(words(w) for w in places["not_after_code"]),
        of_words=frozenset(words(w) for w in places["of_words"]),
        of_min_population=int(places["of_min_population"]),
        not_before_of=_phrases(places["not_before_of"]),
        everyday_names=frozenset(words(w) for w in places["everyday_names"]),
        pays_before=_phrases(places["commune_before"] + places["area_before"]),
        signature_starts=tuple(fold(w) for w in msg["signature_starts"]),
        reply_headers=tuple(re.compile(p) for p in msg["reply_headers"]),
        forward_markers=tuple(re.compile(p) for p in msg.get("forward_markers", [])),
        forward_subjects=frozenset(words(w) for w in msg.get("forward_subjects", [])),
        forward_header_keys=frozenset(words(w) for w in msg.get("forward_header_keys", [])),
        forward_subject_keys=frozenset(words(w) for w in msg.get("forward_subject_keys", [])),
        original_markers=tuple(re.compile(p) for p in msg.get("original_markers", [])),
        own_mail_phrases=tuple(words(w) for w in msg.get("own_mail_phrases", [])),
        own_sentence_words=frozenset(words(w) for w in msg.get("own_sentence_words", [])),
        closings=tuple(sorted(_words(msg["closings"]), key=len, reverse=True)),
        name_intros=_phrases(msg["name_intros"]),
        not_names=frozenset(words(w) for w in msg["not_names"]),
        domains=tuple(_domain(t) for t in d.get("domains", [])),
        address_words=frozenset(words(w) for w in places.get("address_words", [])),
        weak_before=_phrases(places.get("weak_before", [])),
        alone_min_population=int(places.get("alone_min_population", 0)),
        alternatives=frozenset(words(w) for w in places.get("alternatives", [])),
        contrasts=frozenset(words(w) for w in places.get("contrasts", [])),
        demonym_after=frozenset(words(w) for w in places.get("demonym_after", [])),
        products=frozenset(words(w) for w in places.get("products", [])),
        origin_before=tuple(words(w) for w in places.get("origin_before", [])),
        company_before=frozenset(words(w) for w in places.get("company_before", [])),
        home_before=tuple(words(w) for w in places.get("home_before", [])),
        lowercase_article_min_population=int(places.get("lowercase_article_min_population", 0)),
    )


def _regexes(items: list[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in items)


def _birth_patterns(items: list[str], months: list[str]) -> tuple[re.Pattern[str], ...]:
    """{month} in a birth pattern is any month name of [age].months."""
    if len(months) not in (0, 12):
        raise ValueError(f"[age] months: 12 month names expected, got {len(months)}")
    names = "|".join(sorted((re.escape(words(m)) for m in months), key=len, reverse=True))
    out = tuple(re.compile(p.replace("{month}", f"(?:{names})")) for p in items)
    for pattern in out:
        if "year" not in pattern.groupindex:
            raise ValueError(f"[age] birth pattern {pattern.pattern!r} has no group 'year'")
    return out


def _who(table: dict[str, Any]) -> Who:
    return Who(
        for_other=_words(table.get("for_other", [])),
        self_intro=frozenset(_words(table.get("self_intro", []))),
        first_person=frozenset(_words(table.get("first_person", []))),
        third_person=_words(table.get("third_person", [])),
        wishes=_words(table.get("wishes", [])),
        relatives=_words(table.get("relatives", [])),
        object_before=frozenset(_words(table.get("object_before", []))),
        pupils=_words(table.get("pupils", [])),
        openers=frozenset(_words(table.get("openers", []))),
        being=frozenset(_words(table.get("being", []))),
    )


def _writer(table: dict[str, Any]) -> WriterRules:
    roles = []
    for role in table.get("roles", []):
        if role["name"] not in WRITER_ROLES:
            raise ValueError(
                f"[[writer.roles]]: unknown role {role['name']!r}, expected one of {WRITER_ROLES}"
            )
        roles.append(
            WriterRole(
                name=role["name"],
                titles=_longest(role.get("titles", [])),
                said=_words(role.get("said", [])),
                places=_longest(role.get("places", [])),
                children=_words(role.get("children", [])),
                for_=_words(role.get("for", [])),
                alone=bool(role.get("alone", False)),
            )
        )
    return WriterRules(
        roles=tuple(roles),
        intro=_longest(table.get("intro", [])),
        articles=frozenset(_words(table.get("articles", []))),
        others=frozenset(_words(table.get("others", []))),
        openers=frozenset(_words(table.get("openers", []))),
        for_someone=_words(table.get("for_someone", [])),
        class_words=_words(table.get("class_words", [])),
        not_for=frozenset(_words(table.get("not_for", []))),
        address_before=_words(table.get("address_before", [])),
        follow=_words(table.get("follow", [])),
        first_person=_words(table.get("first_person", [])),
        own_request=_words(table.get("own_request", [])),
    )


def _longest(items: list[str]) -> tuple[str, ...]:
    """Folded phrases, longest first: "conseiller en insertion professionnelle" before
    "conseiller en insertion"."""
    return tuple(sorted(_words(items), key=len, reverse=True))


def _kind_reading(k: dict[str, Any]) -> KindReading:
    training = k.get("training", {})
    return KindReading(
        orientation=_words(k.get("orientation", [])),
        not_requests=_words(k.get("not_requests", [])),
        negations=_words(k.get("negations", [])),
        trainings=_words(training.get("words", [])),
        wish=_words(training.get("wish", [])),
        held=_words(training.get("held", [])),
        other=_words(training.get("other", [])),
    )


def _wanted(w: dict[str, Any]) -> Wanted:
    return Wanted(
        held=_words(w.get("held", [])),
        refusals=_words(w.get("refusals", [])),
        unrefusals=_words(w.get("unrefusals", [])),
        rather=frozenset(_words(w.get("rather", []))),
        than=frozenset(_words(w.get("than", []))),
        object_verbs=_phrases(w.get("object_verbs", [])),
        with_article=frozenset(_phrases(w.get("with_article", []))),
        articles=frozenset(_words(w.get("articles", []))),
        not_trades=frozenset(_words(w.get("not_trades", []))),
        schooling=_words(w.get("schooling", [])),
        held_after=_words(w.get("held_after", [])),
        openers=frozenset(_words(w.get("openers", []))),
        links=frozenset(_words(w.get("links", []))),
        elsewhere=_words(w.get("elsewhere", [])),
        persons=frozenset(_words(w.get("persons", []))),
        neutral=_words(w.get("neutral", [])),
        family=_words(w.get("family", [])),
    )


def _words(items: list[str]) -> tuple[str, ...]:
    return tuple(words(w) for w in items)


def _phrases(items: list[str]) -> tuple[Phrase, ...]:
    """Token sequences, longest first so "pres de" is tried before "de"."""
    return tuple(sorted({tuple(words(w).split()) for w in items}, key=len, reverse=True))


def _inverse(table: dict[str, list[str]], allowed: tuple[str, ...] = ()) -> Mapping[str, str]:
    out = {}
    for name, synonyms in table.items():
        if allowed and name not in allowed:
            raise ValueError(f"unknown kind {name!r}, expected one of {allowed}")
        for synonym in synonyms:
            out[words(synonym)] = name
    return MappingProxyType(out)


def _situation(table: dict[str, Any]) -> Situation:
    if table["name"] not in SITUATIONS:
        raise ValueError(f"unknown situation {table['name']!r}, expected one of {SITUATIONS}")
    return Situation(
        table["name"],
        _words(table.get("phrases", [])),
        tuple(re.compile(p) for p in table.get("patterns", [])),
        even_after_wish=frozenset(_words(table.get("even_after_wish", []))),
        job_after=tuple(sorted(_words(table.get("job_after", [])), key=len, reverse=True)),
        not_jobs=frozenset(_words(table.get("not_jobs", []))),
        after_being=frozenset(_words(table.get("after_being", []))),
        job_first=bool(table.get("job_first", False)),
        cancel=_words(table.get("cancel", [])),
    )


def _domain(table: dict[str, Any]) -> Domain:
    rome = tuple(str(code).upper() for code in table["rome"])
    if not rome or not all(re.fullmatch(r"[A-N]\d{0,4}", code) for code in rome):
        raise ValueError(f"domain {table['name']!r}: rome must list ROME code prefixes")
    return Domain(table["name"], table["label"], _words(table["words"]), rome)


def _numbers(table: dict[str, Any]) -> dict[str, int]:
    """Every spelling of 2-99 from the units and tens of [age.numbers], as folded words."""
    units = {words(w): int(v) for w, v in table["units"].items()}
    teens = {**{w: v for w, v in units.items() if 10 <= v <= 16}}
    teens.update({f"dix {words(w)}": 10 + units[words(w)] for w in table["teens"]})
    digits = {w: v for w, v in units.items() if v <= 9}
    out = {w: v for w, v in units.items() if v >= 2}
    out.update(teens)
    with_teens = {words(w) for w in table["tens_with_teens"]}
    for ten, value in ((words(w), int(v)) for w, v in table["tens"].items()):
        out[ten] = value
        following = {**digits, **(teens if ten in with_teens else {})}
        for word, n in following.items():
            out[f"{ten} {word}"] = value + n
            out[f"{ten} et {word}"] = value + n
    return out
