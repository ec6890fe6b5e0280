"""Partner structures on the real mail stack (docs/structures.md), with the shipped example
list of rules/structures.toml (the "Mission Locale de Caen", domain ml-caen.test, whose
advisers are told): a request written by an adviser from the structure's domain counts for
it; a young person writing with their adviser in copy counts for it "through", and when the
ambassador answers, the adviser gets one short notice that names neither the ambassador nor
their address; `stats --json` counts both."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tests.deployment import RELAY, Deployment, outbox, query
from tests.e2e.test_cycle_e2e import has, sender, subject_has, text
from tests.mailstack import wait_queue_empty

ADVISER = "conseillere@ml-caen.test"  # wrote the request herself
COPIED = "conseiller@ml-caen.test"  # in copy of Léa's request
LEA, INES = "person2@users.test", "person3@users.test"
MARIE = "amb1@pros.test"  # Boulangère, Caen (14)
MONDAY = "2026-03-02T09:00:00"
FROM_ADVISER = (
    "Bonjour,\n\nJe suis conseillère à la Mission Locale de Caen. J'accompagne un jeune de 17 "
    "ans, Kylian, qui aimerait rencontrer un boulanger près de Caen avant de signer un "
    "contrat d'apprentissage.\n\nBien cordialement,\nSophie Lemaire\nConseillère en insertion"
)
WITH_ADVISER = (
    "Bonjour, mon conseiller de la mission locale m'a dit de vous écrire. J'ai 17 ans et je "
    "voudrais rencontrer une boulangère vers Caen pour savoir comment c'est le métier.\n"
    "Merci !\nLéa"
)
ANSWER = "Bonjour Léa, avec plaisir ! Passez au fournil mercredi à 15 h, rue Écuyère."


def send_with_copy(dep: Deployment) -> None:
    msg = EmailMessage()
    msg["From"] = f"Léa Martin <{LEA}>"
    msg["To"] = RELAY
    msg["Cc"] = f"Thomas Girard <{COPIED}>"
    msg["Subject"] = "rencontrer une boulangère"
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(WITH_ADVISER)
    dep.stack.send(LEA, [RELAY, COPIED], msg)  # her adviser gets his copy straight from her


def structures(dep: Deployment) -> dict:
    return json.loads(dep.cli("stats", "--json").stdout)["total"]["structures"]


def test_requests_from_and_through_a_mission_locale_are_counted_and_its_adviser_told(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Sophie Lemaire <{ADVISER}>", RELAY, "Un jeune que j'accompagne", FROM_ADVISER)
    send_with_copy(dep)
    mail.send_text(INES, RELAY, "Demande", "Bonjour, je voudrais devenir pâtissière à Caen.")
    dep.deliver_and_run(count=3, now=MONDAY)
    mail.wait_for(COPIED, has("boulangère"))  # Léa's own copy to him, not through us
    intros = mail.wait_for(MARIE, count=2)
    lea_intro = next(m for m in intros if "Léa" in text(m))
    adviser_intro = next(m for m in intros if "Kylian" in text(m))
    rows = query(dep, "SELECT structure, structure_kind, structure_via FROM request ORDER BY id")
    assert rows == [
        ("ml-caen", "mission_locale", "from"),
        ("ml-caen", "mission_locale", "through"),
        (None, None, None),
    ]

    # The ambassador answers both; Léa's adviser is told, once, of hers.
    mail.send_text(MARIE, sender(lea_intro), "Re: demande", ANSWER)
    mail.send_text(MARIE, sender(adviser_intro), "Re: demande", "Bonjour, volontiers, jeudi ?")
    dep.deliver_and_run(count=2, now="2026-03-03T10:00:00")
    mail.wait_for(LEA, has("Passez au fournil"))
    mail.wait_for(ADVISER, has("volontiers, jeudi"))  # she wrote: the answer reaches her
    [notice] = mail.wait_for(COPIED, subject_has("a reçu une réponse"))
    body = text(notice)
    assert str(notice["Subject"]).startswith("Léa a reçu une réponse d'un ambassadeur")
    assert "Mission Locale de Caen" in body and "boulang" in body.lower()
    everything = notice.as_string()
    for secret in (MARIE, "Marie", "fournil", "Écuyère", LEA):
        assert secret not in everything and secret not in body, secret
    assert sender(notice) == RELAY  # the programme's address, no conversation's relay

    # A second answer tells nobody again.
    mail.send_text(MARIE, sender(lea_intro), "Re: demande", "Et apportez un tablier !")
    dep.deliver_and_run(now="2026-03-03T11:00:00")
    mail.wait_for(LEA, has("tablier"))
    wait_queue_empty(mail)
    assert (
        len([m for m in mail.fetch_all(COPIED) if "a reçu une réponse" in str(m["Subject"])]) == 1
    )
    assert not [m for m in mail.fetch_all(ADVISER) if "a reçu une réponse" in str(m["Subject"])]
    assert [o for o in outbox(dep, purpose="structure_answered")] and len(
        outbox(dep, purpose="structure_answered")
    ) == 1
    # the adviser's address is kept no longer than it was needed
    assert query(dep, "SELECT structure_adviser FROM request ORDER BY id") == [
        (None,),
        (None,),
        (None,),
    ]
    causes = [e["cause"] for e in dep.log(2)["requests"][0]["timeline"] if e["type"] == "structure"]
    assert causes == [
        "relayed by partner structure ml-caen (through); its adviser will be told of the first "
        "answer",
        "the adviser of partner structure ml-caen told of the first answer",
    ]

    counted = structures(dep)
    assert counted["relayed"] == 2 and counted["none"] == 1
    assert counted["by_structure"]["ml-caen"] == 2 and counted["by_structure"]["none"] == 1
    assert counted["by_kind"]["mission_locale"] == 2
    assert counted["by_via"] == {"from": 1, "through": 1, "text": 0, "none": 1}
    shown = dep.cli("stats").stdout
    assert "Relayées par les structures partenaires" in shown
    assert "Mission Locale de Caen" in shown
