"""Adults writing for a young person, on the real mail stack (issue 14): a Mission Locale
counsellor writes for a 17-year-old. The request records who wrote (conseiller_insertion),
the young person's age and situation (not the counsellor's job), the young person's own
address in its log, and that address may write through the counsellor's relay address (a
stranger still may not); the ambassador's introduction says that a counsellor wrote, and
never shows that address; the counsellor's acknowledgement says the answers come to them;
`stats --json` counts one conseiller d'insertion, and a coordinator's correction moves it."""

from __future__ import annotations

import json

from tests.deployment import RELAY, Deployment, query
from tests.e2e.test_cycle_e2e import sender, subject_has, text

COUNSELLOR, YOUNG = "person1@users.test", "person2@users.test"
MARIE = "amb1@pros.test"  # Boulangère, Caen (14)
MONDAY = "2026-03-02T09:00:00"
NOW = {"MAILFLOW_NOW": "2026-03-02T11:00:00"}
BODY = (
    "Bonjour,\n\nje suis conseillère à la Mission Locale de Caen et je vous écris pour un jeune "
    "de 17 ans, Enzo, qui est en recherche d'emploi depuis cet été. Il voudrait rencontrer une "
    f"boulangère près de Caen pour voir si le métier lui plairait.\n\nIl vous écrira de son "
    f"adresse : {YOUNG}\n\nBien cordialement,\nNathalie Vasseur\n"
    "Conseillère en insertion professionnelle\nMission Locale Caen la mer"
)


def test_a_counsellor_writing_for_a_young_person(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Nathalie Vasseur <{COUNSELLOR}>", RELAY, "Demande pour un jeune", BODY)
    dep.deliver_and_run(now=MONDAY)

    [(role, age, situation, state)] = query(
        dep, "SELECT writer_role, age, situation, state FROM request"
    )
    assert (role, age, situation, state) == (
        "conseiller_insertion",
        17,
        "demandeur_emploi",
        "offered",
    )
    [intro] = mail.wait_for(MARIE)
    said = " ".join(text(intro).split())
    assert (
        "Cette demande vient d'un·e conseiller·ère en insertion (Mission Locale, France "
        "Travail), pour un·e jeune de 17 ans." in said
    )
    assert "Situation : demandeur·se d'emploi" in said
    assert YOUNG not in intro.as_string() and COUNSELLOR not in intro.as_string()
    [ack] = mail.wait_for(COUNSELLOR, subject_has("Votre demande est transmise"))
    assert "Vous nous écrivez pour quelqu'un d'autre (pour un·e jeune de 17 ans)" in " ".join(
        text(ack).split()
    )
    assert "donné son adresse : de celle-ci, elle ou il peut aussi écrire" in text(ack)
    [request] = dep.log()["requests"]
    [noted] = [e for e in request["timeline"] if e["type"] == "writer"]
    assert noted["cause"] == (
        "written by an adult for someone else (conseiller_insertion); the conversation runs "
        f"with the writer; the young person's own address (given in the mail): {YOUNG}, who "
        "may write through the person's relay addresses too"
    )

    # The counsellor passes the ack on; the young person writes from their own address
    # to the relay address it came from: relayed to the ambassador, their address masked.
    words = f"Bonjour, c'est Enzo ({YOUNG}). Je suis libre le mercredi après-midi."
    mail.send_text(f"Enzo Lemaire <{YOUNG}>", sender(ack), "Re: ma demande", words)
    dep.deliver_and_run(now=MONDAY)
    [_, relayed] = mail.wait_for(MARIE, count=2)
    assert "Je suis libre le mercredi après-midi" in text(relayed)
    assert YOUNG not in relayed.as_string() and COUNSELLOR not in relayed.as_string()
    assert query(dep, "SELECT outcome, role FROM inbound_message WHERE sender = ?", (YOUNG,)) == [
        ("relayed", "person")
    ]
    stranger = "person3@users.test"  # anyone else is still refused
    mail.send_text(stranger, sender(ack), "Re: ma demande", "Je peux écrire aussi ?")
    dep.deliver_and_run(now=MONDAY)
    mail.wait_for(stranger)
    assert query(dep, "SELECT outcome FROM inbound_message WHERE sender = ?", (stranger,)) == [
        ("refused-stranger",)
    ]

    stats = json.loads(dep.cli("stats", "--json").stdout)["total"]
    assert stats["adults"]["conseiller_insertion"] == 1
    assert sum(stats["adults"].values()) == stats["requests"] == 1

    fixed = dep.cli("request", "set", "1", "--writer", "jeune", env=NOW)
    assert "writer_role conseiller_insertion -> -" in fixed.stdout
    stats = json.loads(dep.cli("stats", "--json").stdout)["total"]
    assert (stats["adults"]["conseiller_insertion"], stats["adults"]["self"]) == (0, 1)
    wrong = dep.cli("request", "set", "1", "--writer", "astronaute", check=False, env=NOW)
    assert wrong.returncode == 2 and "rôle inconnu : « astronaute »" in wrong.stderr


def test_a_young_person_who_mentions_their_counsellor_is_the_writer(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    body = (
        "Bonjour, j'ai 17 ans et ma conseillère de la Mission Locale m'a dit de vous écrire. "
        "Je voudrais rencontrer une boulangère à Caen. Enzo"
    )
    mail.send_text(YOUNG, RELAY, "boulangerie", body)
    dep.deliver_and_run(now=MONDAY)
    [intro] = mail.wait_for(MARIE)
    assert "Cette demande vient" not in text(intro)
    assert query(dep, "SELECT writer_role, age FROM request") == [(None, 17)]
    stats = json.loads(dep.cli("stats", "--json").stdout)["total"]
    assert stats["adults"]["self"] == 1 and stats["adults"]["conseiller_insertion"] == 0
