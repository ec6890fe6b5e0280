"""Ambassadors' commands by mail, on the in-process pipeline (no servers)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from mailflow.config import PROJECT_ROOT
from mailflow.context import Context
from mailflow.core.absence import autoreply_return, command_return, load_date_rules
from mailflow.core.commands import load_command_rules, read_command
from mailflow.inbound.pipeline import parse
from mailflow.services.compose import render
from mailflow.store.models import Ambassador, Conversation, Event, OutboundMail, Request
from tests.inprocess import PASS_HEADER, close_context, mail_bytes, open_context
from tests.inprocess import store_and_process as run

NOW = "2026-11-20T09:00:00"  # a Friday
BAKER = "amb1@pros.test"  # Marie, boulangère à Caen
OTHER_BAKER = "amb2@pros.test"  # Julien, boulanger à Rouen
REQUEST = "Je voudrais rencontrer une boulangère près de Caen."
RULES = PROJECT_ROOT / "rules"
# Absences end at midnight of the configured time zone (Europe/Paris), stored in UTC.
PARIS_16_DECEMBER = datetime(2026, 12, 15, 23)


@pytest.fixture
def ctx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Context]:
    monkeypatch.setenv("MAILFLOW_NOW", NOW)
    yield open_context(tmp_path, trusted=True)
    close_context()


def mail(
    subject: str,
    body: str = "",
    sender: str = BAKER,
    to: str = "relay@mailflow.test",
    **headers: str,
) -> bytes:
    return mail_bytes(body or "\n", sender, to, subject, **headers)


def amb(address: str = BAKER) -> Ambassador:
    return Ambassador.get(Ambassador.email == address)


def sent(purpose: str) -> list[tuple[str, str]]:
    """(recipient, plain text on one line) of every queued mail with this purpose."""
    rows = OutboundMail.select().where(OutboundMail.purpose == purpose).order_by(OutboundMail.id)
    return [(r.recipient, " ".join(_plain(r.raw).split())) for r in rows]


def _plain(raw: bytes) -> str:
    return parse(bytes(raw)).get_body(("plain",)).get_content()


def ask(ctx: Context, person: str) -> str:
    """A baker request near Caen; returns the address of the ambassador it went to."""
    assert run(ctx, mail("Demande", REQUEST, sender=person)) == {"request-offered": 1}
    request = Request.select().order_by(Request.id.desc()).get()
    return request.conversations.get().ambassador.email


# -- detection ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("PAUSE", ""),
        ("pause", ""),
        ("Re: Pause !", ""),
        ("TR: RE: pause", ""),
        ("Bonjour, PAUSE merci", ""),
        ("Une petite chose", "Bonjour,\n\nPause.\nMarie"),
        ("", "Bonjour Julien,\nEN PAUSE svp\n\nMarie"),
        ("Mettre en pause", ""),
    ],
)
def test_pause_in_subject_or_first_line(ctx: Context, subject: str, body: str) -> None:
    assert run(ctx, mail(subject, body)) == {"ambassador-pause": 1}
    assert amb().paused and amb().active
    [(to, text)] = sent("ambassador_pause")
    assert to == BAKER and "plus de nouvelle demande" in text and "REPRISE" in text
    assert Event.get(Event.kind == "ambassador").cause.startswith(f"ambassador #{amb().id}:")


def test_paused_ambassador_gets_no_new_request(ctx: Context) -> None:
    run(ctx, mail("PAUSE"))
    assert ask(ctx, "lea@users.test") == OTHER_BAKER


def test_a_sentence_with_a_command_word_is_not_a_command(ctx: Context) -> None:
    body = "Bonjour, je voudrais faire une pause dans mes échanges pendant les vacances."
    assert run(ctx, mail("Une question", body)) == {"ambassador-help": 1}
    assert not amb().paused
    [(_, text)] = sent("ambassador_help")
    assert "ABSENT jusqu'au 15/12/2026" in text and "STOP" in text and "PROFIL" in text


def test_person_whose_request_mentions_pause_makes_a_request(ctx: Context) -> None:
    body = "Pause\n" + REQUEST  # the first line alone is a command word...
    assert run(ctx, mail("Demande", REQUEST + " Pendant ma pause.", sender="a@users.test")) == {
        "request-offered": 1
    }
    assert run(ctx, mail("Pause déjeuner", REQUEST, sender="b@users.test")) == {
        "request-offered": 1
    }
    assert run(ctx, mail("Demande", body, sender="c@users.test")) == {"command-refused": 1}


@pytest.mark.parametrize("subject", ["PAUSE", "pause", "Réprise", "ABSENT jusqu'au 15/12"])
def test_command_from_a_non_ambassador_is_refused(ctx: Context, subject: str) -> None:
    assert run(ctx, mail(subject, sender="Léa <lea@users.test>")) == {"command-refused": 1}
    [(to, text)] = sent("command_refused")
    assert to == "lea@users.test" and "pas enregistrée comme celle d'un ambassadeur" in text
    assert "je voudrais rencontrer" in text
    assert Request.select().count() == 0
    assert all(not a.paused and a.active for a in Ambassador.select())


def test_synonyms_count_only_for_ambassadors(ctx: Context) -> None:
    assert run(ctx, mail("Disponible ?", REQUEST, sender="lea@users.test")) == {
        "request-offered": 1
    }
    assert run(ctx, mail("Arrêter", "merci", sender="tom@users.test")) == {"request-needs-info": 1}


def test_confirmation_subjects_are_no_commands() -> None:
    """Replying "merci" to a confirmation must not run the command again."""
    rules = load_command_rules(RULES)
    data = {
        "ambassador": {"first_name": "Marie"},
        "commands": rules.display,
        "coordinator": "c@x",
        "open_count": 0,
        "relay": {"address": "relay@x", "display_name": "Ambassadeurs"},
        "already": False,
        "problem": None,
        "last_day": "mardi 15 décembre 2026",
        "back_on": "mercredi 16 décembre 2026",
        "today": "",
        "paused": False,
        "handed_over": 0,
        "escalated": 0,
        "former": False,
        "left_on": None,
        "can_rejoin": False,
        "command": "STOP",
        "profile": {"open": [], "status": "active"}
        | dict.fromkeys(("name", "kind", "title", "sector", "department", "city", "capacity")),
    }
    folder = PROJECT_ROOT / "templates" / "mails"
    for name in ("pause", "absent", "resume", "profile", "stop", "help"):
        for state in ("active", "rejoined", "blocked"):
            subject = render(folder, f"ambassador_{name}", data | {"state": state}).subject
            assert read_command("Re: " + subject, "Merci !", rules, strict=False) is None, subject
    request = {"who": "Léa", "who_short": "Léa", "trade_label": "Boulanger", "first_name": None}
    for name, extra in (
        ("person_stop", {"withdrawn": [request], "told": ["Marie"]}),
        ("exchange_ended_ambassador", {"request": request, "why": "person-stopped"}),
        ("exchange_ended_ambassador", {"request": request, "why": "request-closed"}),
    ):
        subject = render(folder, name, data | {"answered": True} | extra).subject
        assert read_command("Re: " + subject, "Merci !", rules, strict=False) is None, subject
    assert (
        read_command(
            "Re: " + render(folder, "command_refused", data).subject, "", rules, strict=False
        )
        is None
    )


# -- ABSENT ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("ABSENT jusqu'au 15/12/2026", ""),
        ("absente jusqu'au 15 décembre", ""),
        ("Absent jusqu’au mardi 15 décembre 2026 inclus", ""),
        ("ABSENT 15/12/2026", ""),
        ("ABSENT", "Bonjour,\njusqu'au 15/12\nMarie"),
        ("Re: planning", "ABSENTE jusqu'au 15/12/26, merci"),
        ("absent du 01/12 au 15/12", ""),
        ("Absent, de retour le 16 décembre", ""),
    ],
)
def test_absent_until_a_date_inclusive(ctx: Context, subject: str, body: str) -> None:
    assert run(ctx, mail(subject, body)) == {"ambassador-absent": 1}
    assert amb().absent_until == PARIS_16_DECEMBER
    [(_, text)] = sent("ambassador_absent")
    assert "jusqu'au mardi 15 décembre 2026 inclus" in text
    assert "à partir du mercredi 16 décembre 2026" in text


@pytest.mark.parametrize(
    ("subject", "problem"),
    [
        ("ABSENT jusqu'au 15/10/2026", "déjà passée"),
        ("ABSENT jusqu'au 31/02/2027", "pas compris"),
        ("ABSENT la semaine prochaine", "pas compris"),
        ("ABSENT", "pas compris"),
    ],
)
def test_absent_with_a_past_or_unreadable_date_changes_nothing(
    ctx: Context, subject: str, problem: str
) -> None:
    assert run(ctx, mail(subject)) == {"ambassador-absent-invalid": 1}
    assert amb().absent_until is None
    [(_, text)] = sent("ambassador_absent")
    assert problem in text and "ABSENT jusqu'au 15/12/2026" in text


def test_absence_ends_on_its_date(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    run(ctx, mail("ABSENT jusqu'au 15/12/2026"))
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-15T22:59:00")  # 23:59 in Paris
    assert ask(ctx, "p1@users.test") == OTHER_BAKER
    monkeypatch.setenv("MAILFLOW_NOW", "2026-12-15T23:00:00")  # midnight in Paris
    assert ask(ctx, "p2@users.test") == BAKER


def test_year_omitted_means_the_next_occurrence(ctx: Context) -> None:
    assert run(ctx, mail("ABSENT jusqu'au 10/01")) == {"ambassador-absent": 1}
    assert amb().absent_until == datetime(2027, 1, 10, 23)  # 11/01 00:00 Paris


# -- REPRISE, PROFIL, STOP ------------------------------------------------------------------


def test_resume_clears_pause_and_absence(ctx: Context) -> None:
    run(ctx, mail("PAUSE"), mail("ABSENT jusqu'au 15/12/2026"))
    assert amb().paused and amb().absent_until
    assert run(ctx, mail("Reprise")) == {"ambassador-resume": 1}
    assert not amb().paused and amb().absent_until is None
    [(_, text)] = sent("ambassador_resume")
    assert "de nouveau disponible" in text
    assert ask(ctx, "lea@users.test") == BAKER


def test_profile_shows_the_directory_entry(ctx: Context) -> None:
    ask(ctx, "lea@users.test")
    run(ctx, mail("PAUSE"))
    assert run(ctx, mail("profil")) == {"ambassador-profile": 1}
    [(to, text)] = sent("ambassador_profile")
    assert to == BAKER
    for expected in ("Marie Lefèvre", "Boulangère", "Alimentation", "(14)", "Caen", "en pause"):
        assert expected in text
    assert "Échanges en cours : 1" in text and "coordinator@" in text


def test_stop_reassigns_open_conversations(ctx: Context) -> None:
    assert ask(ctx, "lea@users.test") == BAKER
    assert run(ctx, mail("STOP")) == {"ambassador-stop": 1}
    marie = amb()
    assert not marie.active and marie.left_at == datetime(2026, 11, 20, 9)
    first, second = Conversation.select().order_by(Conversation.id)
    assert first.state == "closed" and second.ambassador.email == OTHER_BAKER
    assert [to for to, _ in sent("intro")] == [BAKER, OTHER_BAKER]
    assert [to for to, _ in sent("reassigned")] == ["lea@users.test"]
    [(_, text)] = sent("ambassador_stop")
    assert "merci" in text.lower() and "confié à un autre ambassadeur" in text


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Fwd: STOP", "STOP"),
        ("TR: STOP", ""),
        ("Re: TR: stop", ""),
        ("WG: Stop", ""),
        ("STOP", "---------- Forwarded message ---------\nDe : Léa\nSTOP"),
        ("Stop", "Bonjour,\n\n-------- Message transféré --------\nSujet : STOP"),
    ],
)
def test_a_forwarded_stop_is_no_command(ctx: Context, subject: str, body: str) -> None:
    """Someone else's words passed on must not end anything."""
    assert ask(ctx, "lea@users.test") == BAKER
    assert run(ctx, mail(subject, body)) == {"ambassador-help": 1}
    assert amb().active and Conversation.get().state == "open"
    assert Request.get().state == "offered"


