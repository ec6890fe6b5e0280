"""The trade WANTED, with the words people really write (issue 13).

Refused trades ("je veux pas être mécano"), trades held or mentioned ("je suis aide-soignante",
"mon père est boulanger"), slang and abbreviations ("codeur", "IADE", "ASV"), diplomas
("BTS MCO", "bac pro ASSP") and trades ROME lacks ("devenir youtubeur").
"""

from __future__ import annotations

import csv
import tomllib
from pathlib import Path

import pytest

from mailflow.understand.mail import UnderstandingRules, understand
from mailflow.understand.referential import Referential

RULES = Path(__file__).resolve().parents[2] / "rules"


def code_of(body: str, ref: Referential, rules: UnderstandingRules) -> str | None:
    parsed = understand("", body, ref, rules)
    return parsed.trade.code_rome if parsed.trade else None


# (what the person writes, the kind, the ROME code wanted)
WANTED = [
    # refused trades are never the one asked for
    ("je ne veux pas faire mécanicien, je préfère carrossier", "metier", "I1606"),
    ("je veux pas etre mecano, plutot carrossier", "metier", "I1606"),
    ("pas boulanger mais patissier", "metier", "D1104"),
    ("pas boulangère mais pâtissière svp", "metier", "D1104"),
    ("surtout pas vendeuse en boulangerie, plutot boulangere", "metier", "D1102"),
    ("je veux surtout pas travailler dans la vente, plutôt la coiffure", "metier", "D1202"),
    ("plutot cuisinier que serveur", "metier", "G1609"),
    ("jaimerais plutôt devenir fleuriste que coiffeuse", "metier", "D1209"),
    ("je ne sais pas trop, je voudrais devenir boulanger", "metier", "D1102"),
    # the trade held or mentioned is not the one wanted
    ("je suis aide-soignante et je voudrais rencontrer une infirmière", "metier", "J1506"),
    ("mon pere est boulanger mais moi je voudrais devenir plombier", "metier", "F1603"),
    ("mon père est boulanger, moi jvoudrais rencontrer un electricien", "metier", "F1602"),
    (
        "mon conseiller France Travail m'a parlé de vous, je voudrais devenir boulanger",
        "metier",
        "D1102",
    ),
    (
        "Bonjour, je voudrais rencontrer un fleuriste.\n\nJulie Martin, Conseillère Mission Locale",
        "metier",
        "D1209",
    ),
    (
        "Bonjour,\nun jeune que je suis voudrait devenir fleuriste.\nJulie Martin\n"
        "Conseillère Mission Locale",
        "metier",
        "D1209",
    ),
    ("je travaille comme cariste et je voudrais devenir électricien", "metier", "F1602"),
    ("je travaille en tant que vendeuse mais je voudrais devenir fleuriste", "metier", "D1209"),
    ("jsuis cariste depuis 10 ans et jvoudrais faire une VAE", "vae", "N1101"),
    ("je suis cariste depuis 10 ans et je voudrais faire une VAE", "vae", "N1101"),
    ("je voudrais faire une VAE d'aide-soignante, je suis ASH depuis 8 ans", "vae", "J1501"),
    ("je voudrais savoir comment on devient pompier", "metier", "K1705"),
    ("je voudrais me renseigner sur le métier de toiletteur", "metier", "A1503"),
    ("j'aimerais échanger avec une infirmière anesthésiste", "metier", "J1503"),
    ("je voudrais parler avec un ambulancier", "metier", "J1305"),
    ("je voudrais découvrir le métier de grutier", "metier", "F1301"),
    # slang and abbreviations
    ("jvoudrai devenir codeur", "metier", "M1805"),
    ("je veux etre codeuse", "metier", "M1805"),
    ("je veux etre dev", "metier", "M1855"),
    ("je voudrais devenir développeur", "metier", "M1855"),
    ("je voudrais devenir IADE", "metier", "J1503"),
    ("devenir IBODE", "metier", "J1504"),
    ("je voudrais rencontrer une puericultrice", "metier", "J1507"),
    ("auxiliaire de puericulture", "metier", "J1304"),
    ("je voudrais être ASH", "metier", "J1301"),
    ("je voudrais devenir AS", "metier", "J1501"),
    ("jveux devenir aide soignante", "metier", "J1501"),
    ("devenir kine", "metier", "J1404"),
    ("je voudrais rencontrer un kiné", "metier", "J1404"),
    ("rencontrer un osteo", "metier", "J1408"),
    ("je voudrais devenir prof des ecoles", "metier", "K2106"),
    ("je voudrais rencontrer un prof de maths", "metier", "K2107"),
    ("devenir ATSEM", "metier", "K1308"),
    ("je voudrais etre AESH", "metier", "K2113"),
    ("je voudrais devenir educ spe", "metier", "K1207"),
    ("je voudrais rencontrer un moniteur educateur", "metier", "K1208"),
    ("je voudrais devenir conducteur d'engins", "metier", "F1302"),
    ("jveux etre grutier", "metier", "F1301"),
    ("je voudrais devenir paysagiste", "metier", "A1208"),
    ("elagueur", "metier", "A1209"),
    ("je voudrais rencontrer un électro", "metier", "F1602"),
    ("meca auto", "metier", "I1604"),
    ("je voudrais devenir carrossier", "metier", "I1606"),
    ("devenir cuistot", "metier", "G1609"),
    ("je voudrais etre commis de cuisine", "metier", "G1602"),
    ("je voudrais devenir serveuse", "metier", "G1803"),
    ("serveur", "metier", "G1803"),
    ("je voudrais devenir barman", "metier", "G1801"),
    ("boulanger-patissier", "metier", "D1102"),
    ("je voudrais devenir estheticienne", "metier", "D1208"),
    ("je veux devenir coiffeuse", "metier", "D1202"),
    ("je voudrais devenir mecanicien velo", "metier", "I1619"),
    ("cariste", "metier", "N1101"),
    ("je voudrais devenir magasinier", "metier", "N1110"),
    ("preparateur de commandes", "metier", "N1103"),
    ("je voudrais devenir routier", "metier", "N4101"),
    ("chauffeur poids lourd", "metier", "N4101"),
    ("je voudrais devenir ambulancier", "metier", "J1305"),
    ("je veux etre pompier", "metier", "K1705"),
    ("je voudrais devenir gendarme", "metier", "K1706"),
    ("je voudrais devenir policier", "metier", "K1708"),
    ("je voudrais devenir policier municipal", "metier", "K1707"),
    ("je voudrais devenir militaire", "metier", "K1701"),
    ("je voudrais devenir veterinaire", "metier", "A1504"),
    ("je voudrais devenir ASV", "metier", "A1501"),
    ("je voudrais devenir toiletteur", "metier", "A1503"),
    ("je voudrais rencontrer une fleuriste", "metier", "D1209"),
    ("je voudrais devenir influenceuse", "metier", "E1406"),
    ("tu as raison, je voudrais devenir boulanger", "metier", "D1102"),
    # diplomas and titles -> the trade they lead to, the request a formation
    ("je voudrais faire un BTS MCO", "formation", "D1503"),
    ("jvoudrais faire un bac pro ASSP", "formation", "K1302"),
    ("je voudrais passer le CAP AEPE", "formation", "K1303"),
    ("je voudrais passer le DEAES", "formation", "K1306"),
    ("je voudrais faire le DEAS", "formation", "J1501"),
    ("je voudrais faire un BTS SIO", "formation", "M1810"),
    ("je voudrais faire un BUT GEA", "formation", "M1203"),
    ("je voudrais faire un BPREA pour m'installer", "formation", "A1416"),
    ("je voudrais faire le titre pro ADVF", "formation", "K1311"),
    ("je voudrais faire un bac pro MELEC", "formation", "F1602"),
    ("je voudrais faire un cap patissier", "formation", "D1104"),
    # one's own diploma while asking about a job: métier
    ("étudiant en BUT, je voudrais rencontrer un développeur", "metier", "M1855"),
    ("etudiante en BUT informatique, je voudrais rencontrer un developpeur", "metier", "M1855"),
]


