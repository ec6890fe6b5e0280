"""The words of the ambassadors' mail commands (rules/commands.toml), compiled once.

Reading a command out of a mail is inbound/ambassador_mail.py; what the words are, and the
patterns built from them, is data read here when the rules are loaded (context.load_rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mailflow.core.absence import DateRules, build_date_rules
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
