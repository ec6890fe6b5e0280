"""A dead ambassador address on real Postfix + Dovecot: the DSN comes back to the signed
return path, the coordinator is told, and the request goes to the next ambassador.

The test stack refuses unknown recipients at RCPT time (550, no DSN ever), so the remote
failure is played by the test: it reads the intro as delivered (its Return-Path is the
envelope sender mailflow really used) and mails back the DSN a remote Postfix would send,
from the null sender to that return path.
"""

from __future__ import annotations

from email.utils import parseaddr

from tests.db.test_bounces import postfix_dsn
from tests.deployment import COORDINATOR, Deployment
from tests.e2e.test_relay_e2e import PERSON, ask, assert_no_leak
from tests.mailstack import parse, wait_queue_empty

MARIE = "amb1@pros.test"  # boulangère à Caen, whose mailbox "disappears"
JULIEN = "amb2@pros.test"  # boulanger à Rouen, the next one


def test_ambassador_hard_bounce_reassigns_and_tells_the_coordinator(
    deployment: Deployment,
) -> None:
    dep, mail = deployment, deployment.stack
    ask(dep)
    mail.wait_for(MARIE)  # the run only queued the intro: Postfix delivers it when it can
    [raw_intro] = mail.fetch_raw(MARIE)
    intro = parse(raw_intro)
    return_path = parseaddr(str(intro["Return-Path"]))[1]
    assert return_path.startswith("relay+b-") and return_path.endswith("@mailflow.test")
    mail.wait_for(PERSON)

    dsn = postfix_dsn(raw_intro, return_path, MARIE, delivered=False)
    mail.send("", [return_path], dsn)  # MAIL FROM:<>, as every bounce
    dep.deliver_and_run()

    [notice] = mail.wait_for(COORDINATOR)
    body = notice.get_body(("plain",)).get_content()
    assert "Adresse d'ambassadeur en échec" in str(notice["Subject"])
    assert MARIE in body and "5.1.1" in body and "demande(s) n°1" in body
    [second_intro] = mail.wait_for(JULIEN)
    assert "via Ambassadeurs" in str(second_intro["From"])
    assert_no_leak(second_intro, PERSON)
    [_, news] = mail.wait_for(PERSON, count=2)
    assert "Julien" in news.get_body(("plain",)).get_content()
    assert_no_leak(news, MARIE, JULIEN)
    wait_queue_empty(mail)  # everything sent is delivered: the counts below are final
    assert len(mail.fetch_all(MARIE)) == 1  # nothing more to a dead address
    assert mail.imap_count("postmaster@mailflow.test") == 0  # a bounce is never answered

    [request] = dep.log()["requests"]
    assert request["state"] == "offered"
    timeline = request["timeline"]
    sent = [
        (e["purpose"], e["to_role"], e["status"])
        for e in timeline
        if e["type"] == "message" and e["direction"] == "out"
    ]
    assert sent[:2] == [("intro", "ambassador", "bounced"), ("ack", "person", "sent")]
    assert ("intro", "ambassador", "sent") in sent[2:] and ("reassigned", "person", "sent") in sent
    inbound = [e for e in timeline if e["type"] == "message" and e["direction"] == "in"]
    assert [e["outcome"] for e in inbound] == ["request-offered", "bounce-recorded"]
    states = [(e["from"], e["to"]) for e in timeline if e["type"] == "state"]
    assert ("offered", "reassigned") in states and states[-1] == ("reassigned", "offered")

    # A later request for a baker near Caen skips Marie, whose address is known dead.
    ask(dep, "Bonjour, je voudrais rencontrer un boulanger à Caen.", sender="person2@users.test")
    mail.wait_for(JULIEN, count=2)
    wait_queue_empty(mail)
    assert len(mail.fetch_all(MARIE)) == 1
