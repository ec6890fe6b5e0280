"""The relayed copy of an inbound message: same MIME tree, masked headers, scrubbed text.

The copy is a deep copy of the original, changed in place, never rebuilt: rebuilding is how
other relays lose inline images, charsets and attachments. Headers are kept by allowlist,
because a blocklist always misses the next X-Originating-Whatever.

What is scrubbed: each party's address becomes the relay address the other side knows it
by, and any other address (a third party's, another conversation's relay address) becomes
"[adresse masquée]"; only this conversation's relay addresses and mailflow's public address
stay. That holds for the subject, text and HTML parts, text attachments (text/*, calendars
and vCards with their folded lines, named files such as notes.txt or invite.ics), forwarded
messages (message/rfc822, even base64-encoded, their headers decoded first), the MIME
preamble and epilogue, attachment names and descriptions, and Content-IDs (the HTML's cid:
references follow). Binary attachments (images, PDF, office documents) are relayed as they
are: what they contain cannot be read here.

This module writes the copy's own addressing and runs the steps, in order: relay_headers
(allowlist, kept headers scrubbed), relay_body (the MIME tree), relay_writable (what the
email package cannot write back, repaired), all under one relay_rules.Rules.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr

from mailflow.masking.body import scrub_tree
from mailflow.masking.headers import (
    TOP_HEADERS,
    keep_only,
    new_content_ids,
    scrub_mime_headers,
    set_subject,
)
from mailflow.masking.rules import Rules
from mailflow.masking.scrub import Secret
from mailflow.masking.writable import make_writable


@dataclass(frozen=True)
class RelaySpec:
    """Everything the copy's headers say; the caller decides, this module only writes."""

    from_display: str
    from_address: str
    to_address: str
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    secrets: tuple[Secret, ...]
    extra_headers: tuple[tuple[str, str], ...] = ()
    subject_prefix: str = ""
    # Addresses that may show besides this conversation's relay addresses (mailflow's own).
    keep_addresses: tuple[str, ...] = ()


def build_relayed(original: EmailMessage, spec: RelaySpec) -> EmailMessage:
    """A copy of `original` addressed per `spec`, with no trace of the parties' addresses
    and no other address but the relay's."""
    msg = copy.deepcopy(original)
    rules = Rules.of(spec.secrets, [spec.from_address, *spec.keep_addresses])
    keep_only(msg, TOP_HEADERS)
    cids = new_content_ids(msg, rules)
    scrub_mime_headers(msg, rules, cids)
    set_subject(msg, rules, spec.subject_prefix)
    _address(msg, spec)
    scrub_tree(msg, rules, cids)
    make_writable(msg)
    return msg


def _address(msg: EmailMessage, spec: RelaySpec) -> None:
    del msg["MIME-Version"]  # Apple Mail's "1.0 (Mac OS X Mail 16.0 ...)" names the client
    msg["MIME-Version"] = "1.0"
    msg["From"] = formataddr((spec.from_display, spec.from_address))
    msg["To"] = spec.to_address
    msg["Reply-To"] = spec.from_address
    msg["Message-ID"] = spec.message_id
    if spec.in_reply_to:
        msg["In-Reply-To"] = spec.in_reply_to
    if spec.references:
        msg["References"] = " ".join(spec.references)
    for name, value in spec.extra_headers:
        msg[name] = value
