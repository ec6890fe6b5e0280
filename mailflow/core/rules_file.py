"""Reading one file under rules/, so a mistake in it is told by file and key, never as a
traceback: the daemon and every command that reads rules load them all at start-up
(context.load_rules), and a coordinator who edited a file must see at once what to fix."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from mailflow.errors import RulesError

# What a builder raises on a wrong value; turned into a RulesError by rules_error().
BUILD_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, re.error)


class Table(dict):
    """A TOML table that knows where it is, so a missing key is named in full
    ("line.greetings", not just "greetings")."""

    where: str = ""

    def __missing__(self, key: str) -> Any:
        raise KeyError(f"{self.where}.{key}" if self.where else key)


def _keyed(value: Any, where: str = "") -> Any:
    if isinstance(value, dict):
        table = Table({k: _keyed(v, f"{where}.{k}" if where else k) for k, v in value.items()})
        table.where = where
        return table
    if isinstance(value, list):
        return [_keyed(v, where) for v in value]
    return value


def read_toml(path: Path, optional: bool = False) -> dict[str, Any]:
    """The file's tables (Table, a dict); an optional file may be missing."""
    if optional and not path.exists():
        return Table()
    try:
        return _keyed(tomllib.loads(path.read_text(encoding="utf-8")))
    except OSError as exc:
        raise RulesError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from exc


def rules_error(path: Path, exc: Exception) -> RulesError:
    """`exc`, raised while building the rules of `path`, in words naming file and key."""
    if isinstance(exc, RulesError):
        return exc
    if isinstance(exc, KeyError):
        return RulesError(f"{path}: the key {exc.args[0]!r} is missing")
    if isinstance(exc, re.error):
        return RulesError(f"{path}: a pattern is not a valid regular expression: {exc}")
    return RulesError(f"{path}: {exc}")
