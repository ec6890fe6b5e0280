"""The bodies of the relayed copy scrubbed, part by part, through the whole MIME tree.

The tree is walked as it is, never rebuilt: multiparts, forwarded messages (even encoded
ones the parser left as text), text leaves, and octet-stream files that are text or
messages by their name. A leaf is rewritten only if scrubbing changed it, so clean parts
stay byte-identical. Binary attachments are relayed as they are: what they contain cannot
be read here, but an address left in the bytes sent around them is caught.
"""

from __future__ import annotations

import base64
import quopri
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser

from mailflow.core.mime_depth import SAFE_DEPTH, deeper_than
from mailflow.masking.addresses import mask_addresses
from mailflow.masking.headers import (
    ADDRESS_HEADERS,
    MIME_HEADERS,
    NESTED_HEADERS,
    keep_only,
    scrub_mime_headers,
    set_subject,
)
from mailflow.masking.mime_text import as_plain_text, get_text, set_text, unsplit_text
from mailflow.masking.rich_text import (
    MARKUP_TYPES,
    REMOVED_HEADER,
    RTF_TYPES,
    TEXT_TYPES,
    WHY_UNREADABLE,
)
from mailflow.masking.rules import Rules
from mailflow.masking.text import (
    FILE_EXTENSIONS,
    FOLDED_EXTENSIONS,
    FOLDED_TYPES,
    TEXT_EXTENSIONS,
    scrubbed_text,
    still_shows_address,
    text_kind,
)
from mailflow.masking.writable import make_writable, sane_content_type

_PARSER = BytesParser(policy=policy.default)
# Read as text although their type is not text/*: calendars, vCards, RTF, SVG and XML, JSON.
_TEXT_LIKE = FOLDED_TYPES | RTF_TYPES | MARKUP_TYPES | TEXT_TYPES


def scrub_tree(part: Message, rules: Rules, cids: dict[str, str], depth: int = 0) -> None:
    """Scrub every text leaf, attachments included, through multiparts and forwarded
    messages. `depth`: the containers around `part`, so that an encoded message parsed
    here cannot nest deeper than the stack allows (the raw mail was checked, not what
    its base64 or quoted-printable parts decode to)."""
    payload = part.get_payload()
    ctype = part.get_content_type()  # parsing Content-Type is slow: once per part
    maintype = ctype.partition("/")[0]
    if ctype in ("message/rfc822", "message/global"):
        if not isinstance(payload, list):
            payload = _parse_enclosed(part, depth)
        if payload is None:
            _scrub_unsplit(part, rules)
        else:
            for inner in payload:
                _scrub_forwarded(inner, rules, cids, depth + 1)
    elif part.is_multipart() and isinstance(payload, list):
        _scrub_margins(part, rules)
        for child in payload:
            keep_only(child, MIME_HEADERS)
            scrub_mime_headers(child, rules, cids)
            scrub_tree(child, rules, cids, depth + 1)
    elif isinstance(payload, str) and maintype in ("multipart", "message"):
        _scrub_unsplit(part, rules)
    else:
        if maintype == "text" or ctype in _TEXT_LIKE:
            _scrub_leaf(part, ctype, rules, cids)
        elif ctype == "application/octet-stream":
            _scrub_named_file(part, rules, cids, depth)
        _reencode_if_dirty(part, rules)


def _reencode_if_dirty(part: Message, rules: Rules) -> None:
    """An address still in the bytes sent: text outside what a base64 or quoted-printable
    body decodes to (a line the decoder skips, "jean@x.org+//AA"), or a "binary" part sent
    as plain 7-bit text (a header block cut by a broken line). The body is encoded again,
    from what it decodes to, scrubbed as Latin-1 text. Text parts are scrubbed already, and
    binary attachments never get here: "@" is no base64 and "=40" is decoded."""
    raw = part._payload  # the body as it will be written
    if not isinstance(raw, str) or rules.text(raw) == raw:
        return
    data = part.get_payload(decode=True)
    data = data if isinstance(data, bytes) else b""
    # A body too broken to decode comes back as it is written: scrubbed as such then.
    text = data.decode("latin-1")
    _set_bytes(part, rules.text(text).encode("latin-1", "replace"))


