"""Reading an ambassador's command word (PAUSE, ABSENT, REPRISE, PROFIL, STOP) from a mail.

A command is the WHOLE subject, or else the WHOLE first line of the body, once reply
prefixes, a leading greeting and a trailing politeness are set aside; words and synonyms
live in rules/commands.toml. Pure reading, no database: inbound/ambassador_mail.py acts on
an ambassador's command, services/ending.py reads a person's STOP with the same rules.

The words themselves are data read once when the rules are loaded (context.load_rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from mailflow.core.absence import DateRules, build_date_rules
from mailflow.core.readable import readable_text, subject_of
from mailflow.core.rules_file import BUILD_ERRORS, read_toml, rules_error
from mailflow.core.textnorm import fold, words

RULES_FILE = "commands.toml"
PAUSE, ABSENT, RESUME, PROFILE, STOP = "pause", "absent", "resume", "profile", "stop"
COMMANDS = (PAUSE, ABSENT, RESUME, PROFILE, STOP)


@dataclass(frozen=True)
class CommandRules:
    prefix: re.Pattern[str]  # one reply or forward prefix at the start of a folded line
    forward: re.Pattern[str]  # one forward prefix at the start of a folded line
    forward_markers: tuple[str, ...]  # folded lines that announce a forwarded message
    greeting: re.Pattern[str]  # a greeting at the start of a folded line
    politeness: tuple[str, ...]  # folded words, longest first
    strict: tuple[tuple[str, re.Pattern[str]], ...]  # command words (anyone)
    loose: tuple[tuple[str, re.Pattern[str]], ...]  # words and synonyms (ambassadors)
    display: dict[str, str]  # command -> "PAUSE", as written in mails
    dates: DateRules


@dataclass(frozen=True)
class Command:
    name: str
    argument: str  # the folded rest of the line: ABSENT's date


def load_command_rules(rules_dir: Path) -> CommandRules:
    """Read rules_dir/commands.toml (its [dates] and [autoreply] too, for ABSENT)."""
    path = Path(rules_dir) / RULES_FILE
    data = read_toml(path)
    try:
        return build_command_rules(data)
    except BUILD_ERRORS as exc:
        raise rules_error(path, exc) from exc


def build_command_rules(data: dict) -> CommandRules:
    line, table = data["line"], data["commands"]

    def starts(phrases: list[str]) -> re.Pattern[str]:
        keys = sorted({words(p) for p in phrases if words(p)}, key=len, reverse=True)
        alt = "|".join(r"[\W_]+".join(re.escape(w) for w in k.split()) for k in keys)
        return re.compile(rf"^[\W_]*(?:{alt})(?![a-z0-9])")

    def prefixes(names: list[str]) -> re.Pattern[str]:
        alt = "|".join(map(re.escape, _folded(names)))
        return re.compile(rf"^\s*(?:{alt})\s*(?:\[\d+\]|\(\d+\))?\s*:")

    forward = line["forward_prefixes"]
    return CommandRules(
        prefix=prefixes(line["reply_prefixes"] + forward),
        forward=prefixes(forward),
        forward_markers=tuple(words(m) for m in line["forward_markers"] if words(m)),
        greeting=starts(line["greetings"]),
        politeness=tuple(sorted({words(p) for p in line["politeness"]}, key=len, reverse=True)),
        strict=tuple((c, starts(table[c]["words"])) for c in COMMANDS),
        loose=tuple((c, starts(table[c]["words"] + table[c]["synonyms"])) for c in COMMANDS),
        display={c: table[c]["words"][0].upper() for c in COMMANDS},
        dates=build_date_rules(data["dates"], data["autoreply"]),
    )


def _folded(items: list[str]) -> list[str]:
    return sorted({fold(i) for i in items}, key=len, reverse=True)


# -- reading a command ---------------------------------------------------------------------


def _bare(line: str, rules: CommandRules) -> str:
    """The folded line without reply prefixes and a leading greeting."""
    text = fold(line).strip()
    while match := rules.prefix.match(text):
        text = text[match.end() :].strip()
    greeting = rules.greeting.match(text)
    return text[greeting.end() :].lstrip(" ,;:!.-\t") if greeting else text


def _only_politeness(text: str, rules: CommandRules) -> bool:
    rest = words(text)
    while rest:
        polite = next((p for p in rules.politeness if rest == p or rest.endswith(" " + p)), None)
        if polite is None:
            return False
        rest = rest[: -len(polite)].strip()
    return True


def first_line(body: str, rules: CommandRules) -> str:
    """The first line that says something: not empty, not quoted, not only a greeting."""
    for line in body.splitlines():
        text = line.strip()
        if not text or text.startswith(">"):
            continue
        rest = _bare(text, rules)
        named = text.endswith((",", "!")) and len(words(rest).split()) <= 3
        greeting_only = rules.greeting.match(fold(text)) and (
            not words(rest) or (named and not any(p.match(rest) for _, p in rules.loose))
        )
        if not greeting_only:
            return text
    return ""


def match_line(line: str, rules: CommandRules, *, strict: bool) -> Command | None:
    text = _bare(line, rules)
    for name, pattern in rules.strict if strict else rules.loose:
        match = pattern.match(text)
        if match is None:
            continue
        rest = text[match.end() :].strip(" ,;:!.-\t")
        if name == ABSENT:
            dated = rules.dates.date.search(rest) or not words(rest)
            return Command(name, rest) if dated or not strict else None
        if _only_politeness(rest, rules):
            return Command(name, "")
    return None


def read_command(
    subject: str, body: str, rules: CommandRules, *, strict: bool, forwarded: bool = False
) -> Command | None:
    """The subject's command, else the first body line's; None for anything else. A
    forwarded mail (`forwarded`, or said so by its subject or body) is never STOP."""
    line = first_line(body, rules)
    found = match_line(subject, rules, strict=strict)
    if found and found.name == ABSENT and not words(found.argument):
        return Command(ABSENT, fold(line))  # "Subject: ABSENT", date in the body
    found = found or match_line(line, rules, strict=strict)
    if found and found.name == STOP and (forwarded or is_forwarded(subject, body, rules)):
        return None
    return found


def is_forwarded(subject: str, body: str, rules: CommandRules) -> bool:
    """A forward prefix anywhere in the subject's chain ("Re: TR: STOP"), or a line of the
    body announcing a forwarded message ("---------- Forwarded message ---------")."""
    text = fold(subject).strip()
    while match := rules.prefix.match(text):
        if rules.forward.match(text):
            return True
        text = text[match.end() :].strip()
    return any(
        any(marker in words(line) for marker in rules.forward_markers)
        for line in body.splitlines()
        if line.strip()
    )


def command_of(msg: EmailMessage, rules: CommandRules, *, strict: bool) -> Command | None:
    """`read_command` on a whole mail: one that carries another whole mail attached
    (message/rfc822: "forward as attachment") counts as forwarded."""
    attached = any(part.get_content_type() == "message/rfc822" for part in msg.walk())
    return read_command(
        subject_of(msg), readable_text(msg), rules, strict=strict, forwarded=attached
    )
