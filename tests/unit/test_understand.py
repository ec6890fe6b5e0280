"""Understanding realistic French requests: trade, kind, place, age, situation, first name."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mailflow.errors import RulesError
from mailflow.services.compose import Rendered, render
from mailflow.understand.mail import UnderstandingRules, understand
from mailflow.understand.referential import load_referential
from tests.help_form import fill, quoted
from tests.help_form import form_lines as help_form_lines

RULES = Path(__file__).resolve().parents[2] / "rules"


# (id, subject, body, kind, code_rome, department, age, situation)
# fmt: off
CASES = [
    ('free-text-caen', 'Rencontre',
     "Bonjour, j'ai 15 ans, je suis en 3e et je voudrais rencontrer une boulangère près de "
     'Caen.',
     'metier', 'D1102', '14', 15, 'collegien'),
    ('masculine', '',
     'Je voudrais rencontrer un boulanger à Bayeux.',
     'metier', 'D1102', '14', None, None),
    ('plural', '',
     "Est-ce que des boulangers accepteraient de me parler ? J'habite à Lisieux.",
     'metier', 'D1102', '14', None, None),
    ('feminine-plural', '',
     "J'aimerais échanger avec des infirmières, je suis en seconde.",
     'metier', 'J1506', None, None, 'lyceen'),
    ('typo-no-accent', '',
     'bonjour je voudrais devenir boulangere',
     'metier', 'D1102', None, None, None),
    ('typo-coiffeuse', '',
     'Je voudrais rencontrer une coifeuse dans le 14 svp',
     'metier', 'D1202', '14', None, None),
    ('typo-plombier', '', 'je cherche un plombié vers Bayeux', 'metier', 'F1603', '14', None, None),
    ('mecanicien-auto', '',
     "Je voudrais découvrir le métier de mécanicien auto, j'habite au 14000.",
     'metier', 'I1604', '14', None, None),
    ('aide-soignante', '',
     'Bonjour, je voudrais rencontrer une aide-soignante sur Caen.',
     'metier', 'J1501', '14', None, None),
    ('agent-securite', '',
     "Je suis demandeur d'emploi et le métier d'agent de sécurité m'intéresse.",
     'metier', 'K2503', None, None, 'demandeur_emploi'),
    ('educateur-specialise', '',
     'Je suis étudiante et je voudrais parler avec un éducateur spécialisé.',
     'metier', 'K1207', None, None, 'etudiant'),
    ('developpeur-web', '',
     'Salarié en reconversion, je voudrais devenir développeur web en Normandie.',
     'metier', 'M1855', None, None, 'salarie'),
    ('conducteur-bus', '',
     'Je suis au chômage, je voudrais devenir conducteur de bus dans le Calvados.',
     'metier', 'N4103', '14', None, 'demandeur_emploi'),
    ('dans-le-14', '',
     "Je voudrais rencontrer un menuisier dans le 14, j'ai 17 ans.",
     'metier', 'H2206', '14', 17, None),
    ('calvados-lowercase', '',
     'je cherche un pâtissier dans le calvados',
     'metier', 'D1104', '14', None, None),
    ('seine-maritime', '',
     'Bonjour, je voudrais devenir électricien en Seine-Maritime.',
     'metier', 'F1602', '76', None, None),
    ('saint-lo-abbrev', '',
     'Je voudrais rencontrer un maçon vers St Lo.',
     'metier', 'F1703', '50', None, None),
    ('postcode', '',
     "J'habite à 50000 et je voudrais rencontrer une fleuriste.",
     'metier', 'D1209', '50', None, None),
    ('commune-with-dept', '',
     'Je voudrais voir un pompier près de Bayeux (14).',
     'metier', 'K1705', '14', None, None),
    ('herouville', '',
     'Je cherche une serveuse à Hérouville-Saint-Clair pour découvrir le métier.',
     'metier', 'G1803', '14', None, None),
    ('form-formation', '',
     'Type : formation\nFormation : CAP Pâtissier\nLieu : 14\nÂge : 16\nSituation : '
     'lycéen\nPrénom : Léa',
     'formation', 'D1104', '14', 16, 'lyceen'),
    ('form-metier', '',
     'Métier : boulangère\nVille : Caen\nAge : 13\nSituation : collégienne',
     'metier', 'D1102', '14', 13, 'collegien'),
    ('form-lieu-50', '', 'Métier : coiffeur\nLieu : 50', 'metier', 'D1202', '50', None, None),
    ('form-wins', '',
     'Je voudrais rencontrer un boulanger.\nMétier : pâtissier\nDépartement : Calvados',
     'metier', 'D1104', '14', None, None),
    ('form-keys-any-case', '',
     'METIER: plombier\nCODE POSTAL: 14000\nAGE: 45\nSITUATION: salarié',
     'metier', 'F1603', '14', 45, 'salarie'),
    ('vae-aide-soignant', 'VAE',
     "Bonjour, je voudrais faire une VAE d'aide-soignant. Je travaille depuis 10 ans dans le "
     '50.',
     'vae', 'J1501', '50', None, 'salarie'),
    ('vae-long-words', '',
     "Je souhaite une validation des acquis de l'expérience pour devenir auxiliaire de "
     "puériculture, j'ai 42 ans.",
     'vae', 'J1304', None, 42, None),
    ('cap-patissier', '',
     'Je voudrais faire un CAP Pâtissier près de Caen, je suis en 3e.',
     'formation', 'D1104', '14', None, 'collegien'),
    ('bts-no-rome', '',
     'Bonjour, je suis en terminale et je voudrais faire un BTS Fluides énergies.',
     'formation', None, None, None, 'lyceen'),
    ('bac-pro', '',
     'Je voudrais des infos sur le bac pro boulanger, je suis en 4e.',
     'formation', 'D1102', None, None, 'collegien'),
    ('parent-child', '',
     'Bonjour, je suis maman. Ma fille de 14 ans voudrait découvrir le métier de vétérinaire, '
     'elle est en 4e. Nous habitons Saint-Lô.',
     'metier', 'A1504', '50', 14, 'collegien'),
    # The situation asked is the son's, and the mail says none ("parent" is the writer's
    # own, for a request about the parent: "je suis maman au foyer").
    ('parent-only', '',
     'Mon fils voudrait rencontrer un cuisinier à Rouen.',
     'metier', 'G1609', '76', None, None),
    ('all-caps-phone', '',
     'BONJOUR JE SUIS AU CHOMAGE ET JE VOUDRAIS DEVENIR CONDUCTEUR DE BUS A ROUEN MERCI',
     'metier', 'N4103', '76', None, 'demandeur_emploi'),
    ('no-accents', '',
     'je suis lyceenne en premiere et je voudrais rencontrer une infirmiere pres de Caen',
     'metier', 'J1506', '14', None, 'lyceen'),
    ('sms-style', '',
     'slt jvoudrais etre coiffeuse stp jsuis en 3e a caen',
     'metier', 'D1202', '14', None, 'collegien'),
    ('curly-and-nbsp', '',
     'J’ai\xa016\xa0ans et j’aimerais découvrir le métier d’ébéniste 🙂',
     'metier', 'H2207', None, 16, None),
    ('apprenti', '',
     'Je suis apprenti en menuiserie et je voudrais rencontrer un charpentier.',
     'metier', 'F1503', None, None, 'apprenti'),
    ('years-not-age', '',
     'Je suis salariée depuis 20 ans et je voudrais devenir fleuriste.',
     'metier', 'D1209', None, None, 'salarie'),
    ('il-y-a', '',
     "J'ai arrêté mes études il y a 3 ans, je suis sans emploi et j'aimerais devenir cariste.",
     'metier', 'N1101', None, None, 'demandeur_emploi'),
    ('two-trades-wish-wins', '',
     'Je travaille comme vendeuse mais je voudrais devenir boulangère.',
     'metier', 'D1102', None, None, 'salarie'),
    ('quoted-reply-ignored', 'Re: votre demande',
     'Oui je voudrais rencontrer un plombier.\n\nLe 3 mars 2024 à 10:00, Mailflow <x@y.fr> a '
     'écrit :\n> Quel métier ? Un boulanger ?',
     'metier', 'F1603', None, None, None),
    ('region-only', '',
     'Je voudrais rencontrer une fleuriste en Bretagne.',
     'metier', 'D1209', None, None, None),
    ('subject-only', 'Rencontrer une pâtissière',
     'Bonjour, merci de me répondre.',
     'metier', 'D1104', None, None, None),
    ('dept-name-accentless', '',
     'je voudrais rencontrer un boucher en seine maritime',
     'metier', 'D1101', '76', None, None),
    ('corse', '',
     'Je voudrais découvrir le métier de berger dans le 2A.',
     'metier', 'A1410', '2A', None, None),
    ('overseas', '',
     'Je voudrais rencontrer un pêcheur dans le 971.',
     'metier', 'A1438', '971', None, None),
    # noise words: "demi" alone is not "Demi-chef de rang"; "être" is a wish
    ('demi-age-etre', '', "J'ai 13 ans et demi, je veux être vétérinaire.",
     'metier', 'A1504', None, 13, None),
    ('demi-fond', '', 'Je fais du demi-fond et je veux être vétérinaire.',
     'metier', 'A1504', None, None, None),
    ('prof-de-maths', '', 'Je voudrais rencontrer un prof de maths, je suis en seconde.',
     'metier', 'K2107', None, None, 'lyceen'),
    ('etre-prof-anglais', '', "plus tard je veux être prof d'anglais",
     'metier', 'K2107', None, None, None),
    ('workplace-boulangerie', '', 'Je voudrais travailler dans une boulangerie près de Caen.',
     'metier', 'D1102', '14', None, None),
    ('cap-patisserie-field', '', 'Je veux faire un CAP pâtisserie.',
     'formation', 'D1104', None, None, None),
    ('cap-cuisine-field', '', 'Bonjour, je voudrais passer un CAP cuisine, je suis en 3e.',
     'formation', 'G1609', None, None, 'collegien'),
    ('job-then-wish-etre', '', 'Je suis salariée en boulangerie mais je voudrais être fleuriste.',
     'metier', 'D1209', None, None, 'salarie'),
    ('age-in-words', '', "Bonjour, j'ai quinze ans et je voudrais devenir coiffeuse à Caen.",
     'metier', 'D1202', '14', 15, None),
    ('child-age-in-words', '', 'Ma fille a douze ans, elle voudrait rencontrer une fleuriste.',
     'metier', 'D1209', None, 12, None),
    # places as people write them: former and delegated communes, old régions, abbreviations
    ('cherbourg', '', 'Je voudrais rencontrer un développeur web à Cherbourg.',
     'metier', 'M1855', '50', None, None),
    ('octeville', '', "J'habite à Octeville et je voudrais devenir infirmière.",
     'metier', 'J1506', '50', None, None),
    ('equeurdreville', '', 'je cherche une coiffeuse vers Équeurdreville',
     'metier', 'D1202', '50', None, None),
    ('vire-not-vire-71', '', 'Je cherche un plombier à Vire, je suis en 4e.',
     'metier', 'F1603', '14', None, 'collegien'),
    ('conde-sur-noireau', '', "J'habite Condé-sur-Noireau et je voudrais devenir boulanger.",
     'metier', 'D1102', '14', None, None),
    ('basse-normandie', '', 'Je voudrais rencontrer un boulanger en Basse-Normandie.',
     'metier', 'D1102', None, None, None),
    ('calva', '', 'je cherche un coiffeur dans le calva', 'metier', 'D1202', '14', None, None),
    ('postcode-spaced', '', 'Je voudrais devenir fleuriste, code postal 14 000.',
     'metier', 'D1209', '14', None, None),
    ('ds-le-50', '', 'jveux etre mecano ds le 50', 'metier', 'I1604', '50', None, None),
    ('vendeuse-en-boulangerie', '', 'Je voudrais devenir vendeuse en boulangerie.',
     'metier', 'D1106', None, None, None),
]

NOT_UNDERSTOOD = [
    ('infos', '', 'Bonjour, je voudrais des informations'),
    ('thanks', '', 'Merci !'),
    ('empty', '', ''),
    ('greeting-only', 'Bonjour', 'Bonjour, merci, cordialement\nLéa'),
    ('cap-without-speciality', '', 'Bonjour, je voudrais faire un CAP, mais lequel ?'),
    ('vague-job', '', 'Je voudrais travailler avec des enfants, je suis en 3e à Caen.'),
    # a sector is not a trade: the help mail asks which one
    ('sector-pro-sante', '', 'Je voudrais rencontrer un professionnel de la santé.'),
    ('sector-pro-batiment', '', 'Bonjour, je voudrais rencontrer un professionnel du bâtiment.'),
    ('sector-dans-la-sante', '', 'Je voudrais travailler dans la santé.'),
    ('sector-le-batiment', '', "Le bâtiment m'intéresse, je suis en 3e."),
    ('demi-only', '', "J'ai 13 ans et demi et je ne sais pas quoi faire."),
]
# fmt: on


@pytest.mark.parametrize(
    ("subject", "body", "kind", "code", "dept", "age", "situation"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_understands_request(ref, rules, subject, body, kind, code, dept, age, situation):
    parsed = understand(subject, body, ref, rules)
    assert parsed.kind == kind
    assert (parsed.trade.code_rome if parsed.trade else None) == code
    assert (parsed.place.department if parsed.place else None) == dept
    assert parsed.age == age
    assert parsed.situation == situation
    assert parsed.understood


def test_at_least_45_requests():
    assert len(CASES) + len(NOT_UNDERSTOOD) >= 45


@pytest.mark.parametrize(
    ("subject", "body"), [pytest.param(*c[1:], id=c[0]) for c in NOT_UNDERSTOOD]
)
def test_not_understood(ref, rules, subject, body):
    parsed = understand(subject, body, ref, rules)
    assert parsed.trade is None
    assert not parsed.understood


def test_free_text_full_example(ref, rules):
    body = (
        "Bonjour, j'ai 15 ans, je suis en 3e et je voudrais rencontrer une boulangère "
        "près de Caen.\nMerci, Léa"
    )
    parsed = understand("", body, ref, rules)
    assert parsed.place is not None
    assert (parsed.place.commune, parsed.place.department, parsed.place.region) == (
        "Caen",
        "14",
        "28",
    )
    assert parsed.first_name == "Léa"
    assert parsed.trade_text == "boulangère"
    assert "trade: 'boulangère' -> D1102 Boulanger / Boulangère (exact)" in parsed.notes


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ("Je voudrais rencontrer un boulanger.\nMerci, Léa", "Léa"),
        ("Je voudrais rencontrer un boulanger.\nCordialement,\nLéa Martin", "Léa"),
        ("Bonjour, je m'appelle Inès et je voudrais devenir coiffeuse.", "Inès"),
        ("Bonjour, je suis Hugo, je voudrais devenir plombier.", "Hugo"),
        ("JE VOUDRAIS DEVENIR PLOMBIER\nMERCI LUCAS", "Lucas"),
        ("Je voudrais devenir plombier.\n-- \nNina Petit\n06 00 00 00 00", "Nina"),
        ("Je suis en 3e et je voudrais devenir plombier.", None),
        ("Je suis Boulanger et je voudrais rencontrer un pâtissier.", None),
        ("Je voudrais rencontrer un boulanger.\nMerci beaucoup", None),
    ],
)
def test_first_name(ref, rules, body, name):
    assert understand("", body, ref, rules).first_name == name


def test_form_values_and_message(ref, rules):
    body = (
        "Type : formation\nFormation : BTS Fluides énergies\n"
        "Message : Je voudrais savoir\ncomment ça se passe."
    )
    parsed = understand("", body, ref, rules)
    assert (parsed.kind, parsed.diploma, parsed.trade_text) == (
        "formation",
        "BTS",
        "Fluides énergies",
    )
    assert parsed.message == "Je voudrais savoir\ncomment ça se passe."
    assert parsed.understood


def test_message_strips_quotes_and_signatures(ref, rules):
    body = (
        "Je voudrais rencontrer un boulanger.\n> ancienne ligne citée\nMerci\n\n"
        "Envoyé de mon iPhone\nLe 2 mars 2024, Mailflow a écrit :\n> Bonjour"
    )
    parsed = understand("", body, ref, rules)
    assert parsed.message == "Je voudrais rencontrer un boulanger.\nMerci"


def test_outlook_footer_and_dash_signature(ref, rules):
    parsed = understand("", "Je voudrais devenir fleuriste\n\nGet Outlook for Android", ref, rules)
    assert parsed.message == "Je voudrais devenir fleuriste"
    parsed = understand(
        "", "Je voudrais devenir fleuriste\n-- \nJean Dupont\nSociété X", ref, rules
    )
    assert parsed.message == "Je voudrais devenir fleuriste"


def test_cap_training_sets_diploma_and_speciality(ref, rules):
    parsed = understand("", "Je voudrais faire un CAP Pâtissier près de Caen.", ref, rules)
    assert (parsed.diploma, parsed.trade_text, parsed.trade.code_rome) == (
        "CAP",
        "Pâtissier",
        "D1104",
    )


def test_current_schooling_is_not_the_request(ref, rules):
    parsed = understand(
        "", "Je suis en BTS commerce et je voudrais rencontrer un boulanger.", ref, rules
    )
    assert (parsed.kind, parsed.diploma, parsed.trade.code_rome) == ("metier", None, "D1102")
    assert parsed.situation == "etudiant"


def test_lowercase_but_is_not_a_diploma(ref, rules):
    parsed = understand("", "Mon but est de devenir boulanger.", ref, rules)
    assert (parsed.kind, parsed.diploma) == ("metier", None)


@pytest.mark.parametrize(
    "text",
    [
        "Je suis en 3e",
        "j'ai 15 ans",
        "je travaille depuis 25 ans",
        "mon numéro est le 06 12 34 56 78",
        "mon salaire est de 25000 euros",
        "du 14 au 18 mars",
        "en somme je voudrais devenir boulanger",
        "il a eu son bac",
    ],
)
def test_no_place_false_positives(ref, rules, text):
    assert understand("", text, ref, rules).place is None


@pytest.mark.parametrize(
    "text",
    [
        "depuis 10 ans",
        "il y a 3 ans",
        "pendant 20 ans",
        "j'ai 15 ans d'expérience",
        "j'ai 120 ans",
        "5 ans",
    ],
)
def test_not_an_age(ref, rules, text):
    assert understand("", f"Je voudrais devenir boulanger, {text}.", ref, rules).age is None


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("j'ai 15 ans", 15),
        ("âgé de 42 ans", 42),
        ("Léa, 16 ans", 16),
        ("jai 13ans", 13),
        ("Âge : 16", 16),
        ("mon fils a 12 ans", 12),
    ],
)
def test_age(ref, rules, text, age):
    assert understand("", f"Je voudrais devenir boulanger.\n{text}", ref, rules).age == age


@pytest.mark.parametrize(
    ("text", "digits", "age"),
    [
        ("j'ai quinze ans", "j'ai 15 ans", 15),
        ("Léa, seize ans", "Léa, 16 ans", 16),
        ("seize ans", "16 ans", 16),
        ("j'ai dix-sept ans", "j'ai 17 ans", 17),
        ("j'ai dix sept ans", "j'ai 17 ans", 17),
        ("J'AI DIX-HUIT ANS", "J'AI 18 ANS", 18),
        ("vingt ans, en reconversion", "20 ans, en reconversion", 20),
        ("ma fille a douze ans", "ma fille a 12 ans", 12),
        ("mon fils de quatorze ans", "mon fils de 14 ans", 14),
        ("j'ai treize ans et demi", "j'ai 13 ans et demi", 13),
        ("j'ai vingt et un ans", "j'ai 21 ans", 21),
        ("j'ai vingt-et-un ans", "j'ai 21 ans", 21),
        ("âgée de trente-deux ans", "âgée de 32 ans", 32),
        ("j'ai quarante deux ans", "j'ai 42 ans", 42),
        ("j'ai cinquante-sept ans", "j'ai 57 ans", 57),
        ("j'ai soixante et onze ans", "j'ai 71 ans", 71),
        ("j'ai soixante-dix-neuf ans", "j'ai 79 ans", 79),
        ("j'ai quatre-vingts ans", "j'ai 80 ans", 80),
        ("j'ai quatre-vingt-douze ans", "j'ai 92 ans", 92),
        ("j'ai septante ans", "j'ai 70 ans", 70),
        ("Âge : quinze ans", "Âge : 15", 15),
        # durations stay durations, in words as in digits
        ("je travaille depuis vingt ans", "je travaille depuis 20 ans", None),
        ("salariée depuis vingt ans", "salariée depuis 20 ans", None),
        ("j'ai vingt ans d'expérience", "j'ai 20 ans d'expérience", None),
        ("il y a dix ans", "il y a 10 ans", None),
        ("pendant quinze ans", "pendant 15 ans", None),
        ("j'ai deux ans", "j'ai 2 ans", None),
        ("j'ai un fils", "j'ai un fils", None),
    ],
)
def test_age_in_words_reads_as_in_digits(ref, rules, text, digits, age):
    def read(said: str) -> int | None:
        return understand("", f"Je voudrais devenir boulanger.\n{said}", ref, rules).age

    assert read(text) == read(digits) == age


@pytest.mark.parametrize("text", ["je suis en 3e", "je suis en troisième", "BTS 2e année"])
def test_classes_are_not_ages(ref, rules, text):
    parsed = understand("", f"Je voudrais devenir boulanger, {text}.", ref, rules)
    assert parsed.age is None and parsed.situation is not None


def test_the_form_age_in_words(ref, rules):
    body = filled_help_form(rules, {**HELP_ANSWERS, "age": "quinze ans et demi"})
    assert understand("", body, ref, rules).age == 15


# --- referential: trades ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("boulangère", "D1102"),
        ("Boulangère", "D1102"),
        ("boulanger", "D1102"),
        ("BOULANGERS", "D1102"),
        ("boulangere", "D1102"),
        ("coifeuse", "D1202"),
        ("infirmiere", "J1506"),
        ("infirmières", "J1506"),
        ("plombié", "F1603"),
        ("mécanicien auto", "I1604"),
        ("aide-soignante", "J1501"),
        ("aide soignant", "J1501"),
        ("agent de sécurité", "K2503"),
        ("éducateur spécialisé", "K1207"),
        ("développeur web", "M1855"),
        ("conducteur de bus", "N4103"),
        ("l'ébéniste", "H2207"),
        ("vendeuse en boulangerie", "D1106"),
        ("boucher", "D1101"),
        ("bouchère", "D1101"),
        ("menuisier", "H2206"),
        ("prof de maths", "K2107"),
        ("professeur de mathématiques", "K2107"),
        ("boulangerie", "D1102"),
        ("pâtisserie", "D1104"),
        ("cuisine", "G1609"),
        ("aide en cuisine", "G1602"),
        ("assistante sociale", "K1201"),
        ("chef de rang", "G1810"),
        ("demi-chef de rang", "G1810"),
        ("agente de sécurité", "K2503"),
    ],
)
def test_match_trade(ref, text, code):
    trade = ref.match_trade(text)
    assert trade is not None and trade.code_rome == code


def test_boulanger_prefers_the_general_appellation(ref):
    trade = ref.match_trade("boulanger")
    assert trade.label == "Boulanger / Boulangère"
    assert trade.rome_label == ref.rome_label("D1102")


@pytest.mark.parametrize(
    "text",
    [
        "bonjour",
        "merci",
        "Bonjour, merci",
        "caen",
        "cordialement",
        "rencontrer",
        "métier",
        "ambassadeur",
        "je voudrais changer de carrière",
        "agent",
        "technicien",
        "",
        "!!!",
        "🙂",
        "je suis en 3e",
        "j'ai 15 ans",
        "demi",
        "13 ans et demi",
        "professionnel",
        "un professionnel de la santé",
        "une professionnelle du bâtiment",
        "la santé",
        "le bâtiment",
        "social",
        "chef",
    ],
)
def test_match_trade_rejects_garbage(ref, text):
    assert ref.match_trade(text) is None


# --- referential: places ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "dept", "commune"),
    [
        ("14", "14", None),
        ("dans le 14", "14", None),
        ("2A", "2A", None),
        ("971", "971", None),
        ("Calvados", "14", None),
        ("calvados", "14", None),
        ("Seine-Maritime", "76", None),
        ("seine maritime", "76", None),
        ("Caen", "14", "Caen"),
        ("Saint-Lô", "50", "Saint-Lô"),
        ("saint lo", "50", "Saint-Lô"),
        ("St Lo", "50", "Saint-Lô"),
        ("Hérouville-Saint-Clair", "14", "Hérouville-Saint-Clair"),
        ("14000", "14", "Caen"),
        ("Caen (14)", "14", "Caen"),
        ("Le Havre", "76", "Le Havre"),
        ("Paris", "75", "Paris"),
    ],
)
def test_match_place(ref, text, dept, commune):
    place = ref.match_place(text)
    assert place is not None
    assert (place.department, place.commune) == (dept, commune)
    assert place.region == ref.region_of(dept)


@pytest.mark.parametrize(
    ("text", "dept", "commune"),
    [
        ("Cherbourg", "50", "Cherbourg-en-Cotentin"),
        ("Octeville", "50", "Cherbourg-en-Cotentin"),
        ("Équeurdreville", "50", "Cherbourg-en-Cotentin"),
        ("Tourlaville", "50", "Cherbourg-en-Cotentin"),
        ("Cherbourg-Octeville", "50", "Cherbourg-en-Cotentin"),
        ("Octeville-sur-Mer", "76", "Octeville-sur-Mer"),  # the longer name is another town
        ("Vire", "14", "Vire Normandie"),
        ("vire", "14", "Vire Normandie"),
        ("Viré", "71", "Viré"),  # accents count among homonyms
        ("Vire (71)", "71", "Viré"),  # and a département named says which
        ("Vire 14", "14", "Vire Normandie"),
        ("Condé-sur-Noireau", "14", "Condé-en-Normandie"),
        ("Mellé", "35", "Mellé"),
        ("Melle", "79", "Melle"),
        ("Douvres", "14", "Douvres-la-Délivrande"),  # home région over Douvres (01)
        ("Massy", "91", "Massy"),  # ... unless far bigger elsewhere
        ("Lucé (28)", "28", "Lucé"),
        ("Lucé", "28", "Lucé"),  # a town of today over the delegated village of Lucé (61)
        ("Mortagne", "61", "Mortagne-au-Perche"),
        ("Caen-centre", "14", "Caen"),
        ("14 000", "14", "Caen"),
        ("Caen 14 000", "14", "Caen"),
        ("Caen-la-Mer", "14", "Caen"),
    ],
)
def test_match_place_other_names(ref, text, dept, commune):
    place = ref.match_place(text)
    assert place is not None
    assert (place.department, place.commune) == (dept, commune)


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Basse-Normandie", "28"),
        ("Haute-Normandie", "28"),
        ("basse normandie", "28"),
        ("Alsace", "44"),
        ("Midi-Pyrénées", "76"),
        ("Nord-Pas-de-Calais", "32"),
    ],
)
def test_former_regions(ref, text, region):
    place = ref.match_place(text)
    assert (place.region, place.department) == (region, None)


@pytest.mark.parametrize(
    ("text", "dept", "commune"),
    [
        ("Je suis à Cherbourg.", "50", "Cherbourg-en-Cotentin"),
        ("J'habite à Vire.", "14", "Vire Normandie"),
        ("J'habite à Viré.", "71", "Viré"),
        ("J'habite à Vire, en Saône-et-Loire.", "71", "Viré"),
        ("J'habite à Vire dans le 71.", "71", "Viré"),
        ("J'habite à Condé-sur-Noireau.", "14", "Condé-en-Normandie"),
        ("Je suis dans le calva.", "14", None),
        ("je suis ds le 50", "50", None),
        ("Mon code postal : 14 000", "14", "Caen"),
        ("J'habite à Caen 14 000.", "14", "Caen"),
        ("J'habite Condé-sur-Truc.", None, None),  # not Condé (36): an unknown longer name
        ("J'habite à Caen-centre.", "14", "Caen"),
        ("mon salaire est de 14 000 euros", None, None),
        ("nous sommes 14 000 habitants", None, None),
    ],
)
def test_place_in_text_other_names(ref, rules, text, dept, commune):
    place = understand("", f"Je voudrais devenir boulanger. {text}", ref, rules).place
    assert (place.department if place else None, place.commune if place else None) == (
        dept,
        commune,
    )


def test_city_and_postcode_pick_the_named_commune(ref):
    assert ref.match_place("Vaux-sur-Aure 14400").commune == "Vaux-sur-Aure"
    assert ref.match_place("14400").commune == "Bayeux"


def test_place_region_only_and_helpers(ref):
    assert ref.match_place("Normandie").region == "28"
    assert ref.match_place("Normandie").department is None
    assert ref.region_of("14") == "28"
    assert ref.department_name("50") == "Manche"
    assert ref.rome_label("D1102") is not None
    assert ref.rome_label("Z9999") is None
    assert ref.match_postcode("14000").postcode == "14000"


@pytest.mark.parametrize("text", ["", "bonjour", "99", "00000", "Xyzville"])
def test_match_place_rejects_unknown(ref, text):
    assert ref.match_place(text) is None


def test_same_name_prefers_most_populous(ref):
    assert ref.match_commune("Saint-Denis").insee == "97411"  # La Réunion, bigger than 93066


def test_referential_is_immutable(ref):
    with pytest.raises(AttributeError):
        ref.trades = None  # type: ignore[misc]


# --- the help mail's own form ------------------------------------------------------------------

TEMPLATES = RULES.parent / "templates" / "mails"
# What a person writes on each line of the help mail's form, by the field the key means.
HELP_ANSWERS = {
    "kind": "formation",
    "trade_or_training": "CAP pâtisserie",
    "place": "Vire",
    "age": "seize ans",
    "situation": "salariée",
    "message": "Je voudrais savoir comment se passe l'apprentissage.",
}


def help_mail() -> Rendered:
    relay = SimpleNamespace(display_name="Ambassadeurs", address="relay@mailflow.test")
    return render(TEMPLATES, "help", {"first_name": "Léa", "relay": relay})


def help_form(rules: UnderstandingRules) -> list[tuple[str, str, str | None]]:
    return help_form_lines(help_mail().text, rules)


def filled_help_form(rules: UnderstandingRules, answers: dict[str, str]) -> str:
    return fill(help_mail().text, rules, answers)


def test_help_form_keys_are_all_understood(rules):
    """Every key the help mail shows is a form key: the template and the rules never drift."""
    form = help_form(rules)
    unknown = [key for _, key, field in form if field is None]
    assert not unknown, f"help.txt shows keys unknown to rules/understanding.toml: {unknown}"
    fields = [field for _, _, field in form]
    assert len(fields) >= 5 and len(set(fields)) == len(fields)
    assert set(fields) <= set(HELP_ANSWERS), "help.txt asks for a new field: add an answer"


def test_filled_help_form_is_understood(ref, rules):
    parsed = understand(
        "Re: " + help_mail().subject, filled_help_form(rules, HELP_ANSWERS), ref, rules
    )
    assert (parsed.kind, parsed.diploma, parsed.trade.code_rome) == ("formation", "CAP", "D1104")
    assert (parsed.place.commune, parsed.place.department) == ("Vire Normandie", "14")
    assert (parsed.age, parsed.situation) == (16, "salarie")
    assert parsed.message == HELP_ANSWERS["message"]
    assert parsed.first_name is None  # "Message" is a key, not a signature
    assert parsed.understood


def test_help_form_left_partly_empty_reads_nothing_from_the_labels(ref, rules):
    """Situation and place left blank: the hints "(collégien, lycéen...)", "(ville ou
    département)" are no answer."""
    body = filled_help_form(rules, {"trade_or_training": "boulangère"})
    parsed = understand("", body, ref, rules)
    assert (parsed.kind, parsed.trade.code_rome) == ("metier", "D1102")
    assert (parsed.place, parsed.age, parsed.situation) == (None, None, None)


