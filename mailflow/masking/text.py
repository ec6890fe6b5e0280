"""One text of the relayed copy scrubbed as what it is: plain text, HTML, or folded lines.

Calendars and vCards fold long lines, which can cut an address in two: they are unfolded
to be scrubbed and folded again only when they changed. HTML keeps its cid: references in
step with the Content-IDs that had to change. These are functions over strings; which
part is which kind is decided by its type, or by the file name of an octet-stream.
"""

from __future__ import annotations

import re
from urllib.parse import quote as url_quote

from mailflow.masking.rich_text import MARKUP_TYPES, RTF_TYPES, rendered, rtf_plain_escapes
from mailflow.masking.rules import Rules
from mailflow.masking.scrub import scrub_text
from mailflow.masking.uuencoded import has_block, scrub_uuencoded

# Text with RFC 5545 / RFC 6350 folded lines ("marie.dup\r\n ont@x.org").
FOLDED_TYPES = frozenset(
    {"text/calendar", "application/ics", "text/vcard", "text/x-vcard", "text/directory"}
    | {"application/vcard"}
)
# Files sent as application/octet-stream that are text all the same, by their extension.
TEXT_EXTENSIONS = frozenset({"txt", "csv", "tsv", "md", "htm", "html", "xml", "json"})
FILE_EXTENSIONS = frozenset({"rtf", "svg", "xml"})  # scrubbed as files with markup
FOLDED_EXTENSIONS = frozenset({"ics", "ifb", "vcs", "vcf"})
_FOLDED_LINE = re.compile(r"\r?\n[ \t]")


def _unfold(text: str) -> str:
    return _FOLDED_LINE.sub("", text)


def _fold_lines(text: str, width: int = 75) -> str:
    """RFC 5545 folding: no line longer than 75 octets, continuations start with a space."""
    out = []
    for line in text.replace("\r\n", "\n").split("\n"):
        while len(line.encode("utf-8")) > width:
            cut = width
            while len(line[:cut].encode("utf-8")) > width:
                cut -= 1
            out.append(line[:cut])
            line = " " + line[cut:]
            width = 75
        out.append(line)
    return "\n".join(out)


def scrubbed_text(text: str, kind: str, rules: Rules, cids: dict[str, str]) -> str:
    """`text` scrubbed as `kind`: "html", "folded" (calendar, vCard) or "text"."""
    if kind == "folded":
        unfolded = _unfold(text)
        scrubbed = rules.text(unfolded)
        return text if scrubbed == unfolded else _fold_lines(scrubbed)
    if kind == "html":
        return rules.html(_new_cid_references(text, cids))
    if kind == "markup":  # SVG, XML: tags, attributes and entities as in HTML
        return rules.html(text)
    if kind == "rtf":  # \'40 and \u64? written as "@" first, only where there is more
        plain = rtf_plain_escapes(text)
        scrubbed = rules.text(plain)
        return text if scrubbed == plain else scrubbed
    if has_block(text):  # a file inside the text, shown decoded by mail clients
        return scrub_uuencoded(text, rules.text)
    return rules.text(text)


def still_shows_address(text: str, kind: str, rules: Rules) -> bool:
    """Does a scrubbed RTF or markup file still show an address to its reader (one cut by
    control words or tags)? Such a file cannot be relayed."""
    if kind not in ("rtf", "markup"):
        return False
    kind = "rtf" if kind == "rtf" else "html"
    apart = rendered(text, kind, " ")  # any address a reader sees, whole
    if rules.text(apart) != apart:
        return True
    # A party's address cut in pieces: joined, only the parties' are looked for ("x.org"
    # and a word glued on after a tag would look like a third party's).
    joined = rendered(text, kind, "")
    return scrub_text(joined, rules.secrets) != joined


def text_kind(ctype: str, extension: str = "") -> str:
    if ctype in FOLDED_TYPES or extension in FOLDED_EXTENSIONS:
        return "folded"
    if ctype in RTF_TYPES or extension == "rtf":
        return "rtf"
    if ctype in MARKUP_TYPES or extension in ("svg", "xml"):
        return "markup"
    if ctype.partition("/")[2] in ("html", "enriched", "richtext") or extension in _HTML_NAMES:
        return "html"
    return "text"


_HTML_NAMES = ("htm", "html")


def _new_cid_references(source: str, cids: dict[str, str]) -> str:
    """cid: references in HTML follow the Content-IDs that had to change."""
    for old, new in cids.items():
        for written in {old, url_quote(old, safe="@")}:
            source = re.sub(f"cid:{re.escape(written)}", f"cid:{new}", source, flags=re.I)
    return source
