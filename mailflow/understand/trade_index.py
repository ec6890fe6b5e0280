"""Matching a person's words to a ROME appellation: exact forms, then head words, then typos.

The index is built once from appellations.csv. Every appellation label "Boulanger / Boulangère"
yields a masculine and a feminine form; the shared tail of compact labels ("Vendeur / Vendeuse en
boulangerie") is given to both, and "(e)" markers are expanded. Forms are reduced to keys: folded,
singular, without glue words ("de", "en", "l'"), so "agent de sécurité" and "agents sécurité" meet.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from mailflow.core.values import Trade
from mailflow.errors import RulesError
from mailflow.understand.tokens import Token, keys, stem, tokenize

Key = tuple[str, ...]
_MARKER = re.compile(r"\((?:e|se|ne|le|fe|ère|trice|euse|ve|sse|tive|teuse|s|ière)\)", re.I)
_PAREN = re.compile(r"\(([^)]*)\)")
_MAX_KEY = 8  # longest n-gram tried; longer labels are only reached by head matching
_WINDOW = 5  # words after a head word that may qualify it ("mécanicien ... automobile")
_BACK = 3  # words before a head of several jobs that may tell which ("pharmacie ... préparatrice")


@dataclass(frozen=True)
class TradeSettings:
    """Matching knobs from rules/understanding.toml, [referential] table."""

    stop_words: frozenset[str]  # never a trade on their own ("bonjour", "carriere", "modele")
    glue_words: frozenset[str]  # dropped from keys ("de", "la", "d", "en")
    aliases: Mapping[str, str]  # word -> word before matching ("auto" -> "automobile")
    synonyms: Mapping[str, str]  # phrase -> an appellation form ("infirmiere" -> "... soins ...")
    weak_words: frozenset[str] = frozenset()  # stemmed; never a trade alone ("demi", "agent")
    fields: Mapping[str, str] = field(default_factory=dict)  # workplace or field -> a form
    # diploma or title -> (ROME code, a form of that code): "bts mco", rules/diplomas.toml
    titles: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    upper_only: frozenset[str] = frozenset()  # a trade only in capitals: "AS", not "tu as"
    # a field's ending -> the trade's: "ostréiculture" -> "ostréiculteur" (before typos)
    endings: tuple[tuple[str, str], ...] = ()
    fuzzy_min_length: int = 5
    fuzzy_cutoff: float = 85.0
    head_min_share: float = 0.5  # a head word alone decides only if one code dominates it


@dataclass(frozen=True)
class Appellation:
    code_rome: str
    label: str
    principal: bool
    rare: bool

    def rank(self) -> tuple[bool, bool, int]:
        """Sort key: PRINCIPALE first, usual before rare, short (general) labels first."""
        return (not self.principal, self.rare, len(self.label))


@dataclass(frozen=True)
class TradeHit:
    """One trade found in a text, with where it was and how it was found."""

    trade: Trade
    text: str  # the words as written, "boulangère"
    start: int  # character offsets in the text given to find()
    end: int
    method: str  # "exact", "head", "field" or "fuzzy"
    size: int  # number of words that matched


def label_forms(label: str) -> list[str]:
    """Masculine and feminine phrasings of a ROME label, sharing the compact label's tail."""
    parts = label.split(" / ")
    if len(parts) != 2:
        return parts
    masc, fem = parts
    tail = fem.split()[len(masc.split()) :]
    forms = [" ".join([masc, *tail]), fem]
    out = []
    for form in forms:
        out.append(_PAREN.sub(" ", _MARKER.sub("", form)))
        out.append(_PAREN.sub(r" \1 ", form.replace("(e)", "e")))
    return out


