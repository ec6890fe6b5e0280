"""A forwarded mail is the request (issue 13, "Mail shapes"): a parent or a teacher forwards
the young person's mail, and it is read after its header block, its subject's words kept;
a quoted reply (an earlier mail under "Le ... a écrit :" or ">") is read after the new text,
for what the reply does not say again."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.core.values import ParsedRequest
from mailflow.understand.mail import understand
from tests.shared_rules import shared

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def read():  # noqa: ANN201 - the understand() of the project's rules
    rules = shared(RULES)

    def run(subject: str, body: str) -> ParsedRequest:
        return understand(subject, body, rules.referential, rules.understanding)

    return run


def test_a_parent_forwards_the_childs_mail_from_thunderbird(read) -> None:  # noqa: ANN001
    p = read(
        "TR: demande",
        "voir ci-dessous la demande de ma fille\n\nMarie Dupont\n\n"
        "-------- Message transféré --------\nDe : Léa <lea@ecole.test>\n"
        "Date : lun. 2 mars 2026 18:02\nObjet : stage en boulangerie\nÀ : marie@maison.test\n\n"
        "Bonjour je voudrais rencontrer une boulangère à Caen j'ai 14 ans\nLéa",
    )
    assert p.trade is not None and p.trade.code_rome == "D1102"
    assert (p.place.commune, p.age) == ("Caen", 14)
    assert "stage en boulangerie" in p.message and "lea@ecole.test" not in p.message


def test_gmail_forward_in_english_headers(read) -> None:  # noqa: ANN001
    p = read(
        "Fwd: question",
        "---------- Forwarded message ---------\nFrom: Tom <tom@lycee.test>\n"
        "Date: Mon, 2 Mar 2026 at 18:02\nSubject: metier\nTo: <papa@maison.test>\n\n"
        "slt je veux devenir électricien, jai 15 ans, jhabite a Caen",
    )
    assert p.trade is not None and p.trade.code_rome == "F1602"
    assert (p.place.commune, p.age) == ("Caen", 15)


def test_outlook_forward_without_a_separator_under_a_tr_subject(read) -> None:  # noqa: ANN001
    p = read(
        "TR: stage",
        "Bonjour, je vous transfère le message de mon fils.\nCordialement,\nM. Martin\n\n"
        "De : Hugo Martin <hugo@college.test>\nEnvoyé : lundi 2 mars 2026 10:12\n"
        "À : papa@maison.test\nObjet : stage\n\n"
        "je voudrais rencontrer un mécanicien auto à Bayeux, j'ai 15 ans",
    )
    assert p.trade is not None and p.trade.code_rome.startswith("I16")
    assert (p.place.commune, p.age) == ("Bayeux", 15)


def test_the_forwarders_signature_then_the_forwarded_mail(read) -> None:  # noqa: ANN001
    p = read(
        "TR: Demande de rencontre",
        "Bonjour, ci-dessous la demande d'un élève.\n--\nMme Leroy, professeure principale\n"
        "Collège Pasteur\n\n-------- Message transféré --------\nDe : eleve <e@college.test>\n"
        "Objet : rencontre\n\nbonjour je voudrais devenir infirmier jai 14 ans",
    )
    assert p.trade is not None and p.trade.code_rome == "J1506" and p.age == 14


def test_a_quoted_mail_only_fills_in_what_the_reply_does_not_say(read) -> None:  # noqa: ANN001
    """Read in order: the reply's new text first, then the mail it quotes (a "Merci !"
    under our "vous voulez rencontrer un plombier à Rouen ?" is still that request);
    test_mail_shapes.py has the other shapes."""
    p = read(
        "Re: votre demande",
        "Merci !\n\nLe lun. 2 mars 2026 à 10:12, Ambassadeurs <relay@mailflow.test> a écrit :\n"
        "> Bonjour, vous voulez rencontrer un plombier à Rouen ?\n",
    )
    assert p.trade is not None and p.trade.code_rome == "F1603" and p.place.commune == "Rouen"
    assert p.message == "Merci !"
    p = read(  # Outlook's reply block, under RE: (not a forward): the new text wins
        "RE: votre demande",
        "Oui merci, mais plutôt un électricien à Caen\n\nDe : Ambassadeurs <relay@mailflow.test>"
        "\nEnvoyé : lundi 2 mars 2026\nObjet : plombier à Rouen\n\n"
        "Vous voulez rencontrer un plombier à Rouen ?",
    )
    assert p.trade is not None and p.trade.code_rome == "F1602" and p.place.commune == "Caen"
    assert "Rouen" not in p.message
