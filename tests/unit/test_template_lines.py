"""No two lines of a mail glued together: the templates are read with trim_blocks
(services/compose.py OPTIONS), which eats the newline after a block tag. A tag that ends a
line of text ("... n°{{ id }}{% endif %}") then glues the next line to it: "(CAP
pâtisserie)après qu'elle", "dmarc=fail  - Demande n°5  - Message enregistré n°9" were seen.
Such a tag must keep its newline ("+%}")."""

from __future__ import annotations

import re

import pytest

from mailflow.config import PROJECT_ROOT

TEMPLATES = sorted((PROJECT_ROOT / "templates" / "mails").glob("*.txt"))
ENDS_WITH_TAG = re.compile(r"\S.*\{%-?\s*(?:if|elif|else|endif|for|endfor)\b[^%]*[^+]%\}$")


def _glued(lines: list[str]) -> list[str]:
    found = []
    for n, line in enumerate(lines[:-1], 1):
        text = line.rstrip("\n")
        if text.lstrip().startswith("{%") and text.rstrip().endswith("%}") and "}}" not in text:
            continue  # a line of tags only: its newline is meant to go
        following = lines[n].strip()
        closes_inner = following.startswith(("{% endif", "{% else", "{% elif"))
        if ENDS_WITH_TAG.search(text) and following and not closes_inner:
            found.append(f"line {n}: {text[-60:]!r} + {following[:40]!r}")
    return found


@pytest.mark.parametrize("path", TEMPLATES, ids=[p.stem for p in TEMPLATES])
def test_no_line_of_text_loses_its_newline(path) -> None:  # noqa: ANN001
    lines = path.read_text(encoding="utf-8").split("\n")
    assert _glued(lines) == []


def test_the_check_sees_a_glued_line() -> None:
    assert _glued(["  - Demande n°{{ n }}{% endif %}", "  - Message"]) != []
    assert _glued(["  - Demande n°{{ n }}{% endif +%}", "  - Message"]) == []
    assert _glued(["{{ a }}{% endif %}", ""]) == []  # a blank line after: nothing glued
