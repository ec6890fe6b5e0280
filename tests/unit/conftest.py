"""The unit layer's promise, checked: a test here opens no database and needs no server.

A test that does fails with the reason, instead of passing slowly or only on SQLite; move it
to tests/db or tests/e2e (an OVERRIDES row of scripts/testlayout) and run the script again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee
import pytest

from mailflow.understand.referential import Referential
from mailflow.understand.rules import UnderstandingRules
from tests.shared_rules import shared

RULES = Path(__file__).resolve().parents[2] / "rules"

# Fixtures that hand out a database or a server: none of them belongs in a unit test.
NOT_HERE = {"mail", "mailstack", "deployment", "database_url", "test_databases", "pgstack"}


@pytest.fixture(autouse=True)
def _no_database_no_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    used = sorted(NOT_HERE & set(request.fixturenames))
    if used:
        pytest.fail(f"a unit test needs {', '.join(used)}: it belongs in tests/db or tests/e2e")

    def refuse(self: peewee.Database, *args: Any, **kwargs: Any) -> None:
        pytest.fail(f"a unit test opened a database ({self.database}): it belongs in tests/db")

    monkeypatch.setattr(peewee.Database, "connect", refuse)


# The project's rules as the understanding tests read them: built once for the session
# (shared), instead of each test module reading understanding.toml again.
@pytest.fixture(scope="session")
def ref() -> Referential:
    return shared(RULES).referential


@pytest.fixture(scope="session")
def rules() -> UnderstandingRules:
    return shared(RULES).understanding
