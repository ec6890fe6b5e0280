"""Replies and signatures as mail clients write them (issue 13, "Mail shapes"): a reply is
read in order, its new text first, then the mails it quotes for what it does not say again;
the lines signing a mail below its closing are the writer's name, job and town, never the
trade asked; a town there is the weakest place."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailflow.core.values import ParsedRequest
from mailflow.understand.mail import understand
from mailflow.understand.text import split_message
from tests.shared_rules import shared

RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture(scope="module")
def read():  # noqa: ANN201 - the understand() of the project's rules
    rules = shared(RULES)

    def run(subject: str, body: str) -> ParsedRequest:
        return understand(subject, body, rules.referential, rules.understanding)

    return run


def code(p: ParsedRequest) -> str | None:
    return p.trade.code_rome if p.trade else None


# The headers above a quoted mail, as clients write them (Gmail, Thunderbird, Apple Mail,
# Outlook on the web and desktop, English clients).
HEADERS = [
    "Le mar. 3 déc. 2026 à 10:12, Mailflow <contact@asso.test> a écrit :",
    "Le 03/12/2026 à 10:12, Accueil a écrit :",
    "Le 3 déc. 2026 à 10:12, Accueil <accueil@asso.test> a écrit :",
    "Le mar. 3 déc. 2026 à 10:12, Accueil <accueil@asso.test> a\nécrit :",
    "On Tue, Dec 3, 2026 at 10:12 AM Accueil <accueil@asso.test> wrote:",
    "-----Message d'origine-----\nDe : Accueil\nEnvoyé : mardi 3 décembre 2026 10:12\n"
    "Objet : RE: votre demande",
    "De : Accueil <accueil@asso.test>\nEnvoyé : mardi 3 décembre 2026 10:12\n"
    "À : Léa\nObjet : votre demande",
]


@pytest.mark.parametrize("header", HEADERS)
def test_a_reply_adding_details_is_read_with_the_request_it_quotes(read, header) -> None:  # noqa: ANN001
    body = (
        f"Oui je suis bien à Vire, merci\n\n{header}\n> Bonjour, pouvez-vous préciser votre "
        "commune ?\n>\n> > je voudrais rencontrer une fleuriste, j'ai 15 ans\n"
    )
    p = read("Re: votre demande", body)
    assert (code(p), p.place.commune, p.age) == ("D1209", "Vire Normandie", 15)
    assert p.message == "Oui je suis bien à Vire, merci"  # the quote is not added


@pytest.mark.parametrize(
    "answer",
    [
        "oui c'est bien ça",
        "Voir ci-dessous, merci.",
        "C'est toujours d'actualité !",
        "Bonjour, je n'ai pas eu de réponse. Cordialement",
    ],
)
def test_the_trade_may_sit_only_in_the_quoted_mail(read, answer) -> None:  # noqa: ANN001
    body = (
        f"{answer}\n\nLe lun. 2 mars 2026 à 09:00, Paul <paul@maison.test> a écrit :\n"
        "> Bonjour, mon fils voudrait rencontrer un plombier près de Rouen.\n"
    )
    p = read("Re: plombier", body)
    assert (code(p), p.place.commune) == ("F1603", "Rouen")


def test_the_fields_only_the_quote_gave_are_marked_quoted(read) -> None:  # noqa: ANN001
    """A reply's details replace stored values; what only the quote says merely fills gaps
    (core/completion.py), so the quoted fields are named."""
    body = (
        "oui c'est bien ça, je suis en 3e\n\nLe lun. 2 mars 2026 à 09:00, Léa <l@x.test> a "
        "écrit :\n> je voudrais rencontrer une fleuriste à Rouen, j'ai 14 ans\n"
    )
    p = read("Re: votre demande", body)
    assert (code(p), p.place.commune, p.age, p.situation) == ("D1209", "Rouen", 14, "collegien")
    assert p.quoted == frozenset({"trade", "place", "age"})  # the class is said anew
    fresh = read("stage", "je voudrais rencontrer une fleuriste à Rouen, j'ai 14 ans")
    assert fresh.quoted == frozenset()


def test_what_the_new_text_says_wins_over_the_quote(read) -> None:  # noqa: ANN001
    body = (
        "Finalement je préfère rencontrer un boulanger, toujours à Caen.\n\n"
        "Le 2 mars 2026, Léa <lea@x.test> a écrit :\n"
        "> je voudrais rencontrer une fleuriste à Rouen, j'ai 15 ans\n"
    )
    p = read("Re: stage", body)
    assert (code(p), p.place.commune, p.age) == ("D1102", "Caen", 15)


def test_a_vae_asked_first_stays_a_vae_when_the_reply_names_the_diploma(read) -> None:  # noqa: ANN001
    for answer in ("oui c'est pour le CAP pâtissier", "oui, aide-soignante", "le DEAES"):
        body = (
            f"Bonjour,\n{answer}\n\nLe mar. 3 mars 2026 à 10:12, Accueil a écrit :\n"
            "> Quel diplôme visez-vous ?\n>> je voudrais faire une VAE, je travaille depuis "
            "10 ans\n"
        )
        assert read("Re: VAE", body).kind == "vae", answer
    trap = "je préfère finalement une formation d'aide-soignante\n\nLe 3 mars, X a écrit :\n"
    trap += "> je voudrais faire une VAE\n"
    assert read("Re: demande", trap).kind == "formation"  # the reply names its own kind


def test_our_help_mail_quoted_is_no_ones_request(read) -> None:  # noqa: ANN001
    """The help mails show an example and lists to choose from: a reply that says nothing
    gets nothing from them (the person's own mail quoted below still counts)."""
    help_quote = (
        "> Vous pouvez nous répondre en une phrase, par exemple :\n"
        "> « J'ai 15 ans, je suis en 3e et je voudrais rencontrer une boulangère près de Caen. »"
    )
    body = f"je sais pas\n\nLe 3 mars 2026, Ambassadeurs <a@asso.test> a écrit :\n{help_quote}\n"
    p = read("Re: précision", body)
    assert (p.trade, p.place, p.age) == (None, None, None)
    unclear = (
        "> Si l'un d'eux vous tente, répondez-nous simplement avec son nom, par exemple\n"
        "> « Boulanger (Caen) »"
    )
    body = f"euh\n\nLe 3 mars 2026, Ambassadeurs <a@asso.test> a écrit :\n{unclear}\n"
    assert read("Re: idée", body).trade is None
    deeper = f"{body}>\n> Le 2 mars 2026, Léa a écrit :\n>> je voudrais rencontrer un fleuriste\n"
    assert code(read("Re: idée", deeper)) == "D1209"


def test_apple_mail_forward_whose_lines_are_all_quoted(read) -> None:  # noqa: ANN001
    for start in ("Début du message réexpédié :\n\n", ""):  # with or without its separator
        body = (
            f"Envoyé de mon iPhone\n\n{start}> De: Louise <louise@icloud.test>\n"
            "> Date: 11 mars 2026 à 20:31\n> Objet: stage\n>\n"
            "> je voudrais être prof des écoles, j'ai 17 ans, je suis à Bernay\n"
        )
        p = read("TR: stage", body)
        assert (code(p), p.place.commune, p.age) == ("K2106", "Bernay", 17), start
    quoted_from = (
        "Je vous transfère sa demande.\n\n> De : Alain Lebreton\n> Objet : VAE\n"
        "> je veux faire la VAE de maçon, j'habite à Vire\n"
    )
    assert code(read("TR: VAE", quoted_from)) == "F1703"


def test_outlook_original_message_under_a_forward_subject_is_the_request(read) -> None:  # noqa: ANN001
    body = (
        "Bonjour, je vous transmets le message de mon petit-fils.\nCordialement\nMadeleine\n\n"
        "-----Message d'origine-----\nDe : Lina\nEnvoyé : samedi 24 octobre 2026 15:02\n"
        "Objet : métier\n\nje voudrais devenir vétérinaire, j'ai 12 ans"
    )
    p = read("TR: mon petit-fils", body)
    assert (code(p), p.age) == ("A1504", 12)
    assert "Lina" not in p.message and "vétérinaire" in p.message


@pytest.mark.parametrize(
    "signature",
    [
        "Cordialement,\nChristophe Marie\nTechnicien de maintenance industrielle\nTél : 06 11",
        "Merci\nDavid (plaquiste)",
        "Bien à vous,\nM. Bouvier, boulanger",
        "Bien cordialement\nSylvie Jacquet\nConseillère en insertion professionnelle\nPLIE",
    ],
)
def test_the_job_in_a_signature_is_not_the_trade_asked(read, signature) -> None:  # noqa: ANN001
    p = read("", f"Bonjour, je voudrais rencontrer un fleuriste.\n\n{signature}")
    assert code(p) == "D1209"
    p = read("", f"Bonjour, je cherche un métier mais je ne sais pas lequel.\n\n{signature}")
    assert p.trade is None


def test_lines_below_a_closing_that_are_sentences_are_read(read) -> None:  # noqa: ANN001
    for tail in (
        "Merci\nLéa\nPS : je voudrais rencontrer un fleuriste",
        "Cordialement\nest-ce possible de rencontrer un fleuriste ?",
    ):
        assert code(read("", f"Bonjour, j'ai une question.\n{tail}")) == "D1209", tail
    # Not a closing: "Merci de ..." with more words is a request.
    assert code(read("", "Merci de me mettre en relation avec un fleuriste")) == "D1209"


@pytest.mark.parametrize(
    ("signature", "commune"),
    [
        ("--\nSecrétariat - Collège Louis Pasteur, Mont-Saint-Aignan", "Mont-Saint-Aignan"),
        (
            "Cordialement,\nLaurent Girard\nDirecteur commercial - Transports Girard, Saint-Lô",
            "Saint-Lô",
        ),
        ("Bien à vous\nMme Leroy\nLycée Malherbe, Caen", "Caen"),
    ],
)
def test_a_town_in_the_signature_is_the_weakest_place(read, signature, commune) -> None:  # noqa: ANN001
    p = read("", f"Bonjour, un élève voudrait rencontrer un fleuriste.\n\n{signature}")
    assert p.place is not None and p.place.commune == commune
    p = read("", f"Bonjour, un élève voudrait rencontrer un fleuriste à Bayeux.\n\n{signature}")
    assert p.place.commune == "Bayeux"  # the mail's own place wins
    p = read("", "Bonjour, un élève voudrait rencontrer un fleuriste.\n\nMerci\nTél : 02 31 00")
    assert p.place is None


@pytest.mark.parametrize("years", ["18 ans de chantier", "15 ans de terrain", "10 ans de maison"])
def test_years_at_work_are_no_age(read, years) -> None:  # noqa: ANN001
    assert read("", f"je veux faire une VAE de maçon, j'ai {years} derrière moi").age is None


def test_split_keeps_the_quote_apart_in_order() -> None:
    rules = shared(RULES).understanding
    split = split_message(
        "merci\n\nLe 3 mars, A a écrit :\n> deux\n>\n> Le 2 mars, B a écrit :\n>> un\n",
        rules,
        "Re: x",
    )
    assert (split.message, split.quoted) == ("merci", "deux\n\nun")


@pytest.mark.parametrize(
    "signature",
    [
        "Cordialement,\nMme Leroy\nProfesseure au lycée Malherbe à Caen",
        "Bien à vous\nM. Petit, CIO à Caen",
        "Merci\nLéa, j'habite à Caen",  # a sentence: read with the text, not a signature
    ],
)
def test_the_place_asked_in_the_text_wins_over_the_signatures_town(read, signature) -> None:  # noqa: ANN001
    p = read("", f"Bonjour, un élève de Bayeux cherche un fleuriste.\n\n{signature}")
    if "habite" in signature:
        assert p.place.commune == "Caen"
        return
    assert p.place.commune == "Bayeux"
    p = read("", f"Bonjour, un élève cherche un fleuriste.\n\n{signature}")
    assert p.place.commune == "Caen"  # nothing else said: the signature's town


@pytest.mark.parametrize(
    "footer",
    [
        "Envoyé de mon iPhone",
        "Envoyé depuis mon mobile",
        "Sent from my iPhone",
        "Télécharger Outlook pour Android",
    ],
)
def test_a_quote_below_a_mobile_footer_is_still_read(read, footer) -> None:  # noqa: ANN001
    """Apple Mail and mobile clients quote the header line too ("> Le ... a écrit :")."""
    body = (
        f"Oui toujours !\n\n{footer}\n\n> Le 1 déc. 2026 à 09:30, Accueil a écrit :\n>\n"
        "> Votre demande tient-elle toujours ?\n>\n>> Le 20 nov. 2026, Inès a écrit :\n"
        ">> je suis en terminale à Dieppe et je voudrais rencontrer une fleuriste.\n"
    )
    p = read("Re: Rencontre", body)
    assert (code(p), p.place.commune, p.situation) == ("D1209", "Dieppe", "lyceen")
    assert p.message == "Oui toujours !"


@pytest.mark.parametrize(
    ("subject", "forwarder"),
    [
        (
            "TR: demande",
            "Je vous transfère sa demande.\nSandrine Martin\nConseillère France Travail",
        ),
        ("TR: demande", "Voici la demande de mon élève, elle hésite avec la coiffure."),
        ("TR: stage boulangerie", "Bonjour, ci-dessous le message de mon fils."),
        ("Fwd: demande", "Pour info, de la part d'un jeune que je suis (aide à domicile ?)"),
    ],
)
def test_the_trade_of_the_forwarded_mail_wins(read, subject, forwarder) -> None:  # noqa: ANN001
    body = (
        f"{forwarder}\n\n-------- Message transféré --------\nDe : Léo <leo@mail.test>\n"
        "Objet : question\n\nbonjour je voudrais rencontrer un fleuriste, j'ai 15 ans\n"
    )
    assert code(read(subject, body)) == "D1209"


def test_a_forwarded_mail_naming_no_trade_leaves_the_forwarders(read) -> None:  # noqa: ANN001
    body = (
        "Ma fille voudrait rencontrer une fleuriste, voici son message.\n\n"
        "-------- Message transféré --------\nDe : Léa <lea@mail.test>\n\n"
        "maman tu peux leur demander stp, j'ai 14 ans\n"
    )
    p = read("TR: Léa", body)
    assert (code(p), p.age) == ("D1209", 14)


@pytest.mark.parametrize(
    "tail", ["Merci\nLéa, future fleuriste", "Bisous\nTom (futur fleuriste !)"]
)
def test_a_wish_signed_is_still_read(read, tail) -> None:  # noqa: ANN001
    """A trade to come ("future fleuriste") is wished, even in the lines signing the mail."""
    assert code(read("", f"Bonjour, je suis en 3e et j'ai une question.\n{tail}")) == "D1209"


def test_a_title_signed_is_still_the_writers(read) -> None:  # noqa: ANN001
    body = "Bonjour, ma fille voudrait rencontrer une fleuriste.\nCordialement\nMarc, boulanger"
    assert code(read("", body)) == "D1209"


@pytest.mark.parametrize(
    "block",
    [
        "De : Accueil\nEnvoyé : lundi 30 novembre 2026 11:05\nÀ : Sophie\nObjet : RE: stage",
        "________________________________\nDe : Accueil\nEnvoyé : lundi 30 novembre 2026 11:05",
        "From: Accueil\nSent: Monday, November 30, 2026 11:05 AM\nSubject: RE: stage",
        "De : Accueil\nDate : lun. 30 nov. 2026 à 11:05",
    ],
)
def test_outlook_header_block_naming_a_contact_without_address(read, block) -> None:  # noqa: ANN001
    body = (
        f"Il a 14 ans.\nCordialement,\nSophie\n\n{block}\n\nBonjour, quel âge a votre fils ?\n"
        "Il souhaite rencontrer un fleuriste à Caen, c'est bien ça ?"
    )
    p = read("RE: stage", body)
    assert (code(p), p.place.commune, p.age) == ("D1209", "Caen", 14)
    assert "quel âge" not in p.message  # the earlier mail is not the person's new words
    forward = read("TR: stage", body)  # under TR:, it is the forwarded request itself
    assert "quel âge" in forward.message and "Envoy" not in forward.message


@pytest.mark.parametrize(
    "body",
    [
        "slt\nslt jveu parlé a 1 fleuriste stp",
        "Merci\nje veu rencontré 1 fleuriste",
        "bisous\nc'est pour un stage chez un fleuriste",
    ],
)
def test_a_closing_word_before_anything_is_said_signs_nothing(read, body) -> None:  # noqa: ANN001
    assert code(read("", body)) == "D1209"


@pytest.mark.parametrize(
    ("forwarder", "inner", "commune"),
    [
        ("Conseillère Mission Locale, agence de Caen", "j'habite à Bayeux", "Bayeux"),
        ("Mme Roux, CIO de Rouen", "je suis en 3e à Elbeuf", "Elbeuf"),
        ("Voici le message de mon élève (collège de Lisieux).", "Léo, Honfleur", "Honfleur"),
        ("Voici la demande, il habite à Vire.", "merci de transmettre", "Vire Normandie"),
    ],
)
def test_the_place_of_the_forwarded_mail_wins(read, forwarder, inner, commune) -> None:  # noqa: ANN001
    body = (
        f"Bonjour,\n{forwarder}\n\n-------- Message transféré --------\nDe : Léo <l@mail.test>\n"
        f"Objet : stage\n\nbonjour je voudrais rencontrer un fleuriste, {inner}\n"
    )
    p = read("TR: stage", body)
    assert (code(p), p.place.commune) == ("D1209", commune)
