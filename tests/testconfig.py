"""The one configuration file the tests write: the example configuration with overrides.

Tests that run mailflow without a mail server start from mailflow.example.toml (so a key the
example gains is tested too) with their own database file beside the configuration; the
end-to-end tests point it at the session's stack instead (tests/deployment.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mailflow.config import PROJECT_ROOT

EXAMPLE = PROJECT_ROOT / "mailflow.example.toml"
EXAMPLE_DATABASE = "db/mailflow.sqlite3"  # the example's SQLite file, relative to it


def write_config(
    folder: Path,
    extra: str = "",
    *,
    database: str = "t.sqlite3",
    name: str = "mailflow.toml",
    replace: Mapping[str, str] | None = None,
) -> Path:
    """Write `folder/name` and return its path: the example configuration on the SQLite file
    `database` (relative to `folder`; a value with `://` is a whole database URL), each
    `replace` key of the example's text replaced by its value, then `extra` (TOML sections)
    appended. On PostgreSQL runs MAILFLOW_DATABASE_URL overrides the file's URL
    (tests/conftest.py)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    if "://" in database:
        text = text.replace(f"sqlite:///{EXAMPLE_DATABASE}", database)
    else:
        text = text.replace(EXAMPLE_DATABASE, database)
    for old, new in (replace or {}).items():
        if old not in text:
            raise ValueError(f"{old!r} is not in {EXAMPLE.name}")
        text = text.replace(old, new)
    path = folder / name
    path.write_text(text + extra, encoding="utf-8")
    return path