@dataclass(frozen=True)
class TradeIndex:
    """Immutable lookup tables built once from the ROME appellations."""

    settings: TradeSettings
    entries: tuple[Appellation, ...]
    rome_labels: Mapping[str, str]
    exact: Mapping[Key, int]  # key -> best entry id
    by_head: Mapping[str, tuple[tuple[Key, int], ...]]  # first word -> (key, entry id)
    head_default: Mapping[str, int]  # head words that alone point to one dominant trade
    fields: Mapping[Key, int]  # "boulangerie" -> boulanger, when no title took the word
    diplomas: frozenset[Key]  # keys of `exact` that name a diploma ("bts mco"): method "diploma"
    vocab: Mapping[str, tuple[str, ...]]  # first letter -> words known in labels (for typos)
    known: frozenset[str] = frozenset()  # every word of a label key (for "daide", "lair")

    @classmethod
    def build(
        cls, rows: Iterable[Mapping[str, str]], rome_labels: Mapping[str, str], s: TradeSettings
    ) -> TradeIndex:
        """Index every appellation row (csv.DictReader of appellations.csv)."""
        entries: list[Appellation] = []
        exact: dict[Key, int] = {}
        heads: dict[str, dict[Key, int]] = defaultdict(dict)
        for row in rows:
            entry = Appellation(
                row["code_rome"],
                row["libelle_appellation_long"],
                row["classification"] == "PRINCIPALE",
                row.get("peu_usite") == "O",
            )
            entries.append(entry)
            for form in label_forms(entry.label):
                key = _key(keys(form), s)
                if key:
                    _keep_best(exact, key, len(entries) - 1, entries)
                    _keep_best(heads[key[0]], key, len(entries) - 1, entries)
        _add_synonyms(exact, s.synonyms, exact, s)
        diplomas = _add_titles(exact, s.titles, entries, s)
        fields: dict[Key, int] = {}
        _add_synonyms(fields, s.fields, exact, s)
        by_head = {
            h: tuple(sorted(d.items(), key=lambda kv: entries[kv[1]].rank()))
            for h, d in heads.items()
        }
        words = {w for key in exact for w in key if len(w) >= 4}
        vocab: dict[str, list[str]] = defaultdict(list)
        for word in sorted(words):
            vocab[word[0]].append(word)
        return cls(
            settings=s,
            entries=tuple(entries),
            rome_labels=MappingProxyType(dict(rome_labels)),
            exact=MappingProxyType(exact),
            by_head=MappingProxyType(by_head),
            head_default=MappingProxyType(_head_defaults(by_head, entries, s)),
            fields=MappingProxyType(fields),
            diplomas=diplomas,
            vocab=MappingProxyType({k: tuple(v) for k, v in vocab.items()}),
            known=frozenset(w for key in exact for w in key),
        )

    def trade(self, entry_id: int) -> Trade:
        entry = self.entries[entry_id]
        return Trade(entry.code_rome, entry.label, self.rome_labels.get(entry.code_rome, ""))

    def find(self, text: str) -> list[TradeHit]:
        """Every non-overlapping trade mention in the text, in reading order."""
        tokens = [t for t in tokenize(text) if t.key not in self.settings.glue_words]
        upper = self.settings.upper_only
        keys = ["" if t.key in upper and not t.text.isupper() else self._unglued(t) for t in tokens]
        hits = self._scan(text, tokens, keys, "exact")
        if hits:
            return hits
        fixed = [self._correct(t, k) for t, k in zip(tokens, keys, strict=True)]
        if fixed == keys:
            return []
        return self._scan(text, tokens, fixed, "fuzzy")

    def match(self, text: str) -> TradeHit | None:
        """The most specific mention (most words), the earliest on ties."""
        hits = self.find(text)
        return max(hits, key=lambda h: (h.size, -h.start)) if hits else None

    def starts_a_title(self, word: str) -> bool:
        """The folded word is a ROME title or its first word ("cariste", "vendeuse", "aide"),
        as written (no typo correction), and no stop word: "je suis vendeuse" names a job."""
        key = stem(self.settings.aliases.get(word, word))
        if word in self.settings.stop_words or key in self.settings.stop_words:
            return False
        return (key,) in self.exact or key in self.by_head

    def _scan(self, text: str, tokens: list[Token], keys: list[str], method: str) -> list[TradeHit]:
        """Longest exact forms first, then head words; a weak word alone ("demi" of
        "Demi-chef de rang", "professionnel") is never a trade."""
        stop_words = self.settings.stop_words
        # The stem counts too: "carrières" is the stop word "carriere" ("BUT carrières sociales").
        stops = [t.key in stop_words or k in stop_words for t, k in zip(tokens, keys, strict=True)]
        weak = self.settings.weak_words
        spans: list[tuple[int, int, int, str]] = []  # (start, end, entry, how)
        taken = [False] * len(keys)
        for n in range(min(_MAX_KEY, len(keys)), 0, -1):
            for i in range(len(keys) - n + 1):
                entry = self.exact.get(tuple(keys[i : i + n]))
                if entry is None or any(taken[i : i + n]) or all(stops[i : i + n]):
                    continue
                if n == 1 and keys[i] in weak:
                    continue
                how = "diploma" if tuple(keys[i : i + n]) in self.diplomas else method
                spans.append((i, i + n, entry, how))
                taken[i : i + n] = [True] * n
        for i, key in enumerate(keys):
            if not taken[i] and not stops[i] and key in self.by_head:
                found = self._head(keys, i, taken)
                if found:
                    end, entry = found
                    spans.append((i, end, entry, "head" if method == "exact" else method))
                    taken[i:end] = [True] * (end - i)
        for n in range(min(_MAX_KEY, len(keys)), 0, -1):  # "CAP cuisine", "en boulangerie"
            for i in range(len(keys) - n + 1):
                entry = self.fields.get(tuple(keys[i : i + n]))
                if entry is not None and not any(taken[i : i + n]):
                    spans.append((i, i + n, entry, "field" if method == "exact" else method))
                    taken[i : i + n] = [True] * n
        spans.sort()
        return [
            TradeHit(
                self.trade(entry),
                text[tokens[a].start : tokens[b - 1].end],
                tokens[a].start,
                tokens[b - 1].end,
                how,
                b - a,
            )
            for a, b, entry, how in spans
        ]

    def _head(self, keys: list[str], i: int, taken: list[bool]) -> tuple[int, int] | None:
        """A head word qualified by the next few words, or a head that alone means one trade."""
        window = {k: j for j, k in enumerate(keys[i + 1 : i + 1 + _WINDOW], i + 1) if not taken[j]}
        best: tuple[tuple[int, int, tuple[bool, bool, int]], int, int] | None = None
        codes: dict[tuple[int, int], set[str]] = defaultdict(set)  # words found -> codes
        for key, entry in self.by_head[keys[i]]:
            found = [window[w] for w in key[1:] if w in window]
            if not found:
                continue
            score = (-len(found), len(key) - 1 - len(found), self.entries[entry].rank())
            codes[score[:2]].add(self.entries[entry].code_rome)
            if best is None or score < best[0]:
                best = (score, max(found) + 1, entry)
        if best is not None:
            # A weak head ("chef", "agent") with words several jobs share ("chef d'équipe":
            # cordiste, maçon, entrepôt...) names none of them: better no trade than a wrong one.
            if keys[i] in self.settings.weak_words and len(codes[best[0][:2]]) > 1:
                return None
            return best[1], best[2]
        entry = self.head_default.get(keys[i])
        if entry is None:
            entry = self._qualified_before(keys, i, taken)
        elif keys[i] in self.settings.weak_words:
            return None
        return (i + 1, entry) if entry is not None else None

    def _qualified_before(self, keys: list[str], i: int, taken: list[bool]) -> int | None:
        """A head of several jobs, qualified by a word just before it that only one of them
        has ("un stage dans une pharmacie avec une préparatrice"): that one."""
        before = {k for j, k in enumerate(keys[max(0, i - _BACK) : i], max(0, i - _BACK))}
        before -= {keys[j] for j in range(max(0, i - _BACK), i) if taken[j]}
        if keys[i] in self.settings.weak_words or not before:
            return None
        found = [e for key, e in self.by_head[keys[i]] if before & set(key[1:])]
        codes = {self.entries[e].code_rome for e in found}
        return min(found, key=lambda e: self.entries[e].rank()) if len(codes) == 1 else None

    def _unglued(self, token: Token) -> str:
        """The key of a word; an SMS "d'" or "l'" glued to a label word is dropped ("diplome
        daide soignante", "hotesse de lair") when the whole is no label word, in lower case
        (not the name "Leduc"), and what is left is long enough ("date" is no "d'ate")."""
        aliases, word = self.settings.aliases, token.key
        key = stem(aliases.get(word, word))
        least = {"d": 4, "l": 3}.get(word[:1], 99)
        if key in self.known or len(word) <= least or not token.text[:1].islower():
            return key
        rest = stem(aliases.get(word[1:], word[1:]))
        glue = self.settings.glue_words | self.settings.stop_words
        return rest if rest in self.known and word[1:] not in glue else key

    def _correct(self, token: Token, key: str) -> str:
        """Nearest label word for a likely typo ("coifeuse" -> "coiffeuse"); else unchanged."""
        s = self.settings
        if len(key) < s.fuzzy_min_length or token.key in s.stop_words or not key.isalpha():
            return key
        choices = self.vocab.get(key[0], ())
        for ending, trade in s.endings:  # "dinanderie" -> "dinandier", even if a title's word
            if key.endswith(ending) and (made := key[: -len(ending)] + trade) in choices:
                return made
        if key in choices:
            return key
        found = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=s.fuzzy_cutoff)
        # One slip: a letter missing, extra, wrong or two swapped ("coifeuse", "mecanicein");
        # two are another word ("dessiner" is no misspelt "designer").
        if found is None or OSA.distance(key, found[0]) > 1:
            return key
        if found[0] in s.stop_words:  # "Martin" is no misspelt "marin"
            return key
        return found[0]


