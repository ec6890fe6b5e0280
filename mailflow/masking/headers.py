"""The headers a relayed part keeps, by allowlist, and what is scrubbed in their values.

A blocklist always misses the next X-Originating-Whatever, so each part keeps only what a
reader needs. What stays can still carry an address: a subject, an attachment's name or
description, a Content-ID (renamed, and the HTML's cid: references follow it). Headers are
rewritten only when scrubbing changed them, so clean ones stay as they were received.
"""

from __future__ import annotations

import hashlib
from email.message import Message

from mailflow.masking.header_values import (
    clean_value,
    decode_words,
    format_params,
    header_params,
    header_text,
    main_value,
    raw_values,
    replace_header,
)
from mailflow.masking.rules import Rules

MIME_HEADERS = frozenset(
    {
        "mime-version",
        "content-type",
        "content-transfer-encoding",
        "content-disposition",
        "content-id",
        "content-language",
        "content-description",
    }
)
TOP_HEADERS = MIME_HEADERS | {"subject", "date"}
# A forwarded message keeps what a reader needs to understand it, with the parties masked.
NESTED_HEADERS = MIME_HEADERS | {"subject", "date", "from", "to", "cc"}
ADDRESS_HEADERS = ("From", "To", "Cc")


def keep_only(part: Message, keep: frozenset[str]) -> None:
    for name in {key.lower() for key, _ in part.raw_items()} - keep:
        del part[name]


def set_subject(msg: Message, rules: Rules, prefix: str) -> None:
    """One subject, scrubbed. A mail may carry several Subject headers (clients show the
    first or the last): the others, unread here, would pass as they came, so all go."""
    original = header_text(msg, "Subject") or ""
    subject = rules.text(original)
    if prefix and prefix.strip().casefold() not in subject.casefold():
        subject = f"{prefix}{subject}" if subject else prefix.strip()
    if subject != original or len(raw_values(msg, "Subject")) > 1:
        replace_header(msg, "Subject", subject)


def _rewrite_params(part: Message, header: str, rules: Rules) -> None:
    """Scrub the parameters (file names, URLs) but the boundary (the body's delimiters say
    it too); rewrite the header only if one changed."""
    raw = " ".join(raw_values(part, header))
    if not raw or ("*" not in raw and rules.text(decode_words(raw)) == decode_words(raw)):
        return  # nothing to find (RFC 2231 continuations may cut an address: read those)
    params = header_params(part, header)
    if params is None:
        return
    # Rewritten even if no value changed: an address may sit in a garbled parameter name,
    # which the rewrite drops.
    scrubbed = [(k, v if k.lower() == "boundary" else rules.text(v)) for k, v in params[1:]]
    replace_header(part, header, format_params(main_value(part, header, params[0][0]), scrubbed))


def new_content_ids(msg: Message, rules: Rules) -> dict[str, str]:
    """Content-IDs that carry an address, and the neutral ids they become."""
    mapping: dict[str, str] = {}
    for part in msg.walk():
        for value in raw_values(part, "Content-ID"):
            cid = clean_value(value).strip().strip("<>").strip()
            if cid and rules.text(cid) != cid:
                digest = hashlib.sha256(cid.encode()).hexdigest()[:20]
                mapping[cid] = f"part.{digest}@mailflow.invalid"
    return mapping


def scrub_mime_headers(part: Message, rules: Rules, cids: dict[str, str]) -> None:
    """Attachment names, descriptions and ids (and any kept header, however garbled) can
    carry an address; rewrite only those."""
    _rewrite_params(part, "content-type", rules)
    _rewrite_params(part, "content-disposition", rules)
    for name in ("Content-Description", "Content-Language", "MIME-Version", "Date"):
        _scrub_values(part, name, rules)
    _scrub_values(part, "Content-Transfer-Encoding", rules, drop=True)
    cid = header_text(part, "Content-ID")
    if cid is not None and cid.strip().strip("<>").strip() in cids:
        replace_header(part, "Content-ID", f"<{cids[cid.strip().strip('<>').strip()]}>")


def _scrub_values(part: Message, name: str, rules: Rules, drop: bool = False) -> None:
    """Every value of the header scrubbed (or, with `drop`, left out: an encoding with an
    address in it is no encoding); untouched if none changes."""
    values = [decode_words(v) for v in raw_values(part, name)]
    scrubbed = [rules.text(v) for v in values]
    if scrubbed == values:
        return
    del part[name]
    for value, new in zip(values, scrubbed, strict=True):
        if new == value or not drop:
            try:
                part[name] = new
            except Exception:  # a value the header classes refuse: left out
                continue