def test_a_stop_attached_as_a_whole_message_is_no_command(ctx: Context) -> None:
    from email.message import EmailMessage

    inner = EmailMessage()
    inner["From"], inner["Subject"] = "someone@else.test", "STOP"
    inner.set_content("STOP")
    outer = EmailMessage()
    outer["From"], outer["To"], outer["Subject"] = BAKER, "relay@mailflow.test", "STOP"
    outer["Message-ID"] = "<fwd-as-attachment@pros.test>"
    outer.set_content("STOP")
    outer.add_attachment(inner)
    assert run(ctx, PASS_HEADER + bytes(outer)) == {"ambassador-help": 1}
    assert amb().active


def test_a_forwarded_pause_still_counts(ctx: Context) -> None:
    """Only STOP, which ends exchanges, is held back: a forwarded PAUSE is harmless."""
    assert run(ctx, mail("TR: PAUSE")) == {"ambassador-pause": 1}


def test_former_ambassador_gets_help_then_may_rejoin(ctx: Context) -> None:
    run(ctx, mail("STOP"))
    assert run(ctx, mail("PAUSE")) == {"ambassador-help": 1}
    [(_, text)] = sent("ambassador_help")
    assert "quitté le réseau" in text
    assert run(ctx, mail("REPRISE")) == {"ambassador-resume": 1}
    assert amb().active and amb().left_at is None


