"""The adult's address a child gives in a reply ("l'adresse de ma mère : ...", "mon prof
c'est m.dupont@college.fr"), read with the same checks the directory uses for addresses
(email-validator, no deliverability lookup)."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

# Something shaped like an address: the validator decides whether it is one.
_CANDIDATE = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def valid_address(text: str) -> str | None:
    """The address, normalised and lower-cased, or None when it is not one."""
    try:
        info = validate_email(text.strip(), check_deliverability=False, test_environment=True)
    except EmailNotValidError:
        return None
    return info.normalized.lower()


def addresses_in(text: str, exclude: frozenset[str] = frozenset(), domain: str = "") -> list[str]:
    """The valid addresses written in `text`, in order, once each, without those of
    `exclude` (the child's own) and of our own `domain` (a quoted relay address)."""
    found: list[str] = []
    for match in _CANDIDATE.finditer(text):
        address = valid_address(match.group(0).strip(".'"))
        if address is None or address in exclude or address in found:
            continue
        if domain and address.rsplit("@", 1)[-1] == domain.lower():
            continue
        found.append(address)
    return found