@pytest.mark.parametrize(("body", "kind", "code"), WANTED, ids=[w[0][:50] for w in WANTED])
def test_the_trade_wanted(ref, rules, body: str, kind: str, code: str) -> None:
    parsed = understand("", body, ref, rules)
    assert (parsed.kind, parsed.trade.code_rome if parsed.trade else None) == (kind, code), (
        parsed.notes
    )
    assert parsed.understood


def test_a_trade_only_refused_is_not_asked_for(ref, rules) -> None:
    parsed = understand("", "je veux pas etre mecano", ref, rules)
    assert parsed.trade is None and not parsed.understood
    assert any("refused" in note for note in parsed.notes)


def test_as_in_lower_case_is_the_verb(ref, rules) -> None:
    assert code_of("tu as des infos ?", ref, rules) is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("je voudrais rencontrer un astronaute", "astronaute"),
        ("jveux devenir youtubeur", "youtubeur"),
        ("je voudrais devenir youtubeuse plus tard", "youtubeuse"),
        ("je voudrais parler avec un astronaute svp", "astronaute"),
    ],
)
def test_a_trade_rome_lacks_is_understood_without_a_code(ref, rules, body, words) -> None:
    """Routed, nobody found: unmet demand the coordinator hears of, not the help mail."""
    parsed = understand("", body, ref, rules)
    assert (parsed.kind, parsed.trade, parsed.trade_text) == ("metier", None, words)
    assert parsed.trade_unlisted and parsed.understood


