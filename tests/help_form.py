"""The help mail's fill-in form (templates/mails/help.txt) as a person sends it back."""

from __future__ import annotations

import re

from mailflow.core.textnorm import words
from mailflow.understand.mail import UnderstandingRules

FORM_LINE = re.compile(r"^(\s+)(\S.*?) :[ \t]*(.*)$")  # "  Lieu (ville ou département) : "


def form_lines(help_text: str, rules: UnderstandingRules) -> list[tuple[str, str, str | None]]:
    """(indent, key as shown, field the rules give it) of each "Clé : exemple" line."""
    out = []
    for line in help_text.splitlines():
        match = FORM_LINE.match(line)
        if match:
            key = re.sub(r"\([^)]*\)", " ", match.group(2))
            out.append((match.group(1), match.group(2), rules.form_keys.get(words(key))))
    return out


def fill(help_text: str, rules: UnderstandingRules, answers: dict[str, str]) -> str:
    """Keys kept as shown, the examples replaced by the answers (blank when none)."""
    return "\n".join(
        f"{indent}{key} : {answers.get(field or '', '')}".rstrip()
        for indent, key, field in form_lines(help_text, rules)
    )


def quoted(text: str) -> str:
    """A mail client's "> " quote of an earlier mail."""
    return "\n".join(f"> {line}".rstrip() for line in text.splitlines())
