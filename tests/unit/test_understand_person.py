"""Situation, kind and age as people write them (issue 13): the wordings here are NOT the
corpus's (tests/understanding/corpus.jsonl); each rule has variants and traps it must not
fire on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mailflow.understand.mail import understand

RULES = Path(__file__).resolve().parents[2] / "rules"
TODAY = date(2026, 12, 7)


def read(ref, rules, body: str, subject: str = ""):
    return understand(subject, body, ref, rules, TODAY)


# --- situation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # A parent writing for a child: the child's situation, and none when none is said.
        "Bonjour, ma fille de 14 ans voudrait rencontrer une fleuriste. Merci",
        "Mon fils (12 ans) veut devenir pilote de ligne, qui peut lui parler ?",
        "Notre fils rêve d'être cuisinier. Pourrait-il voir un chef ? Famille Roy",
        "Je suis agricultrice près de Vire et ma fille veut être vétérinaire.",
        # Retired or self-employed: no salarié.
        "Je suis électricien à la retraite et je voudrais devenir ambassadeur.",
        "je suis plombier à mon compte depuis 9 ans, je voudrais le BP par la VAE",
        "Boulanger retraité depuis 2 ans, je voudrais transmettre mon savoir.",
        "Bonjour, infirmière libérale depuis 10 ans, je voudrais devenir IBODE.",
        "je suis graphiste indépendante depuis 2018 et je voudrais devenir libraire",
        # A job alone on a line is the trade asked (a subject), not the writer's.
        "Plombier\nJe voudrais rencontrer un plombier à Évreux. Rayan",
        "Boulangère, c'est mon rêve depuis toute petite !",
        # The one to meet, not the one who writes.
        "Quelqu'un qui travaille en EHPAD pourrait m'expliquer ? Merci",
        # A training said as it is taken, not the person's situation.
        "la mission locale lui a parlé d'un CAP maçon en apprentissage",
        "Quelles formations existent en alternance à Évreux ? J'ai eu mon bac.",
        "Je pense à reprendre une formation : le BTS SAM en alternance.",
        "je suis en reconversion et je cherche à échanger avec une fleuriste",
        "Faut-il 5 ans d'expérience pour faire une VAE ?",
        # A former job is no job now.
        "Ancien cuisinier, je voudrais devenir boulanger à Caen",
        "J'accompagne Mme Roy, 51 ans. Ancienne secrétaire, elle souhaite devenir aide à domicile.",
        "ancienne vendeuse, j'aimerais rencontrer une fleuriste",
    ],
)
def test_no_situation(ref, rules, text):
    assert read(ref, rules, text).situation is None


@pytest.mark.parametrize(
    ("text", "situation"),
    [
        # A job in apposition at the top of the mail, with since when or before "je".
        ("Bonjour, électricien depuis 14 ans sur les chantiers, je voudrais une VAE", "salarie"),
        ("Aide-soignante depuis 2015 à l'EHPAD de Vire. Je voudrais être infirmière.", "salarie"),
        ("Bonjour, infirmière en pédiatrie depuis six ans, je pense à une VAE", "salarie"),
        ("Vendeuse en boulangerie à Caen, je voudrais devenir fleuriste.", "salarie"),
        ("Madame, Monsieur, comptable dans un cabinet à Rouen, je souhaite me former", "salarie"),
        ("chef d'équipe en entrepôt (8 ans d'expérience), je voudrais un titre pro", "salarie"),
        ("bsr jsui coiffeuse depuis 5 ans je veux faire la vae", "salarie"),
        ("je fais office de comptable dans une PME depuis 2019", "salarie"),
        ("je suis à la clinique de Caen comme brancardier et je voudrais être kiné", "salarie"),
        ("ça fait 12 ans que je fais des ménages chez des personnes âgées", "salarie"),
        ("J'ai 15 ans d'expérience dans le bâtiment et je voudrais une VAE", "salarie"),
        ("Forte de huit ans d'expérience en EHPAD, je souhaite valider un diplôme", "salarie"),
        ("Je dirige une petite équipe dans un magasin de sport depuis 4 ans.", "salarie"),
        # Someone else's job, when the mail is for that person.
        ("Mon fils de 27 ans travaille comme serveur depuis 9 ans, sans diplôme.", "salarie"),
        ("J'écris pour ma mère, qui est auxiliaire de vie depuis 20 ans.", "salarie"),
        ("J'accompagne une dame de 50 ans, elle travaille dans un EHPAD depuis 5 ans.", "salarie"),
        # One's own France Travail adviser, a redundancy: a job seeker.
        ("Mon conseiller France Travail m'a parlé de la VAE. Merci", "demandeur_emploi"),
        ("Ma conseillère Pôle emploi me propose une formation de cariste", "demandeur_emploi"),
        ("j'ai fait 6 ans en entrepôt avant mon licenciement", "demandeur_emploi"),
        ("bonjour je suis demandeuse demploi a Lisieux", "demandeur_emploi"),
        # Apprentices say they are in it.
        ("je suis en CAP cuisine en apprentissage au CFA de Caen", "apprenti"),
        ("Mon fils est en alternance chez Renault, il voudrait voir un carrossier", "apprenti"),
        # Higher education said plainly, even at a lycée.
        ("je suis en prépa MPSI au lycée Malherbe et je voudrais voir un ingénieur", "etudiant"),
        ("Élève en classe préparatoire au lycée Corneille, je voudrais", "etudiant"),
        ("Étudiante en troisième année de licence de droit, j'envisage le notariat", "etudiant"),
        ("je suis en L2 STAPS à Caen et je veux rencontrer un kiné", "etudiant"),
        ("je suis en PASS à Rouen, je voudrais rencontrer un dentiste", "etudiant"),
        ("Une étudiante de BTS au lycée Le Verrier souhaite rencontrer une comptable", "etudiant"),
        # A pupil wishing, or meeting a student, is still a pupil.
        ("je suis en terminale et je voudrais rencontrer un étudiant en médecine", "lyceen"),
        ("un de mes élèves de terminale bac pro souhaite poursuivre en BTS", "lyceen"),
        ("Salut, Emma, 2nde 4, je voudrais voir une policière", "lyceen"),
        ("Élève de terminale STL à Caen, je souhaite me renseigner sur le BTS", "lyceen"),
        # The class alone, the 3e work experience.
        ("J'ai 15 ans, 3e, à Rouen. Je veux être mécanicien.", "collegien"),
        ("je cherche un charpentier pour mon stage de 3e. Lucas", "collegien"),
        ("Je vais faire mon stage de troisième chez mon oncle à Paris", "collegien"),
        ("je suis en 3e et je voudrais parler avec un élève de ce bac pro", "collegien"),
        # A teacher's school is the pupil's class; a teacher writing for herself is no pupil.
        (
            "Je suis professeur principal de 4e au collège de Vire. Un de mes élèves voudrait "
            "rencontrer un menuisier.",
            "collegien",
        ),
        (
            "je suis prof de techno au college de Gacé. un eleve (14 ans) veut voir un couvreur",
            "collegien",
        ),
        ("Je vous transfère la demande d'une de mes élèves de seconde.", "lyceen"),
        ("Je suis surveillante au lycée de Flers et je voudrais me reconvertir.", "salarie"),
        # A parent for herself.
        ("je suis maman au foyer depuis 10 ans et je voudrais reprendre une formation", "parent"),
    ],
)
def test_situation(ref, rules, text, situation):
    assert read(ref, rules, text).situation == situation


def test_forwarded_mail_says_the_situation_of_the_one_it_is_for(ref, rules):
    body = (
        "Bonjour, c'est la demande de ma fille, je vous la fais suivre.\n"
        "---------- Forwarded message ---------\nDe : Zoé <zoe@example.org>\n"
        "Subject: stage\n\nje voudrais faire mon stage chez une fleuriste, je suis en 4e à Vire"
    )
    assert read(ref, rules, body, "Fwd: stage").situation == "collegien"


# --- kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        # A training wished, even when a trade follows "pour devenir".
        "je voudrais entrer en IFSI pour devenir infirmière, qui peut m'en parler ?",
        "Bonjour, je pense à une licence STAPS pour devenir coach sportif.",
        "j'aimerais passer le BAFD l'an prochain pour diriger des colos",
        "Mon fils veut faire un BTSA pour devenir technicien agricole.",
        "je veux faire un CAP mais je sais pas lequel, vous pouvez m'aider ?",
        "Ma fille souhaiterait intégrer une prépa pour devenir ingénieure.",
        "je suis en terminale bac pro ASSP et je voudrais faire un BTS SP3S",
        "J'hésite à m'inscrire en licence de sociologie, je voudrais parler à un sociologue.",
        "qu'est-ce qu'on peut faire après le bac quand on aime les maths ?",
    ],
)
def test_kind_formation_wished(ref, rules, text):
    assert read(ref, rules, text).kind == "formation"


@pytest.mark.parametrize(
    "text",
    [
        # One's own schooling or diploma named: no training asked.
        "Étudiant en BTS SIO, je voudrais rencontrer un développeur web.",
        "je suis en terminale bac pro commerce et je voudrais rencontrer une fleuriste",
        "Une élève de 1ère bac pro ASSP voudrait parler avec une aide-soignante.",
        "Mon fils, 16 ans, en CAP menuisier, voudrait voir un charpentier.",
        "Je suis en 2e année de CAP cuisine au CFA de Caen et je voudrais rencontrer un chef.",
        "J'ai 27 ans, un bac pro électrotechnique, et je voudrais devenir conducteur de train.",
        "sorti du lycée sans diplôme, il voudrait rencontrer un boucher",
        # Not knowing yet: trades, as a coordinator files it.
        "je suis en 4e et je sais pas quoi faire plus tard",
        "mon fils ne sait pas ce qu'il veut faire, il a 15 ans",
        "pouvez-vous aider ma fille à trouver sa voie ?",
        "je voudrais savoir comment on devient vétérinaire",
        "salut jveux etre youtubeur",
        # A trade wished first: the training after it is the way there, not the request.
        "je voudrais devenir professeur des écoles, faut-il passer un concours ?",
        "Je veux être pompier, est-ce qu'il faut faire une prépa ?",
    ],
)
def test_kind_metier(ref, rules, text):
    assert read(ref, rules, text).kind == "metier"


@pytest.mark.parametrize(
    "text",
    [
        "je ne sais plus quoi faire, personne ne m'embauche",
        "Je suis boulanger à la retraite et je voudrais devenir ambassadeur.",
        "Bonjour, comment ça marche ? c'est gratuit ?",
    ],
)
def test_no_kind(ref, rules, text):
    assert read(ref, rules, text).kind is None


@pytest.mark.parametrize(
    "text",
    [
        "Je voudrais faire valider mes compétences de maçon, je travaille sans diplôme.",
        "j'aimerais faire reconnaître mes compétences d'aide à domicile par un diplôme",
    ],
)
def test_kind_vae_said_in_other_words(ref, rules, text):
    assert read(ref, rules, text).kind == "vae"


# --- age -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "age"),
    [
        # An age said in passing by the writer, when nothing else gives one.
        ("Je voudrais savoir si à 40 ans on peut encore devenir infirmier.", 40),
        ("est-ce que c'est possible de devenir pilote à 35 ans ?", 35),
        # The age now, after an age in the past.
        ("j'ai quitté le lycée à 17 ans, j'en ai 23 aujourd'hui", 23),
        ("J'ai commencé à travailler à 16 ans. J'ai 30 ans.", 30),
        # Apposed after a sentence, SMS style.
        ("jveux etre pompier. 14 ans, Caen", 14),
        ("je veux devenir fleuriste! 16 ans", 16),
        # After a first name, in a counsellor's mail for someone.
        ("J'accompagne un jeune, Kevin Martin, 19 ans, qui voudrait voir un couvreur.", 19),
        ("Une jeune que je suis, Inès, 22 ans, souhaite découvrir le métier de fleuriste.", 22),
        ("Mon apprentie de 17 ans voudrait rencontrer une pâtissière.", 17),
        ("Mon stagiaire de 16 ans aimerait voir un électricien.", 16),
        # Birth dates, counted on the day given by the caller.
        ("je suis né le 14/02/2012 et je veux être cuisinier", 14),
        ("Ma fille, née en mars 2013, voudrait voir une vétérinaire", 13),
        # SMS: "g" for j'ai, "an" for ans, no apostrophe.
        ("slt g 15 ans jveux etre mecano", 15),
        ("bjr jai 13 an et je veu etre fleuriste", 13),
        # A note without a possessive, a hyphenated grandchild, a relative clause.
        ("Cherche plombier pour stage, fille 14 ans, secteur Lisieux", 14),
        ("mon petit-fils Noé voudrait devenir charpentier, il est motivé", None),
        ("Ma petite-fille Jade de 12 ans aime les chevaux", 12),
        ("Je vous écris pour mon neveu Hugo, qui a seize ans, passionné de cuisine.", 16),
        ("J'accompagne une jeune femme qui a 24 ans et veut devenir soudeuse.", 24),
        # The writer describing themselves.
        ("collégienne de 14 ans, je voudrais rencontrer une vétérinaire", 14),
        ("Élève de 15 ans en 3e, je cherche un stage chez un garagiste", 15),
    ],
)
def test_age(ref, rules, text, age):
    assert read(ref, rules, text).age == age


@pytest.mark.parametrize(
    "text",
    [
        "j'ai arrêté l'école à 16 ans et je voudrais reprendre une formation",
        "on peut passer le permis de 16 à 18 ans ?",
        "Mon fils aimerait voir un boulanger, il a commencé le judo à 6 ans.",
        "Ma fille veut être pompier, est-ce possible dès 16 ans ?",
        # "qui a N ans" only after a person: not a firm, a house, a shop
        "je travaille chez un artisan dont l'atelier qui a 30 ans ferme, je veux être ébéniste",
        "g un BTS et je voudrais devenir comptable",
    ],
)
def test_no_age(ref, rules, text):
    assert read(ref, rules, text).age is None


def test_a_birth_date_needs_the_day_from_the_caller(ref, rules):
    parsed = understand("", "je suis née en 2011, je veux être coiffeuse", ref, rules)
    assert parsed.age is None
    assert any("no day was given" in note for note in parsed.notes)


@pytest.mark.parametrize(
    "text",
    [
        "Je suis boulanger à la retraite et je voudrais devenir ambassadeur.",
        "Bonjour, infirmière depuis 20 ans, j'aimerais être ambassadrice auprès des jeunes.",
    ],
)
def test_an_offer_to_be_an_ambassador_asks_no_trade(ref, rules, text):
    parsed = read(ref, rules, text)
    assert (parsed.kind, parsed.trade) == (None, None)


@pytest.mark.parametrize(
    ("text", "age", "situation"),
    [
        ("Mon fils va sur ses 15 ans et voudrait voir un menuisier.", 14, None),
        ("j'vais avoir 16 ans en mars, je veux être coiffeuse", 15, None),
        (
            "En alternance chez un garagiste depuis septembre, je voudrais voir un carrossier.",
            None,
            "apprenti",
        ),
        ("Actuellement en apprentissage, je voudrais rencontrer un chef.", None, "apprenti"),
        ("je suis en SEGPA et je voudrais voir un peintre", None, "collegien"),
        (
            "Je suis en fin de droits et je cherche une formation de cariste.",
            None,
            "demandeur_emploi",
        ),
        ("il y a 3 ans je suis allé sur un chantier, j'ai 15 ans", 15, None),
    ],
)
def test_more_ways_to_say_age_and_situation(ref, rules, text, age, situation):
    parsed = read(ref, rules, text)
    assert (parsed.age, parsed.situation) == (age, situation)


def test_a_job_on_the_subject_line_is_the_trade_asked_not_the_writers(ref, rules):
    parsed = read(ref, rules, "Je voudrais rencontrer un boulanger. Merci", "Boulanger à Caen")
    assert parsed.situation is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("J'ai vu qu'il existe un BTS tourisme à Caen, ça m'intéresse.", "formation"),
        ("j'ai entendu parler du CAP fleuriste, c'est comment ?", "formation"),
        ("J'ai un CAP cuisine et je voudrais rencontrer un chef pâtissier.", "metier"),
        ("J'ai 25 ans, un bac pro commerce, et je voudrais devenir fleuriste.", "metier"),
    ],
)
def test_what_one_has_and_what_one_has_heard_of(ref, rules, text, kind):
    assert read(ref, rules, text).kind == kind


@pytest.mark.parametrize(
    ("text", "situation"),
    [
        ("Bonjour, Cuisinier, 35 ans, je cherche à devenir boulanger.", "salarie"),
        ("Vendeuse, 28 ans, j'aimerais devenir esthéticienne.", "salarie"),
        ("je suis en première année de CAP coiffure et je voudrais voir une coiffeuse", "lyceen"),
        ("je suis en 2e année de bac pro commerce, je voudrais voir une fleuriste", "lyceen"),
        ("je suis en deuxième année de licence d'histoire", "etudiant"),
    ],
)
def test_apposed_job_with_an_age_and_years_of_a_vocational_course(ref, rules, text, situation):
    assert read(ref, rules, text).situation == situation


def test_a_job_alone_before_a_comma_and_no_je_is_no_situation(ref, rules):
    assert read(ref, rules, "Coiffeuse, c'est mon rêve depuis toute petite.").situation is None


@pytest.mark.parametrize(
    "text",
    [
        "Ma fille voudrait faire l'école vétérinaire, pourrait-elle rencontrer une étudiante ?",
        "Est-ce qu'il pourrait parler avec un apprenti ?",
        "Mon fils aimerait bien discuter avec un lycéen de ce bac pro.",
    ],
)
def test_the_one_to_meet_gives_no_situation(ref, rules, text):
    assert read(ref, rules, text).situation is None


def test_a_diploma_wished_after_the_word_diplome_keeps_its_speciality(ref, rules):
    text = "Responsable de magasin depuis 6 ans, j'aimerais obtenir un diplôme (BTS MCO) par VAE."
    parsed = read(ref, rules, text)
    assert parsed.kind == "vae" and parsed.diploma == "BTS"
