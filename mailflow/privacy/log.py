"""What an anonymised request's log and mail rows may go on saying.

Its events (those of the request, of its conversations and of its mails) keep their kind,
time, states and links: statistics and timelines read those. Their causes lose what quotes
the exchange: what was understood (the person's words), the first name, the subjects of
its mails (an out-of-office event quotes one) and every address but those `kept` allows
(ours, the network's): a bounce's diagnostic, a third party in Cc. The SMTP errors of its
outgoing mail, and the senders and recipients that are neither the person (a placeholder
by then) nor kept (a friend who answered all, the refusal sent back), lose such addresses
too. The subjects are read before the mails are blanked (`subjects_of`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from mailflow.masking.address_scrub import ERASED, is_placeholder, scrub_addresses
from mailflow.store.models import Event, InboundMessage, OutboundMail

SUBJECT_ERASED = "[objet effacé]"
NAME_ERASED = "[prénom effacé]"
UNDERSTOOD_ERASED = "details erased"
_SHORTEST_SUBJECT = 4  # "Re", "Hi": nothing personal, and too short to match safely
_QUOTED_LENGTH = 100  # automated._subject cuts a subject there, ending it with "…"


def subjects_of(linked_in: Any, linked_out: Any) -> set[str]:
    """The subjects of the request's mails, whitespace collapsed: read them before the
    mails are blanked. An inbound row without one (quarantined early) gives its header."""
    found = {m.subject for m in OutboundMail.select(OutboundMail.subject).where(linked_out)}
    for m in InboundMessage.select(InboundMessage.subject, InboundMessage.raw).where(linked_in):
        found.add(m.subject or _subject_header(bytes(m.raw or b"")))
    return {" ".join(s.split()) for s in found if s and len(s.strip()) >= _SHORTEST_SUBJECT}


def _subject_header(raw: bytes) -> str:
    try:
        return str(BytesParser(policy=policy.default).parsebytes(raw, headersonly=True)["Subject"])
    except Exception:  # unparsable bytes: nothing to learn from them
        return ""


def _words(text: str) -> str:
    """`text` as a pattern: whole words, any whitespace between them."""
    return r"\s+".join(re.escape(w) for w in text.split())


def subject_pattern(subjects: Iterable[str]) -> re.Pattern[str] | None:
    """Each subject (as `subjects_of` gives them), and its cut form as an event quotes a
    long one, as whole words."""
    forms = set()
    for subject in subjects:
        forms.add(_words(subject))
        if len(subject) > _QUOTED_LENGTH:
            forms.add(_words(subject[: _QUOTED_LENGTH - 1]) + r"\s?…")  # cut after a space
    if not forms:
        return None
    alternatives = "|".join(sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def name_pattern(first_name: str | None) -> re.Pattern[str] | None:
    name = (first_name or "").strip()
    return re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE) if len(name) >= 2 else None


@dataclass(frozen=True)
class Quoted:
    """What the causes of one request's events may no longer quote."""

    subjects: re.Pattern[str] | None
    name: re.Pattern[str] | None
    kept: Callable[[str], bool]  # addresses that may stay: ours, the network's

    def clean(self, cause: str) -> str:
        """Subjects first (one may hold an address or the name), then the name, then
        addresses."""
        if self.subjects is not None:
            cause = self.subjects.sub(SUBJECT_ERASED, cause)
        if self.name is not None:
            cause = self.name.sub(NAME_ERASED, cause)
        return scrub_addresses(cause, self.kept)


def clean_events(linked: Any, quoted: Quoted) -> int:
    """Every linked event's cause cleaned (what was understood: erased whole); kinds,
    times, states and links untouched. Returns how many causes changed."""
    changed = (
        Event.update(cause=UNDERSTOOD_ERASED)
        .where(linked & (Event.kind == "understood") & (Event.cause != UNDERSTOOD_ERASED))
        .execute()
    )
    for event in Event.select(Event.id, Event.cause).where(linked & (Event.kind != "understood")):
        cause = quoted.clean(event.cause)
        if cause != event.cause:
            Event.update(cause=cause).where(Event.id == event.id).execute()
            changed += 1
    return changed


def clean_mail_rows(linked_in: Any, linked_out: Any, kept: Callable[[str], bool]) -> None:
    """Senders and recipients nobody may go on knowing become `ERASED`; SMTP errors lose
    the addresses they quote."""
    for m in InboundMessage.select(InboundMessage.id, InboundMessage.sender).where(linked_in):
        if _gone(m.sender, kept):
            InboundMessage.update(sender=ERASED).where(InboundMessage.id == m.id).execute()
    columns = (OutboundMail.id, OutboundMail.recipient, OutboundMail.last_error)
    for m in OutboundMail.select(*columns).where(linked_out):
        changes: dict[Any, str] = {}
        if _gone(m.recipient, kept):
            changes[OutboundMail.recipient] = ERASED
        if m.last_error and scrub_addresses(m.last_error, kept) != m.last_error:
            changes[OutboundMail.last_error] = scrub_addresses(m.last_error, kept)
        if changes:
            OutboundMail.update(changes).where(OutboundMail.id == m.id).execute()


def _gone(address: str | None, kept: Callable[[str], bool]) -> bool:
    """A third party's address: not erased already, not a placeholder, not kept."""
    if not address or address == ERASED or is_placeholder(address):
        return False
    return not kept(address)
