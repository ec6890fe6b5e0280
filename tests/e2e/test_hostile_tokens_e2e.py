"""Mail lost without a word (issue 10, item 4), on the real Postfix + Dovecot.

(a) An ambassador writing to two conversations at once (To + Cc, To + Bcc) reaches both
parties, each exactly once; a relay address that is unknown is named to the sender.
(b) A person's mail stopped by the hourly relay cap is held in quarantine, its sender
told; `mailflow quarantine retry` passes it on once, and so does the conversation
becoming calm again (MAILFLOW_NOW moved forward).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from tests.deployment import RELAY, Deployment, outbox, query
from tests.mailstack import text_message, wait_queue_empty

LEA, TOM = "person1@users.test", "person2@users.test"
BAKER = "amb1@pros.test"  # Marie, boulangère à Caen, capacity 3 (examples/ambassadors.csv)
T0 = datetime(2026, 3, 2, 9, 0, 0)
UNKNOWN = "relay+abcdefghijklmnopqrstuvwx@mailflow.test"  # token-shaped, no conversation


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _body(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def _from(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def _intro_address(dep: Deployment, name: str) -> str:
    """The relay address by which the baker knows the person signing `name`."""
    intros = dep.stack.wait_for(BAKER, lambda m: f"{name} via" in str(m["From"]))
    return _from(intros[0])


def two_conversations(dep: Deployment) -> tuple[str, str]:
    """Léa and Tom each ask for a baker near Caen; both are offered to Marie."""
    dep.stack.send_text(
        LEA,
        RELAY,
        "Demande",
        "J'ai 15 ans et je voudrais rencontrer une boulangère près de Caen.\nLéa",
    )
    dep.stack.send_text(
        TOM, RELAY, "Demande", "J'ai 16 ans et je voudrais rencontrer une boulangère à Caen.\nTom"
    )
    dep.deliver_and_run(count=2, now=at(0))
    lea, tom = _intro_address(dep, "Léa"), _intro_address(dep, "Tom")
    assert lea != tom and lea.startswith("relay+") and tom.startswith("relay+")
    rows = query(
        dep,
        "SELECT count(*) FROM conversation c JOIN ambassador a "
        "ON c.ambassador_id = a.id WHERE a.email = ?",
        (BAKER,),
    )
    assert rows[0][0] == 2
    return lea, tom


def received(dep: Deployment, user: str, marker: str) -> list[EmailMessage]:
    """Every mail in `user`'s inbox whose text holds `marker`, once Postfix is empty."""
    wait_queue_empty(dep.stack)
    return [m for m in dep.stack.fetch_all(user) if marker in _body(m)]


def _send_to_both(dep: Deployment, lea: str, tom: str, marker: str, *, bcc: bool) -> str:
    msg = text_message(BAKER, lea, "Rendez-vous", f"Bonjour à vous deux,\n{marker}\nMarie")
    if not bcc:
        msg["Cc"] = tom
    dep.stack.send(BAKER, [lea, tom], msg)  # the envelope holds both, as a client sends it
    dep.deliver_and_run(count=2, now=at(5))  # one copy per relay address in the inbox
    return str(msg["Message-ID"])


def _assert_each_once(dep: Deployment, marker: str) -> None:
    dep.stack.wait_for(LEA, lambda m: marker in _body(m))
    dep.stack.wait_for(TOM, lambda m: marker in _body(m))
    for person in (LEA, TOM):
        copies = received(dep, person, marker)
        assert len(copies) == 1, f"{person} got {len(copies)} copies"
        assert BAKER not in copies[0].as_string().lower()
    assert len(outbox(dep, purpose="relay")) == 2


def test_to_and_cc_two_relay_addresses_reach_both_parties_once(deployment: Deployment) -> None:
    dep = deployment
    lea, tom = two_conversations(dep)
    _send_to_both(dep, lea, tom, "Atelier samedi 9h (Cc)", bcc=False)
    _assert_each_once(dep, "Atelier samedi 9h (Cc)")
    dep.run_once(at(10))  # nothing relayed again on a later run
    assert len(outbox(dep, purpose="relay")) == 2


def test_to_and_bcc_two_relay_addresses_reach_both_parties_once(deployment: Deployment) -> None:
    """The Bcc'd relay address shows only in the Delivered-To of its own delivery
    (Postfix `lmtp_destination_recipient_limit = 1`, scripts/mailstack): that copy of the
    same message is processed for it, and the To conversation does not get it twice."""
    dep = deployment
    lea, tom = two_conversations(dep)
    message_id = _send_to_both(dep, lea, tom, "Atelier samedi 9h (Bcc)", bcc=True)
    _assert_each_once(dep, "Atelier samedi 9h (Bcc)")
    copies = query(dep, "SELECT outcome FROM inbound_message WHERE message_id = ?", (message_id,))
    assert sorted(o for (o,) in copies) in (["duplicate", "relayed"], ["relayed", "relayed"])


