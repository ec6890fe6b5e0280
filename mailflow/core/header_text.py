"""Text headers (a Subject) written so that a reader decodes exactly the text we meant.

Python 3.11's folder breaks a long non-ASCII Subject after a space and encodes the next word
alone ("... du \\r\\n =?utf-8?q?b=C3=A2timent?="): unfolding keeps both the space and the fold,
and every client shows "du  bâtiment". Encoding the whole value as RFC 2047 words ourselves
keeps each space inside a word, and the value is stored as written (`Message.set_raw`), so the
folder never touches it.
"""

from __future__ import annotations

from email.header import Header
from email.message import Message

WIDTH = 76  # RFC 2047's limit for a line of encoded words


def set_text_header(msg: Message, name: str, text: str) -> None:
    """Replace header `name` by `text`, encoded and folded so it decodes back to `text`."""
    del msg[name]
    if text.isascii():
        msg[name] = text
        return
    msg.set_raw(name, Header(text, "utf-8", maxlinelen=WIDTH, header_name=name).encode())
