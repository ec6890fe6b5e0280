"""Reading a bounce: who failed, how badly, and which of our mails it is about.

RFC 3464 reports (multipart/report with a message/delivery-status part: one per-message
block, then one block per recipient) are read field by field. Mail systems that do not
send them (old Exim, qmail, some Exchange and Gmail notices) are read from the
X-Failed-Recipients header and the words of their text. Pure: a message in, a report out;
what to do about it is inbound/bounces.py's job.
"""

from __future__ import annotations

import binascii
import quopri
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.parser import HeaderParser
from email.utils import getaddresses

STATUS_TYPES = {"message/delivery-status", "message/global-delivery-status"}
RETURNED_TYPES = {
    "text/rfc822-headers",
    "message/rfc822",
    "message/global",
    "message/global-headers",
}
_DSN_TO_HEADERS = ("Delivered-To", "X-Original-To", "Envelope-To", "To")
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_CODE = re.compile(r"\b([45])\d\d[ :-]")
# From the start of a run of address characters only: tried from inside a long run without
# "@" (a line of "a-a-a-"), it would scan to the run's end from every character (quadratic).
ADDRESS = re.compile(r"(?<![\w.+'=-])[\w.+'=-]+@[\w-]+(?:\.[\w-]+)+")
# Words of bounces that are not RFC 3464 reports (Exim, qmail, Exchange, Gmail), FR and EN.
_FAILED = re.compile(
    r"following address\(es\) failed|could not be delivered to one or more"
    r"|wasn't able to deliver your message|failed permanently|permanent error"
    r"|delivery has failed to these recipients|la remise a échoué|wasn't delivered to"
    r"|couldn't be delivered|n'a pas pu être remis|message could not be delivered"
    r"|address not found|adresse introuvable|unable to deliver|could not deliver",
    re.I,
)
_DELAYED = re.compile(
    r"not yet been delivered|has been delayed|temporary problem|delivery attempts will continue"
    r"|will (?:keep )?(?:retry|trying)|n'a pas encore été remis|remise différée",
    re.I,
)
# Where the returned copy of the message starts: addresses after it are not recipients.
# (Blanks, not \s: from every line start, \s* would run over all the blank lines below.)
_COPY = re.compile(
    r"^[ \t]*-{2,}+.*(?:copy of the message|below this line|original message|message d'origine)"
    r"|^[ \t]*original message headers|^[ \t]*en-têtes du message d'origine",
    re.I | re.M,
)


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's entry of a delivery report."""

    final_recipient: str | None
    original_recipient: str | None
    action: str | None  # failed | delayed | delivered | relayed | expanded, lower case
    status: str | None  # "5.1.1"
    diagnostic: str | None

    @property
    def diagnostic_code(self) -> str | None:
        """The RFC 3464 field name, for readers that use it."""
        return self.diagnostic

    @property
    def permanent(self) -> bool:
        if self.status:
            return self.status.startswith("5")
        return self.action == "failed"

    @property
    def transient(self) -> bool:
        if self.status:
            return self.status.startswith("4")
        return self.action == "delayed"


@dataclass(frozen=True)
class DeliveryReport:
    """What a bounce says, and what it lets us match it to (VERP address, Message-ID)."""

    recipients: tuple[RecipientStatus, ...]
    dsn_recipient: str | None  # where the DSN was delivered: our VERP return path
    returned_message_id: str | None  # Message-ID of the mail that bounced
    returned_to: list[str] = field(default_factory=list)
    original_envelope_id: str | None = None
    reporting_mta: str | None = None
    source: str = "rfc3464"  # rfc3464 | x-failed-recipients | text

    @property
    def permanent(self) -> bool:
        return any(r.permanent for r in self.recipients)

    @property
    def transient(self) -> bool:
        return bool(self.recipients) and all(r.transient for r in self.recipients)

    @property
    def failed_recipients(self) -> list[str]:
        return [r.final_recipient for r in self.recipients if r.permanent and r.final_recipient]


def parse_dsn(msg: EmailMessage) -> DeliveryReport | None:
    """The delivery report carried by `msg`; None when it carries none we can read."""
    try:
        return _parse(msg)
    except Exception:  # a bounce too broken to read is still a bounce (classify.py)
        return None


