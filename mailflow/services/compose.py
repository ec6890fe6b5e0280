"""Turning a template and its data into a ready-to-send automatic mail."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

from mailflow.clock import now
from mailflow.core.classify import (
    LOOP_HEADER,  # defined where our own mail is recognised (no I/O there)
)
from mailflow.core.header_text import set_text_header
from mailflow.errors import MailflowError


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


# How every mail template is read; tests/unit/test_templates_missing.py reads them alike, with a
# None printed anywhere made an error, to prove a missing value never shows in a mail.
OPTIONS: dict[str, Any] = dict(
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)


@lru_cache(maxsize=4)
def _environment(folder: Path) -> Environment:
    return Environment(loader=FileSystemLoader(str(folder)), **OPTIONS)


def localised(folder: Path, name: str, lang: str | None) -> str:
    """`NAME.LANG` when that template exists (the English mail to a request written in
    English, `ack.en.txt`), else `NAME`: the French mail, as every mail was before."""
    if lang and lang != "fr" and (folder / f"{name}.{lang}.txt").exists():
        return f"{name}.{lang}"
    return name


def person_lang(request: Any, role: str) -> str | None:
    """The language of a mail: the request's, for the person who wrote it; None (French)
    for ambassadors, coordinators and strangers."""
    return getattr(request, "lang", None) if role == "person" and request is not None else None


def render(folder: Path, name: str, data: dict[str, Any], lang: str | None = None) -> Rendered:
    """Render `NAME.txt` (first line `Subject: ...`) and, when present, `NAME.html`; in
    `lang` when the template exists in that language (`NAME.en.txt`)."""
    name = localised(folder, name, lang)
    env = _environment(folder)
    try:
        text = env.get_template(f"{name}.txt").render(**data)
    except TemplateNotFound as exc:
        raise MailflowError(f"mail template {folder / (name + '.txt')} is missing") from exc
    first, _, body = text.partition("\n")
    if not first.startswith("Subject:"):
        raise MailflowError(f"mail template {name}.txt must start with a 'Subject:' line")
    html = None
    if (folder / f"{name}.html").exists():
        env_html = env.overlay(autoescape=True)
        html = env_html.get_template(f"{name}.html").render(**data)
    return Rendered(first.removeprefix("Subject:").strip(), body.lstrip("\n"), html)


def new_message_id(domain: str) -> str:
    """Unguessable, under our own domain, so a copy coming back is recognised."""
    return f"<mf.{secrets.token_hex(16)}@{domain}>"


def automatic_mail(
    rendered: Rendered,
    *,
    from_display: str,
    from_address: str,
    to_address: str,
    message_id: str,
    loop_marker: str,
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> EmailMessage:
    """A mail mailflow writes itself: marked auto-generated and with our loop marker."""
    msg = EmailMessage()
    msg["From"] = formataddr((from_display, from_address))
    msg["To"] = Address(addr_spec=to_address)
    set_text_header(msg, "Subject", rendered.subject)
    msg["Date"] = format_datetime(now())
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    msg["Auto-Submitted"] = "auto-generated"
    msg[LOOP_HEADER] = loop_marker
    msg.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
