"""Unit tests: pure decisions and values; no database, no server, no process.

`pytest tests/unit` runs them in seconds; tests/unit/conftest.py fails a test that opens a
database.
"""
