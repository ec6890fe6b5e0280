"""The mails the bench sends, as a person's mail client would write them."""

from __future__ import annotations

import os
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from bench.watch import marker


def _message(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain="users.test")
    msg.set_content(body)
    return msg


def request(sender: str, to: str, trade: str, n: int) -> bytes:
    """A new request: a 15-year-old near Caen asks to meet someone of `trade`."""
    body = (
        "Bonjour,\n\nJ'ai 15 ans, je suis en troisième et je voudrais rencontrer un "
        f"{trade.lower()} près de Caen pour mon stage d'observation.\nPourriez-vous m'aider ?\n\n"
        f"Merci beaucoup,\nLéa (demande {n})\n"
    )
    return bytes(_message(sender, to, f"Rencontrer un {trade.lower()}", body))


def reply(sender: str, to: str, n: int) -> bytes:
    """A reply in a conversation, numbered in its Subject so its arrival can be timed."""
    body = (
        "Bonjour,\n\nMerci pour votre réponse ! Est-ce que je pourrais venir un mercredi "
        "après-midi ? Je peux aussi vous appeler si c'est plus simple.\n\nBonne journée\n"
    )
    return bytes(_message(sender, to, f"Re: votre métier {marker(n)}", body))


def with_attachment(sender: str, to: str, n: int, size: int) -> bytes:
    """A reply carrying one PDF-typed attachment of `size` random bytes."""
    msg = _message(sender, to, f"Re: mon CV {marker(n)}", "Bonjour, voici mon dossier.\n")
    msg.add_attachment(
        os.urandom(size), maintype="application", subtype="pdf", filename="dossier.pdf"
    )
    return bytes(msg)
