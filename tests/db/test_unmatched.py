"""Unmatched requests have a way out: a daily retry when ambassadors become available, and
an expiry with a kind last mail. In-process pipeline, time moved by MAILFLOW_NOW."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailflow.admin.directory import clear_bounce, import_file
from mailflow.context import Context
from mailflow.daemon import run_followups
from mailflow.store.models import Ambassador, Conversation, Event, Request
from tests.db.test_ambassador_mail import BAKER, OTHER_BAKER, mail, sent
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

LEA = "lea@users.test"
BAKERS = (BAKER, OTHER_BAKER, "amb3@pros.test")  # Marie, Julien, Inès: all who match
FRIDAY = "2026-11-20T09:00:00"
REQUEST = "Je voudrais rencontrer une boulangère près de Caen."


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", FRIDAY)
    yield open_context(tmp_path, trusted=True)
    close_context()


def at(monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    monkeypatch.setenv("MAILFLOW_NOW", when)


def unmatched_request(ctx: Context, **away: object) -> Request:
    """Léa's request while no baker can take it (`away`: what keeps them away)."""
    Ambassador.update(**away).where(Ambassador.email.in_(BAKERS)).execute()
    assert run(ctx, mail("Demande", REQUEST, sender=LEA)) == {"request-unmatched": 1}
    return Request.get()


def write_directory(tmp_path: Path) -> Path:
    path = tmp_path / "again.csv"
    path.write_text(
        "email,first_name,last_name,kind,title,sector,department,city,postcode,capacity,active\n"
        "amb1@pros.test,Marie,Lefèvre,metier,Boulangère,Alimentation,14,Caen,14000,3,oui\n",
        encoding="utf-8",
    )
    return path


RESTORE: dict[str, tuple[dict[str, object], Callable[[Context, Path], object]]] = {
    "REPRISE by mail": ({"paused": True}, lambda ctx, _: run(ctx, mail("REPRISE"))),
    "absence over": ({"absent_until": "2026-11-23 00:00:00"}, lambda ctx, _: None),
    "re-imported": ({"active": False}, lambda ctx, tmp: import_file(write_directory(tmp), ctx.ref)),
    "clear-bounce": ({"bounce_state": "failing"}, lambda ctx, _: clear_bounce(BAKER)),
}


@pytest.mark.parametrize("how", RESTORE)
def test_an_ambassador_available_again_gets_the_request(
    ctx: Context, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, how: str
) -> None:
    away, restore = RESTORE[how]
    request = unmatched_request(ctx, **away)
    [(to, text)] = sent("unmatched")
    assert to == LEA and "reviendra vers vous" in text
    restore(ctx, tmp_path)
    if "absent_until" not in away:  # Julien and Inès stay away: Marie is the one back
        Ambassador.update(**away).where(Ambassador.email.in_(BAKERS[1:])).execute()
    else:
        Ambassador.update(absent_until="2027-01-01").where(
            Ambassador.email.in_(BAKERS[1:])
        ).execute()
    at(monkeypatch, "2026-11-23T09:00:00")  # Monday, the first business day after
    assert run_followups(ctx)["rematched"] == 1
    request = Request.get_by_id(request.id)
    assert request.state == "offered"
    assert Conversation.get().ambassador.email == BAKER
    [(to, text)] = sent("found")
    assert to == LEA and "Bonne nouvelle" not in text  # the subject says it
    assert "nous avons transmis votre demande à Marie" in text and "STOP" in text
    [(to, _)] = sent("intro")
    assert to == BAKER
    assert "daily retry" in Event.get(Event.kind == "retry").cause
    assert "rematched" not in run_followups(ctx)  # once


def test_the_retry_runs_once_a_business_day_from_its_hour(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    unmatched_request(ctx, paused=True)
    Ambassador.update(paused=False).where(Ambassador.email == BAKER).execute()
    at(monkeypatch, "2026-11-20T09:01:00")  # Friday: today's pass is not done yet
    assert run_followups(ctx)["rematched"] == 1
    at(monkeypatch, "2026-11-20T10:00:00")  # a second request, while Marie pauses again
    Ambassador.update(paused=True).where(Ambassador.email == BAKER).execute()
    assert run(ctx, mail("Demande", REQUEST, sender="tom@users.test")) == {"request-unmatched": 1}
    Ambassador.update(paused=False).where(Ambassador.email == BAKER).execute()
    assert "rematched" not in run_followups(ctx)  # done for today
    at(monkeypatch, "2026-11-21T10:00:00")  # Saturday
    assert "rematched" not in run_followups(ctx)
    at(monkeypatch, "2026-11-23T06:59:00")  # Monday, before the hour (08:00 Paris, 07:00 UTC)
    assert "rematched" not in run_followups(ctx)
    at(monkeypatch, "2026-11-23T07:00:00")
    assert run_followups(ctx)["rematched"] == 1


def test_an_escalated_request_never_goes_back_to_who_had_it(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(ctx, mail("Demande", REQUEST, sender=LEA)) == {"request-offered": 1}
    for day in ("2026-12-01", "2026-12-10", "2026-12-21"):  # 7 business days each
        at(monkeypatch, f"{day}T09:00:00")
        run_followups(ctx)
    assert Request.get().state == "unmatched"
    at(monkeypatch, "2026-12-22T09:00:00")
    assert "rematched" not in run_followups(ctx)  # Marie, Julien and Inès had it
    assert Request.get().state == "unmatched"


def test_an_unmatched_request_expires_with_a_kind_last_mail(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = unmatched_request(ctx, paused=True)
    at(monkeypatch, "2027-01-19T08:59:00")  # 59 days and 23 hours
    assert "expired-unmatched" not in run_followups(ctx)
    at(monkeypatch, "2027-01-19T09:00:00")  # 60 days
    assert run_followups(ctx)["expired-unmatched"] == 1
    request = Request.get_by_id(request.id)
    assert request.state == "expired" and request.closed_at is not None
    [(to, text)] = sent("unmatched_expired")
    assert to == LEA and "nous n'avons trouvé personne" in text and "désolés" in text
    [event] = [e for e in request.events if e.new_state == "expired"]
    assert event.cause == "no ambassador found in 60 days unmatched"
    at(monkeypatch, "2027-03-01T09:00:00")
    assert not run_followups(ctx)["expired-unmatched"]
    assert len(sent("unmatched_expired")) == 1


def test_the_retry_hour_is_checked(tmp_path: Path) -> None:
    from mailflow.config import PROJECT_ROOT
    from mailflow.core.followup_policy import load_policy
    from mailflow.errors import RulesError

    text = (PROJECT_ROOT / "rules" / "followup.toml").read_text(encoding="utf-8")
    (tmp_path / "followup.toml").write_text(
        text.replace("retry_hour = 8", "retry_hour = 24"), encoding="utf-8"
    )
    with pytest.raises(RulesError, match="unmatched.retry_hour must be 0..23"):
        load_policy(tmp_path)