def _parse(msg: EmailMessage) -> DeliveryReport | None:
    status_part = _first_part(msg, STATUS_TYPES)
    returned_id, returned_to = _returned(msg)
    common = {"dsn_recipient": _dsn_recipient(msg)}
    if status_part is not None:
        blocks = _status_blocks(status_part)
        per_message = blocks[0] if blocks else {}
        recipients = tuple(_entry(b) for b in blocks[1:] if _is_recipient(b))
        if not recipients and per_message and _is_recipient(per_message):
            recipients = (_entry(per_message),)  # a report without the per-message block
        if recipients:
            return DeliveryReport(
                recipients=recipients,
                returned_message_id=returned_id,
                returned_to=returned_to,
                original_envelope_id=_clean(per_message.get("original-envelope-id")),
                reporting_mta=_typed(per_message.get("reporting-mta")),
                source="rfc3464",
                **common,
            )
    body = _body_text(msg)
    if not returned_id:
        returned_id, returned_to = _inline_returned(body)
    failures = text_failures(body)
    failed_header = _failed_header(msg)
    if failed_header:
        found = {f.final_recipient.lower(): f for f in failures if f.final_recipient}
        blank = RecipientStatus(None, None, "failed", None, None)
        recipients = tuple(_with_address(found.get(a.lower(), blank), a) for a in failed_header)
        source = "x-failed-recipients"
    elif failures:
        recipients, source = tuple(failures), "text"
    else:
        return None
    return DeliveryReport(
        recipients=recipients,
        returned_message_id=returned_id,
        returned_to=returned_to,
        source=source,
        **common,
    )


# -- RFC 3464 fields -------------------------------------------------------------------------


def _first_part(msg: Message, types: set[str]) -> Message | None:
    for part in msg.walk():
        if part.get_content_type() in types:
            return part
    return None


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part, names lower-cased, lines unfolded."""
    payload = part.get_payload()
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if isinstance(payload, list) and encoding in {"base64", "quoted-printable"}:
        return _parse_blocks(_decoded_blocks(payload, encoding))  # parsed before decoding
    if isinstance(payload, list):  # the email package parsed the blocks already
        blocks = [
            {k.strip().lower(): _unfold(str(v)) for k, v in block.raw_items()}
            for block in payload
            if isinstance(block, Message)
        ]
        if any(blocks):
            return [b for b in blocks if b]
    raw = part.get_payload(decode=True)
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload or "")
    return _parse_blocks(text)


def _decoded_blocks(blocks: list, encoding: str) -> str:
    """Undo a transfer encoding the email package ignored on message/delivery-status."""
    lines = []
    for block in blocks:
        lines += [f"{k}:{v}" for k, v in block.raw_items()] if isinstance(block, Message) else []
        body = block.get_payload() if isinstance(block, Message) else block
        lines.append(body if isinstance(body, str) else "")
    text = "\n".join(lines)
    if encoding == "base64":
        return binascii.a2b_base64(re.sub(r"[^A-Za-z0-9+/=]", "", text)).decode("utf-8", "replace")
    return quopri.decodestring(text.encode("utf-8", "replace")).decode("utf-8", "replace")


def _parse_blocks(text: str) -> list[dict[str, str]]:
    """'Name: value' blocks separated by blank lines; continuation lines are unfolded."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\r?\n[ \t]*\r?\n", text.strip()):
        fields: dict[str, str] = {}
        last = ""
        for line in chunk.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields.setdefault(last, value.strip())
        if fields:
            blocks.append(fields)
    return blocks


def _unfold(value: str) -> str:
    return re.sub(r"\s*\r?\n[ \t]+", " ", value).strip()


def _is_recipient(block: dict[str, str]) -> bool:
    return any(k in block for k in ("final-recipient", "original-recipient", "action", "status"))


def _typed(value: str | None) -> str | None:
    """'rfc822; <A@B>' -> 'A@B'; 'dns; mx.example' -> 'mx.example'."""
    if not value:
        return None
    text = value.split(";", 1)[1] if ";" in value else value
    text = text.strip().strip("<>").strip()
    return text or None


def _clean(value: str | None) -> str | None:
    text = (value or "").strip()
    return text or None


def _status_code(value: str | None) -> str | None:
    found = _STATUS.search(value or "")
    return ".".join(found.groups()) if found else None


def _entry(block: dict[str, str]) -> RecipientStatus:
    diagnostic = _clean(block.get("diagnostic-code"))
    status = _status_code(block.get("status")) or _status_code(diagnostic)
    action = _clean(block.get("action"))
    return RecipientStatus(
        final_recipient=_typed(block.get("final-recipient")),
        original_recipient=_typed(block.get("original-recipient")),
        action=action.lower().split()[0] if action else None,
        status=status,
        diagnostic=diagnostic,
    )


# -- the returned message and where the DSN went ------------------------------------------


def _returned(msg: Message) -> tuple[str | None, list[str]]:
    """Message-ID and To of the returned message (headers part or whole message)."""
    part = _first_part(msg, RETURNED_TYPES)
    if part is None:
        return None, []
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        headers: Message = payload[0]
    else:
        raw = part.get_payload(decode=True)
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(payload)
        headers = HeaderParser().parsestr(text.lstrip("\r\n"), headersonly=True)
    ids = re.findall(r"<[^<>\s]+>", _raw_header(headers, "message-id"))
    to = [a for _, a in getaddresses([_raw_header(headers, "to")]) if "@" in a]
    return (ids[0] if ids else None), to


def _raw_header(msg: Message, name: str) -> str:
    for key, value in msg.raw_items():
        if key.lower() == name:
            return _unfold(str(value))
    return ""