@pytest.mark.parametrize(
    "body",
    [
        "je voudrais rencontrer quelqu'un",
        "je voudrais rencontrer un professionnel",
        "je voudrais rencontrer une personne",
        "je voudrais des infos",
        "je voudrais découvrir un métier",
        "je voudrais devenir riche",
        "je voudrais être contactée",
        "je voudrais rencontrer Marie",
    ],
)
def test_vague_words_are_no_trade(ref, rules, body: str) -> None:
    parsed = understand("", body, ref, rules)
    assert parsed.trade is None and not parsed.understood, parsed.notes


@pytest.mark.parametrize(
    ("title", "code"), [("BTS MCO", "D1503"), ("Bac pro ASSP", "K1302"), ("Paysagiste", "A1208")]
)
def test_directory_titles_get_a_rome_code(ref, title: str, code: str) -> None:
    """admin/directory.py places an ambassador's title with Referential.match_trade."""
    trade = ref.match_trade(title)
    assert trade is not None and trade.code_rome == code


def test_every_diploma_leads_to_a_rome_code() -> None:
    """rules/diplomas.toml: each code is a ROME sheet (loading checks the title is of it)."""
    with (RULES / "rome" / "codes_rome.csv").open(encoding="utf-8", newline="") as handle:
        codes = {row["code_rome"] for row in csv.DictReader(handle)}
    titles = tomllib.loads((RULES / "diplomas.toml").read_text(encoding="utf-8"))["titles"]
    assert len(titles) >= 40
    assert {t["rome"] for t in titles.values()} <= codes


