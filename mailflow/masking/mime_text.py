"""Reading and rewriting the text of one MIME leaf without breaking its charset or encoding.

Mail in the wild declares wrong or unknown charsets; reading falls back instead of failing.
Writing keeps the part's charset, parameters (format=flowed, delsp) and transfer encoding
whenever it can, so a relayed copy looks like the original to the recipient's client.
"""

from __future__ import annotations

import base64
import codecs
from email import quoprimime
from email.message import Message

MAX_LINE = 998  # RFC 5322 limit, without CRLF
_TEXT_CTES = {"7bit", "8bit", "binary", "quoted-printable", "base64"}


def is_attachment(part: Message) -> bool:
    """A part the sender attached as a file: relayed untouched, never rewritten."""
    return part.get_content_disposition() == "attachment"


def _codec(charset: str | None) -> str | None:
    """The Python codec for a declared charset, or None if absent or unknown."""
    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except (LookupError, ValueError):  # ValueError: a NUL byte in the declared name
        return None


def get_text(part: Message) -> str:
    """The decoded text: declared charset, else UTF-8, else Windows-1252 (never fails)."""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        return ""
    declared = _codec(part.get_content_charset())
    for codec in (declared, "utf-8"):
        if codec is None:
            continue
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("cp1252", errors="replace")


def _target_charset(part: Message, text: str) -> str | None:
    """Keep the declared charset if it can hold the text; otherwise UTF-8.

    None means "no charset parameter needed" (undeclared and pure ASCII).
    """
    declared = part.get_content_charset()
    codec = _codec(declared)
    if codec is not None:
        try:
            text.encode(codec)
            return declared
        except UnicodeEncodeError:
            return "utf-8"
    return "utf-8" if declared or not text.isascii() else None


def _target_cte(original: str, body: bytes) -> str:
    """Same transfer encoding as before unless the new body does not fit it."""
    too_long = any(len(line) > MAX_LINE for line in body.split(b"\n"))
    if original in {"quoted-printable", "base64"}:
        return original
    if original in {"8bit", "binary"}:
        return "quoted-printable" if too_long else "8bit"
    return "quoted-printable" if too_long or not body.isascii() else "7bit"


def _encode(body: bytes, cte: str) -> str:
    """The payload string the email package stores for this encoding (LF line ends).

    The generator turns LF into CRLF for 7bit, 8bit and quoted-printable; base64 carries the
    canonical CRLF form inside.
    """
    if cte == "base64":
        return base64.encodebytes(body.replace(b"\n", b"\r\n")).decode("ascii")
    if cte == "quoted-printable":
        return quoprimime.body_encode(body.decode("latin-1"), 76, "\n")
    return body.decode("ascii", errors="surrogateescape")


def set_text(part: Message, text: str) -> None:
    """Replace the part's text, keeping subtype, parameters and (if possible) charset/CTE."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    charset = _target_charset(part, text)
    body = text.encode(_codec(charset) or "ascii")
    original_cte = str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower()
    cte = _target_cte(original_cte if original_cte in _TEXT_CTES else "7bit", body)
    if charset is not None and charset != part.get_content_charset():
        part.set_param("charset", charset)
    part.set_payload(_encode(body, cte))
    if "Content-Transfer-Encoding" in part:
        part.replace_header("Content-Transfer-Encoding", cte)
    elif cte != "7bit":
        part["Content-Transfer-Encoding"] = cte


def unsplit_text(part: Message) -> str:
    """The body of a container the parser could not split, as the text a reader sees:
    UTF-8, else Windows-1252 (never fails)."""
    raw = part.get_payload(decode=True)
    raw = raw if isinstance(raw, bytes) else b""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def as_plain_text(part: Message, text: str) -> None:
    """Turn the part into a UTF-8 text/plain leaf holding `text`: what a container that
    cannot be written as one shows as."""
    for name in ("Content-Type", "Content-Transfer-Encoding"):
        del part[name]
    part["Content-Type"] = 'text/plain; charset="utf-8"'
    part.set_payload(text.encode("utf-8"))
    set_text(part, text)
