"""A relayed copy the email package can write back, and the recipient's parser read.

The email package reads much that it cannot write back: garbled parameter names, stray
8-bit bytes in headers, non-ASCII text in a preamble or an unsplit body. A copy that cannot
be serialised would quarantine the whole reply, so it is repaired here, after scrubbing.
"""

from __future__ import annotations

import re
from email import policy
from email.message import Message
from email.parser import BytesParser

from mailflow.masking.header_values import (
    TOKEN,
    content_type,
    decode_words,
    format_params,
    header_params,
    main_value,
    replace_header,
)
from mailflow.masking.mime_text import as_plain_text, unsplit_text

_PARSER = BytesParser(policy=policy.default)


def sane_content_type(part: Message) -> None:
    """Content-Type rebuilt from what can be read of it: type, charset, boundary, name."""
    params = dict((k.lower(), v) for k, v in (header_params(part, "content-type") or [])[1:])
    wanted = ("charset", "boundary", "name", "format", "delsp", "method", "report-type")
    value = format_params(content_type(part), [(k, params[k]) for k in wanted if k in params])
    replace_header(part, "Content-Type", value)


_PLAIN_VALUE = re.compile(r"[\x20-\x7e\t]*(?:\r?\n[ \t][\x20-\x7e\t]*)*")
_PARAM_NAMES = re.compile(r";\s*([^=;\s]*)\s*=")
_ONE_HEADER = re.compile(rb"[^\r\n]+(?:\r\n[ \t][^\r\n]*)*\r\n")  # continuations indented


def _writable(name: str, value: object) -> bool:
    """Can the header be written, and read back by the recipient's parser?"""
    if isinstance(value, str) and type(value) is str and _PLAIN_VALUE.fullmatch(value):
        # Printable ASCII as received: written as it is; only parameter names can trip
        # the reader's parser.
        if name.lower() not in ("content-type", "content-disposition"):
            return True
        if all(TOKEN.match(n) for n in _PARAM_NAMES.findall(value)):
            return True
    try:
        folded = policy.SMTP.fold_binary(name, value)  # type: ignore[arg-type]
        if not _ONE_HEADER.fullmatch(folded):  # "\x1d" and the like fold into line breaks
            return False
        if type(value) is not str:  # a header object: parsed already, when it was set
            return True
        header = _PARSER.parsebytes(folded + b"\r\n", headersonly=True).get(name)
        getattr(header, "params", None)  # parameters are parsed on demand
    except Exception:
        return False
    return True


def _ascii_safe(text: str) -> str:
    """Text the generator can write: other characters as UTF-8 bytes (surrogate-escaped)."""
    return text.encode("utf-8", "surrogateescape").decode("ascii", "surrogateescape")


def make_writable(msg: Message) -> None:
    """Repair what the email package could read but cannot write back: garbled parameter
    names, stray 8-bit bytes in headers, non-ASCII text in a preamble or an unsplit body.

    A relayed copy that cannot be serialised would quarantine the whole reply."""
    for part in msg.walk():
        for name, value in list(part.raw_items()):
            if _writable(name, value):
                continue
            lower = name.lower()
            if lower == "content-type":
                sane_content_type(part)
            elif lower == "content-disposition":
                params = header_params(part, name) or [("attachment", "")]
                kept = [(k, v) for k, v in params[1:] if k.lower() == "filename"]
                replace_header(
                    part, name, format_params(main_value(part, name, params[0][0]), kept)
                )
            else:
                replace_header(part, name, decode_words(str(value)))
        for name, value in list(part.raw_items()):  # what still cannot be written goes
            if not _writable(name, value):
                del part[name]
        for margin in ("preamble", "epilogue"):
            text = getattr(part, margin, None)
            if text:
                setattr(part, margin, _ascii_safe(text))
        payload = part._payload  # get_payload() would turn 8-bit bytes into U+FFFD
        container = part.get_content_maintype() in ("multipart", "message")
        if container and isinstance(payload, str) and not payload.isascii():
            # The generator writes such a body through get_payload(), which cannot be
            # written back when it holds 8-bit bytes: it becomes the plain text it shows as.
            as_plain_text(part, unsplit_text(part))
