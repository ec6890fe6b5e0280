"""Text files with markup (RTF, SVG and other XML): what the reader sees, and how to scrub.

An RTF file writes "@" as `\\'40` or `\\u64?` and may cut a word with control words; an SVG
writes it `&#64;` and cuts words with tags. The relay scrubs the escapes of plain ASCII
characters back to the characters themselves (the same document for any RTF reader), then
the file as text (RTF) or as HTML (SVG, XML: tags and entities, as an HTML part). What is
left is checked on the text a reader would see (`rendered`): a file that still shows an
address there is taken out of the copy, with a note to the recipient and to the sender.
"""

from __future__ import annotations

import html
import re

RTF_TYPES = frozenset({"application/rtf", "text/rtf", "application/x-rtf"})
MARKUP_TYPES = frozenset(
    {"image/svg+xml", "application/xml", "text/xml", "application/xhtml+xml"}
    | {"application/rss+xml", "application/atom+xml", "application/mathml+xml"}
)
# Text in all but name: scrubbed as plain text.
TEXT_TYPES = frozenset({"application/json", "application/ld+json", "application/x-sh"})
# Set on a part of the copy that had to be emptied: limits.strip_attachments reads it, tells
# the sender and takes it off. Never read from inbound mail (its MIME headers are allowlisted).
REMOVED_HEADER = "X-Mailflow-Removed"
WHY_UNREADABLE = "fichier dont nous ne pouvons pas masquer les adresses"

# \'xx, or \uN with its optional space and one fallback character (\uc1, what writers use)
_RTF_ESCAPE = re.compile(r"\\'([0-9a-fA-F]{2})|\\u(-?[0-9]{1,6}) ?(?:\\'[0-9a-fA-F]{2}|[^\\{}])?")
_RTF_CONTROL = re.compile(r"\\([a-zA-Z]{1,32})(?:-?[0-9]{1,10})? ?|\\[^a-zA-Z]|[{}]")
_RTF_BREAKS = frozenset({"par", "line", "tab", "cell", "row", "sect", "page", "sbkpage"})
_TAG = re.compile(r"<[^<>]*>")


def rtf_plain_escapes(source: str) -> str:
    """Escapes of printable ASCII characters (but the RTF specials \\ { }) written as the
    characters: `jean\\'40x.org` -> `jean@x.org`; other escapes are left as they are."""

    def plain(m: re.Match[str]) -> str:
        code = int(m.group(1), 16) if m.group(1) else int(m.group(2)) % 65536
        return chr(code) if 32 <= code < 127 and chr(code) not in "\\{}" else m.group()

    return _RTF_ESCAPE.sub(plain, source)


def rendered(source: str, kind: str, glue: str) -> str:
    """The text a reader sees, roughly: RTF without control words and groups, markup
    without tags, entities decoded. Each of those becomes `glue`: "" joins the words a
    control word or tag cuts ("jean{\\b .}dupont"), " " keeps apart what is apart (two
    paragraphs, two SVG texts); paragraph breaks are spaces either way."""
    if kind == "rtf":

        def control(m: re.Match[str]) -> str:
            return " " if m.group(1) in _RTF_BREAKS else glue

        return _RTF_CONTROL.sub(control, rtf_plain_escapes(source))
    if kind == "html":
        return html.unescape(_TAG.sub(glue, source))
    return source