def test_help_form_type_left_as_shown_takes_the_kind_from_the_answer(ref, rules):
    answers = {**HELP_ANSWERS, "kind": "métier (ou formation, ou VAE)"}
    parsed = understand("", filled_help_form(rules, answers), ref, rules)
    assert (parsed.kind, parsed.diploma) == ("formation", "CAP")
    answers["trade_or_training"] = "plombier"
    parsed = understand("", filled_help_form(rules, answers), ref, rules)
    assert (parsed.kind, parsed.trade.code_rome) == ("metier", "F1603")


@pytest.mark.parametrize(
    ("line", "situation"),
    [
        ("Ton statut actuel (collégien, lycéen, salarié...) : salariée", "salarie"),
        ("Votre situation (collégien, lycéen, étudiant…) : au chômage", "demandeur_emploi"),
        ("Situation (collégien, lycéen, étudiant, demandeur d'emploi, salarié...) :", None),
        ("Situation (ex : lycéen) : apprentie", "apprenti"),
    ],
)
def test_a_key_hint_is_never_the_answer(ref, rules, line, situation):
    parsed = understand("", f"Je voudrais devenir boulanger.\n{line}", ref, rules)
    assert parsed.situation == situation


@pytest.mark.parametrize(
    "header",
    [
        "Le ven. 13 mars 2026 à 09:05, Ambassadeurs <relay@mailflow.test> a écrit :",
        "Le ven. 13 mars 2026 à 09:05, Ambassadeurs <relay@mailflow.test> a\nécrit :",
        "Le 13 mars 2026 à 09:05, Ambassadeurs <\nrelay@mailflow.test> a écrit :",
        "On Fri, Mar 13, 2026 at 9:05 AM Ambassadeurs <relay@mailflow.test> wrote:",
        "",  # only the "> " quote marks
    ],
)
def test_reply_to_help_mail_reads_the_answer_not_the_quote(ref, rules, header):
    help_text = help_mail().text
    answer = filled_help_form(rules, HELP_ANSWERS)
    body = f"{answer}\n\nEnvoyé de mon iPhone\n\n{header}\n\n{quoted(help_text)}\n"
    parsed = understand("Re: " + help_mail().subject, body, ref, rules)
    assert (parsed.kind, parsed.trade.code_rome, parsed.age, parsed.situation) == (
        "formation",
        "D1104",
        16,
        "salarie",
    )
    # A reply that answers nothing: the quoted example ("J'ai 15 ans ... boulangère près de
    # Caen") and form are not the person's words.
    body = f"Je ne sais pas encore, je suis perdue.\n\n{header}\n{quoted(help_text)}\n"
    parsed = understand("Re: " + help_mail().subject, body, ref, rules)
    assert (parsed.trade, parsed.place, parsed.age, parsed.situation) == (None, None, None, None)
    assert not parsed.understood


