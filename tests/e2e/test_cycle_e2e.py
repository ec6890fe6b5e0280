"""The ways out of the life cycle, on the real mail stack: what lands in whose inbox when an
ambassador leaves mid-conversation, when a person writes STOP, when a person answers the
help mail, when an unmatched request finds someone or expires, and when the coordinator
assigns or closes a request by hand. Time moves by MAILFLOW_NOW, never by waiting."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from tests.deployment import COORDINATOR, PASS, RELAY, Deployment, confirm, trust
from tests.mailstack import wait_queue_empty

LEA = "person1@users.test"
TOM = "person2@users.test"
MARIE, JULIEN, INES = "amb1@pros.test", "amb2@pros.test", "amb3@pros.test"
LUCAS = "amb8@pros.test"  # développeur web: no pilot in the directory
REQUEST = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"
MONDAY = "2026-03-02T09:00:00"


def text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


def sender(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def subject_has(words: str):  # noqa: ANN201 - a predicate
    return lambda m: words in str(m["Subject"])


def has(words: str):  # noqa: ANN201 - a predicate
    return lambda m: words in m.as_string() or words in text(m)


def states(dep: Deployment, index: int = 0) -> list[tuple[str | None, str]]:
    request = dep.log()["requests"][index]
    return [(e["from"], e["to"]) for e in request["timeline"] if e["type"] == "state"]


def test_ambassador_leaving_mid_conversation(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Léa <{LEA}>", RELAY, "Demande", REQUEST)
    dep.deliver_and_run(now=MONDAY)
    [intro] = mail.wait_for(MARIE)
    mail.send_text(MARIE, sender(intro), "Re: demande", "Avec plaisir, passez mercredi.")
    dep.deliver_and_run(now="2026-03-03T09:00:00")
    [answer] = mail.wait_for(LEA, has("passez mercredi"))
    mail.send_text(LEA, sender(answer), "Re: demande", "Merci, à quelle heure ?")
    dep.deliver_and_run(now="2026-03-03T10:00:00")
    mail.wait_for(MARIE, has("quelle heure"))

    mail.send_text(MARIE, RELAY, "STOP", "Je dois arrêter, merci.")
    dep.deliver_and_run(now="2026-03-04T09:00:00")
    confirm(dep, MARIE, now="2026-03-04T09:00:00")  # no authserv_id: she confirms it first
    [thanks] = mail.wait_for(MARIE, subject_has("Merci pour tout"))
    assert "Votre échange en cours a été confié à un autre ambassadeur" in text(thanks)
    assert "La personne concernée en est informée" in text(thanks)
    [intro2] = mail.wait_for(JULIEN)
    [news] = mail.wait_for(LEA, subject_has("Julien prend le relais"))
    assert "Marie vient de quitter le réseau" in text(news)
    assert sender(news) not in (sender(answer), RELAY)  # Julien's relay address

    # Léa answers the news: it reaches Julien. She also writes to Marie's old address.
    mail.send_text(LEA, sender(news), "Re: relais", "Bonjour Julien, merci !")
    mail.send_text(LEA, sender(answer), "Re: demande", "Marie, vous êtes là ?")
    dep.deliver_and_run(count=2, now="2026-03-04T10:00:00")
    mail.wait_for(JULIEN, has("Bonjour Julien, merci"))
    [closed] = mail.wait_for(LEA, subject_has("Cette adresse d'échange est fermée"))
    assert "Marie a quitté le réseau des ambassadeurs" in text(closed)
    assert "maintenant suivie par Julien" in text(closed)
    wait_queue_empty(mail)  # a mail relayed by mistake would be delivered by now
    assert not [m for m in mail.fetch_all(MARIE) if "vous êtes là" in m.as_string()]
    assert not [m for m in mail.fetch_all(JULIEN) if "vous êtes là" in m.as_string()]
    assert intro2 is not None
    assert states(dep)[-3:] == [
        ("answered", "in_conversation"),
        ("in_conversation", "reassigned"),
        ("reassigned", "offered"),
    ]


def test_person_stop_through_the_relay_address(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Léa <{LEA}>", RELAY, "Demande", REQUEST)
    dep.deliver_and_run(now=MONDAY)
    [intro] = mail.wait_for(MARIE)
    [ack] = mail.wait_for(LEA)
    mail.send_text(LEA, sender(ack), "Re: Votre demande est transmise", "STOP")
    dep.deliver_and_run(now="2026-03-02T10:00:00")
    confirm(dep, LEA, now="2026-03-02T10:00:00")  # no authserv_id: she confirms it first
    [done] = mail.wait_for(LEA, subject_has("nous arrêtons là"))
    assert "nous avons arrêté votre demande" in text(done)
    assert "Nous avons prévenu Marie" in text(done)
    [ended] = mail.wait_for(MARIE, subject_has("Léa a mis fin à l'échange"))
    assert str(ended["In-Reply-To"]) == str(intro["Message-ID"])  # in the intro's thread
    for when in ("2026-03-05T09:00:00", "2026-03-12T09:00:00", "2026-04-30T09:00:00"):
        dep.run_once(when)  # no reminder, no reassignment, no feedback request
    wait_queue_empty(mail)  # everything sent is delivered: the counts are final
    assert len(mail.fetch_all(MARIE)) == 2 and len(mail.fetch_all(LEA)) == 3  # + confirm
    assert not mail.fetch_all(JULIEN)
    assert dep.log()["requests"][0]["state"] == "withdrawn"


def test_answer_to_the_help_mail_completes_the_request(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    vague = "Bonjour, j'ai 15 ans et j'habite à Caen. Je voudrais rencontrer quelqu'un.\nLéa"
    mail.send_text(f"Léa <{LEA}>", RELAY, "Demande", vague)
    dep.deliver_and_run(now=MONDAY)
    [help_mail] = mail.wait_for(LEA, subject_has("il nous manque une précision"))
    assert sender(help_mail) == RELAY
    mail.send_text(
        f"Léa <{LEA}>",
        sender(help_mail),
        "Re: " + str(help_mail["Subject"]),
        "Métier ou formation : boulangère\n\n> Merci pour votre message !",
        in_reply_to=str(help_mail["Message-ID"]),
    )
    dep.deliver_and_run(now="2026-03-02T10:00:00")
    [intro] = mail.wait_for(MARIE)
    assert "j'habite à Caen" in text(intro) and "boulangère" in text(intro)
    mail.wait_for(LEA, subject_has("Votre demande est transmise"))
    [request] = dep.log()["requests"]
    assert [(e["from"], e["to"]) for e in request["timeline"] if e["type"] == "state"] == [
        (None, "new"),
        ("new", "needs_info"),
        ("needs_info", "offered"),
    ]


def test_unmatched_request_found_later_or_expired(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    trust(dep)  # the provider vouches for the bakers' mail: their commands act at once
    for baker in (MARIE, JULIEN, INES):
        mail.send_text(baker, RELAY, "PAUSE", "", headers=PASS)
    dep.deliver_and_run(count=3, now=MONDAY)
    mail.send_text(f"Léa <{LEA}>", RELAY, "Demande", REQUEST)
    mail.send_text(TOM, RELAY, "Demande", "Je voudrais rencontrer un pilote de ligne.")
    dep.deliver_and_run(count=2, now="2026-03-02T10:00:00")
    [told] = mail.wait_for(LEA)
    assert "reviendra vers vous" in text(told)
    mail.wait_for(COORDINATOR, count=2)

    mail.send_text(MARIE, RELAY, "REPRISE", "", headers=PASS)
    dep.deliver_and_run(now="2026-03-02T18:00:00")  # same day: the day's retry is done
    mail.wait_for(MARIE, count=2)  # the PAUSE confirmation was never waited for either
    wait_queue_empty(mail)
    assert mail.imap_count(MARIE) == 2  # PAUSE and REPRISE confirmations only
    dep.run_once("2026-03-03T08:00:00")  # Tuesday, the retry's hour
    [intro] = mail.wait_for(MARIE, subject_has("Une demande de rencontre"))
    [found] = mail.wait_for(LEA, subject_has("Bonne nouvelle : Marie"))
    assert "nous avons transmis votre demande à Marie" in text(found)
    mail.send_text(LEA, sender(found), "Re: Bonne nouvelle", "Merci beaucoup !", headers=PASS)
    dep.deliver_and_run(now="2026-03-03T09:00:00")
    mail.wait_for(MARIE, has("Merci beaucoup"))
    assert sender(intro) != sender(found)

    dep.run_once("2026-04-30T10:00:00")  # Tom's: 59 days unmatched
    wait_queue_empty(mail)
    assert len(mail.fetch_all(TOM)) == 1
    dep.run_once("2026-05-01T10:00:00")  # 60 days
    [last] = mail.wait_for(TOM, subject_has("Pilote de ligne"), count=2)[-1:]
    assert "nous n'avons trouvé personne" in text(last)
    dep.run_once("2026-06-01T10:00:00")
    wait_queue_empty(mail)
    assert len(mail.fetch_all(TOM)) == 2
    tom = [r for r in dep.log()["requests"] if r["id"] == 2][0]
    assert tom["state"] == "expired"


def test_coordinator_assigns_and_closes_by_hand(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(f"Tom <{TOM}>", RELAY, "Demande", "Je voudrais rencontrer un pilote de ligne.")
    dep.deliver_and_run(now=MONDAY)
    mail.wait_for(TOM)
    now = {"MAILFLOW_NOW": "2026-03-02T11:00:00"}
    out = dep.cli("request", "assign", "1", LUCAS, env=now).stdout
    assert out.startswith("request #1 offered to ambassador #8 (amb8@pros.test)")
    [intro] = mail.wait_for(LUCAS)  # sent by the command itself
    [found] = mail.wait_for(TOM, subject_has("Bonne nouvelle : Lucas"))

    out = dep.cli("request", "close", "1", "--reason", "vu au téléphone", env=now).stdout
    assert out.startswith("request #1 closed; mailed: nobody")
    mail.send_text(TOM, sender(found), "Re: Bonne nouvelle", "Bonjour Lucas !")
    dep.deliver_and_run(now="2026-03-02T12:00:00")
    [notice] = mail.wait_for(TOM, subject_has("Cette adresse d'échange est fermée"))
    assert "votre demande sur Pilote de ligne est close" in text(notice)
    assert "téléphone" not in text(notice)
    wait_queue_empty(mail)
    assert len(mail.fetch_all(LUCAS)) == 1 and intro is not None

    again = dep.cli("request", "close", "1", check=False)
    assert again.returncode == 2 and again.stderr == "mailflow: request #1 is already closed\n"
    missing = dep.cli("request", "assign", "99", LUCAS, check=False)
    assert missing.returncode == 2 and missing.stderr == "mailflow: no request #99\n"
    [request] = dep.log()["requests"]
    closing = [e for e in request["timeline"] if e["type"] == "state"][-1]
    assert closing["to"] == "closed"
    assert "closed by the coordinator: vu au téléphone" in str(request["timeline"])
