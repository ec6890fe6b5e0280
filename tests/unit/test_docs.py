"""The README and docs/ document what a deployment relies on, and their links lead somewhere:
every command of the command table and each of its options, every configuration key, every
MAILFLOW_* variable the code or the scripts read. A command, key or variable added without
a word in the docs fails here."""

from __future__ import annotations

import argparse
import re
import unicodedata
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import get_type_hints

import pytest

from mailflow import config
from mailflow.cli import main as cli_main
from mailflow.cli.commands import COMMANDS
from mailflow.cli.parser import build_parser
from mailflow.config import PROJECT_ROOT

PAGES = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
TEXT = "\n".join(page.read_text(encoding="utf-8") for page in PAGES)
# `mailflow [--config PATH] ambassadors [list] [--json]` reads as `mailflow ambassadors list`
COMMAND_LINES = re.sub(r"[\[\]]", "", TEXT.replace("[--config PATH] ", ""))


def _parser_of(path: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = build_parser(cli_main.__doc__)
    for word in path:
        [sub] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[word]
    return parser


def test_the_docs_are_where_the_readme_says() -> None:
    names = {page.name for page in PAGES}
    assert {"operating.md", "coordinators.md", "privacy.md", "configuration.md"} <= names
    assert {"security.md", "followups.md", "architecture.md"} <= names


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_every_command_is_documented_with_its_options(path: tuple[str, ...]) -> None:
    line = "mailflow " + " ".join(path)
    assert re.search(re.escape(line) + r"\b", COMMAND_LINES), f"`{line}` is in no page"
    options = {
        option
        for action in _parser_of(path)._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }
    missing = sorted(o for o in options if not re.search(re.escape(o) + r"\b", TEXT))
    assert not missing, f"`{line}`: {missing} in no page"


def _config_keys() -> list[str]:
    keys = []
    for section in fields(config.Config):
        kind = get_type_hints(config.Config)[section.name]
        if is_dataclass(kind):
            keys += [f"[{section.name}] {key.name}" for key in fields(kind)]
    return keys


def test_every_configuration_key_is_documented() -> None:
    keys = _config_keys()
    assert len(keys) > 40 and "[mailbox] authserv_id" in keys
    missing = [key for key in keys if f"`{key}`" not in TEXT]
    assert not missing, f"{missing} in no page (docs/configuration.md lists every key)"


def test_every_variable_the_code_reads_is_documented() -> None:
    read = set()
    for folder in ("mailflow", "scripts", "bench"):
        for file in (PROJECT_ROOT / folder).rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts:
                text = file.read_text(encoding="utf-8", errors="replace")
                read |= set(re.findall(r"MAILFLOW_[A-Z][A-Z_]*[A-Z]", text))
    assert {"MAILFLOW_CONFIG", "MAILFLOW_NOW", "MAILFLOW_DATABASE_URL"} <= read
    missing = sorted(v for v in read if f"`{v}`" not in TEXT)
    assert not missing, f"{missing} in no page (docs/configuration.md lists them)"


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = page.read_text(encoding="utf-8")
    return {_anchor(h) for h in re.findall(r"^#+ (.+)$", text, flags=re.MULTILINE)}


def test_relative_links_lead_to_a_file_and_a_heading() -> None:
    links = 0
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            links += 1
            file, _, anchor = target.partition("#")
            where = (page.parent / file).resolve() if file else page
            if not where.exists():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and where.suffix == ".md" and anchor not in _anchors(where):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert links > 20
    assert not broken, broken


def test_the_anchor_rule_is_githubs() -> None:
    assert _anchor("Security: what is checked, and what a deployment must configure") == (
        "security-what-is-checked-and-what-a-deployment-must-configure"
    )
    assert _anchor("Le rapport de l'année : `mailflow report`") == (
        "le-rapport-de-lannée--mailflow-report"
    )
