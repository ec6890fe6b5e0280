"""Signed VERP return paths: a bounce names the exact outgoing mail it is about.

Each outgoing mail leaves with the envelope sender `relay+b-<id>-<expiry>-<sig>@domain`:
the outbound id and an expiry day in base 36, signed with an HMAC-SHA256 under a secret
created once per installation (`Setting` table). A DSN comes back to that address, so it
maps to one `OutboundMail` row without trusting anything the DSN says; a forged, altered or
expired address maps to nothing. Everything is lower case, as some mail systems lower-case
local parts; the '-' keeps it apart from conversation tokens ([a-z2-7]{24}).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import date, timedelta

from mailflow.clock import stamp
from mailflow.config import RelayConfig
from mailflow.store.models import Setting

SECRET_KEY = "verp_secret"
PREFIX = "b-"
SIGNATURE_CHARS = 10  # 50 bits of base32: forging one needs the secret
VALID_DAYS = 90  # a DSN may arrive days later (queue lifetime); after that it is ignored
_EPOCH = date(2000, 1, 1)
_PATTERN = re.compile(r"^b-([0-9a-z]{1,13})(?:-([0-9a-z]{1,6}))?-([a-z2-7]{10})$")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
        if number == 0:
            return out


def _secret() -> bytes:
    """The installation's signing key, created on first use; concurrent first uses agree."""
    row, _ = Setting.get_or_create(key=SECRET_KEY, defaults={"value": secrets.token_hex(32)})
    return row.value.encode("ascii")


def _sign(payload: str) -> str:
    digest = hmac.new(_secret(), payload.encode("ascii"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii").lower()[:SIGNATURE_CHARS]


def _split(relay: RelayConfig | str) -> tuple[str, str]:
    address = relay.address if isinstance(relay, RelayConfig) else relay
    local, _, domain = address.rpartition("@")
    return local.split("+", 1)[0].lower(), domain.lower()


def verp_address(
    relay: RelayConfig | str, outbound_id: int, *, valid_days: int | None = VALID_DAYS
) -> str:
    """The envelope sender for outgoing mail #outbound_id (`relay` is the relay address);
    `valid_days=None` signs an address that never expires."""
    body = _base36(outbound_id)
    if valid_days is not None:
        expiry = stamp().date() + timedelta(days=valid_days)
        body = f"{body}-{_base36((expiry - _EPOCH).days)}"
    local, domain = _split(relay)
    return f"{local}+{PREFIX}{body}-{_sign(body)}@{domain}"


def looks_like_verp(address: str, relay: RelayConfig | str) -> bool:
    """Shaped like one of our return paths, whether or not the signature holds."""
    return _detail(address, relay) is not None


def parse_verp(address: str, relay: RelayConfig | str) -> int | None:
    """The outbound id of a genuine, unexpired return path; None for anything else."""
    detail = _detail(address, relay)
    match = _PATTERN.match(detail) if detail else None
    if match is None:
        return None
    ident, expiry, signature = match.groups()
    body = f"{ident}-{expiry}" if expiry else ident
    if not hmac.compare_digest(signature, _sign(body)):
        return None
    if expiry and _EPOCH + timedelta(days=int(expiry, 36)) < stamp().date():
        return None
    return int(ident, 36)


def _detail(address: str, relay: RelayConfig | str) -> str | None:
    """The part after '+' of relay+b-...@domain, lower-cased; None for other addresses."""
    local, domain = _split(relay)
    text = address.strip().strip("<>").lower()
    prefix, suffix = f"{local}+{PREFIX}", f"@{domain}"
    if not (text.startswith(prefix) and text.endswith(suffix)):
        return None
    return text[len(local) + 1 : -len(suffix)]
