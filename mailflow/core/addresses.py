"""Reading addresses and relay tokens out of headers; minting tokens."""

from __future__ import annotations

import base64
import re
import secrets
from email.errors import HeaderParseError, InvalidHeaderDefect
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses

from mailflow.config import RelayConfig

TOKEN_BYTES = 15  # 120 random bits, written as 24 lower-case base32 letters
TOKEN_PATTERN = r"[a-z2-7]{24}"
TOKEN_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc", "Envelope-To")


def new_token() -> str:
    """Unguessable and case-proof (some clients lower-case local parts)."""
    return base64.b32encode(secrets.token_bytes(TOKEN_BYTES)).decode().lower()


def header_addresses(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of a header; empty for a missing or broken one."""
    try:
        values = [str(v) for v in msg.get_all(name, [])]
    except Exception:  # a header too broken to parse carries no usable address
        return []
    return [(n, a.strip()) for n, a in getaddresses(values) if "@" in a]


# RFC 5321 (4.5.3.1.3): a path holds at most 256 octets, the two angle brackets included.
# No server delivers to a longer address, and the database columns hold 320 characters.
MAX_ADDRESS_LENGTH = 254


def sender(msg: EmailMessage) -> tuple[str, str] | None:
    """The From address, lower-cased, with its display name; None when there is no address
    we could answer (absent, or too malformed to write into a To header)."""
    pairs = header_addresses(msg, "From")
    if not pairs:
        return None
    name, address = pairs[0]
    if len(address) > MAX_ADDRESS_LENGTH:
        return None
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError, TypeError, HeaderParseError, InvalidHeaderDefect):
        return None
    return name, address.lower()


def relay_token(msg: EmailMessage, relay: RelayConfig) -> str | None:
    """The token of the relay address this message was sent to, if any (the first one,
    when it was sent to several: see relay_tokens)."""
    tokens = relay_tokens(msg, relay)
    return tokens[0] if tokens else None


def relay_tokens(msg: EmailMessage, relay: RelayConfig) -> list[str]:
    """Every relay token the message was addressed to, each once, in the order of
    TOKEN_HEADERS: the delivery's own address (Delivered-To, X-Original-To) first, then
    To and Cc. A Bcc'd relay address shows only in the delivery headers of its own copy."""
    local, domain = re.escape(relay.local_part), re.escape(relay.domain)
    plus = re.compile(rf"^{local}\+({TOKEN_PATTERN})@{domain}$", re.IGNORECASE)
    sub = re.compile(rf"^({TOKEN_PATTERN})@{local}\.{domain}$", re.IGNORECASE)
    found: list[str] = []
    for name in TOKEN_HEADERS:
        for _, address in header_addresses(msg, name):
            match = plus.match(address) or sub.match(address)
            if match and match.group(1).lower() not in found:
                found.append(match.group(1).lower())
    return found


DELIVERY_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To")
# A relay token in an address, in either form (relay+TOKEN@domain, TOKEN@relay.domain).
_TOKEN_IN_ADDRESS = re.compile(rf"(?:^|\+)({TOKEN_PATTERN})@", re.IGNORECASE)


def addressed_to(msg: EmailMessage) -> set[str]:
    """Every address, lower-cased, the message names as a recipient or a delivery."""
    return {a.lower() for name in TOKEN_HEADERS for _, a in header_addresses(msg, name)}


def delivered_tokens(msg: EmailMessage) -> set[str]:
    """The token-bearing addresses this copy was delivered for (its delivery headers):
    a copy delivered for a Bcc'd relay address carries one its other copies never name."""
    return {
        a.lower()
        for name in DELIVERY_HEADERS
        for _, a in header_addresses(msg, name)
        if _TOKEN_IN_ADDRESS.search(a)
    }


def message_ids(value: str | None) -> list[str]:
    """Every <id> in an In-Reply-To or References header."""
    return re.findall(r"<[^<>\s]+>", value or "")


def header_text(msg: EmailMessage, name: str) -> str:
    """A header's text, never raising: a value too broken to parse is returned raw."""
    try:
        return str(msg.get(name) or "").strip()
    except Exception:  # the email package raises various errors on broken headers
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                return str(value).strip()
        return ""


def message_id_of(msg: EmailMessage) -> str | None:
    """The message's own well-formed <id>, or None (absent or broken)."""
    ids = message_ids(header_text(msg, "Message-ID"))
    return ids[0] if ids else None