# The trade held, the writer's title and one's own schooling, against the one wished for
# (issue 13, wanted.py): (what the person writes, the ROME code wanted, None for none).
HELD = [
    # a title opening the mail, "depuis ...", is held; the trade after a wish is asked for
    ("Bonjour, boulanger depuis 20 ans, je voudrais devenir pâtissier", "D1104"),
    ("Aide-soignante depuis 12 ans à Lisieux, je voudrais faire la VAE d'infirmière", "J1506"),
    (
        "VAE\nAuxiliaire de vie depuis 6 ans, je voudrais valider le diplôme d'aide-soignante",
        "J1501",
    ),
    ("Maçon (15 ans d'expérience), je voudrais valider le titre de chef de chantier", "F1202"),
    # the writer's own title ("conseillère ..., je reçois") names no trade asked for
    (
        "Conseiller d'orientation au CIO de Caen, je reçois un élève qui veut devenir menuisier",
        "H2206",
    ),
    (
        "Professeure de maths au collège de Vire, j'ai une élève qui voudrait devenir fleuriste",
        "D1209",
    ),
    ("Bonjour, professeur au lycée de Flers, je cherche un boulanger pour un élève", "D1102"),
    # traps: a trade opening the sentence is still wanted without ", je ..." or "depuis"
    ("Boulangère, c'est ce que je voudrais faire plus tard", "D1102"),
    ("Fleuriste ! voilà mon rêve", "D1209"),
    ("Bonjour, vétérinaire, j'en rêve depuis que je suis petite", "A1504"),
    ("mon fils est en CAP boulangerie et cherche un maître de stage", "D1102"),
    # held alone, and the mail says the trade is still to find: no trade (the help mail)
    ("je suis caissière et je voudrais changer de métier", None),
    ("je suis comptable depuis 15 ans et je ne sais pas quel métier faire maintenant", None),
    ("Je suis serveuse. J'aimerais trouver un autre métier, plus calme.", None),
    ("je suis vendeuse chez un fleuriste et je voudrais changer de voie", None),
    ("je suis électricien à la retraite et je voudrais aider des jeunes", None),
    ("J'ai 15 ans d'expérience dans la cuisine, quel diplôme choisir pour une VAE ?", None),
    # ... but a trade wished for still is, and held alone stays a VAE's trade
    ("je suis caissière, je voudrais changer de métier pour devenir fleuriste", "D1209"),
    ("je suis cariste depuis 10 ans et je voudrais faire une VAE", "N1101"),
    ("jsuis agent de sécurité depuis 8 ans, je voudrais une VAE", "K2503"),
    # a held job ranks above a trade merely named in a VAE
    (
        "je travaille comme agent de sécurité depuis 8 ans, une collègue infirmière m'a parlé "
        "de la VAE",
        "K2503",
    ),
    (
        "Gouvernante d'hôtel depuis 2015, après avoir été femme de chambre, je voudrais une VAE",
        "G1503",
    ),
    # one's own schooling stays the trade when nothing else is named, below any other
    ("je suis en CAP cuisine et je cherche un stage", "G1609"),
    ("je suis en bac pro MELEC et je voudrais rencontrer un plombier", "F1603"),
    ("j'ai un CAP cuisine mais je voudrais devenir boulanger", "D1102"),
    ("je suis en BTS SIO et je voudrais continuer en développement web", "M1855"),
    # a diploma after a wish, further than a few words: the VAE's target
    (
        "vendeur depuis 10 ans, je voudrais obtenir par la VAE un diplôme de la vente (BTS MCO)",
        "D1503",
    ),
    # a person the writer knows ("ma conseillère", "mon prof") is not asked for
    ("Mon conseiller France Travail m'a dit de faire une VAE d'aide à domicile", "K1304"),
    ("mon prof de maths m'a parlé de vous", None),
    # a relative's job is kept when nothing else is named, below any other
    ("ma tante infirmière m'a dit de vous écrire", "J1506"),
    ("Mon père est boulanger et je voudrais faire comme lui", "D1102"),
    ("ma mère est infirmière, je voudrais faire le même métier qu'elle", "J1506"),
    ("mon grand-père était menuisier et j'aimerais reprendre son atelier", "H2206"),
    ("mon père est boulanger mais moi je voudrais devenir plombier", "F1603"),
    ("elle est vendeuse depuis 5 ans et voudrait changer de métier", None),
    # signature titles are the writer's
    (
        "Bonjour, je cherche un stage.\nCordialement,\nMarc Durand\nTechnicien de maintenance "
        "industrielle",
        None,
    ),
    ("Bonjour, mon fils voudrait devenir plombier.\nMerci,\nSophie\nInfirmière", "F1603"),
    ("Bonjour,\nje voudrais un rendez-vous.\nBien à vous,\nJulie, comptable", None),
    ("Merci de me mettre en relation avec une boulangère.", "D1102"),  # no closing line
    ("slt\nslt jveu parlé a 1 infirmier stp", "J1506"),  # a greeting first closes nothing
    # refusals: "ne veux plus", "ne peux plus", "ne plus"
    ("je ne veux plus être vendeuse, j'aimerais devenir coiffeuse", "D1202"),
    ("je ne peux plus être maçon à cause de mon dos, je voudrais devenir électricien", "F1602"),
    ("pour ne plus être caissière, je voudrais devenir fleuriste", "D1209"),
    ("on me dit de faire infirmière mais non, je préfère devenir sage-femme", "J1104"),
    # a later, narrower trade of the same score wins; a title beats a field
    ("je veux être mécanicien, je voudrais rencontrer un mécanicien vélo", "I1619"),
    ("la boulangerie et un pâtissier, ça m'intéresse", "D1104"),
    # "chez un concessionnaire": the words go with the trade before
    ("je suis mécanicien chez un concessionnaire depuis 12 ans et je voudrais une VAE", "I1604"),
    # the subject's kind word is no wish for the body's first trade
    ("VAE\nInfirmier depuis 10 ans, je voudrais le diplôme d'infirmier anesthésiste", "J1503"),
    ("Est-ce que des plombiers accepteraient de me parler ?", "F1603"),
]


