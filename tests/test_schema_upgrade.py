"""An older database gains the columns added since, without losing its rows."""

from __future__ import annotations

from pathlib import Path

from mailflow.db import open_database
from mailflow.models import Ambassador, Request, database
from tests.testdb import query


def test_older_database_is_brought_up_to_date(tmp_path: Path, database_url: str) -> None:
    db = open_database(database_url, tmp_path)
    db.close()
    database.initialize(None)
    for sql in (  # as the first schema had it
        "ALTER TABLE request DROP COLUMN minor",
        "ALTER TABLE ambassador DROP COLUMN bounce_state",
        "INSERT INTO person (email, created_at) VALUES ('lea@users.test', '2026-01-01')",
    ):
        query(database_url, sql, base=tmp_path)
    db = open_database(database_url, tmp_path)
    try:
        columns = {c.name for c in db.get_columns("request")}
        assert "minor" in columns
        assert "bounce_state" in {c.name for c in db.get_columns("ambassador")}
        assert Request.select().count() == 0 and Ambassador.select().count() == 0
        assert db.execute_sql("SELECT email FROM person").fetchone() == ("lea@users.test",)
    finally:
        db.close()
        database.initialize(None)
