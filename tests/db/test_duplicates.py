"""A repeated request joins the open one (core/duplicates.py, services/intake.py), and
`request merge` (admin/request.py); merged requests are not counted (review/stats_sql.py).
In process, on SQLite (and PostgreSQL with MAILFLOW_TEST_DATABASE); the mail stack runs
in tests/e2e/test_duplicates_e2e.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from mailflow.admin import request as request_admin
from mailflow.context import Context
from mailflow.core.duplicates import Asked, OpenRequest, completion, joins, same_ask
from mailflow.errors import MailflowError
from mailflow.review import stats
from mailflow.review.log_timeline import request_timeline
from mailflow.store.models import Event, Request
from tests.db.test_ambassador_mail import sent
from tests.inprocess import close_context, mail_bytes, open_context
from tests.inprocess import store_and_process as run

LEA = "Léa Martin <lea@users.test>"
FIRST = "Je voudrais rencontrer une boulangère près de Caen. J'ai 15 ans."
AGAIN = "Bonjour, je voudrais rencontrer une boulangère, je suis en 3e."
NOW = datetime(2026, 3, 10, 9)


def asked(code: str | None, text: str | None = None, understood: bool = True) -> Asked:
    return Asked(code, text, understood)


def test_same_ask() -> None:
    assert same_ask(asked("D1102"), asked("D1102"))
    assert not same_ask(asked("D1102"), asked("D1104"))
    assert same_ask(asked(None, understood=False), asked(None, understood=False))
    assert not same_ask(asked("D1102"), asked(None, understood=False))
    assert same_ask(asked(None, "BTS Fluides"), asked(None, "bts fluides"))
    assert not same_ask(asked(None, "BTS Fluides"), asked(None, "CAP cuisine"))


def test_joins_the_latest_fitting_open_request_within_the_window() -> None:
    opens = [
        OpenRequest(1, asked("D1102"), datetime(2026, 2, 1)),  # 37 days: too old
        OpenRequest(2, asked("D1102"), datetime(2026, 3, 1)),
        OpenRequest(3, asked("D1104"), datetime(2026, 3, 5)),  # another trade
    ]
    assert joins(asked("D1102"), opens, NOW, 30) == 2
    assert joins(asked("D1102"), opens, NOW, 40) == 2  # the latest of 1 and 2
    assert joins(asked("D1102"), opens[:1], NOW, 30) is None
    assert joins(asked("D1102"), opens, NOW, 0) is None  # 0: never
    assert joins(asked("D1105"), opens, NOW, 30) is None


def test_completion_fills_what_is_missing_and_overwrites_nothing() -> None:
    known = {"age": 15, "situation": None, "department": None, "commune": None, "kind": "metier"}
    new = {"age": 16, "situation": "collegien", "department": "14", "commune": "Caen"}
    new |= {"kind": "formation", "region": "28", "insee": "14118", "postcode": "14000"}
    assert completion(known, new) == {
        "situation": "collegien",
        "department": "14",
        "region": "28",
        "commune": "Caen",
        "insee": "14118",
        "postcode": "14000",
    }
    assert completion({"department": "76", "commune": None}, {"department": "14"}) == {}


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-02T09:00:00")
    yield open_context(tmp_path)
    close_context()


def body(purpose: str) -> list[str]:
    return [text for _, text in sent(purpose)]


def test_asking_again_joins_the_open_request(ctx: Context, monkeypatch) -> None:  # noqa: ANN001
    assert run(ctx, mail_bytes("Je voudrais rencontrer une boulangère près de Caen.", LEA)) == {
        "request-offered": 1
    }
    monkeypatch.setenv("MAILFLOW_NOW", "2026-03-05T09:00:00")
    again = mail_bytes("Bonjour, j'ai 13 ans et je voudrais voir une boulangère.", LEA)
    assert run(ctx, again) == {"request-joined": 1}
    [request] = Request.select()
    assert request.age == 13 and request.minor and request.department == "14"
    [event] = Event.select().where(Event.kind == "joined")
    assert "completed: age" in event.cause
    [told] = body("already_open")
    assert "déjà en cours" in told and "votre âge" in told and "02/03/2026" in told
    assert len(body("intro")) == 1  # the ambassador got one introduction
    timeline = request_timeline(request)["timeline"]
    assert len([e for e in timeline if e.get("direction") == "in"]) == 2
    assert "joined" in [e["type"] for e in timeline]


def test_another_trade_or_after_the_window_is_a_new_request(
    ctx: Context,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run(ctx, mail_bytes("Je voudrais rencontrer une boulangère près de Caen.", LEA))
    assert run(ctx, mail_bytes("Je voudrais découvrir le métier d'aide-soignante.", LEA)) != {
        "request-joined": 1
    }
    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-02T09:00:00")  # 31 days
    assert run(ctx, mail_bytes("Je voudrais rencontrer une boulangère près de Caen.", LEA)) == {
        "request-offered": 1
    }
    assert Request.select().count() == 3


def test_merge_completes_the_kept_request_and_stats_count_it_once(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two requests of Léa before duplicates were joined (or in another window).
    run(ctx, mail_bytes("Je voudrais rencontrer une boulangère près de Caen.", LEA))
    monkeypatch.setenv("MAILFLOW_NOW", "2026-04-10T09:00:00")
    run(ctx, mail_bytes("Je voudrais rencontrer une boulangère. J'ai 15 ans.", LEA))
    first, second = Request.select().order_by(Request.id)
    assert stats.collect(2026)["total"]["requests"] == 2
    summary = request_admin.merge(ctx, first.id, second.id)
    assert summary == "demande n°2 rattachée à la n°1 (elle ne compte plus à part) ; complété : age"
    first, second = Request.get_by_id(first.id), Request.get_by_id(second.id)
    assert first.age == 15 and second.merged_into == first.id and second.state == "closed"
    assert stats.collect(2026)["total"]["requests"] == 1
    assert stats.collect(2026)["total"]["people"] == 1
    timeline = request_timeline(first)
    assert timeline["merged"] == [second.id]
    assert [e["merged_from"] for e in timeline["timeline"] if "merged_from" in e]
    merged = [e for e in Event.select().where(Event.kind == "merged")]
    assert {e.request_id for e in merged} == {first.id, second.id}
    with pytest.raises(MailflowError, match="already merged"):
        request_admin.merge(ctx, first.id, second.id)
    with pytest.raises(MailflowError, match="into itself"):
        request_admin.merge(ctx, first.id, first.id)


def test_merge_refuses_requests_of_two_people(ctx: Context) -> None:
    run(ctx, mail_bytes("Je voudrais rencontrer une boulangère près de Caen.", LEA))
    run(ctx, mail_bytes("Je voudrais rencontrer une boulangère.", "Tom <tom@users.test>"))
    with pytest.raises(MailflowError, match="not from the same person"):
        request_admin.merge(ctx, 1, 2)
