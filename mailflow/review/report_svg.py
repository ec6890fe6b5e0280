"""Inline SVG bar charts for the static report: no script, no external file, readable aloud.

Each chart is an `<svg role="img">` named by its `<title>` and `<desc>` (the figures in
words, for screen readers), each bar carries its own `<title>` (hover tooltip) and the
number is written on or next to the bar, so the chart reads without hovering or zooming.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from markupsafe import Markup, escape

Bars = Sequence[tuple[str, int]]

_ids = count(1)
_FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, sans-serif"'


def _fmt(n: int) -> str:
    """French thousands separator (narrow no-break space)."""
    return f"{n:,}".replace(",", "\u202f")


def _open(title: str, width: int, height: int, items: Bars, unit: str) -> tuple[str, str]:
    """The <svg> opening with its accessible name and description, and the chart id."""
    cid = f"chart{next(_ids)}"
    desc = "; ".join(f"{label} : {_fmt(n)}" for label, n in items) or "aucune donnée"
    head = (
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{cid}-t {cid}-d" xmlns="http://www.w3.org/2000/svg" {_FONT}>'
        f'<title id="{cid}-t">{escape(title)}</title>'
        f'<desc id="{cid}-d">{escape(desc)} ({escape(unit)})</desc>'
    )
    return head, cid


def columns(title: str, items: Bars, unit: str, color: str = "#2b6cb0") -> Markup:
    """Vertical bars, for a series in time (requests per month)."""
    width, height, top, bottom, left = 720, 260, 24, 34, 8
    slot = (width - 2 * left) / max(len(items), 1)
    peak = max((n for _, n in items), default=0) or 1
    span = height - top - bottom
    head, _ = _open(title, width, height, items, unit)
    parts = [head]
    base = height - bottom
    parts.append(
        f'<line x1="{left}" x2="{width - left}" y1="{base}" y2="{base}" stroke="#a0aec0"/>'
    )
    for i, (label, n) in enumerate(items):
        h = round(span * n / peak, 1)
        x = round(left + i * slot + slot * 0.15, 1)
        w = round(slot * 0.7, 1)
        cx = round(left + i * slot + slot / 2, 1)
        text_y = base - h - 6 if h < 22 else base - h + 16
        fill = "#1a202c" if h < 22 else "#fff"
        parts.append(
            f"<g><title>{escape(label)} : {_fmt(n)} {escape(unit)}</title>"
            f'<rect x="{x}" y="{base - h}" width="{w}" height="{h}" rx="3" fill="{color}"/>'
            f'<text x="{cx}" y="{text_y}" text-anchor="middle" font-size="13" '
            f'font-weight="600" fill="{fill}">{_fmt(n)}</text>'
            f'<text x="{cx}" y="{base + 20}" text-anchor="middle" font-size="13" '
            f'fill="#4a5568">{escape(label)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def bars(title: str, items: Bars, unit: str, color: str = "#2b6cb0") -> Markup:
    """Horizontal bars, for categories whose labels are words (age bands, situations...)."""
    width, row, top, label_w, right = 480, 28, 6, 175, 44
    height = top * 2 + row * max(len(items), 1)
    peak = max((n for _, n in items), default=0) or 1
    span = width - label_w - right
    head, _ = _open(title, width, height, items, unit)
    parts = [head]
    for i, (label, n) in enumerate(items):
        y = top + i * row
        w = round(span * n / peak, 1)
        inside = w > 44
        tx = label_w + w - 8 if inside else label_w + w + 6
        short = label.split(" / ")[0]  # "Boulanger / Boulangère": the tooltip has both
        short = short if len(short) <= 22 else short[:21] + "…"
        parts.append(
            f"<g><title>{escape(label)} : {_fmt(n)} {escape(unit)}</title>"
            f'<text x="{label_w - 10}" y="{y + row / 2 + 5}" text-anchor="end" '
            f'font-size="14" fill="#2d3748">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{max(w, 1)}" height="{row - 8}" rx="3" '
            f'fill="{color}"/>'
            f'<text x="{tx}" y="{y + row / 2 + 5}" text-anchor="{"end" if inside else "start"}" '
            f'font-size="14" font-weight="600" fill="{"#fff" if inside else "#1a202c"}">'
            f"{_fmt(n)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