def _key(words: Sequence[str], s: TradeSettings) -> Key:
    return tuple(stem(s.aliases.get(w, w)) for w in words if w not in s.glue_words)


def _keep_best(table: dict[Key, int], key: Key, entry: int, entries: list[Appellation]) -> None:
    old = table.get(key)
    if old is None or entries[entry].rank() < entries[old].rank():
        table[key] = entry


def _add_synonyms(
    table: dict[Key, int], synonyms: Mapping[str, str], exact: dict[Key, int], s: TradeSettings
) -> None:
    """Each phrase -> the entry of the ROME form it names (a RulesError when none)."""
    for phrase, target in synonyms.items():
        target_key = _key(keys(target), s)
        if target_key not in exact:
            raise RulesError(
                f"understanding.toml: synonym {phrase!r} -> {target!r} names no ROME form"
            )
        table[_key(keys(phrase), s)] = exact[target_key]


def _add_titles(
    table: dict[Key, int],
    titles: Mapping[str, tuple[str, str]],
    entries: list[Appellation],
    s: TradeSettings,
) -> frozenset[Key]:
    """Each diploma phrase -> the entry of its title, checked to belong to its ROME code."""
    added = set()
    for phrase, (code, title) in titles.items():
        entry = table.get(_key(keys(title), s))
        if entry is None or entries[entry].code_rome != code:
            found = entries[entry].code_rome if entry is not None else "no ROME form"
            raise RulesError(f"diplomas.toml: {phrase!r} -> {code} {title!r}: the title is {found}")
        key = _key(keys(phrase), s)
        if key in table:  # "DE éducateur spécialisé" without its glue word is the trade itself
            raise RulesError(
                f"diplomas.toml: {phrase!r} reads as the trade {entries[table[key]].label!r}"
            )
        table[key] = entry
        added.add(key)
    return frozenset(added)


def _head_defaults(
    by_head: Mapping[str, tuple[tuple[Key, int], ...]], entries: list[Appellation], s: TradeSettings
) -> dict[str, int]:
    """Head words ("menuisier") whose labels mostly share one code: alone they mean that code."""
    defaults = {}
    for head, forms in by_head.items():
        if head in s.stop_words:
            continue
        codes = Counter(entries[e].code_rome for _, e in forms)
        code, count = codes.most_common(1)[0]
        if count / sum(codes.values()) >= s.head_min_share:
            defaults[head] = min(
                (e for _, e in forms if entries[e].code_rome == code),
                key=lambda e: entries[e].rank(),
            )
    return defaults
