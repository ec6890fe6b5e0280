"""uuencoded files inside a text part ("begin 644 name" ... "end"): scrubbed as files.

Mail clients (Thunderbird, Outlook, mutt) show such a block as an attachment, decoded, so
an address inside it reaches the reader although the text around it is clean, and the
scrub of the text cannot see it. Each block is decoded, its content scrubbed as text and
encoded again; a block too broken to decode is taken out with a note, since a lenient
client may still show what it holds. The text around is scrubbed as usual.
"""

from __future__ import annotations

import binascii
import re
from bisect import bisect_right
from collections.abc import Callable

_BEGIN = re.compile(r"(?m)^begin[ \t]+[0-7]{3,4}[ \t]+\S")
_BEGIN_LINE = re.compile(r"begin[ \t]+[0-7]{3,4}[ \t]+\S")
REMOVED = "[fichier retiré : illisible, il ne peut pas être transmis]"


def has_block(text: str) -> bool:
    return _BEGIN.search(text) is not None


def scrub_uuencoded(text: str, scrub: Callable[[str], str]) -> str:
    """`text` with the text around its uuencoded blocks, their file names and their
    content each passed through `scrub`; a block is written again only if it changed."""
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    plain: list[str] = []
    ends = [index for index, line in enumerate(lines) if line.strip() == "end"]
    i = 0
    while i < len(lines):
        end = _block_end(ends, i) if _BEGIN_LINE.match(lines[i]) else None
        if end is None:
            plain.append(lines[i])
            i += 1
            continue
        out.append(scrub("".join(plain)))
        plain = []
        out.append(_scrub_block(lines[i : end + 1], scrub))
        i = end + 1
    out.append(scrub("".join(plain)))
    return "".join(out)


def _block_end(ends: list[int], begin: int) -> int | None:
    """The index of the "end" line closing the block opened at `begin`, if any."""
    after = bisect_right(ends, begin)
    return ends[after] if after < len(ends) else None


def _scrub_block(block: list[str], scrub: Callable[[str], str]) -> str:
    newline = block[0][len(block[0].rstrip("\r\n")) :] or "\n"
    begin = scrub(block[0])
    try:
        data = b"".join(binascii.a2b_uu(line.strip()) for line in block[1:-1] if line.strip())
    except (binascii.Error, ValueError):  # ValueError: a character beyond ASCII
        return f"{REMOVED}{newline}"
    try:
        text, codec = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, codec = data.decode("latin-1"), "latin-1"  # every byte, as it was
    scrubbed = scrub(text)
    if scrubbed == text:
        return begin + "".join(block[1:])
    return begin + encode(scrubbed.encode(codec, errors="replace"), newline)


def encode(data: bytes, newline: str = "\n") -> str:
    """The lines of a uuencoded body and its "end", without the "begin" line."""
    lines = [
        binascii.b2a_uu(data[i : i + 45]).decode("ascii").rstrip("\n")
        for i in range(0, len(data), 45)
    ]
    return newline.join([*lines, "`", "end"]) + newline