def _inline_returned(body: str) -> tuple[str | None, list[str]]:
    """Non-RFC bounces paste the returned headers into their text."""
    found = re.search(r"^Message-ID:[ \t]*(?:\r?\n[ \t]+)?(<[^<>\s]+>)", body, re.I | re.M)
    to = re.search(r"^To:[ \t]*(.+(?:\r?\n[ \t]+.+)*)", body, re.I | re.M)
    addresses = [a for _, a in getaddresses([_unfold(to.group(1))]) if "@" in a] if to else []
    return (found.group(1) if found else None), addresses


def _dsn_recipient(msg: Message) -> str | None:
    for name in _DSN_TO_HEADERS:
        pairs = getaddresses([_raw_header(msg, name.lower())])
        for _, address in pairs:
            if "@" in address:
                return address.strip()
    return None


def _failed_header(msg: Message) -> list[str]:
    values = [_unfold(str(v)) for k, v in msg.raw_items() if k.lower() == "x-failed-recipients"]
    return [a for _, a in getaddresses(values) if "@" in a]


def _body_text(msg: Message) -> str:
    """The human-readable text of a bounce: its first text parts, decoded leniently."""
    texts: list[str] = []
    for part in msg.walk():
        if part.get_content_maintype() != "text" or part.get_content_type() in RETURNED_TYPES:
            continue
        raw = part.get_payload(decode=True)
        if isinstance(raw, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                texts.append(raw.decode(charset, "replace"))
            except LookupError:  # unknown charset name
                texts.append(raw.decode("utf-8", "replace"))
    return "\n".join(texts)


def _with_address(entry: RecipientStatus, address: str) -> RecipientStatus:
    return RecipientStatus(address, None, entry.action, entry.status, entry.diagnostic)


# -- bounces in words ------------------------------------------------------------------------


def text_failures(body: str) -> list[RecipientStatus]:
    """Recipients named after a failure (or delay) sentence, before the returned copy; each
    with the status and diagnostic found between its address and the next one."""
    copy = _COPY.search(body)
    text = body[: copy.start()] if copy else body
    failed, delayed = _FAILED.search(text), _DELAYED.search(text)
    start = min(m.start() for m in (failed, delayed) if m) if (failed or delayed) else None
    if start is None:
        return []
    action = "delayed" if delayed and not failed else "failed"
    section = text[start:]
    spots: dict[str, int] = {}
    for found in ADDRESS.finditer(section):
        spots.setdefault(found.group(0).lower().rstrip("."), found.start())
    ordered = sorted(spots.items(), key=lambda item: item[1])
    entries = []
    for index, (address, where) in enumerate(ordered):
        end = ordered[index + 1][1] if index + 1 < len(ordered) else len(section)
        words = " ".join(section[where + len(address) : end].split()).lstrip(">: ")
        status = _status_code(words)
        if status is None:
            code = _SMTP_CODE.search(words)
            status = f"{code.group(1)}.0.0" if code else None
        entries.append(RecipientStatus(address, None, action, status, words[:300] or None))
    return entries


# -- what a report says about one of our recipients ------------------------------------------

PERMANENT, TRANSIENT, DELIVERED, UNKNOWN = "permanent", "transient", "delivered", "unknown"


@dataclass(frozen=True)
class Verdict:
    """What the DSN says about our one recipient, worst entry first."""

    severity: str
    status: str | None
    final_recipient: str | None
    diagnostic: str | None


def judge(report: DeliveryReport | None, msg: EmailMessage, recipient: str) -> Verdict:
    """The worst news about `recipient` (any entry when none names it: with VERP, one
    message has one recipient, and a forwarding address may show as final recipient)."""
    entries = list(report.recipients) if report else []
    mine = [e for e in entries if (e.final_recipient or "").lower() == recipient.lower()]
    verdicts = [_entry_verdict(e) for e in (mine or entries)]
    if not verdicts and msg.get("X-Failed-Recipients"):  # Exim's non-DSN bounce: permanent
        return Verdict(PERMANENT, "5.0.0", str(msg["X-Failed-Recipients"]), None)
    order = (PERMANENT, TRANSIENT, UNKNOWN, DELIVERED)
    verdicts.sort(key=lambda v: order.index(v.severity))
    return verdicts[0] if verdicts else Verdict(UNKNOWN, None, None, None)


def _entry_verdict(entry: RecipientStatus) -> Verdict:
    status = (entry.status or "").strip() or None
    action = (entry.action or "").strip().lower()
    if action in {"delivered", "relayed", "expanded"}:
        severity = DELIVERED
    elif (status or "").startswith("5") or (action == "failed" and not status):
        severity = PERMANENT
    elif (status or "").startswith("4") or action == "delayed":
        severity = TRANSIENT
    else:
        severity = UNKNOWN
    return Verdict(severity, status, entry.final_recipient, entry.diagnostic)