@pytest.mark.parametrize(("body", "code"), HELD, ids=[h[0][:50] for h in HELD])
def test_the_trade_held_is_not_the_one_asked_for(ref, rules, body: str, code: str | None) -> None:
    assert code_of(body, ref, rules) == code, understand("", body, ref, rules).notes


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("je voudrais devenir chef d'équipe", None),  # cordiste? maçon? entrepôt? none
        ("je voudrais devenir technicien de maintenance", None),
        ("je voudrais devenir chef de cuisine", "G1601"),
        ("je voudrais rencontrer un chasseur de têtes", "M1502"),
        ("je veux devenir footballeur", "L1401"),
        ("je voudrais devenir basketteuse pro", "L1401"),
        ("je voudrais devenir éleveur laitier", "A1407"),
        ("je voudrais conduire des bus, le titre pro conducteur de transport en commun", "N4103"),
        ("je voudrais faire une licence pro conduite de travaux", "F1201"),
        ("je voudrais faire le BAFA pour être animatrice", "G1235"),
        ("je voudrais faire un BTS tourisme", "G1303"),
        ("je veux faire un bac pro CGEA", "A1416"),
        ("je voudrais faire une formation d'auxiliaire de puér", "J1304"),
        ("je voudrais rencontrer une EJE", "K1202"),
        ("je voudrais faire un CAP maroquinerie", "B1802"),
        ("je voudrais faire un BUT carrières sociales", None),  # no "carrier" (quarryman)
        ("je voudrais rencontrer un développeur de jeux", "M1831"),
    ],
)
def test_titles_and_diplomas(ref, rules, body: str, code: str | None) -> None:
    assert code_of(body, ref, rules) == code, understand("", body, ref, rules).notes


@pytest.mark.parametrize(
    "body",
    [
        "je voudrais devenir chasseur de fantômes",
        "je veux devenir chasseuse de tornades",
        "jveux etre streameuse sur twitch",
        "je voudrais être joueur pro de fortnite",
        "je veux être astrologue, une de vos ambassadrices fait ça ?",
    ],
)
def test_a_trade_rome_lacks_gets_no_code_of_another(ref, rules, body: str) -> None:
    """Not the hotel's "chasseur", the golfer or the programme's own "ambassadrice"."""
    parsed = understand("", body, ref, rules)
    assert parsed.trade is None and parsed.trade_unlisted and parsed.understood, parsed.notes


