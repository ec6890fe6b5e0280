"""The words of a mail, for understanding it (never for forwarding it)."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage

# Each regex only finds where a tag starts; where it ends is found with str.find, once: a
# lazy "<style.*?</style>" (or "<[^>]+>") would scan to the end again from every "<style"
# (or "<") of a text that never closes it, and the work would grow with the square of the text.
_RAW_START = re.compile(r"<(script|style)\b", re.IGNORECASE)
_RAW_END = {
    name: re.compile(rf"</{name}\s*>", re.IGNORECASE | re.DOTALL) for name in ("script", "style")
}
_BLOCK_START = re.compile(r"<\s*(br|/p|/div|/li|/tr|/h\d)\b", re.IGNORECASE)


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


def _blocks_to_breaks(markup: str) -> str:
    """Each block tag (<br>, </p>, </div>...) as a line break."""
    out, pos = [], 0
    while (m := _BLOCK_START.search(markup, pos)) is not None:
        close = markup.find(">", m.end())
        if close < 0:  # no ">" left: no tag further on either
            break
        out += [markup[pos : m.start()], "\n"]
        pos = close + 1
    out.append(markup[pos:])
    return "".join(out)


def _without_tags(markup: str) -> str:
    """The text without its tags, and without what <script> and <style> hold."""
    out, pos = [], 0
    unclosed: set[str] = set()  # raw elements with no end tag from here on
    while (start := markup.find("<", pos)) >= 0:
        out.append(markup[pos:start])
        raw = _RAW_START.match(markup, start)
        name = raw.group(1).lower() if raw else ""
        if raw and name not in unclosed:
            end = _RAW_END[name].search(markup, raw.end())
            if end is not None:
                pos = end.end()
                continue
            unclosed.add(name)
        close = markup.find(">", start + 1)
        if close < 0:  # no ">" left: the rest is text
            out.append(markup[start:])
            return "".join(out)
        if close == start + 1:  # "<>" is text
            out.append("<")
            pos = start + 1
            continue
        pos = close + 1
    out.append(markup[pos:])
    return "".join(out)


def html_to_text(markup: str) -> str:
    text = _without_tags(_blocks_to_breaks(markup))
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
