"""Text columns that take any value on SQLite and PostgreSQL alike.

SQLite stores a string of any length, NUL characters included; PostgreSQL refuses both a
value longer than `varchar(n)` and any NUL in text. Hostile mail carries both (a 400-character
sender, a NUL in a subject), and a database refusing them would quarantine on PostgreSQL what
SQLite processes. These fields drop NUL characters and cut to the column's length on the way
in, on both backends, so the daemon decides the same wherever it runs. Lookups go through the
same conversion, so a value is found by the very string it was stored from.
"""

from __future__ import annotations

from typing import Any

from peewee import CharField as _CharField
from peewee import TextField as _TextField


def _fit(value: Any, max_length: int | None = None) -> Any:
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:max_length] if max_length is not None else value


class CharField(_CharField):
    """peewee's CharField, cut to `max_length` and without NUL (see the module's note)."""

    def db_value(self, value: Any) -> Any:
        return _fit(super().db_value(value), self.max_length)


class TextField(_TextField):
    """peewee's TextField without NUL characters, which PostgreSQL text cannot hold."""

    def db_value(self, value: Any) -> Any:
        return _fit(super().db_value(value))