def _parse_enclosed(part: Message, depth: int) -> list[Message] | None:
    """A message/rfc822 part the parser left as text (base64 or quoted-printable encoded):
    parsed, so it is scrubbed like any forwarded message. None if it is no message, or
    one nested too deeply to parse (scrubbed as text then)."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes) or not raw.strip() or _too_deep(raw, depth):
        return None
    inner = _PARSER.parsebytes(raw)
    if not inner.keys():
        return None
    part.set_payload([inner])
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "8bit" if not raw.isascii() else "7bit"
    return [inner]


def _scrub_unsplit(part: Message, rules: Rules) -> None:
    """A multipart without a usable boundary (or an unparsed message/*) reaches the reader as
    plain text: scrub it as such, and say so in its type when it had to change."""
    text = unsplit_text(part)
    scrubbed = rules.text(text)
    if scrubbed != text:
        as_plain_text(part, scrubbed)


def _scrub_margins(part: Message, rules: Rules) -> None:
    """The preamble and epilogue of a multipart are text some clients show too."""
    if part.preamble:
        part.preamble = rules.text(part.preamble)
    if part.epilogue:
        part.epilogue = rules.text(part.epilogue)


def _scrub_leaf(part: Message, ctype: str, rules: Rules, cids: dict[str, str]) -> None:
    """Rewrite the text only if something changed, so clean parts stay byte-identical."""
    text = get_text(part)
    kind = text_kind(ctype, _extension(part))
    scrubbed = scrubbed_text(text, kind, rules, cids)
    if still_shows_address(scrubbed, kind, rules):
        _remove_file(part, ctype)
        return
    if scrubbed == text:
        return
    try:
        set_text(part, scrubbed)
    except ValueError:  # a Content-Type too garbled to take a charset: rebuilt, then again
        sane_content_type(part)
        set_text(part, scrubbed)


def _scrub_named_file(part: Message, rules: Rules, cids: dict[str, str], depth: int) -> None:
    """An application/octet-stream attachment that is a text file or a message by its name
    (notes.txt, invite.ics, message.eml): scrubbed the same way, bytes re-encoded as before.
    A message nested too deeply to parse is scrubbed as text."""
    extension = _extension(part)
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return
    if extension == "eml" and not _too_deep(data, depth):
        inner = _PARSER.parsebytes(data)
        if not inner.keys():
            return
        _scrub_forwarded(inner, rules, cids, depth + 1)
        make_writable(inner)
        new = inner.as_bytes(policy=policy.SMTP)
    elif extension in TEXT_EXTENSIONS | FOLDED_EXTENSIONS | FILE_EXTENSIONS | {"eml"}:
        try:
            text, codec = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, codec = data.decode("cp1252", errors="replace"), "cp1252"
        kind = text_kind("application/octet-stream", extension)
        scrubbed = scrubbed_text(text, kind, rules, cids)
        if still_shows_address(scrubbed, kind, rules):
            _remove_file(part, "application/octet-stream")
            return
        if scrubbed == text:
            return
        new = scrubbed.encode(codec, errors="replace")
    else:
        return
    if new != data:
        _set_bytes(part, new)


def _extension(part: Message) -> str:
    name = (part.get_filename() or "").strip().lower()
    return name.rpartition(".")[2] if "." in name else ""


def _remove_file(part: Message, ctype: str) -> None:
    """A file whose addresses cannot all be masked: emptied, a note in its place, and
    marked so that limits.strip_attachments tells the sender."""
    assert isinstance(part, EmailMessage)  # parsed with policy.default
    name = (part.get_filename() or "sans nom").strip()
    data = part.get_payload(decode=True)
    size = len(data) if isinstance(data, bytes) else 0
    top = "MIME-Version" in part
    note = f"Une pièce jointe ({name}) a été retirée : {WHY_UNREADABLE}.\n"
    part.set_content(note, charset="utf-8", cte="quoted-printable", disposition="inline")
    if not top:
        del part["MIME-Version"]  # set_content adds it; only the top of a message has one
    part[REMOVED_HEADER] = f"{ctype} {size} {name}"


def _set_bytes(part: Message, data: bytes) -> None:
    cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if cte in ("", "7bit", "8bit", "binary") and data.isascii():
        part.set_payload(data.decode("ascii"))
        return
    if cte == "quoted-printable":
        part.set_payload(quopri.encodestring(data).decode("ascii"))
        return
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(data).decode("ascii"))


def _too_deep(raw: bytes, depth: int) -> bool:
    """Would parsing `raw` under `depth` containers nest past SAFE_DEPTH?"""
    return deeper_than(raw, max(SAFE_DEPTH - depth - 1, 0))


def _scrub_forwarded(inner: Message, rules: Rules, cids: dict[str, str], depth: int) -> None:
    """A message/rfc822 part: its own headers are visible to the reader, so mask them."""
    keep_only(inner, NESTED_HEADERS)
    for name in ADDRESS_HEADERS:
        if name in inner:
            mask_addresses(inner, name, rules)
    scrub_mime_headers(inner, rules, cids)
    set_subject(inner, rules, "")
    scrub_tree(inner, rules, cids, depth)
