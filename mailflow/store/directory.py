"""The directory's lookups: an ambassador by address, whatever their status; an entry's fields.

Below every stage that needs one: the pipeline (who wrote), the confirmation replies, and
the privacy commands (export, forget) find an ambassador the same way; mails, newsletters
and the directory table read an entry's fields through `ambassador_fields`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from peewee import fn

from mailflow.store.models import Ambassador


def find_ambassador(address: str) -> Ambassador | None:
    """Any registered address, active or not, compared without case."""
    return Ambassador.get_or_none(fn.LOWER(Ambassador.email) == address.lower())


NAME = "name"  # first and last name, as mails and tables show it


def ambassador_fields(ambassador: Ambassador, fields: Iterable[str]) -> dict[str, Any]:
    """The named fields of a directory entry, in that order: stored columns as they are,
    and NAME."""
    a = ambassador
    return {f: f"{a.first_name} {a.last_name}" if f == NAME else getattr(a, f) for f in fields}
