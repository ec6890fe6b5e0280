"""What a person reads, word for word, through the real mail stack (issue 12, item 9): no
double space in a long French subject, and sizes that tell a sender something."""

from __future__ import annotations

import re
from email.message import EmailMessage

from tests.deployment import COORDINATOR, RELAY, Deployment

PERSON = "person2@users.test"


def plain(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()


def test_a_long_subject_with_an_accent_reads_with_single_spaces(deployment: Deployment) -> None:
    """The person's mail names the trade in its subject, which Python's own folder used to
    break as "du \\r\\n =?utf-8?q?b=C3=A2timent?=": every client showed "du  bâtiment"."""
    dep, mail = deployment, deployment.stack
    mail.send_text(
        PERSON, RELAY, "électricien", "Bonjour, je voudrais devenir électricien à Caen. Tom"
    )
    dep.deliver_and_run()
    label = "Electricien / Electricienne du bâtiment"
    [answer] = mail.wait_for(PERSON)  # an acknowledgement, or "nobody yet"
    subject = str(answer["Subject"])
    assert subject.endswith(f" : {label}") and "  " not in subject, subject
    for msg in [answer, *mail.fetch_all(COORDINATOR)]:
        assert "  " not in str(msg["Subject"]), msg["Subject"]
        head = msg.as_bytes().split(b"\n\n")[0]
        assert all(len(line) <= 78 for line in head.splitlines()), head


def test_a_message_over_a_small_cap_says_two_different_sizes(deployment: Deployment) -> None:
    """A cap of 20 000 bytes and a 40 KB message: the sender used to read "0 Mo, alors que
    la limite est de 0 Mo"."""
    dep, mail = deployment, deployment.stack
    with dep.config.open("a", encoding="utf-8") as config:
        config.write("\n[limits]\nmax_message_bytes = 20000\n")
    mail.send_text(PERSON, RELAY, "Ma lettre", "Je voudrais rencontrer un boulanger. " * 1100)
    dep.deliver_and_run()
    [answer] = mail.wait_for(PERSON)
    text = " ".join(plain(answer).split())
    assert "0 Mo" not in text, text
    shown = re.search(r"\((\d+(?:,\d)?) Ko, alors que la limite est de 19,5 Ko\)", text)
    assert shown and 38 <= float(shown[1].replace(",", ".")) <= 50, text