def test_ambassador_deactivated_by_the_coordinator_cannot_rejoin(ctx: Context) -> None:
    Ambassador.update(active=False).where(Ambassador.email == BAKER).execute()
    assert run(ctx, mail("REPRISE")) == {"ambassador-resume": 1}
    assert not amb().active
    [(_, text)] = sent("ambassador_resume")
    assert "désactivée" in text and "coordinator@mailflow.test" in text


# -- out-of-office replies ------------------------------------------------------------------

OOO = {"Auto_Submitted": "auto-replied"}


def test_autoreply_with_return_date_sets_absence(ctx: Context) -> None:
    body = "Bonjour,\nJe suis absente. De retour le mercredi 16 décembre.\nMarie"
    assert run(ctx, mail("Réponse automatique : Demande", body, **OOO)) == {"auto-reply": 1}
    assert amb().absent_until == PARIS_16_DECEMBER
    assert OutboundMail.select().count() == 0
    assert "automatic reply" in Event.get(Event.kind == "ambassador").cause


def test_autoreply_to_an_introduction_sets_absence(ctx: Context) -> None:
    """The usual case: the out-of-office answers the intro, through its relay address."""
    ask(ctx, "lea@users.test")
    token = Conversation.get().ambassador_token
    to = f"relay+{token}@mailflow.test"
    body = "Absente jusqu'au 15 décembre inclus, je vous répondrai à mon retour."
    assert run(ctx, mail("Absence du bureau", body, to=to, **OOO)) == {"auto-reply": 1}
    assert amb().absent_until == PARIS_16_DECEMBER
    assert OutboundMail.select().count() == 2  # the intro and the ack, nothing more


