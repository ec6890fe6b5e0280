"""Replacing the addresses a text quotes: the step every erasure shares, kept apart from
privacy.py so that the modules cleaning what an erasure leaves (privacy_log.py) use it too."""

from __future__ import annotations

import re
from collections.abc import Callable

from mailflow.core.dsn import ADDRESS

ERASED = "[adresse effacée]"


def is_placeholder(address: str) -> bool:
    """An address in the reserved .invalid domain: only an erasure writes one."""
    domain = address.strip().lower().rpartition("@")[2]
    return domain == "invalid" or domain.endswith(".invalid")


def address_pattern(addresses: set[str]) -> re.Pattern[str]:
    """Each address as a whole word: 'lea@users.test' is not in 'malea@users.test' nor in
    'lea@users.test.fr', whose rows belong to someone else."""
    alternatives = "|".join(re.escape(a) for a in sorted(addresses, key=len, reverse=True))
    return re.compile(rf"(?<![\w.%+-])(?:{alternatives})(?![\w-]|\.\w)", re.IGNORECASE)


def scrub_addresses(text: str, kept: Callable[[str], bool]) -> str:
    """Every address quoted in `text` (a log cause, an SMTP error) replaced as a scrub
    replaces it, except those `kept` says may stay (ours, the network's)."""
    found = {a.lower() for a in ADDRESS.findall(text)}
    gone = {a for a in found if not kept(a) and not is_placeholder(a)}
    return address_pattern(gone).sub(ERASED, text) if gone else text
