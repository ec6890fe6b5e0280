"""What the relay will not carry: oversize mail, risky attachments, copies to third parties.

The checks are pure functions on messages and `LimitsConfig`; the functions at the end turn
their verdicts into one polite mail to the sender and a line in the log, queued in the
caller's transaction. Nothing here ever writes to the other party.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from email.errors import MessageDefect
from email.message import EmailMessage, Message
from fnmatch import fnmatchcase

from mailflow.config import LimitsConfig, RelayConfig
from mailflow.context import Context
from mailflow.core.addresses import header_addresses, message_id_of
from mailflow.core.mime_depth import deeper_than
from mailflow.core.outcomes import Outcome
from mailflow.core.sizes import size_fr, sizes_fr
from mailflow.masking.rich_text import (
    MARKUP_TYPES,
    REMOVED_HEADER,
    RTF_TYPES,
    TEXT_TYPES,
    WHY_UNREADABLE,
)
from mailflow.masking.text import FILE_EXTENSIONS, FOLDED_EXTENSIONS, FOLDED_TYPES, TEXT_EXTENSIONS
from mailflow.services.notices import reply
from mailflow.store.models import Conversation, InboundMessage
from mailflow.store.record import log_event

TOO_LARGE = Outcome.TOO_LARGE
TOO_DEEP = Outcome.TOO_DEEP
MB = 1024 * 1024
EXECUTABLE_EXTENSIONS = frozenset(
    {"exe", "bat", "cmd", "com", "scr", "js", "jse", "vbs", "vbe", "msi", "msp", "jar", "ps1"}
    | {"apk", "dll", "pif", "cpl", "hta", "wsf", "lnk", "reg"}
)
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
# A signature no longer holds once the copy is rewritten, and an S/MIME one carries the
# signer's certificate, real address included: always taken out, without a note.
SIGNATURE_TYPES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
WHY_SIGNATURE = "signature électronique, sans valeur une fois le message relayé"
WHY_TNEF = "format winmail.dat d'Outlook, illisible pour le destinataire"
WHY_EXECUTABLE = "fichier exécutable, refusé par sécurité"
WHY_TYPE = "type non autorisé"
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


@dataclass(frozen=True)
class Removed:
    """One attachment taken out of a relayed copy, and why (in French, for the sender)."""

    filename: str
    content_type: str
    size: int
    reason: str
    notify: bool = True  # worth telling the sender about


def megabytes(size: int) -> str:
    return f"{size / MB:.1f}".removesuffix(".0")


def oversize_reason(size: int, limits: LimitsConfig) -> str | None:
    """The quarantine reason for a message above the cap; None when it fits (0 = no cap)."""
    cap = limits.max_message_bytes
    if cap <= 0 or size <= cap:
        return None
    return f"too large ({megabytes(size)} MB > {megabytes(cap)} MB cap)"


def depth_reason(raw: bytes, limits: LimitsConfig) -> str | None:
    """The quarantine reason for a message whose parts nest too deeply to be parsed
    safely; None when it is shallow enough. Read from the raw bytes, before any parser."""
    cap = limits.max_mime_depth
    if not deeper_than(raw, cap):
        return None
    return f"MIME nesting deeper than {cap} levels"


class TooManyParts(MessageDefect):
    """Parsing stopped at `[limits] max_parts`: the message holds its headers only."""


def heavy_reason(msg: EmailMessage, limits: LimitsConfig) -> str | None:
    """The quarantine reason for a message that would cost too much memory to relay or read:
    more MIME parts than `max_parts` (parse stopped there, see pipeline.parse), or more
    text to scrub than `max_text_bytes` (scrubbing holds about ten times the text; see the
    limits in docs/security.md). None when it fits (0 = no cap)."""
    if any(isinstance(defect, TooManyParts) for defect in msg.defects):
        return f"too large: more than {limits.max_parts} MIME parts"
    cap = limits.max_text_bytes
    size = text_bytes(msg) if cap > 0 else 0
    if size <= cap:
        return None
    return f"too large: {megabytes(size)} MB of text > {megabytes(cap)} MB text cap"


def text_bytes(msg: Message) -> int:
    """The text the relay scrubs (text parts and attachments, calendars, vCards, text files,
    forwarded messages left encoded, preambles), estimated from the encoded bodies without
    decoding them: base64 holds 3 bytes in 4 characters, quoted-printable 1 in 3 per "="."""
    total = 0
    for part in msg.walk():
        payload = part.get_payload()
        if isinstance(payload, list):
            total += len(part.preamble or "") + len(part.epilogue or "")
        elif isinstance(payload, str) and _scrubbed_as_text(part):
            cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
            if cte == "base64":
                total += len(payload) * 3 // 4
            elif cte == "quoted-printable":
                total += len(payload) - 2 * payload.count("=")
            else:
                total += len(payload)
    return total


def _scrubbed_as_text(part: Message) -> bool:
    """What relay_body.scrub_tree decodes and scrubs as text (binary files it does not)."""
    ctype = part.get_content_type()
    text_like = FOLDED_TYPES | RTF_TYPES | MARKUP_TYPES | TEXT_TYPES  # RTF, SVG, XML, JSON
    if ctype.partition("/")[0] in ("text", "message", "multipart") or ctype in text_like:
        return True
    name = (part.get_filename() or "").strip().lower()
    extension = name.rpartition(".")[2] if "." in name else ""
    return ctype == "application/octet-stream" and (
        extension in TEXT_EXTENSIONS | FOLDED_EXTENSIONS | FILE_EXTENSIONS | {"eml"}
    )


def allowed_types(limits: LimitsConfig) -> tuple[str, ...]:
    return tuple(t.strip().lower() for t in limits.allowed_attachment_types.split(",") if t.strip())


def is_executable(filename: str) -> bool:
    """By the last extension, as Windows reads it: "facture.pdf.exe", "x.exe." and names
    hiding the extension behind right-to-left marks all count."""
    name = _INVISIBLE.sub("", filename).strip().rstrip(". ").lower()
    return "." in name and name.rsplit(".", 1)[1] in EXECUTABLE_EXTENSIONS


def _is_attachment(part: Message) -> bool:
    """A leaf the sender attached: a file name, an attachment disposition, or non-text."""
    if part.is_multipart() or part.get_content_maintype() in ("multipart", "message"):
        return False  # containers, even broken ones (no boundary: a string payload)
    return (
        part.get_content_disposition() == "attachment"
        or part.get_filename() is not None
        or part.get_content_maintype() != "text"
    )


# A base64 body as encoders write it: the alphabet in lines, padding only at the end.
_BASE64_BODY = re.compile(r"[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*")
_DECODED = frozenset({"base64", "quoted-printable", "x-uuencode", "uuencode", "uue", "x-uue"})


def _size(part: Message) -> int:
    """The decoded size, counted without decoding when the body is well-formed base64 or
    not encoded: decoding a 20 MB attachment holds about five copies of it at once."""
    payload = part.get_payload()
    if isinstance(payload, str):
        cte = str(part.get("Content-Transfer-Encoding", "")).lower()  # as get_payload reads it
        if cte == "base64" and _BASE64_BODY.fullmatch(payload):
            breaks = payload.count("\r") + payload.count("\n")
            padding = payload.count("=")
            letters = len(payload) - breaks - padding
            if (letters + padding) % 4 == 0 and letters % 4 != 1:
                return letters * 3 // 4
        elif cte not in _DECODED and payload.isascii():
            return len(payload)
    payload = part.get_payload(decode=True)
    return len(payload) if isinstance(payload, bytes) else 0


def refusal(part: Message, limits: LimitsConfig, allowed: tuple[str, ...]) -> str | None:
    """Why this attachment cannot be relayed, or None if it can."""
    ctype, name = part.get_content_type(), part.get_filename() or ""
    if ctype in TNEF_TYPES or name.strip().lower() == "winmail.dat":
        return WHY_TNEF
    if name and is_executable(name):
        return WHY_EXECUTABLE
    if not any(fnmatchcase(ctype, pattern) for pattern in allowed):
        return WHY_TYPE
    size, cap = _size(part), limits.max_attachment_bytes
    if cap > 0 and size > cap:
        shown, limit = sizes_fr(size, cap)
        return f"trop volumineuse ({shown}, maximum {limit})"
    return None


def strip_attachments(
    msg: EmailMessage, limits: LimitsConfig
) -> tuple[EmailMessage, list[Removed]]:
    """A copy of `msg` where each refused attachment is replaced by a short text note, in
    place, so the rest of the MIME tree (inline images, other files) is untouched."""
    out = copy.deepcopy(msg)
    removed: list[Removed] = []
    _strip(out, limits, allowed_types(limits), removed, root=True)
    return out, removed


def _strip(
    part: Message,
    limits: LimitsConfig,
    allowed: tuple[str, ...],
    removed: list[Removed],
    root: bool = False,
) -> None:
    payload = part.get_payload()
    forwarded = part.get_content_type() == "message/rfc822"  # its message has its own top
    if part.is_multipart() and isinstance(payload, list):
        _drop_signatures(part, payload, removed)
        payload = part.get_payload()
    if part.is_multipart() or forwarded:
        for child in payload if isinstance(payload, list) else []:
            _strip(child, limits, allowed, removed, root=forwarded)
        return
    emptied = part.get(REMOVED_HEADER)  # by the scrub (relay_body): the note is in place
    if emptied is not None:
        del part[REMOVED_HEADER]
        ctype, size, name = (str(emptied).split(" ", 2) + ["", ""])[:3]
        removed.append(Removed(name, ctype, int(size) if size.isdigit() else 0, WHY_UNREADABLE))
        return
    if not _is_attachment(part):
        return
    why = refusal(part, limits, allowed)
    if why is None:
        return
    name = (part.get_filename() or "sans nom").strip()
    removed.append(Removed(name, part.get_content_type(), _size(part), why))
    _replace_with_note(part, f"Une pièce jointe ({name}) a été retirée : {why}.\n", root)


def _drop_signatures(part: Message, children: list[Message], removed: list[Removed]) -> None:
    signatures = [c for c in children if c.get_content_type() in SIGNATURE_TYPES]
    if not signatures:
        return
    for sig in signatures:
        name = (sig.get_filename() or "signature").strip()
        removed.append(Removed(name, sig.get_content_type(), _size(sig), WHY_SIGNATURE, False))
    part.set_payload([c for c in children if all(c is not s for s in signatures)])
    if part.get_content_type() == "multipart/signed":  # what is left is no longer signed
        part.set_type("multipart/mixed")
        for param in ("protocol", "micalg"):
            part.del_param(param)


def _replace_with_note(part: Message, text: str, root: bool) -> None:
    assert isinstance(part, EmailMessage)  # parsed with policy.default
    part.set_content(text, charset="utf-8", cte="quoted-printable", disposition="inline")
    if not root:
        del part["MIME-Version"]  # set_content adds it; only the top of a message has one


def third_party_recipients(msg: EmailMessage, relay: RelayConfig, known: set[str]) -> list[str]:
    """To/Cc addresses that are neither a relay address nor one of `known` (the parties):
    those got the message straight from the sender, not through mailflow."""
    local, domain = relay.local_part.lower(), relay.domain.lower()
    known = {a.lower() for a in known} | {relay.address.lower()}
    found: list[str] = []
    for name in ("To", "Cc"):
        for _, address in header_addresses(msg, name):
            address = address.lower()
            box, _, host = address.rpartition("@")
            ours = host == f"{local}.{domain}" or (
                host == domain and (box == local or box.startswith(f"{local}+"))
            )
            if not ours and address not in known and address not in found:
                found.append(address)
    return found


# -- telling the sender ----------------------------------------------------------------------


def refuse_too_large(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, address: str, reason: str
) -> str:
    """Keep the message in quarantine and tell its sender, politely, that nothing went on:
    too many bytes (too_large.txt), or too much text or too many parts (too_heavy.txt)."""
    inbound.reason = reason
    log_event("quarantine", f"{reason}: nothing forwarded", inbound=inbound)
    limits = ctx.cfg.limits
    if oversize_reason(inbound.size, limits) == reason:
        template = "too_large"
        size, cap = sizes_fr(inbound.size, limits.max_message_bytes)
        data = {
            "size": size,
            "cap": cap,
            # before "size"/"cap": a deployment's own copy of the template may still use them
            "size_mb": megabytes(inbound.size),
            "cap_mb": megabytes(limits.max_message_bytes),
        }
    else:
        template = "too_heavy"
        parts = any(isinstance(defect, TooManyParts) for defect in msg.defects)
        text_size, cap = sizes_fr(text_bytes(msg), limits.max_text_bytes)
        data = {
            "parts": limits.max_parts if parts else None,
            "text_size": text_size,
            "cap": cap,
            "text_mb": megabytes(text_bytes(msg)),
            "cap_mb": megabytes(limits.max_text_bytes),
        }
    reply(ctx, inbound, template, address, message_id_of(msg), data, role="sender")
    return TOO_LARGE


def refuse_too_deep(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, address: str, reason: str
) -> str:
    """As for mail too large: kept in quarantine, read no further than its headers, and
    its sender told that nothing went on."""
    inbound.reason = reason
    log_event("quarantine", f"{reason}: nothing forwarded", inbound=inbound)
    reply(ctx, inbound, "too_deep", address, message_id_of(msg), {}, role="sender")
    return TOO_DEEP


def explain_removed(
    ctx: Context,
    inbound: InboundMessage,
    msg: EmailMessage,
    conv: Conversation,
    side: str,
    removed: list[Removed],
) -> None:
    """One mail to the sender listing what the other side did not receive."""
    listing = "; ".join(f"{r.filename} ({r.content_type}, {r.size} bytes)" for r in removed)
    log_event(
        "attachment-removed",
        f"{len(removed)} attachment(s) removed from the relayed copy: {listing}",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )
    files = [{"name": r.filename, "reason": r.reason} for r in removed if r.notify]
    if not files:
        return
    reply(
        ctx,
        inbound,
        "attachment_removed",
        _sender_of(conv, side),
        message_id_of(msg),
        {
            "files": files,
            "max_size": size_fr(ctx.cfg.limits.max_attachment_bytes),
            "max_mb": megabytes(ctx.cfg.limits.max_attachment_bytes),
        },
        request=conv.request,
        conversation=conv,
        role=side,
    )


def warn_cc(
    ctx: Context, inbound: InboundMessage, msg: EmailMessage, conv: Conversation, side: str
) -> None:
    """Copies to other addresses went directly from the sender; say so, once per
    conversation and side (the relayed copy never carries them)."""
    parties = {conv.ambassador.email, conv.request.person.email, ctx.cfg.coordinator.email}
    others = third_party_recipients(msg, ctx.cfg.relay, parties)
    if not others:
        return
    log_event(
        "cc-warning",
        f"{len(others)} other recipient(s) in To/Cc got the message directly, not through "
        "mailflow; the relayed copy does not name them",
        request=conv.request,
        conversation=conv,
        inbound=inbound,
    )
    reply(
        ctx,
        inbound,
        "cc_warning",
        _sender_of(conv, side),
        message_id_of(msg),
        {"count": len(others)},
        request=conv.request,
        conversation=conv,
        role=side,
        key=f"cc-warning:{conv.id}:{side}",
    )


def _sender_of(conv: Conversation, side: str) -> str:
    return conv.ambassador.email if side == "ambassador" else conv.request.person.email
