"""The directory's lookups: an ambassador by address, whatever their status.

Below every stage that needs one: the pipeline (who wrote), the confirmation replies, and
the privacy commands (export, forget) find an ambassador the same way.
"""

from __future__ import annotations

from peewee import fn

from mailflow.store.models import Ambassador


def find_ambassador(address: str) -> Ambassador | None:
    """Any registered address, active or not, compared without case."""
    return Ambassador.get_or_none(fn.LOWER(Ambassador.email) == address.lower())