@pytest.mark.parametrize(
    ("title", "code"),
    [
        ("IFSI - étudiante en 2e année", "J1506"),
        ("Étudiant IFSI", "J1506"),
        ("Producteur de cidre", "A1443"),
        ("Cidrerie familiale", "A1443"),
        ("Éleveur laitier", "A1407"),
        ("Productrice de lait", "A1407"),
        ("CAP AEPE", "K1303"),
        ("BTS SIO", "M1810"),
    ],
)
def test_more_directory_titles_get_their_code(ref, title: str, code: str) -> None:
    trade = ref.match_trade(title)
    assert trade is not None and trade.code_rome == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # SMS glue: "d'" or "l'" stuck to a title word
        ("jveux faire le diplome dinfirmiere", "J1506"),
        ("je voudrais faire la formation daide soignante", "J1501"),
        ("jveux etre steward ou hotesse de lair", "N2101"),
        ("je voudrais devenir dentiste", "J1103"),  # a word of its own, left whole
        ("Bonjour, M. Leduc voudrait un rendez-vous", None),  # a name, left whole
        # a field named by its trade's ending
        ("je voudrais découvrir l'apiculture", "A1429"),
        ("la dinanderie me passionne", "B1601"),
        ("je voudrais découvrir la viticulture", "A1418"),
        # one slip only is a typo: two make another word
        ("je voudrais devenir coifeuse", "D1202"),
        ("je voudrais devenir mecanicein", "I1604"),
        ("j'aime dessiner", None),
        # the words people use for a title ROME spells otherwise
        ("je voudrais rencontrer un huissier", "K1905"),
        ("je voudrais rencontrer une commissaire de justice", "K1905"),
        ("je voudrais travailler dans la cybersécurité", "M1856"),
        ("le game design m'intéresse", "E1125"),
        ("je veux bosser comme électro en maintenance industrielle", "I1309"),
        ("je voudrais rencontrer un elec", "F1602"),
        # a head of several jobs told by a word just before it, only when one job has it
        ("je voudrais faire mon stage dans une pharmacie avec une préparatrice", "J1307"),
        ("en pharmacie, comme préparateur", "J1307"),
        ("je voudrais devenir préparatrice", None),  # commandes? pharmacie? none
        ("je voudrais être préparateur comme mon frère", None),
        # what the job does, as pupils say it
        ("mon fils voudrait réparer des ordinateurs plus tard", "I1401"),
        ("le dépannage informatique, ça me plairait", "I1401"),
        # a sector named, nearer than the wish, is not the trade asked for
        (
            "je voudrais échanger avec quelqu'un du domaine de l'aide à domicile pour ma VAE du "
            "titre ADVF",
            "K1311",
        ),
        # a follow-up: "pas de nouvelles" refuses nothing
        ("toujours pas de nouvelles de l'ambassadeur électricien", "F1602"),
        # on a tie, the trade named most often
        ("je voudrais être boulanger ou cuisinier, je voudrais devenir cuisinier", "G1609"),
        # a signature under a name line, without closing words
        (
            "Je vous transfère une demande de VAE.\nSandrine Le Roux\nConseillère France Travail",
            None,
        ),
    ],
)
def test_words_as_people_write_them(ref, rules, body: str, code: str | None) -> None:
    assert code_of(body, ref, rules) == code, understand("", body, ref, rules).notes


@pytest.mark.parametrize(
    ("body", "code"),
    [
        # a capitalised title after a capitalised name word is a surname
        ("je suis au collège Louis Pasteur et je voudrais devenir plombier", "F1603"),
        ("je suis en 4e au collège Jean Boucher, je voudrais rencontrer un ébéniste", "H2207"),
        ("j'habite rue Victor Boulanger", None),
        # ... not a diploma after a capitalised word, nor a title opening the sentence
        ("I'd like the French BP coiffure", "D1202"),
        ("Bonjour, Je voudrais devenir Boulanger", "D1102"),
        ("je voudrais faire un CAP Pâtissier", "D1104"),
        # after a civility, a surname even at a sentence's start
        ("Merci\nM. Bouvier, CPE", None),
        ("je voudrais rencontrer un maçon. Mme Charpentier", "F1703"),
        # the class before a diploma: the pupil's schooling, below the trades asked about
        ("Une élève de 1ère bac pro AGORA hésite entre secrétaire médicale et comptable", "M1609"),
        ("mon fils, en terminale bac pro MSPC, aimerait rencontrer un électricien", "F1602"),
        ("je voudrais passer le DEME", "K1208"),
        ("je vise le bac pro SAPAT", "K1302"),
        ("je voudrais faire le CAP PROELEC", "F1602"),
        # "c'est" and "mais" leave no "est" of a job held on the trade after them
        ("moi c'est pas la cuisine mais la pâtisserie qui me plaît", "D1104"),
        ("ce n'est pas un rêve, c'est fleuriste que je veux faire", "D1209"),
        ("mon père est électricien mais le métier de plombier me plaît", "F1603"),
    ],
)
def test_names_and_clauses(ref, rules, body: str, code: str | None) -> None:
    assert code_of(body, ref, rules) == code, understand("", body, ref, rules).notes