def test_other_commune_names_are_optional_and_checked(tmp_path):
    """A programme's older copy of rules/ without them still loads; a name pointing to no
    commune is a RulesError naming the file's mistake."""
    older = tmp_path / "older"
    shutil.copytree(RULES, older)
    (older / "place_names.toml").unlink()
    (older / "geo" / "communes_deleguees.csv").unlink()
    assert load_referential(older).match_place("Cherbourg") is None
    assert load_referential(older).match_place("Caen").commune == "Caen"

    wrong = tmp_path / "wrong"
    shutil.copytree(RULES, wrong)
    (wrong / "place_names.toml").write_text('[names]\n"Nulle-Part" = "99999"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="Nulle-Part"):
        load_referential(wrong)


def test_a_very_long_mail_is_read_for_its_start_only(ref, rules):
    """A request is a few hundred words: past READ_AT_MOST characters nothing more is read,
    so a huge mail cannot spend the CPU budget per message in understanding (issue 10)."""
    start = "Bonjour, je voudrais rencontrer un boulanger à Caen. J'ai 16 ans.\n"
    filler = "bla " * 75_000  # 300 KB of words
    parsed = understand("Demande", start + filler, ref, rules)
    assert parsed.trade is not None and parsed.trade.code_rome == "D1102"
    assert parsed.age == 16
    assert len(parsed.message) <= 20_000
    assert any(note.startswith("read the first 20000 characters of") for note in parsed.notes)
    assert understand("Demande", start, ref, rules).notes == tuple(
        n for n in parsed.notes if not n.startswith("read the first")
    )
