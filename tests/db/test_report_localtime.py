"""`mailflow report`: the pages show times in [schedule] timezone and say so on each page.

Expected times are worked out by hand: Paris is UTC+1 in winter, UTC+2 in summer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.cli.main import main
from mailflow.store.models import Event, Person, Request
from tests.inprocess import close_context, open_context, write_config

UTC_ZONE = '\n[schedule]\ntimezone = "UTC"\n'
SUMMER = datetime(2025, 7, 14, 22, 30)  # 00:30 on 15 July in Paris
WINTER = datetime(2025, 1, 10, 9, 5)  # 10:05 in Paris


def seed() -> tuple[int, int]:
    ids = []
    for n, at in enumerate((SUMMER, WINTER)):
        person = Person.create(email=f"p{n}@users.test", first_name="Léa", created_at=at)
        request = Request.create(person=person, state="new", created_at=at, updated_at=at)
        Event.create(at=at, kind="state", request=request, new_state="new", cause="created")
        ids.append(request.id)
    return ids[0], ids[1]


def text_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def report(config: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-01-05T23:10:00")  # 00:10 on 6 January in Paris
    assert main(["--config", str(config), "report", "--year", "2025", "--out", str(out)]) == 0
    return {p.relative_to(out).as_posix(): text_of(p.read_text()) for p in out.rglob("*.html")}


@pytest.fixture
def paris(tmp_path: Path) -> Iterator[Path]:
    open_context(tmp_path, directory=False)
    yield write_config(tmp_path)
    close_context()


@pytest.fixture
def utc(tmp_path: Path) -> Iterator[Path]:
    open_context(tmp_path, UTC_ZONE, directory=False)
    yield write_config(tmp_path, UTC_ZONE)
    close_context()


def test_pages_show_paris_time_and_name_it(
    paris: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summer, winter = seed()
    pages = report(paris, tmp_path / "site", monkeypatch)
    for name, text in pages.items():
        assert text.count("Heures en Europe/Paris") == 1, name
        assert "Rapport généré le 06/01/2026 00:10" in text, name
        assert "UTC" not in text, name
    assert "15/07/2025" in pages["requests.html"] and "10/01/2025" in pages["requests.html"]
    assert "14/07/2025" not in pages["requests.html"]
    assert "Reçue le 15/07/2025 00:30" in pages[f"requests/{summer}.html"]
    assert "15/07/2025 00:30 · Changement d'état" in pages[f"requests/{summer}.html"]
    assert "Reçue le 10/01/2025 10:05" in pages[f"requests/{winter}.html"]
    assert "10/01/2025 10:05 · Changement d'état" in pages[f"requests/{winter}.html"]


def test_a_utc_configuration_shows_utc(
    utc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summer, _ = seed()
    pages = report(utc, tmp_path / "site", monkeypatch)
    assert "Heures en UTC" in pages["index.html"]
    assert "Rapport généré le 05/01/2026 23:10" in pages["index.html"]
    assert "14/07/2025" in pages["requests.html"]
    assert "Reçue le 14/07/2025 22:30" in pages[f"requests/{summer}.html"]
