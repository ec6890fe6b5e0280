"""Header values read leniently and written back safely, for the relayed copy.

Mail in the wild has 8-bit bytes, broken encoded words and garbled parameters in its
headers; the email package either raises on them or cannot write them back. Reading and
writing go through here so that the scrubbing modules see plain decoded text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from email.header import decode_header, make_header
from email.message import Message
from email.utils import collapse_rfc2231_value, quote
from urllib.parse import quote as url_quote

from mailflow.core.header_text import set_text_header
from mailflow.masking.text_view import (
    decode_encoded_word,
    linear_for_email_header,
    replace_encoded_words,
)


def clean_value(value: str) -> str:
    """A header value with raw 8-bit bytes (parsed as surrogates) read as UTF-8, else as
    Windows-1252 (as mail clients show them), and no control characters (a CR or LF inside
    a value cannot be written back)."""
    raw = value.encode("utf-8", "surrogateescape")
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError:
        value = raw.decode("cp1252", "replace")
    value = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+", "", value)
    return re.sub(r"[\r\n\x85\u2028\u2029]+", " ", value)  # all that splitlines() breaks at


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded (never fails: the raw text when they are broken)."""
    value = clean_value(re.sub(r"\r?\n(?=[ \t])", "", value))
    if "=?" not in value:
        return value
    try:
        if not linear_for_email_header(value):  # heads with no end: read leniently below
            raise ValueError("hostile encoded words")
        decoded = str(make_header(decode_header(value)))
    except Exception:  # a broken encoded word: read leniently below, as mail clients do
        decoded = value
    if "=?" in decoded or "\ufffd" in decoded:
        decoded = replace_encoded_words(value, decode_encoded_word)
    return clean_value(decoded)


def raw_values(part: Message, name: str) -> list[str]:
    """The header's values as received (before the email package parses them: some
    malformed address headers make its parser raise)."""
    return [str(v) for k, v in part.raw_items() if k.lower() == name.lower()]


def header_text(part: Message, name: str) -> str | None:
    values = raw_values(part, name)
    return decode_words(values[0]) if values else None


def replace_header(part: Message, name: str, value: str) -> None:
    del part[name]
    try:
        if name.lower() == "subject":
            set_text_header(part, name, value)
        else:
            part[name] = value
    except Exception:  # a value the header classes refuse: dropped (it is only text)
        del part[name]


def header_params(part: Message, header: str) -> list[tuple[str, str]] | None:
    """The header's value and parameters, decoded (RFC 2231 and 2047), or None."""
    try:
        params = part.get_params(header=header)
    except Exception:
        return None
    if not params:
        return None
    out = []
    for key, value in params:
        text = collapse_rfc2231_value(value) if isinstance(value, tuple) else str(value)
        out.append((str(key), decode_words(text)))
    return out


TOKEN = re.compile(r"^[A-Za-z0-9!#$&+.^_`{|}~-]+$")


def format_params(first: str, params: Iterable[tuple[str, str]]) -> str:
    """A parameterised header value in plain ASCII: RFC 2231 for values that need it."""
    out = [first]
    for key, value in params:
        if not TOKEN.match(key) or key.endswith("*"):
            continue  # a garbled parameter name says nothing a reader needs
        if value.isascii() and value.isprintable():
            out.append(f'{key}="{quote(value)}"')
        else:
            out.append(f"{key}*=utf-8''{url_quote(value, safe='')}")
    return "; ".join(out)


_MIME_TYPE = re.compile(r"[a-z0-9!#$&^_+-]+/[a-z0-9!#$&^_.+-]+")
_DEFAULT_TYPES = {"multipart": "multipart/mixed", "text": "text/plain", "message": "message/rfc822"}


def content_type(part: Message) -> str:
    """The type as the email package understood it (text/plain when none was readable), or
    a generic one of the same kind if it is garbled ("multipart/jean@x.orgixed")."""
    ctype = part.get_content_type()
    if _MIME_TYPE.fullmatch(ctype) and "@" not in ctype:
        return ctype
    return _DEFAULT_TYPES.get(ctype.partition("/")[0], "application/octet-stream")


def main_value(part: Message, header: str, written: str) -> str:
    """The type or disposition as the email package understood it (never free text)."""
    if header.lower() == "content-type":
        return content_type(part)
    written = written.strip().lower()
    return written if written in ("inline", "attachment") else "attachment"
