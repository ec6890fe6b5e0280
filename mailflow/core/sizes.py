"""Sizes as a French reader reads them ("1,5 Mo", "200 Ko"), never two different sizes shown
as the same figure: "0 Mo, alors que la limite est de 0 Mo" told a sender nothing."""

from __future__ import annotations

KB = 1024
MB = 1024 * 1024


def size_fr(size: int, digits: int = 1) -> str:
    """`size` bytes in Mo from 0,1 Mo, in Ko below, in octets below 1 Ko; decimal comma."""
    if size < KB:
        return f"{size} octet" + ("s" if size > 1 else "")
    value, unit = (size / MB, "Mo") if size >= MB // 10 else (size / KB, "Ko")
    text = f"{value:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text.replace('.', ',')} {unit}"


def sizes_fr(size: int, limit: int) -> tuple[str, str]:
    """A size and its limit, with as many decimals as it takes for them to read apart."""
    for digits in (1, 2, 3):
        shown = size_fr(size, digits), size_fr(limit, digits)
        if shown[0] != shown[1] or size == limit:
            return shown
    return f"{size} octets", f"{limit} octets"
