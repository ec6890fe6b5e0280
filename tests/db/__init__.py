"""Database tests: mailflow in-process on a database of its own (SQLite or PostgreSQL,
as MAILFLOW_TEST_DATABASE says), no mail server.
"""
