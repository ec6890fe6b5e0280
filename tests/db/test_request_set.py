"""`mailflow request set` and `request assign --trade ...` (admin/correction.py), on the
in-process pipeline: what the coordinator corrects is read by the same indexes as a mail,
recorded as a `corrected` event, and what cannot be read is refused with a sentence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailflow.admin import request as request_admin
from mailflow.admin.correction import Given
from mailflow.context import Context
from mailflow.errors import MailflowError
from mailflow.store.models import Event, Request
from tests.db.test_ambassador_mail import NOW, mail, sent
from tests.inprocess import close_context, open_context
from tests.inprocess import store_and_process as run

LEA = "Léa <lea@users.test>"
LUCAS = "amb8@pros.test"


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path)
    close_context()


def not_understood(ctx: Context) -> Request:
    assert run(ctx, mail("Question", "je sais pas trop quoi faire", sender=LEA)) == {
        "request-needs-info": 1
    }
    return Request.get()


def test_set_corrects_every_field_and_logs_it(ctx: Context) -> None:
    request = not_understood(ctx)
    given = Given("développeur web", "métier", "Cherbourg", None, 13, "collégien")
    summary = request_admin.set_fields(ctx, request.id, given)
    assert summary.startswith(f"demande n°{request.id} corrigée (")
    assert "mailflow request assign" in summary  # it still waits for an ambassador
    fixed = Request.get_by_id(request.id)
    assert (fixed.code_rome, fixed.kind, fixed.commune, fixed.department) == (
        "M1855",
        "metier",
        "Cherbourg-en-Cotentin",
        "50",
    )
    assert (fixed.age, fixed.situation, fixed.minor) == (13, "collegien", True)
    [event] = Event.select().where(Event.kind == "corrected")
    assert event.cause.startswith("corrected by the coordinator: trade_text - -> développeur web")
    assert "age - -> 13" in event.cause
    again = request_admin.set_fields(ctx, request.id, Given(age=13))
    assert again == f"demande n°{request.id} : rien ne change"


def test_who_wrote_is_corrected_and_the_young_person_given_back(ctx: Context) -> None:
    request = not_understood(ctx)
    request_admin.set_fields(ctx, request.id, Given(writer="Conseiller insertion"))
    assert Request.get_by_id(request.id).writer_role == "conseiller_insertion"
    request_admin.set_fields(ctx, request.id, Given(writer="jeune"))
    assert Request.get_by_id(request.id).writer_role is None
    causes = [e.cause for e in Event.select().where(Event.kind == "corrected")]
    assert causes == [
        "corrected by the coordinator: writer_role - -> conseiller_insertion",
        "corrected by the coordinator: writer_role conseiller_insertion -> -",
    ]


def test_a_rome_code_and_a_department_are_taken_too(ctx: Context) -> None:
    request = not_understood(ctx)
    request_admin.set_fields(ctx, request.id, Given(trade="d1102", department="14"))
    fixed = Request.get_by_id(request.id)
    assert (fixed.code_rome, fixed.department, fixed.commune) == ("D1102", "14", None)


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (Given(trade="zzzquux"), "métier inconnu : « zzzquux »"),
        (Given(trade="N9999"), "code ROME inconnu : N9999"),
        (Given(kind="stage"), "type inconnu : « stage »"),
        (Given(place="Atlantide"), "lieu inconnu : « Atlantide »"),
        (Given(department="99"), "département inconnu : « 99 »"),
        (Given(age=3), "âge hors des limites : 3"),
        (Given(situation="astronaute"), "situation inconnue : « astronaute »"),
        (Given(writer="astronaute"), "rôle inconnu : « astronaute »"),
        (Given(), "rien à corriger"),
    ],
)
def test_what_cannot_be_read_is_refused_before_anything_changes(
    ctx: Context, given: Given, said: str
) -> None:
    request = not_understood(ctx)
    with pytest.raises(MailflowError) as refused:
        request_admin.set_fields(ctx, request.id, given)
    assert said in str(refused.value)
    assert not Event.select().where(Event.kind == "corrected").exists()


def test_assign_with_a_trade_writes_it_in_both_mails(ctx: Context) -> None:
    request = not_understood(ctx)
    request_admin.assign(ctx, request.id, LUCAS, given=Given(trade="développeur web"))
    [(_, intro)] = sent("intro")
    assert "Léa aimerait échanger avec vous sur un métier : Développeur / Développeuse web" in intro
    [(_, ack)] = sent("ack")
    assert "Vous souhaitez découvrir : un métier, Développeur / Développeuse web" in ack
    assert Event.select().where(Event.kind == "corrected").count() == 1


def test_an_unknown_trade_assigns_nothing(ctx: Context) -> None:
    request = not_understood(ctx)
    with pytest.raises(MailflowError, match="métier inconnu"):
        request_admin.assign(ctx, request.id, LUCAS, given=Given(trade="zzzquux"))
    assert Request.get_by_id(request.id).state == "needs_info" and not sent("intro")
