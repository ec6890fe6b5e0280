"""The From, To and Cc of a forwarded message, shown to the reader with the parties masked.

A forwarded message's headers say who wrote to whom: each party's address becomes its relay
address, any other address is masked, and the names stay so the reader still follows.
These values are encoded and folded by hand, because Python's own folder can merge two
addresses into one.
"""

from __future__ import annotations

from email.header import Header
from email.message import Message
from email.utils import formataddr, getaddresses, quote

from mailflow.masking.header_values import clean_value, decode_words, raw_values
from mailflow.masking.rules import Rules


def mask_addresses(part: Message, name: str, rules: Rules) -> None:
    """Each party's address becomes its replacement, any other address is masked (the
    name stays, as a group: "Paul Tiers [adresse masquée]:;"), a label becomes a group."""
    rendered: list[str] = []
    for display, address in getaddresses([clean_value(v) for v in raw_values(part, name)]):
        display = rules.text(decode_words(display)).strip()
        address = address.strip()
        if not display and not address:
            continue
        replacement = rules.replacement(address) if address else None
        if replacement is not None and "@" in replacement and replacement.isascii():
            rendered.append(_render(display, replacement))
        elif replacement is not None:  # "l'ambassadeur:;" says who without an address
            rendered.append(_render(replacement, ""))
        else:
            label = f"{display} {rules.others.mask}" if display else rules.others.mask
            rendered.append(_render(label, ""))
    del part[name]
    if rendered:
        # Pre-encoded and folded by hand: Python 3.11's folder can RFC 2047-encode the comma
        # between two addresses when a display name is non-ASCII, merging them into one.
        part.set_raw(name, _fold(name, ", ".join(rendered)))


def _fold(name: str, value: str, width: int = 76) -> str:
    """Break an ASCII header value at spaces so that no line needs refolding."""
    lines: list[str] = []
    current, budget = "", width - len(name) - 2
    for word in value.split(" "):
        if current and len(current) + 1 + len(word) > budget:
            lines.append(current)
            current, budget = word, width - 1
        else:
            current = f"{current} {word}" if current else word
    return "\n ".join([*lines, current])


def _render(display: str, address: str) -> str:
    """One ASCII address (display name RFC 2047-encoded if needed), or an empty group."""
    if address:
        return formataddr((display, address), charset="utf-8")
    if display.isascii():
        return f'"{quote(display)}":;'
    return f"{Header(display, 'utf-8').encode()}:;"
