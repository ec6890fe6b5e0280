"""The relayed copy of an inbound message: same MIME tree, masked headers, scrubbed text.

The copy is a deep copy of the original, changed in place, never rebuilt: rebuilding is how
other relays lose inline images, charsets and attachments. Headers are kept by allowlist,
because a blocklist always misses the next X-Originating-Whatever.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage, Message
from email.utils import formataddr, getaddresses, quote

from .mime_text import get_text, is_attachment, set_text
from .scrub import Secret, scrub_html, scrub_text

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
SCRUBBED_MIME_HEADERS = ("Content-Type", "Content-Disposition", "Content-Description")


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


def build_relayed(original: EmailMessage, spec: RelaySpec) -> EmailMessage:
    """A copy of `original` addressed per `spec`, with no trace of the parties' addresses."""
    msg = copy.deepcopy(original)
    _keep_only(msg, TOP_HEADERS)
    _scrub_mime_headers(msg, spec.secrets)
    _set_subject(msg, spec.secrets, spec.subject_prefix)
    _address(msg, spec)
    _scrub_tree(msg, spec.secrets)
    return msg


def _keep_only(part: Message, keep: frozenset[str]) -> None:
    for name in {key.lower() for key in part} - keep:  # iterating a Message gives names
        del part[name]


def _clean(value: str) -> str:
    """A header value with raw 8-bit bytes (parsed as surrogates) read as UTF-8."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _scrub_mime_headers(part: Message, secrets: Sequence[Secret]) -> None:
    """Attachment names and descriptions can carry an address; rewrite only those that do."""
    for name in SCRUBBED_MIME_HEADERS:
        value = part.get(name)
        if value is None:
            continue
        scrubbed = scrub_text(_clean(str(value)), secrets)
        if scrubbed != str(value):
            part.replace_header(name, scrubbed)


def _set_subject(msg: Message, secrets: Sequence[Secret], prefix: str) -> None:
    original = str(msg.get("Subject", ""))
    subject = scrub_text(_clean(original), secrets)
    if prefix and prefix.strip().casefold() not in subject.casefold():
        subject = f"{prefix}{subject}" if subject else prefix.strip()
    if subject != original:
        del msg["Subject"]
        msg["Subject"] = subject


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


def _scrub_tree(part: Message, secrets: Sequence[Secret]) -> None:
    """Scrub every inline text leaf, recursing through multiparts and forwarded messages."""
    payload = part.get_payload()
    if part.get_content_type() == "message/rfc822" and isinstance(payload, list):
        for inner in payload:
            _scrub_forwarded(inner, secrets)
    elif part.is_multipart():
        _scrub_margins(part, secrets)
        for child in payload:
            _keep_only(child, MIME_HEADERS)
            _scrub_mime_headers(child, secrets)
            _scrub_tree(child, secrets)
    elif part.get_content_maintype() == "text" and not is_attachment(part):
        _scrub_leaf(part, secrets)
    elif isinstance(payload, str) and part.get_content_maintype() in ("multipart", "message"):
        _scrub_unsplit(part, secrets)


def _scrub_unsplit(part: Message, secrets: Sequence[Secret]) -> None:
    """A multipart without a usable boundary (or an unparsed message/*) reaches the reader as
    plain text: scrub it as such, and say so in its type when it had to change."""
    raw = part.get_payload(decode=True)
    raw = raw if isinstance(raw, bytes) else b""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    scrubbed = scrub_text(text, secrets)
    if scrubbed == text:
        return
    for name in ("Content-Type", "Content-Transfer-Encoding"):
        del part[name]
    part["Content-Type"] = 'text/plain; charset="utf-8"'
    part.set_payload(scrubbed.encode("utf-8"))
    set_text(part, scrubbed)


def _scrub_margins(part: Message, secrets: Sequence[Secret]) -> None:
    """The preamble and epilogue of a multipart are text some clients show too."""
    if part.preamble:
        part.preamble = scrub_text(part.preamble, secrets)
    if part.epilogue:
        part.epilogue = scrub_text(part.epilogue, secrets)


def _scrub_leaf(part: Message, secrets: Sequence[Secret]) -> None:
    """Rewrite the text only if something changed, so clean parts stay byte-identical."""
    text = get_text(part)
    scrub = scrub_html if part.get_content_subtype() == "html" else scrub_text
    scrubbed = scrub(text, secrets)
    if scrubbed != text:
        set_text(part, scrubbed)


def _scrub_forwarded(inner: Message, secrets: Sequence[Secret]) -> None:
    """A message/rfc822 part: its own headers are visible to the reader, so mask them."""
    _keep_only(inner, NESTED_HEADERS)
    for name in ADDRESS_HEADERS:
        if name in inner:
            _mask_addresses(inner, name, secrets)
    _scrub_mime_headers(inner, secrets)
    _set_subject(inner, secrets, "")
    _scrub_tree(inner, secrets)


def _mask_addresses(part: Message, name: str, secrets: Sequence[Secret]) -> None:
    """Each party's address becomes its replacement; a label becomes an empty group."""
    by_address = {s.address.strip().lower(): s.replacement for s in secrets}
    values = [_clean(str(v)) for v in part.get_all(name, [])]
    rendered: list[str] = []
    for display, address in getaddresses(values):
        display = scrub_text(display, secrets)
        replacement = by_address.get(address.strip().lower())
        if replacement is None:
            rendered.append(_render(display, scrub_text(address, secrets)))
        elif "@" in replacement:
            rendered.append(_render(display, replacement))
        else:  # "l'ambassadeur:;" says who without inventing an address
            rendered.append(_render(replacement, ""))
    del part[name]
    if rendered:
        # Pre-encoded and folded by hand: Python 3.11's folder can RFC 2047-encode the comma
        # between two addresses when a display name is non-ASCII, merging them into one.
        part.set_raw(name, _fold(name, ", ".join(rendered)))


def _fold(name: str, value: str, width: int = 76) -> str:
    """Break an ASCII header value at spaces so that no line needs refolding."""
    lines: list[str] = []
    current, budget = "", width - len(name) - 2
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > budget:
            lines.append(current)
            current, budget = word, width - 1
        else:
            current = f"{current} {word}" if current else word
    return "\n ".join([*lines, current])


def _render(display: str, address: str) -> str:
    """One ASCII address (display name RFC 2047-encoded if needed), or an empty group."""
    if address:
        return formataddr((display, address))
    if display.isascii():
        return f'"{quote(display)}":;'
    return f"{Header(display, 'utf-8').encode()}:;"
