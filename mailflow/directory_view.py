"""The ambassador directory as a table, with each one's current load."""

from __future__ import annotations

from typing import Any

from peewee import JOIN, fn

from .models import Ambassador, Conversation


def directory_rows() -> list[dict[str, Any]]:
    open_count = fn.COUNT(Conversation.id)
    query = (
        Ambassador.select(Ambassador, open_count.alias("open_count"))
        .join(
            Conversation,
            JOIN.LEFT_OUTER,
            on=(Conversation.ambassador == Ambassador.id) & (Conversation.state == "open"),
        )
        .group_by(Ambassador.id)
        .order_by(Ambassador.department, Ambassador.last_name, Ambassador.first_name)
    )
    return [
        {
            "id": a.id,
            "email": a.email,
            "name": f"{a.first_name} {a.last_name}",
            "kind": a.kind,
            "title": a.title,
            "code_rome": a.code_rome,
            "department": a.department,
            "city": a.city,
            "capacity": a.capacity,
            "open": a.open_count,
            "active": a.active,
            "last_contacted_at": a.last_contacted_at.isoformat(timespec="seconds")
            if a.last_contacted_at
            else None,
        }
        for a in query
    ]


def render_directory(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "The directory is empty: import ambassadors with `mailflow ambassadors import FILE`."
    header = ("id", "name", "email", "kind", "title", "rome", "dept", "city", "open/cap", "active")
    table = [header] + [
        (
            str(r["id"]),
            r["name"],
            r["email"],
            r["kind"],
            r["title"],
            r["code_rome"] or "-",
            r["department"],
            r["city"],
            f"{r['open']}/{r['capacity']}",
            "yes" if r["active"] else "no",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    return "\n".join(lines)