def test_an_unknown_relay_address_among_the_recipients_is_named_to_the_sender(
    deployment: Deployment,
) -> None:
    dep = deployment
    lea, _ = two_conversations(dep)
    msg = text_message(BAKER, lea, "Rendez-vous", "Bonjour,\nAtelier dimanche.\nMarie")
    msg["Cc"] = UNKNOWN
    dep.stack.send(BAKER, [lea, UNKNOWN], msg)
    dep.deliver_and_run(count=2, now=at(5))
    assert len(received(dep, LEA, "Atelier dimanche.")) == 1
    [notice] = dep.stack.wait_for(BAKER, lambda m: "pas arrivé" in str(m["Subject"]))
    text = _body(notice)
    assert UNKNOWN in text and "n'existe pas" in text, text
    assert LEA not in notice.as_string().lower()


# -- (b) the hourly cap holds a person's mail, it is not lost ---------------------------------


def _capped_conversation(dep: Deployment) -> str:
    """Léa's conversation with Marie, the cap at 1 relayed mail an hour, and Marie's first
    answer relayed: the next one within the hour is over the cap."""
    with dep.config.open("a", encoding="utf-8") as config:
        config.write("\n[limits]\nmax_relayed_per_conversation_per_hour = 1\n")
    dep.stack.send_text(
        LEA, RELAY, "Demande", "Je voudrais rencontrer une boulangère près de Caen.\nLéa"
    )
    dep.deliver_and_run(now=at(0))
    lea = _intro_address(dep, "Léa")
    dep.stack.send_text(BAKER, lea, "Re: Demande", "Bonjour Léa,\nPremière réponse.\nMarie")
    dep.deliver_and_run(now=at(1))
    assert len(received(dep, LEA, "Première réponse.")) == 1
    return lea


def _held_one(dep: Deployment, lea: str, marker: str, minutes: float) -> int:
    dep.stack.send_text(BAKER, lea, "Re: Demande", f"Bonjour Léa,\n{marker}\nMarie")
    dep.deliver_and_run(now=at(minutes))
    [(inbound_id, status, outcome, reason)] = query(
        dep,
        "SELECT id, status, outcome, reason FROM inbound_message WHERE subject = ? "
        "AND outcome = 'rate-limited'",
        ("Re: Demande",),
    )
    assert (status, outcome) == ("quarantined", "rate-limited")
    assert "rate-limited" in reason and "held" in reason, reason
    listing = dep.cli("quarantine", "list").stdout
    assert f"{inbound_id:>5}" in listing and "rate-limited" in listing, listing
    assert received(dep, LEA, marker) == []  # not yet
    return inbound_id


def test_rate_limited_mail_is_held_and_quarantine_retry_relays_it_once(
    deployment: Deployment,
) -> None:
    dep = deployment
    lea = _capped_conversation(dep)
    inbound_id = _held_one(dep, lea, "Deuxième réponse.", 2)
    [told] = dep.stack.wait_for(BAKER, lambda m: "plus tard" in str(m["Subject"]))
    assert "pas perdu" in _body(told)
    out = dep.cli("quarantine", "retry", str(inbound_id)).stdout
    assert "released" in out
    dep.run_once(at(3))  # still within the hour: the coordinator's release skips the cap
    assert len(received(dep, LEA, "Deuxième réponse.")) == 1
    dep.run_once(at(200))
    assert len(received(dep, LEA, "Deuxième réponse.")) == 1
    [(status, outcome)] = query(
        dep, "SELECT status, outcome FROM inbound_message WHERE id = ?", (inbound_id,)
    )
    assert (status, outcome) == ("processed", "relayed")


def test_rate_limited_mail_is_relayed_by_itself_once_the_conversation_is_calm(
    deployment: Deployment,
) -> None:
    dep = deployment
    lea = _capped_conversation(dep)
    inbound_id = _held_one(dep, lea, "Troisième réponse.", 2)
    dep.run_once(at(30))  # the hour is not over: still held
    assert received(dep, LEA, "Troisième réponse.") == []
    dep.run_once(at(180))  # calm again: passed on by itself
    assert len(received(dep, LEA, "Troisième réponse.")) == 1
    dep.run_once(at(240))
    assert len(received(dep, LEA, "Troisième réponse.")) == 1
    [(status, outcome)] = query(
        dep, "SELECT status, outcome FROM inbound_message WHERE id = ?", (inbound_id,)
    )
    assert (status, outcome) == ("processed", "relayed")
    told = [m for m in dep.stack.fetch_all(BAKER) if "plus tard" in str(m["Subject"])]
    assert len(told) == 1
