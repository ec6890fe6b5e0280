"""A hostile (or careless) request through the real mail stack: no address in the intro.

Issue 10, item 2. A pupil's request may name other addresses ("vous pouvez joindre ma
mère : ...", "mon autre adresse : ...", written out with "arobase" and "point") and a form
line may put an address where the first name goes ("Prénom : dave@..."). Everything the
ambassador gets that is built from the request's text (the introduction, its subject and
From display name, the reminders, the introduction to the next ambassador, the display name
of every relayed mail) must show none of those addresses in any written form; the name is a
name or nothing. Each received mail is read as bytes and decoded whole (every header,
display names, every part) by the leak check of test_leaks_e2e (`find_leaks` and its own
independent normalisation).
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from tests.deployment import RELAY, Deployment, outbox
from tests.e2e.test_leaks_e2e import PARSER, _header, leaks

PERSON = "person1@users.test"
MARIE, JULIEN = "amb1@pros.test", "amb2@pros.test"  # bakers, Caen then Rouen
MOTHER, OTHER = "sophie.x@maman.test", "eleve.perso@ailleurs.test"
COUSIN, FORM_NAME = "paul.durand@famille.test", "dave@evil.test"
COUSIN_WRITTEN = "paul point durand arobase famille point test"
HIDDEN = (PERSON, MOTHER, OTHER, COUSIN, FORM_NAME)
REQUEST = (
    "Bonjour,\n"
    f"Prénom : {FORM_NAME}\n"
    "Je voudrais rencontrer une boulangère près de Caen, j'ai 15 ans et je suis en 3e.\n"
    f"Vous pouvez joindre ma mère : {MOTHER}\n"
    f"Mon autre adresse : {OTHER}\n"
    f"Ou mon cousin : {COUSIN_WRITTEN}\n"
    "Merci beaucoup"
)
MONDAY = "2026-03-02T09:00:00"


def text(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def from_address(msg: EmailMessage) -> str:
    return parseaddr(str(msg["From"]))[1]


def display_name(raw: bytes) -> str:
    """The From display name as the recipient's client shows it (encoded words decoded)."""
    head = PARSER.parsebytes(raw, headersonly=True)
    return parseaddr(_header(str(head["From"])))[0]


def raw_of(dep: Deployment, user: str, msg: EmailMessage) -> bytes:
    """The bytes `user` holds for `msg` (found by Message-ID)."""
    wanted = str(msg["Message-ID"])
    for raw in dep.stack.fetch_raw(user):
        if str(PARSER.parsebytes(raw, headersonly=True)["Message-ID"]) == wanted:
            return raw
    raise AssertionError(f"{wanted} not in {user}'s inbox")


def assert_clean(raw: bytes, what: str) -> None:
    """No hidden address in any form, anywhere; no address-shaped name in From."""
    found = leaks(raw, HIDDEN)
    assert not found, f"{what}: " + "\n".join(found[:10])
    name = display_name(raw)
    assert "@" not in name and "dave" not in name.lower(), f"{what}: From name {name!r}"