def test_autoreply_never_shortens_an_absence(ctx: Context) -> None:
    run(ctx, mail("ABSENT jusqu'au 31/12/2026"))
    run(ctx, mail("Absent", "Absente jusqu'au 15/12/2026.", **OOO))
    assert amb().absent_until == datetime(2026, 12, 31, 23)  # 01/01 00:00 Paris


def test_autoreply_from_a_person_or_without_date_changes_nothing(ctx: Context) -> None:
    run(ctx, mail("Absent", "Absente jusqu'au 15/12/2026.", sender="lea@users.test", **OOO))
    run(ctx, mail("Absent", "Je suis absente en ce moment.", **OOO))
    assert all(a.absent_until is None for a in Ambassador.select())
    assert OutboundMail.select().count() == 0


# -- the date parser alone ------------------------------------------------------------------

TODAY = datetime(2026, 11, 20, 9)


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("jusqu'au 15/12/2026", date(2026, 12, 16)),
        ("jusqu'au 15.12.26", date(2026, 12, 16)),
        ("15 déc. 2026", date(2026, 12, 16)),
        ("jusqu'au 1er janvier", date(2027, 1, 2)),
        ("2026-12-15", date(2026, 12, 16)),
        ("de retour le 15/12", date(2026, 12, 15)),
        ("à partir du lundi 4 janvier 2027", date(2027, 1, 4)),
        ("jusqu'au 20/11", date(2026, 11, 21)),  # today: absent today, back tomorrow
        ("jusqu'au 19/11/2026", date(2026, 11, 20)),  # in the past: the caller refuses it
        ("jusqu'au 15 maison", None),
        ("jusqu'au 31/02", None),
        ("bientôt", None),
    ],
)
def test_command_return(text: str, back: date | None) -> None:
    assert command_return(text, load_date_rules(RULES), TODAY) == back


@pytest.mark.parametrize(
    ("text", "back"),
    [
        ("Je serai absente du 1er au 15 décembre inclus.", date(2026, 12, 16)),
        ("Out of office. De retour au bureau le 7 décembre 2026.", date(2026, 12, 7)),
        ("Absent, retour prévu le 2026-12-07", date(2026, 12, 7)),
        ("I will be back on 12/15/2026", None),
        ("Envoyé le 20/11/2026", None),
        ("Absent.\nLe 19/11/2026, Léa a écrit :\n> jusqu'au 15/12/2026", None),
    ],
)
def test_autoreply_return(text: str, back: date | None) -> None:
    assert autoreply_return(text, load_date_rules(RULES), TODAY) == back
