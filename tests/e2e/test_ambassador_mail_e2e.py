"""Ambassadors' commands end to end on real Dovecot + Postfix."""

from __future__ import annotations

from email.message import EmailMessage

from tests.deployment import PASS, RELAY, Deployment, confirm, outbox, trust
from tests.mailstack import wait_queue_empty

PERSON = "person1@users.test"
BAKER = "amb1@pros.test"  # Marie, boulangère à Caen (examples/ambassadors.csv)
OTHER_BAKER = "amb2@pros.test"  # Julien, boulanger à Rouen
REQUEST = "Bonjour, j'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa"


def text(msg: EmailMessage) -> str:
    return " ".join(msg.get_body(("plain",)).get_content().split())


def send(
    dep: Deployment,
    sender: str,
    subject: str,
    body: str = "Merci",
    headers: dict[str, str] | None = None,
) -> None:
    dep.stack.send_text(sender, RELAY, subject, body, headers=headers)
    dep.deliver_and_run()


def test_pause_is_confirmed_and_new_requests_go_elsewhere(deployment: Deployment) -> None:
    """No authserv_id: the PAUSE acts once Marie answers the confirmation mail."""
    dep, mail = deployment, deployment.stack
    send(dep, f"Marie Lefèvre <{BAKER}>", "Re: PAUSE", "Bonjour,\nPAUSE\nMarie")
    confirm(dep, BAKER)
    [confirmation] = mail.wait_for(BAKER, lambda m: "noté" in str(m["Subject"]))
    assert str(confirmation["Subject"]) == "C'est noté : vous êtes en pause"
    assert "REPRISE" in text(confirmation)
    assert confirmation["Auto-Submitted"] == "auto-generated"

    send(dep, PERSON, "Demande de rencontre", REQUEST)
    [intro] = mail.wait_for(OTHER_BAKER)
    assert "Boulanger" in text(intro)
    mail.wait_for(PERSON)
    wait_queue_empty(mail)  # everything sent is delivered: the count is final
    assert mail.imap_count(BAKER) == 2  # only the confirmation asked, and the answer


def test_stop_hands_the_open_conversation_to_the_next_ambassador(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    trust(dep)  # the provider vouches for Marie's mail: her STOP acts at once
    send(dep, PERSON, "Demande de rencontre", REQUEST)
    mail.wait_for(BAKER)
    mail.wait_for(PERSON)

    body = "Bonjour,\nJe dois arrêter, merci pour tout.\nMarie"
    send(dep, BAKER, "stop", body, headers=PASS)
    [thanks] = mail.wait_for(BAKER, lambda m: "Merci pour tout" in str(m["Subject"]))
    assert "confié à un autre ambassadeur" in text(thanks)
    [intro] = mail.wait_for(OTHER_BAKER)
    assert "Boulanger" in text(intro)
    [news] = mail.wait_for(PERSON, lambda m: "Julien" in str(m["Subject"]))
    assert "Julien" in text(news)

    log = dep.log()
    stop = [(m["sender_role"], m["outcome"]) for m in log["other_messages"]]
    assert stop == [("ambassador", "ambassador-stop")]
    [request] = log["requests"]
    assert request["state"] == "offered"
    closed = [e["cause"] for e in request["timeline"] if e["type"] == "closed"]
    assert len(closed) == 1 and "STOP" in closed[0]


def test_stop_from_someone_without_a_request_changes_nothing(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    send(dep, "person2@users.test", "STOP", "")
    wait_queue_empty(mail)  # only recorded: the From may be someone who never wrote
    assert not outbox(dep, "person2@users.test")
    assert mail.imap_count("person2@users.test") == 0
    assert dep.log()["requests"] == []
    assert all(a["active"] for a in json_list(dep))


def json_list(dep: Deployment) -> list[dict]:
    import json

    return json.loads(dep.cli("ambassadors", "list", "--json").stdout)
