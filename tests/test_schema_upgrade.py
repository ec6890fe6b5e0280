"""An older database gains the columns added since, without losing its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mailflow.db import open_database
from mailflow.models import Ambassador, Request, database


def test_older_database_is_brought_up_to_date(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = open_database(f"sqlite:///{path.name}", tmp_path)
    db.close()
    database.initialize(None)
    with sqlite3.connect(path) as conn:  # as the first schema had it
        conn.execute("ALTER TABLE request DROP COLUMN minor")
        conn.execute("ALTER TABLE ambassador DROP COLUMN bounce_state")
        conn.execute(
            "INSERT INTO person (email, created_at) VALUES ('lea@users.test', '2026-01-01')"
        )
    db = open_database(f"sqlite:///{path.name}", tmp_path)
    try:
        columns = {c.name for c in db.get_columns("request")}
        assert "minor" in columns
        assert "bounce_state" in {c.name for c in db.get_columns("ambassador")}
        assert Request.select().count() == 0 and Ambassador.select().count() == 0
        assert db.execute_sql("SELECT email FROM person").fetchone() == ("lea@users.test",)
    finally:
        db.close()
        database.initialize(None)
