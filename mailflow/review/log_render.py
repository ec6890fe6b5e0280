"""`mailflow log` for people: the timelines as lines of text, times on the local clock.

Apart from the timelines because those are also the `--json` output and the report's
source, both in stored UTC; only what people read here turns them into the configured
zone's wall-clock time, and says once which zone that is.
"""

from __future__ import annotations

from datetime import UTC, tzinfo
from typing import Any

from mailflow.clock import wall_iso, zone_name


def zone_line(zone: tzinfo) -> str:
    """Said once above what people read, since the times are no longer the stored UTC."""
    return f"Times in {zone_name(zone)}"


def local_time(iso: str | None, zone: tzinfo) -> str:
    """`zone`'s wall clock, or nothing for a time never recorded."""
    return wall_iso(iso, zone) or ""


def _who(party: dict[str, Any]) -> str:
    return f"{party['role']} {party['name']}" if party.get("name") else party["role"]


def _line(entry: dict[str, Any], zone: tzinfo) -> str:
    at = local_time(entry["at"], zone)
    if entry["type"] == "message" and entry["direction"] == "in":
        return (
            f"  {at}  IN   #{entry['id']} from {_who(entry['from'])} to {_who(entry['to'])}: "
            f"{entry['subject']!r} -> {entry['outcome'] or entry['status']}"
        )
    if entry["type"] == "message":
        return (
            f"  {at}  OUT  #{entry['id']} {entry['purpose']} from {_who(entry['from'])}"
            f" to {_who(entry['to'])}: "
            f"{entry['subject']!r} [{entry['status']}]"
        )
    if entry["type"] == "state":
        return f"  {at}  STATE {entry['from'] or '-'} -> {entry['to']} ({entry['cause']})"
    return f"  {at}  {entry['type'].upper()} {entry['cause']}"


def render_text(data: dict[str, Any], zone: tzinfo = UTC) -> str:
    """The timelines for people: times on `zone`'s clock, which the first line names."""
    lines: list[str] = []
    for r in data["requests"]:
        where = r["commune"] or r["department"] or "lieu non précisé"
        lines.append(
            f"Request #{r['id']} [{r['state']}] {r['kind'] or '?'}: {r['trade'] or '?'}"
            f" - {where} - age {r['age'] or '?'} - {r['situation'] or '?'}"
        )
        lines.extend(_line(e, zone) for e in r["timeline"])
        lines.append("")
    others = data.get("other_messages") or []
    if others:
        lines.append("Messages outside any request:")
        lines.extend(_line(e, zone) for e in others)
    if not lines:
        empty = "No request matches these filters." if data.get("filtered") else None
        lines.append(empty or "No requests recorded yet.")
    else:
        lines.insert(0, zone_line(zone))
    return "\n".join(lines).rstrip() + "\n"
