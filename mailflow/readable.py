"""The words of a mail, for understanding it (never for forwarding it)."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

_TAGS = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]+>", re.IGNORECASE | re.DOTALL)
_BLOCKS = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)


def part_text(part: EmailMessage) -> str:
    """Decoded text of one part, surviving unknown or lying charsets."""
    payload = part.get_payload(decode=True) or b""
    charset = part.get_content_charset() or "utf-8"
    for candidate in (charset, "utf-8", "cp1252"):
        try:
            return payload.decode(candidate)
        except (LookupError, UnicodeDecodeError, ValueError):  # ValueError: NUL in the name
            continue
    return payload.decode("utf-8", errors="replace")


def html_to_text(markup: str) -> str:
    text = _BLOCKS.sub("\n", markup)
    text = _TAGS.sub("", text)
    return re.sub(r"\n\s*\n+", "\n\n", html.unescape(text)).strip()


def readable_text(msg: EmailMessage) -> str:
    """The plain-text body, or the HTML body reduced to text when there is no plain one."""
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # broken MIME structure: fall back to walking the parts
        body = None
    if body is None:
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                body = part
                break
    if body is None:
        # A multipart without a boundary cannot be split: its whole body is one text.
        raw = msg.get_payload(decode=True)
        if not isinstance(raw, bytes):
            return ""
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("cp1252", errors="replace")
    text = part_text(body)  # type: ignore[arg-type]
    return html_to_text(text) if body.get_content_subtype() == "html" else text


def subject_of(msg: EmailMessage) -> str:
    try:
        return str(msg.get("Subject") or "").strip()
    except Exception:  # undecodable subject: treat as absent
        return ""
