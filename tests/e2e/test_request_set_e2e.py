"""Issue 12, item 3, on the real mail stack: `request assign` on a request that was not
understood writes no stand-in ("Une demande de rencontre : votre demande" was seen), and
`request assign --trade` / `request set` correct the request, in the log and in `stats`."""

from __future__ import annotations

import json

from tests.deployment import RELAY, Deployment
from tests.e2e.test_cycle_e2e import subject_has, text

PUPIL, OTHER = "person1@users.test", "person2@users.test"
LUCAS = "amb8@pros.test"  # développeur web, Cherbourg
MONDAY = "2026-03-02T09:00:00"
NOW = {"MAILFLOW_NOW": "2026-03-02T11:00:00"}


def test_assign_a_request_not_understood_without_and_with_a_trade(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PUPIL, RELAY, "Question", "je sais pas trop quoi faire")
    mail.send_text(OTHER, RELAY, "Question", "bonjour, je ne sais pas quoi faire plus tard")
    dep.deliver_and_run(count=2, now=MONDAY)
    mail.wait_for(PUPIL)
    mail.wait_for(OTHER)

    out = dep.cli("request", "assign", "1", LUCAS, env=NOW).stdout
    assert out.startswith("request #1 offered to ambassador #8")
    [intro] = mail.wait_for(LUCAS)
    assert str(intro["Subject"]) == "Une demande de rencontre"
    assert "Une personne aimerait échanger avec vous sur votre parcours." in text(intro)
    [ack] = mail.wait_for(PUPIL, subject_has("Votre demande est transmise"))
    assert str(ack["Subject"]) == "Votre demande est transmise"
    for written in (intro, ack):
        assert ": votre demande" not in str(written["Subject"]).lower()
        assert ": votre demande" not in text(written)

    args = ("request", "assign", "2", LUCAS, "--trade", "développeur web", "--age", "17")
    dep.cli(*args, "--place", "Cherbourg", env=NOW)
    [_, intro2] = mail.wait_for(LUCAS, count=2)
    assert str(intro2["Subject"]) == "Une demande de rencontre : Développeur / Développeuse web"
    assert "sur un métier : Développeur / Développeuse web." in text(intro2)
    assert "Lieu souhaité : Cherbourg-en-Cotentin (50)" in text(intro2)
    mail.wait_for(OTHER, subject_has("Votre demande est transmise : Développeur"))

    unknown = dep.cli("request", "set", "1", "--trade", "zzzquux", check=False, env=NOW)
    assert unknown.returncode == 2 and "métier inconnu : « zzzquux »" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    fixed = dep.cli("request", "set", "1", "--trade", "M1855", "--situation", "lycéen", env=NOW)
    assert fixed.stdout.startswith("demande n°1 corrigée (trade_text - -> Développeur")

    [first, second] = dep.log()["requests"]
    causes = [e["cause"] for e in first["timeline"] if e["type"] == "corrected"]
    # "je sais pas trop quoi faire" is read as about a métier already (issue 13: someone with
    # no idea yet asks about trades), so the correction does not change the kind
    assert first["kind"] == "metier"
    assert causes == [
        "corrected by the coordinator: trade_text - -> Développeur / Développeuse web, "
        "code_rome - -> M1855, situation - -> lyceen"
    ]
    assert [e["type"] for e in second["timeline"]].count("corrected") == 1
    stats = json.loads(dep.cli("stats", "--json", "--year", "2026").stdout)["total"]
    assert stats["requests_by_domain"] == {"M18": 2, "unknown": 0}  # the corrected trades
    assert stats["requests_by_department"]["50"] == 1