def test_intro_reminder_reassignment_and_relay_show_no_address(deployment: Deployment) -> None:
    dep, mail = deployment, deployment.stack
    mail.send_text(PERSON, RELAY, "Demande de rencontre", REQUEST)
    dep.deliver_and_run(now=MONDAY)

    [intro] = mail.wait_for(MARIE)
    intro_raw = raw_of(dep, MARIE, intro)
    assert_clean(intro_raw, "intro")
    body = text(intro)
    assert "Une personne aimerait échanger" in body  # no name: the no-name wording
    assert "Vous pouvez joindre ma mère : [adresse masquée]" in body  # the rest is kept
    assert "Mon autre adresse : [adresse masquée]" in body
    assert "Ou mon cousin : [adresse masquée]" in body
    assert display_name(intro_raw) == "Une personne via Ambassadeurs"

    # The first reminder quotes the request again, from the same relay address.
    dep.run_once("2026-03-05T09:00:00")
    [reminder] = mail.wait_for(MARIE, lambda m: "Petit rappel" in str(m["Subject"]))
    assert_clean(raw_of(dep, MARIE, reminder), "reminder")
    assert "[adresse masquée]" in text(reminder)

    # Seven business days without an answer: the next baker gets an introduction too.
    dep.run_once("2026-03-11T09:00:00")
    assert [r for _, r, _ in outbox(dep, purpose="intro")] == [MARIE, JULIEN]
    [intro2] = mail.wait_for(JULIEN)
    assert_clean(raw_of(dep, JULIEN, intro2), "intro to the next ambassador")
    assert "Une personne aimerait échanger" in text(intro2)

    # The person writes through the relay address Julien's ack came from: the copy's From
    # display name is no address either.
    [news] = mail.wait_for(PERSON, lambda m: "Julien" in str(m["Subject"]))
    mail.send_text(PERSON, from_address(news), "Re: demande", "Merci, à bientôt !")
    dep.deliver_and_run(now="2026-03-11T10:00:00")
    [relayed] = mail.wait_for(JULIEN, lambda m: "à bientôt" in text(m))
    relayed_raw = raw_of(dep, JULIEN, relayed)
    assert_clean(relayed_raw, "relayed reply")
    assert display_name(relayed_raw) == "Votre contact via Ambassadeurs"


def test_completed_request_shows_no_address(deployment: Deployment) -> None:
    """An unclear first mail (with an address), then the reply to the help mail adding
    more addresses and the address-shaped first name: the intro shows none of them."""
    dep, mail = deployment, deployment.stack
    first = f"Bonjour, je voudrais des informations.\nMon autre adresse : {OTHER}\nMerci"
    mail.send_text(PERSON, RELAY, "Question", first)
    dep.deliver_and_run()
    [help_mail] = mail.wait_for(PERSON)
    assert "Bonjour," in text(help_mail) and "dave" not in text(help_mail).lower()
    details = (
        f"Prénom : {FORM_NAME}\n"
        "Je voudrais rencontrer une boulangère près de Caen, j'ai 15 ans.\n"
        f"Vous pouvez joindre ma mère : {MOTHER}\n"
        f"Ou mon cousin : {COUSIN_WRITTEN}\n"
    )
    mail.send_text(
        PERSON,
        from_address(help_mail),
        "Re: " + str(help_mail["Subject"]),
        details,
        in_reply_to=str(help_mail["Message-ID"]),
    )
    dep.deliver_and_run()

    [intro] = mail.wait_for(MARIE)
    intro_raw = raw_of(dep, MARIE, intro)
    assert_clean(intro_raw, "intro of the completed request")
    body = text(intro)
    assert "Une personne aimerait échanger" in body
    assert "Mon autre adresse : [adresse masquée]" in body  # the first mail's text
    assert "Vous pouvez joindre ma mère : [adresse masquée]" in body  # the details'


def test_relayed_mail_is_not_signed_with_an_address(deployment: Deployment) -> None:
    """The first name a relayed copy is shown from is the request's: "Prénom : dave@..."
    must not become the display name of every mail the ambassador gets."""
    dep, mail = deployment, deployment.stack
    body = f"Prénom : {FORM_NAME}\nJe voudrais rencontrer une boulangère près de Caen."
    mail.send_text(PERSON, RELAY, "Demande", body)
    dep.deliver_and_run()
    [ack] = mail.wait_for(PERSON)
    mail.send_text(PERSON, from_address(ack), "Re: demande", "Je peux venir mercredi.")
    dep.deliver_and_run()
    [relayed] = mail.wait_for(MARIE, lambda m: "mercredi" in text(m))
    name = display_name(raw_of(dep, MARIE, relayed))
    assert name == "Votre contact via Ambassadeurs", name
